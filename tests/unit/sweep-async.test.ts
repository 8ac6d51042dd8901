/**
 * The sweep reads every tensor asynchronously, so that it runs on WebGPU in
 * a worker. These tests compare it with the same computation done with
 * synchronous reads (jacobian, ntkFromJacobians, advance and evaluate) on the
 * Node cpu and wasm backends, and check that a cancelled sweep frees its
 * tensors wherever the cancel arrives.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestCheckpoint, tinySpec } from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../../src/core/data/tasks.ts';
import type { LabEvent, Metrics, SweepEvent, SweepSummaryEvent } from '../../src/core/events.ts';
import { formatAdapterGrid, parseAdapterGrid } from '../../src/core/model/adapters.ts';
import { disposeParams } from '../../src/core/model/params.ts';
import { jacobian } from '../../src/core/ntk/jacobian.ts';
import { ntkFromJacobians, type Kernel } from '../../src/core/ntk/kernel.ts';
import {
  addMatrices,
  spectrumStats,
  symmetricEigen,
  weylBounds,
  type SpectrumStats,
  type WeylBounds,
} from '../../src/core/ntk/spectrum.ts';
import { correlations } from '../../src/core/ntk/theory.ts';
import { FineTuneRun, type RunnerInputs } from '../../src/core/runner.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import { runSweep, unionGrid } from '../../src/core/sweep.ts';
import { CancelledError, type CancelSignal } from '../../src/core/task-control.ts';

const SUBSETS = ['qv.-', '-.o', 'v.qo'];

let sources: TaskSources;

beforeAll(() => {
  sources = loadTaskSources();
});

async function collect(stream: AsyncGenerator<LabEvent>): Promise<LabEvent[]> {
  const events: LabEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** One subset's sweep values. */
interface SubsetValues {
  adapters: string;
  stats: SpectrumStats;
  weyl: WeylBounds;
  trainable: number;
  final: { train: Metrics; eval: Metrics };
}

/**
 * Computes every subset's values with synchronous reads only: the union's
 * Jacobian and block kernels at θ₀, each subset's summed kernel, and a
 * fine-tuning run driven by advance and evaluate.
 */
function sweepWithSyncReads(spec: ExperimentSpec, inputs: RunnerInputs, subsets: readonly string[]): SubsetValues[] {
  const grids = subsets.map((subset) => parseAdapterGrid(subset));
  const unionRun = FineTuneRun.create({ ...spec, adapters: formatAdapterGrid(unionGrid(grids)), linearized: false }, inputs);
  const c = unionRun.numLabels;
  const n = unionRun.probe.labels.shape[0];
  const J = jacobian(unionRun.predict, unionRun.theta, unionRun.probe, c); // [n·C, P]
  const { blocks } = ntkFromJacobians(unionRun.layout, J, c);
  J.dispose();
  const keys = unionRun.layout.blocks.map((block) => `${block.layer}:${block.module}`);
  unionRun.dispose();
  const blockEigenvalues = blocks.map((block) => symmetricEigen(block.values, n * c).eigenvalues);

  return grids.map((grid) => {
    const members = grid.flatMap((modules, layer) => modules.map((module) => keys.indexOf(`${layer}:${module}`)));
    const kernel = addMatrices(members.map((member) => (blocks[member] as Kernel).values));
    const stats = spectrumStats(symmetricEigen(kernel, n * c).eigenvalues, { N: n, lambda: spec.lambda });

    const adapters = formatAdapterGrid(grid);
    const run = FineTuneRun.create({ ...spec, adapters, linearized: false, ntkInterval: 0, evalInterval: spec.steps }, inputs);
    while (!run.finished) run.advance();
    const final = run.metrics?.real;
    const trainable = run.layout.size;
    run.dispose();
    if (final === undefined) throw new Error(`the reference run of ${adapters} ended without an evaluation`);

    return { adapters, stats, weyl: weylBounds(blockEigenvalues, members), trainable, final };
  });
}

/** Expects `value` within `allowed` of `reference`, or both null. */
function expectNear(value: number | null, reference: number | null, allowed: number, label: string): void {
  expect(value === null, `${label} is null`).toBe(reference === null);
  if (value !== null && reference !== null) expect(Math.abs(value - reference), label).toBeLessThanOrEqual(allowed);
}

/**
 * Checks kernel-derived values against the reference within `tolerance` times
 * the reference's μ₁: a float32 rounding of the kernel entries of that size
 * moves each eigenvalue by at most that much (Weyl). κ = μ₁/μ_n is compared
 * within the relative error that this moves μ_n by, and the other values
 * within `tolerance` relative. A tolerance of 0 requires equal values.
 */
function expectSpectrumClose(actual: SubsetValues, expected: SubsetValues, tolerance: number): void {
  const label = expected.adapters;
  const { stats } = expected;
  const scale = tolerance * stats.muMax;

  expectNear(actual.stats.muMax, stats.muMax, scale, `${label} muMax`);
  expectNear(actual.stats.muMin, stats.muMin, scale, `${label} muMin`);
  expectNear(actual.weyl.upper, expected.weyl.upper, scale, `${label} weyl.upper`);
  expectNear(actual.weyl.lower, expected.weyl.lower, scale, `${label} weyl.lower`);
  expectNear(actual.stats.trace, stats.trace, tolerance * stats.trace, `${label} trace`);
  expectNear(actual.stats.kappa, stats.kappa, (stats.kappa ?? 0) * (scale / stats.muMin), `${label} kappa`);
  expectNear(actual.stats.kappaLambda, stats.kappaLambda, (stats.kappaLambda ?? 0) * tolerance, `${label} kappaLambda`);
  expectNear(actual.stats.effectiveRank, stats.effectiveRank, stats.effectiveRank * tolerance, `${label} effectiveRank`);
  expectNear(actual.stats.etaMax, stats.etaMax, (stats.etaMax ?? 0) * tolerance, `${label} etaMax`);
}

/**
 * The sweep's block kernels are matMul(J_b, transpose(J_b)) (block-kernels.ts);
 * the synchronous ntkFromJacobians multiplies with transposeB. The cpu
 * backend rounds both the same way, and the wasm backend does not, so there
 * the kernel-derived values agree only to float32 rounding.
 */
const KERNEL_TOLERANCE: Record<string, number> = { cpu: 0, wasm: 1e-6 };

describe.each(['cpu', 'wasm'])('runSweep on %s', (backend) => {
  const lambda = 0.01;
  const spec = tinySpec({ steps: 2, lambda });
  const tolerance = KERNEL_TOLERANCE[backend] as number;
  let checkpoint: Checkpoint;
  let events: LabEvent[];
  let sweeps: SweepEvent[];
  let reference: SubsetValues[];

  beforeAll(async () => {
    await tf.setBackend(backend);
    checkpoint = createTestCheckpoint();
    const inputs: RunnerInputs = { checkpoint, sources, backend };
    events = await collect(runSweep(spec, inputs, SUBSETS));
    sweeps = events.filter((event): event is SweepEvent => event.type === 'sweep');
    reference = sweepWithSyncReads(spec, inputs, SUBSETS);
  });

  afterAll(() => {
    disposeParams(checkpoint.params);
  });

  it('emits one event per subset', () => {
    expect(events.map((event) => event.type)).toEqual(['config', 'sweep', 'sweep', 'sweep', 'sweepSummary']);
    expect(sweeps.map((event) => event.adapters)).toEqual(reference.map((values) => values.adapters));
  });

  it('trains like synchronous reads', () => {
    for (const [index, expected] of reference.entries()) {
      const event = sweeps[index] as SweepEvent;
      expect(event.trainable, expected.adapters).toBe(expected.trainable);
      expect(event.final, expected.adapters).toEqual(expected.final);
    }
  });

  it('matches synchronous kernel spectra', () => {
    for (const [index, expected] of reference.entries()) {
      const { adapters, stats, weyl, trainable, final } = sweeps[index] as SweepEvent;
      expectSpectrumClose({ adapters, stats, weyl, trainable, final }, expected, tolerance);
    }
  });

  it('correlates the reference values', () => {
    const summary = events.at(-1) as SweepSummaryEvent;
    const logKappa = reference.map((values) => Math.log10(values.stats.kappaLambda ?? Number.POSITIVE_INFINITY));
    const trainLoss = correlations(logKappa, reference.map((values) => values.final.train.loss));
    const evalAccuracy = correlations(logKappa, reference.map((values) => values.final.eval.accuracy));

    expect(logKappa.every(Number.isFinite)).toBe(true);
    expect(summary.subsets).toBe(SUBSETS.length);
    expect(summary.kappaLambdaVsTrainLoss.spearman).toBe(trainLoss.spearman);
    expect(summary.kappaLambdaVsEvalAccuracy.spearman).toBe(evalAccuracy.spearman);
    expectNear(summary.kappaLambdaVsTrainLoss.pearson, trainLoss.pearson, tolerance, 'train loss pearson');
    expectNear(summary.kappaLambdaVsEvalAccuracy.pearson, evalAccuracy.pearson, tolerance, 'eval accuracy pearson');
  });
});

/** A signal that reads as aborted from its `abortAt`-th check on, and counts its checks. */
class CountingSignal implements CancelSignal {
  checks = 0;

  constructor(private readonly abortAt: number) {}

  get aborted(): boolean {
    this.checks += 1;
    return this.checks >= this.abortAt;
  }
}

describe('runSweep cancelled', () => {
  // Two subsets of one step each keep the cancellation points few, and each costs a sweep up to it.
  const subsets = ['q.-', '-.v'];
  const spec = tinySpec({ steps: 1, probeSize: 4 });
  let inputs: RunnerInputs;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    inputs = { checkpoint: createTestCheckpoint(), sources, backend: 'cpu' };
  });

  afterAll(() => {
    disposeParams(inputs.checkpoint.params);
  });

  it('frees its tensors at every check', async () => {
    const uncancelled = new CountingSignal(Number.POSITIVE_INFINITY);
    const before = tf.memory().numTensors;
    const complete = await collect(runSweep(spec, inputs, subsets, { signal: uncancelled }));
    const checkCount = uncancelled.checks;

    expect(complete.at(-1)?.type).toBe('sweepSummary');
    expect(tf.memory().numTensors).toBe(before);
    expect(checkCount).toBeGreaterThan(4);

    for (let abortAt = 1; abortAt <= checkCount; abortAt++) {
      const signal = new CountingSignal(abortAt);
      const types: string[] = [];
      let thrown: unknown = null;
      try {
        for await (const event of runSweep(spec, inputs, subsets, { signal })) types.push(event.type);
      } catch (error) {
        thrown = error;
      }

      expect(thrown, `abort at check ${abortAt}`).toBeInstanceOf(CancelledError);
      expect(types, `abort at check ${abortAt}`).not.toContain('sweepSummary');
      expect(types, `abort at check ${abortAt}`).not.toContain('error');
      expect(tf.memory().numTensors, `abort at check ${abortAt}`).toBe(before);
    }
  });

  it('frees its tensors when the consumer stops early', async () => {
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    for await (const event of runSweep(spec, inputs, subsets)) {
      seen.push(event.type);
      if (event.type === 'config') break;
    }

    expect(seen).toEqual(['config']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
