/**
 * The layer-subset sweep. For each subset S of adapted blocks it computes the
 * spectrum of K_S at θ₀ and its Weyl bounds, then fine-tunes S for a fixed
 * budget and records the final loss and accuracy. Across subsets it reports
 * the correlation between κ_λ and each outcome.
 */
import * as tf from '@tensorflow/tfjs';

import type { LabEvent, SweepEvent } from './events.ts';
import { formatAdapterGrid, parseAdapterGrid, type AdapterGrid } from './model/adapters.ts';
import { MODULES } from './model/modules.ts';
import { jacobian } from './ntk/jacobian.ts';
import { ntkFromJacobians } from './ntk/kernel.ts';
import { addMatrices, spectrumStats, symmetricEigen, weylBounds } from './ntk/spectrum.ts';
import { correlations } from './ntk/theory.ts';
import { FineTuneRun, type RunnerInputs } from './runner.ts';
import type { ExperimentSpec } from './spec.ts';

/** Ten subsets of a 4-layer model: by depth, by module and all together. */
export const DEFAULT_SWEEP_SUBSETS = [
  'qv.qv.qv.qv',
  'qv.-.-.-',
  '-.-.-.qv',
  'qv.qv.-.-',
  '-.-.qv.qv',
  'q.q.q.q',
  'v.v.v.v',
  'o.o.o.o',
  'fp.fp.fp.fp',
  'qkvofp.qkvofp.qkvofp.qkvofp',
];

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
 */
export async function* runSweep(
  spec: ExperimentSpec,
  inputs: RunnerInputs,
  subsets: readonly string[],
  shouldStop: () => boolean = () => false,
): AsyncGenerator<LabEvent> {
  try {
    if (subsets.length < 2) throw new Error(`a sweep needs at least 2 subsets, got ${subsets.length}`);
    const grids = subsets.map((subset) => parseAdapterGrid(subset));
    const union = formatAdapterGrid(unionGrid(grids));

    const unionRun = FineTuneRun.create({ ...spec, adapters: union, linearized: false }, inputs);
    yield unionRun.configEvent;
    const J = jacobian(unionRun.predict, unionRun.theta, unionRun.probe, unionRun.numLabels);
    const { blocks } = ntkFromJacobians(unionRun.layout, J, unionRun.numLabels);
    J.dispose();
    const size = unionRun.probe.labels.shape[0] * unionRun.numLabels;
    const n = unionRun.probe.labels.shape[0];
    const blockKeys = unionRun.layout.blocks.map((block) => `${block.layer}:${block.module}`);
    unionRun.dispose();
    const blockEigenvalues = blocks.map((block) => symmetricEigen(block.values, size).eigenvalues);

    const results: SweepEvent[] = [];
    for (const [index, grid] of grids.entries()) {
      if (shouldStop()) break;
      const members = grid.flatMap((modules, layer) => modules.map((module) => blockKeys.indexOf(`${layer}:${module}`)));
      const kernel = addMatrices(members.map((member) => blocks[member]?.values as Float64Array));
      const eigenvalues = symmetricEigen(kernel, size).eigenvalues;
      const stats = spectrumStats(eigenvalues, { N: n, lambda: spec.lambda });

      const run = FineTuneRun.create(
        { ...spec, adapters: formatAdapterGrid(grid), linearized: false, ntkInterval: 0, evalInterval: Math.max(1, spec.steps) },
        inputs,
      );
      try {
        while (!run.finished && !shouldStop()) {
          run.advance();
          await tf.nextFrame();
        }
        if (run.metrics === null || run.step !== spec.steps) run.evaluate();
        const metrics = run.metrics;
        if (metrics === null) throw new Error('the sweep run ended without an evaluation');

        const event: SweepEvent = {
          type: 'sweep',
          index,
          total: grids.length,
          adapters: formatAdapterGrid(grid),
          stats: { ...stats },
          weyl: weylBounds(blockEigenvalues, members),
          trainable: run.layout.size,
          final: metrics.real,
        };
        results.push(event);
        yield event;
      } finally {
        run.dispose();
      }
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
    yield { type: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}
