import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { createTestCheckpoint, maxAbs, maxAbsDifference, tinySpec } from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../../src/core/data/tasks.ts';
import type { LabEvent, SweepEvent, SweepSummaryEvent } from '../../src/core/events.ts';
import { formatAdapterGrid, parseAdapterGrid } from '../../src/core/model/adapters.ts';
import { empiricalNtk, type Kernel } from '../../src/core/ntk/kernel.ts';
import { addMatrices, spectrumStats, symmetricEigen } from '../../src/core/ntk/spectrum.ts';
import { FineTuneRun } from '../../src/core/runner.ts';
import { runSweep, unionGrid } from '../../src/core/sweep.ts';

const SUBSETS = ['qv.-', '-.o', 'v.qo'];
const UNION = 'qv.qo';

let sources: TaskSources;
let checkpoint: Checkpoint;

beforeAll(async () => {
  await tf.setBackend('cpu');
  sources = loadTaskSources();
  checkpoint = createTestCheckpoint();
});

async function collect(stream: AsyncGenerator<LabEvent>): Promise<LabEvent[]> {
  const events: LabEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('unionGrid', () => {
  it('merges layers of different lengths', () => {
    const union = unionGrid([parseAdapterGrid('q.-'), parseAdapterGrid('-.v.o')]);

    expect(union).toEqual([['attn.q'], ['attn.v'], ['attn.c_proj']]);
  });

  it('lists modules in MODULES order once', () => {
    const union = unionGrid([parseAdapterGrid('vf'), parseAdapterGrid('qv'), parseAdapterGrid('v')]);

    expect(union).toEqual([['attn.q', 'attn.v', 'mlp.c_fc']]);
  });

  it('keeps an empty layer empty', () => {
    const union = unionGrid([parseAdapterGrid('q.-.k'), parseAdapterGrid('-.-.q')]);

    expect(formatAdapterGrid(union)).toBe('q.-.qk');
  });

  it('forms the union of the test subsets', () => {
    expect(formatAdapterGrid(unionGrid(SUBSETS.map((subset) => parseAdapterGrid(subset))))).toBe(UNION);
  });
});

describe('runSweep', () => {
  const lambda = 0.01;
  let events: LabEvent[];
  let sweeps: SweepEvent[];
  let tensorsBefore: number;

  beforeAll(async () => {
    tensorsBefore = tf.memory().numTensors;
    events = await collect(runSweep(tinySpec({ steps: 2, lambda }), { checkpoint, sources, backend: 'cpu' }, SUBSETS));
    sweeps = events.filter((event): event is SweepEvent => event.type === 'sweep');
  });

  it('emits config, sweeps and a summary', () => {
    expect(events.map((event) => event.type)).toEqual(['config', 'sweep', 'sweep', 'sweep', 'sweepSummary']);
  });

  it('configures the union of the subsets', () => {
    const config = events[0];

    expect(config?.type === 'config' ? config.spec.adapters : null).toBe(UNION);
  });

  it('numbers the sweep events', () => {
    expect(sweeps.map((event) => event.index)).toEqual([0, 1, 2]);
    expect(sweeps.map((event) => event.total)).toEqual([3, 3, 3]);
    expect(sweeps.map((event) => event.adapters)).toEqual(SUBSETS);
  });

  it('counts each subset’s parameters', () => {
    // LoRA r = 4 on a 16 × 16 module: A is 4 × 16 and B is 16 × 4.
    const perBlock = 4 * 16 + 16 * 4;

    expect(sweeps.map((event) => event.trainable)).toEqual([2 * perBlock, perBlock, 3 * perBlock]);
  });

  it('keeps spectra within Weyl bounds', () => {
    for (const event of sweeps) {
      const allowance = 1e-6 * event.weyl.upper;
      expect(event.stats.muMax, event.adapters).toBeLessThanOrEqual(event.weyl.upper + allowance);
      expect(event.stats.muMin, event.adapters).toBeGreaterThanOrEqual(event.weyl.lower - allowance);
    }
  });

  it('reports final metrics after training', () => {
    for (const event of sweeps) {
      expect(Number.isFinite(event.final.train.loss), event.adapters).toBe(true);
      expect(Number.isFinite(event.final.eval.loss), event.adapters).toBe(true);
      expect(event.final.eval.accuracy, event.adapters).toBeGreaterThanOrEqual(0);
      expect(event.final.eval.accuracy, event.adapters).toBeLessThanOrEqual(1);
    }
  });

  it('summarizes every subset', () => {
    const summary = events.at(-1) as SweepSummaryEvent;

    expect(summary.subsets).toBe(3);
    for (const correlation of [summary.kappaLambdaVsTrainLoss, summary.kappaLambdaVsEvalAccuracy]) {
      expect(correlation).toHaveProperty('pearson');
      expect(correlation).toHaveProperty('spearman');
    }
  });

  it('keeps the tensor count flat', () => {
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('matches kernels computed per subset', () => {
    // The sweep sums block kernels taken from one Jacobian over the union.
    // That is exact only if a block's Jacobian at θ₀ does not depend on the
    // other adapted blocks: B = 0 makes the other adapters inactive, and each
    // LoRA tensor's seed comes from its name, not its position in θ.
    const spec = tinySpec({ steps: 2, lambda, linearized: false });
    const unionRun = FineTuneRun.create({ ...spec, adapters: UNION }, { checkpoint, sources, backend: 'cpu' });
    const { blocks } = empiricalNtk(unionRun.predict, unionRun.theta, unionRun.probe, {
      layout: unionRun.layout,
      numLabels: unionRun.numLabels,
    });
    const blockKeys = unionRun.layout.blocks.map((block) => `${block.layer}:${block.module}`);
    const n = unionRun.probe.labels.shape[0];
    const size = n * unionRun.numLabels;
    unionRun.dispose();

    SUBSETS.forEach((subset, index) => {
      const grid = parseAdapterGrid(subset);
      const members = grid.flatMap((modules, layer) => modules.map((module) => blockKeys.indexOf(`${layer}:${module}`)));
      const assembled = addMatrices(members.map((member) => (blocks[member] as Kernel).values));

      const run = FineTuneRun.create({ ...spec, adapters: subset }, { checkpoint, sources, backend: 'cpu' });
      const direct = empiricalNtk(run.predict, run.theta, run.probe, { layout: run.layout, numLabels: run.numLabels }).full.values;
      run.dispose();

      const directStats = spectrumStats(symmetricEigen(direct, size).eigenvalues, { N: n, lambda });
      const reported = sweeps[index] as SweepEvent;
      expect(members, subset).not.toContain(-1);
      expect(maxAbs(direct), subset).toBeGreaterThan(0);
      expect(maxAbsDifference(assembled, direct), subset).toBeLessThanOrEqual(1e-6 * maxAbs(direct));
      expect(Math.abs(reported.stats.muMax - directStats.muMax) / directStats.muMax, subset).toBeLessThan(1e-6);
      expect(Math.abs(reported.stats.trace - directStats.trace) / directStats.trace, subset).toBeLessThan(1e-6);
    });
  });

  it('rejects fewer than 2 subsets', async () => {
    const single = await collect(runSweep(tinySpec(), { checkpoint, sources, backend: 'cpu' }, ['qv.-']));

    expect(single).toEqual([{ type: 'error', message: 'a sweep needs at least 2 subsets, got 1' }]);
  });
});
