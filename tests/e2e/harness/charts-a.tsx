/**
 * Test-only page that mounts the run charts (loss, accuracy, spectrum,
 * spectrum heatmap, divergence, distance) outside the app shell. The
 * Playwright spec drives it through window.chartsA: it appends recorded
 * events and sets the preview, lr and λ, as the store would.
 */
import { StrictMode, useEffect, useState } from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';

import type { LabEvent, PreviewEvent } from '../../../src/core/events.ts';
import { DEFAULT_SPEC } from '../../../src/core/spec.ts';
import { DistanceChart } from '../../../src/ui/charts/DistanceChart.tsx';
import { DivergenceChart } from '../../../src/ui/charts/DivergenceChart.tsx';
import { LossChart } from '../../../src/ui/charts/LossChart.tsx';
import { SpectrumChart } from '../../../src/ui/charts/SpectrumChart.tsx';
import { SpectrumHeatmap } from '../../../src/ui/charts/SpectrumHeatmap.tsx';
import { EMPTY_ANALYSIS, EMPTY_RUN, appendEvents, type AnalysisData, type RunData } from '../../../src/ui/run-data.ts';
import '../../../src/ui/styles.css';
import ceAdamText from '../fixtures/run-ce-adam.jsonl?raw';
import mseGdText from '../fixtures/run-mse-gd.jsonl?raw';
import { eventsThroughStep, longRun, parseEventLines } from '../fixtures/run-events.ts';

const RECORDED = {
  mseGd: parseEventLines(mseGdText),
  ceAdam: parseEventLines(ceAdamText),
} as const;

type RecordedName = keyof typeof RECORDED;

interface HarnessState {
  run: RunData;
  analysis: AnalysisData;
  lr: number;
  lambda: number;
}

const INITIAL: HarnessState = { run: EMPTY_RUN, analysis: EMPTY_ANALYSIS, lr: DEFAULT_SPEC.lr, lambda: DEFAULT_SPEC.lambda };

/** The page's control surface for the spec; every call re-renders synchronously. */
export interface ChartsHarness {
  recorded: typeof RECORDED;
  reset(): void;
  append(events: readonly LabEvent[]): void;
  /** Appends a recorded run's events through `step` to a fresh run. */
  load(name: RecordedName, step: number): void;
  /** Appends a recorded run's events after `fromStep` through `toStep`. */
  extend(name: RecordedName, fromStep: number, toStep: number): void;
  /** Loads a synthetic run of `steps` steps and returns the milliseconds until the next frame. */
  loadLong(steps: number): Promise<number>;
  setPreview(preview: PreviewEvent | null): void;
  setOptimizer(lr: number, lambda: number): void;
}

declare global {
  interface Window {
    chartsA: ChartsHarness;
  }
}

function Harness({ onReady }: { onReady: (update: (change: (state: HarnessState) => HarnessState) => void) => void }) {
  const [state, setState] = useState(INITIAL);
  useEffect(() => onReady((change) => flushSync(() => setState(change))), [onReady]);

  const { run, analysis, lr, lambda } = state;
  const spec = run.config?.spec ?? DEFAULT_SPEC;
  return (
    <main className="charts" style={{ padding: 16 }}>
      <LossChart metric="loss" spec={spec} config={run.config} steps={run.steps} evals={run.evals} theory={run.theory} />
      <LossChart metric="accuracy" spec={spec} config={run.config} steps={run.steps} evals={run.evals} theory={run.theory} />
      <SpectrumChart ntk={run.ntk} preview={analysis.preview} lr={lr} lambda={lambda} />
      <SpectrumHeatmap ntk={run.ntk} />
      <DivergenceChart divergence={run.divergence} />
      <DistanceChart divergence={run.divergence} steps={run.steps} lambda={spec.lambda} />
    </main>
  );
}

function withEvents(state: HarnessState, events: readonly LabEvent[]): HarnessState {
  const { run, analysis } = appendEvents(state.run, state.analysis, events);
  const config = events.find((event) => event.type === 'config');
  const optimizer = config !== undefined ? { lr: config.spec.lr, lambda: config.spec.lambda } : {};
  return { ...state, ...optimizer, run, analysis };
}

function stepsBetween(events: readonly LabEvent[], fromStep: number, toStep: number): LabEvent[] {
  const through = eventsThroughStep(events, toStep);
  return through.slice(eventsThroughStep(events, fromStep).length);
}

const root = document.getElementById('root');
if (root === null) throw new Error('charts-a.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <Harness
      onReady={(update) => {
        window.chartsA = {
          recorded: RECORDED,
          reset: () => update(() => INITIAL),
          append: (events) => update((state) => withEvents(state, events)),
          load: (name, step) => update(() => withEvents(INITIAL, eventsThroughStep(RECORDED[name], step))),
          extend: (name, fromStep, toStep) => update((state) => withEvents(state, stepsBetween(RECORDED[name], fromStep, toStep))),
          loadLong: async (steps) => {
            const events = longRun(RECORDED.mseGd, steps);
            const start = performance.now();
            update(() => withEvents(INITIAL, events));
            await new Promise((resolve) => requestAnimationFrame(resolve));
            return performance.now() - start;
          },
          setPreview: (preview) => update((state) => ({ ...state, analysis: { ...state.analysis, preview } })),
          setOptimizer: (lr, lambda) => update((state) => ({ ...state, lr, lambda })),
        };
        document.body.dataset.ready = 'true';
      }}
    />
  </StrictMode>,
);
