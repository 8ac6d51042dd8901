/**
 * Test-only page that mounts the analysis charts and the model grid with
 * fixture events. Tests change the props through window.chartsB.
 */
import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';

import { DriftChart } from '../../../src/ui/charts/DriftChart.tsx';
import { JacobianChangeChart } from '../../../src/ui/charts/JacobianChangeChart.tsx';
import { SweepChart } from '../../../src/ui/charts/SweepChart.tsx';
import { WeylChart } from '../../../src/ui/charts/WeylChart.tsx';
import { ModelGrid } from '../../../src/ui/panels/ModelGrid.tsx';
import '../../../src/ui/styles.css';
import {
  N_LAYER,
  RUN_ADAPTERS,
  jacobianChangeEvent,
  ntkEvents,
  previewEvent,
  sweepEvents,
  sweepSummaryEvent,
} from '../fixtures/analysis-events.ts';

/** The props the tests can change. */
export interface HarnessState {
  /** The model grid's adapter string; the Weyl chart shows its preview. */
  adapters: string;
  /** Whether the preview has been computed. */
  preview: boolean;
  /** How many NTK events of the run have arrived. */
  ntkCount: number;
  /** How many sweep subsets have finished. */
  sweepCount: number;
  summary: boolean;
  jacobianChange: 'none' | 'start' | 'trained';
  gridDisabled: boolean;
}

export interface HarnessControl {
  set(next: Partial<HarnessState>): void;
  /** Every grid string the model grid passed to onChange, in order. */
  changes: string[];
}

declare global {
  interface Window {
    chartsB: HarnessControl;
  }
}

const INITIAL_STATE: HarnessState = {
  adapters: RUN_ADAPTERS,
  preview: true,
  ntkCount: 9,
  sweepCount: 10,
  summary: true,
  jacobianChange: 'trained',
  gridDisabled: false,
};

const NTK = ntkEvents();
const SWEEP = sweepEvents();
const SUMMARY = sweepSummaryEvent(SWEEP);
const JACOBIAN_CHANGE = { start: jacobianChangeEvent(0, 0), trained: jacobianChangeEvent(200, 0.42) };

const changes: string[] = [];

function Harness() {
  const [state, setState] = useState<HarnessState>(INITIAL_STATE);
  window.chartsB = { set: (next) => setState((current) => ({ ...current, ...next })), changes };

  const preview = useMemo(() => (state.preview ? previewEvent(state.adapters) : null), [state.preview, state.adapters]);
  const ntk = useMemo(() => NTK.slice(0, state.ntkCount), [state.ntkCount]);
  const sweep = useMemo(() => SWEEP.slice(0, state.sweepCount), [state.sweepCount]);
  const summary = state.summary && state.sweepCount === SWEEP.length ? SUMMARY : null;
  const jacobianChange = state.jacobianChange === 'none' ? null : JACOBIAN_CHANGE[state.jacobianChange];

  return (
    <div style={{ display: 'grid', gridTemplateColumns: '560px 560px', gap: 16, padding: 16, alignItems: 'start' }}>
      <div data-testid="slot-model-grid" className="panel">
        <ModelGrid
          nLayer={N_LAYER}
          adapters={state.adapters}
          preview={preview}
          disabled={state.gridDisabled}
          onChange={(adapters) => {
            changes.push(adapters);
            setState((current) => ({ ...current, adapters }));
          }}
        />
      </div>
      <WeylChart preview={preview} sweep={sweep} />
      <DriftChart ntk={ntk} />
      <JacobianChangeChart event={jacobianChange} />
      <div style={{ gridColumn: '1 / -1', width: 900 }}>
        <SweepChart sweep={sweep} summary={summary} />
      </div>
    </div>
  );
}

// ?presentation renders in the app's presentation mode (larger fonts and lines) from the first frame.
if (new URLSearchParams(window.location.search).has('presentation')) document.documentElement.classList.add('presentation');

const root = document.getElementById('root');
if (root === null) throw new Error('charts-b.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <Harness />
  </StrictMode>,
);
