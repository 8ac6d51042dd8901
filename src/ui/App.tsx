/** The lab page: settings on the left, the model panel and the live charts on the right. */
import { useState } from 'react';

import { DEFAULT_SWEEP_SUBSETS } from '../core/sweep-subsets.ts';
import { DistanceChart } from './charts/DistanceChart.tsx';
import { DivergenceChart } from './charts/DivergenceChart.tsx';
import { DrawQueue, DrawQueueContext } from './charts/draw-queue.ts';
import { DriftChart } from './charts/DriftChart.tsx';
import { formatValue } from './charts/frame.ts';
import { JacobianChangeChart } from './charts/JacobianChangeChart.tsx';
import { LossChart } from './charts/LossChart.tsx';
import { SpectrumChart } from './charts/SpectrumChart.tsx';
import { SpectrumHeatmap } from './charts/SpectrumHeatmap.tsx';
import { SweepChart } from './charts/SweepChart.tsx';
import { WeylChart } from './charts/WeylChart.tsx';
import { useLab } from './lab-context.ts';
import { LessonPanel } from './lessons/LessonPanel.tsx';
import { usePage } from './page-state.ts';
import { Controls } from './panels/Controls.tsx';
import { LinkBar, LinkProblems } from './panels/LinkBar.tsx';
import { ModelGrid } from './panels/ModelGrid.tsx';
import { RunControls } from './panels/RunControls.tsx';
import { BackendBadge, Notices, ProgressList, RestartBanner } from './panels/StatusBar.tsx';
import { useSaved } from './saved/saved-context.ts';
import { SavedRunsPanel } from './saved/SavedRunsPanel.tsx';
import { SavedRunsProvider } from './saved/SavedRunsProvider.tsx';
import { ShownRunBanner } from './saved/ShownRunBanner.tsx';
import { isRunActive } from './store.ts';

export function App() {
  // The charts size their margins and labels from the font when they draw, so a mode change remounts them.
  const chartsKey = usePage((state) => (state.presentation ? 'presentation' : 'normal'));
  const [drawQueue] = useState(() => new DrawQueue());
  return (
    <DrawQueueContext.Provider value={drawQueue}>
      <SavedRunsProvider>
        <div className="lab">
          <header className="lab-header">
            <h1>NTK fine-tuning lab</h1>
            <span className="subtitle">LoRA on a small GPT, seen through its neural tangent kernel</span>
            <LinkBar />
            <BackendBadge />
          </header>
          <aside className="lab-sidebar">
            <Controls />
          </aside>
          <main className="lab-main">
            <LinkProblems />
            <Notices />
            <RunControls />
            <RestartBanner />
            <ProgressList />
            <ModelPanel />
            <SavedRunsPanel />
            <ShownRunBanner />
            <RunCharts key={`run-${chartsKey}`} />
            <AnalysisCharts key={`analysis-${chartsKey}`} />
          </main>
          <LessonPanel />
        </div>
      </SavedRunsProvider>
    </DrawQueueContext.Provider>
  );
}

function ModelPanel() {
  const spec = useLab((state) => state.spec);
  const preview = useLab((state) => state.analysis.preview);
  // The checkpoint's depth: every block appears in the preview, else the grid string has one group per layer.
  const nLayer = preview !== null ? Math.max(...preview.blocks.map((block) => block.layer)) + 1 : spec.adapters.split('.').length;
  const runState = useLab((state) => state.runState);
  const setSpecValue = useLab((state) => state.setSpecValue);
  const stats = preview?.stats ?? null;

  return (
    <section className="panel model-panel" aria-label="Model">
      <div>
        <h2>Adapted layers and modules</h2>
        <ModelGrid
          nLayer={nLayer}
          adapters={spec.adapters}
          preview={preview}
          onChange={(adapters) => setSpecValue('adapters', adapters)}
          disabled={isRunActive(runState)}
        />
      </div>
      <div>
        <h2>Kernel at θ₀ for this choice</h2>
        {preview === null ? (
          <p className="chart-empty">Computing the NTK of every block at θ₀…</p>
        ) : (
          <dl className="preview-stats" data-testid="preview-stats">
            <dt>probe examples N × logits C</dt>
            <dd>
              {preview.n} × {preview.c}
            </dd>
            <dt>μ₁ (largest eigenvalue of K)</dt>
            <dd data-testid="preview-mu-max">{formatValue(stats?.muMax)}</dd>
            <dt>μ_n (smallest)</dt>
            <dd>{formatValue(stats?.muMin)}</dd>
            <dt>trace of K</dt>
            <dd>{formatValue(stats?.trace)}</dd>
            <dt>effective rank</dt>
            <dd>{formatValue(stats?.effectiveRank)}</dd>
            <dt>κ_λ = (μ₁ + Nλ)/(μ_n + Nλ)</dt>
            <dd>{formatValue(stats?.kappaLambda)}</dd>
            <dt>η_max = 2/(μ₁/N + λ)</dt>
            <dd>{formatValue(stats?.etaMax)}</dd>
            <dt>Weyl bounds on μ₁ and μ_n</dt>
            <dd>
              ≤ {formatValue(preview.weyl.upper)}, ≥ {formatValue(preview.weyl.lower)}
            </dd>
          </dl>
        )}
        <p className="control-note">
          With LoRA&apos;s B = 0 at θ₀, ∂f/∂A = 0, so each block&apos;s kernel at θ₀ comes from its B factor alone.
        </p>
      </div>
    </section>
  );
}

function RunCharts() {
  const liveRun = useLab((state) => state.run);
  const preview = useLab((state) => state.analysis.preview);
  const liveSpec = useLab((state) => state.runSpec ?? state.spec);
  // A saved run shown from the list replaces the live run; overlays are other runs drawn for comparison.
  const shownRun = useSaved((state) => state.shownRun);
  const overlays = useSaved((state) => state.overlays);
  const run = shownRun?.run ?? liveRun;
  const spec = shownRun?.record.spec ?? liveSpec;

  return (
    <section className="charts" aria-label="Training charts">
      <LossChart metric="loss" evals={run.evals} steps={run.steps} theory={run.theory} spec={spec} config={run.config} overlays={overlays} />
      <LossChart metric="accuracy" evals={run.evals} steps={run.steps} theory={run.theory} spec={spec} config={run.config} overlays={overlays} />
      <SpectrumChart ntk={run.ntk} preview={shownRun === null ? preview : null} lr={spec.lr} lambda={spec.lambda} />
      <SpectrumHeatmap ntk={run.ntk} />
      <DivergenceChart divergence={run.divergence} overlays={overlays} />
      <DistanceChart divergence={run.divergence} steps={run.steps} lambda={spec.lambda} overlays={overlays} />
      <DriftChart ntk={run.ntk} />
    </section>
  );
}

function AnalysisCharts() {
  const analysis = useLab((state) => state.analysis);
  const spec = useLab((state) => state.spec);
  const progress = useLab((state) => state.progress);
  const runSweep = useLab((state) => state.runSweep);
  const measure = useLab((state) => state.measureJacobianChange);
  const ready = useLab((state) => state.ready);

  return (
    <section className="charts" aria-label="Analysis charts">
      <WeylChart preview={analysis.preview} sweep={analysis.sweep} />
      <div className="analysis-slot">
        <div className="panel-actions">
          <button type="button" data-testid="measure-jacobian-change" disabled={!ready || progress.jacobianChange !== undefined} onClick={measure}>
            Measure Jacobian change
          </button>
        </div>
        <JacobianChangeChart event={analysis.jacobianChange} />
      </div>
      <div className="analysis-slot">
        <div className="panel-actions">
          <button
            type="button"
            data-testid="run-sweep"
            disabled={!ready || progress.sweep !== undefined}
            onClick={() => runSweep([...DEFAULT_SWEEP_SUBSETS])}
            title={`Fine-tune ${DEFAULT_SWEEP_SUBSETS.length} layer subsets for ${spec.steps} steps each`}
          >
            Run layer sweep ({DEFAULT_SWEEP_SUBSETS.length} subsets × {spec.steps} steps)
          </button>
        </div>
        <SweepChart sweep={analysis.sweep} summary={analysis.sweepSummary} />
      </div>
    </section>
  );
}
