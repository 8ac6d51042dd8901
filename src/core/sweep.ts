/**
 * The layer-subset sweep. For each subset S of adapted blocks it computes the
 * spectrum of K_S at θ₀ and its Weyl bounds, then fine-tunes S for a fixed
 * budget and records the final loss and accuracy. Across subsets it reports
 * the correlation between κ_λ and each outcome.
 *
 * Every tensor read is asynchronous, because tfjs 4.22's dataSync returns
 * zeros and destroys the device on WebGPU in a Chromium 156 worker (see
 * read-async.ts). The sweep yields to the event loop between Jacobian
 * chunks, block eigendecompositions and training steps, so that a host can
 * handle a cancel request between them.
 */
import type { LabEvent, SweepEvent } from './events.ts';
import { formatAdapterGrid, parseAdapterGrid, type AdapterGrid } from './model/adapters.ts';
import { MODULES } from './model/modules.ts';
import { blockKernelsAsync } from './ntk/block-kernels.ts';
import { jacobianAsync } from './ntk/jacobian.ts';
import type { Kernel } from './ntk/kernel.ts';
import { symmetricEigenvalues } from './ntk/eigenvalues.ts';
import { addMatrices, spectrumStats, weylBounds } from './ntk/spectrum.ts';
import { correlations } from './ntk/theory.ts';
import { FineTuneRun, type RunnerInputs } from './runner.ts';
import type { ExperimentSpec } from './spec.ts';
import { CancelledError, throwIfCancelled, yieldToEventLoop, type CancelSignal } from './task-control.ts';

/** Cancellation of a sweep: once the signal is aborted, the sweep frees its tensors and throws a CancelledError. */
export interface SweepControl {
  signal?: CancelSignal;
}

/** The block kernels at θ₀ of the union of the subsets, with each block's spectrum. */
interface UnionBlocks {
  /** "layer:module" of each block, in layout order. */
  keys: string[];
  kernels: Kernel[];
  /** Eigenvalues of each block kernel, descending. */
  eigenvalues: Float64Array[];
  /** Probe examples. */
  n: number;
  /** The kernel's side, n·C. */
  size: number;
}

/** Returns the union of several grids, layer by layer. */
export function unionGrid(grids: readonly AdapterGrid[]): AdapterGrid {
  const layers = Math.max(...grids.map((grid) => grid.length));
  return Array.from({ length: layers }, (_, layer) =>
    MODULES.filter((module) => grids.some((grid) => grid[layer]?.includes(module) ?? false)),
  );
}

/**
 * Runs the sweep. Block kernels come from one Jacobian over the union of all
 * subsets; with LoRA's B = 0 (and per-block seeds) a block's Jacobian at θ₀
 * does not depend on which other blocks are adapted, so K_S is exactly the
 * sum of its blocks' kernels.
 *
 * Yields the union run's config event, one sweep event per subset and a
 * summary. Any failure ends the stream with one error event, except a
 * cancellation, which frees the sweep's tensors and throws a CancelledError.
 */
export async function* runSweep(
  spec: ExperimentSpec,
  inputs: RunnerInputs,
  subsets: readonly string[],
  control: SweepControl = {},
): AsyncGenerator<LabEvent> {
  const { signal } = control;
  try {
    if (subsets.length < 2) throw new Error(`a sweep needs at least 2 subsets, got ${subsets.length}`);
    const grids = subsets.map((subset) => parseAdapterGrid(subset));
    const union = formatAdapterGrid(unionGrid(grids));

    const unionRun = FineTuneRun.create({ ...spec, adapters: union, linearized: false }, inputs);
    let blocks: UnionBlocks;
    try {
      yield unionRun.configEvent;
      blocks = await unionBlockKernels(unionRun, signal);
    } finally {
      unionRun.dispose();
    }

    const results: SweepEvent[] = [];
    for (const [index, grid] of grids.entries()) {
      throwIfCancelled(signal, 'the sweep');
      const members = blockMembers(blocks, grid);
      const kernel = addMatrices(members.map((member) => (blocks.kernels[member] as Kernel).values));
      const eigenvalues = symmetricEigenvalues(kernel, blocks.size);
      const stats = spectrumStats(eigenvalues, { N: blocks.n, lambda: spec.lambda });

      const adapters = formatAdapterGrid(grid);
      const { trainable, final } = await fineTuneSubset(spec, inputs, adapters, signal);
      const event: SweepEvent = {
        type: 'sweep',
        index,
        total: grids.length,
        adapters,
        stats: { ...stats },
        weyl: weylBounds(blocks.eigenvalues, members),
        trainable,
        final,
      };
      results.push(event);
      yield event;
    }

    const logKappa = results.map((result) => Math.log10(result.stats.kappaLambda ?? Number.POSITIVE_INFINITY));
    const finite = results.filter((_, i) => Number.isFinite(logKappa[i]));
    const x = logKappa.filter(Number.isFinite);
    yield {
      type: 'sweepSummary',
      subsets: results.length,
      kappaLambdaVsTrainLoss: correlations(x, finite.map((result) => result.final.train.loss)),
      kappaLambdaVsEvalAccuracy: correlations(x, finite.map((result) => result.final.eval.accuracy)),
    };
  } catch (error) {
    if (error instanceof CancelledError) throw error;
    yield { type: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

/** Computes J(θ₀) of the union run on its probe set, every block kernel J_b·J_bᵀ and each block's eigenvalues. */
async function unionBlockKernels(run: FineTuneRun, signal: CancelSignal | undefined): Promise<UnionBlocks> {
  const c = run.numLabels;
  const n = run.probe.labels.shape[0];
  const size = n * c;

  const J = await jacobianAsync(run.predict, run.theta, run.probe, c, { signal }); // [n·C, P]
  let kernels: Kernel[];
  try {
    kernels = await blockKernelsAsync(run.layout, J, c);
  } finally {
    J.dispose();
  }

  const eigenvalues: Float64Array[] = [];
  for (const kernel of kernels) {
    throwIfCancelled(signal, 'the sweep');
    eigenvalues.push(symmetricEigenvalues(kernel.values, size));
    await yieldToEventLoop();
  }

  const keys = run.layout.blocks.map((block) => `${block.layer}:${block.module}`);
  return { keys, kernels, eigenvalues, n, size };
}

/** Returns the indices into the union's blocks of the blocks that `grid` adapts. */
function blockMembers(blocks: UnionBlocks, grid: AdapterGrid): number[] {
  return grid.flatMap((modules, layer) =>
    modules.map((module) => {
      const index = blocks.keys.indexOf(`${layer}:${module}`);
      if (index < 0) throw new Error(`the union of the subsets has no block for layer ${layer} ${module}`);
      return index;
    }),
  );
}

/** Fine-tunes one subset for spec.steps steps and returns its trainable parameter count and final metrics. */
async function fineTuneSubset(
  spec: ExperimentSpec,
  inputs: RunnerInputs,
  adapters: string,
  signal: CancelSignal | undefined,
): Promise<Pick<SweepEvent, 'trainable' | 'final'>> {
  // Evaluate once, after the last step, and never recompute the NTK.
  const run = FineTuneRun.create(
    { ...spec, adapters, linearized: false, ntkInterval: 0, evalInterval: Math.max(1, spec.steps) },
    inputs,
  );
  try {
    while (!run.finished) {
      throwIfCancelled(signal, 'the sweep');
      await run.advanceAsync();
      await yieldToEventLoop();
    }
    if (run.metrics === null) await run.evaluateAsync();

    const metrics = run.metrics;
    if (metrics === null) throw new Error(`the sweep run of ${adapters} ended without an evaluation`);
    return { trainable: run.layout.size, final: metrics.real };
  } finally {
    run.dispose();
  }
}
