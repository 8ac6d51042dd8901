import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { createTestCheckpoint, maxAbs, maxAbsDifference, tinySpec } from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../../src/core/data/tasks.ts';
import type { PreviewEvent } from '../../src/core/events.ts';
import { empiricalNtk } from '../../src/core/ntk/kernel.ts';
import {
  allBlocksGrid,
  blockKernelKey,
  computeBlockKernels,
  subsetKernel,
  subsetMembers,
  subsetPreview,
  type BlockKernels,
} from '../../src/core/ntk/preview.ts';
import { FineTuneRun, type RunnerInputs } from '../../src/core/runner.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import { CancelledError } from '../../src/core/task-control.ts';

/** Subsets of the 2-layer test model, from one block to every block. */
const SUBSETS = ['q.-', '-.p', 'qv.o', 'v.qkvofp', 'qkvofp.qkvofp'];

let checkpoint: Checkpoint;
let sources: TaskSources;

beforeAll(async () => {
  await tf.setBackend('cpu');
  checkpoint = createTestCheckpoint();
  sources = loadTaskSources();
});

function inputs(): RunnerInputs {
  return { checkpoint, sources, backend: 'cpu' };
}

/** Computes the NTK at θ₀ as the runner does for a run that adapts exactly `adapters`. */
function runnerKernel(spec: ExperimentSpec, adapters: string): { values: Float64Array; eigenvalues: number[] } {
  const run = FineTuneRun.create({ ...spec, adapters, linearized: false }, inputs());
  try {
    const { full } = empiricalNtk(run.predict, run.theta, run.probe, { layout: run.layout, numLabels: run.numLabels });
    return { values: full.values, eigenvalues: run.ntk().eigenvalues };
  } finally {
    run.dispose();
  }
}

function describeBlockKernels(mode: ExperimentSpec['mode']): void {
  describe(`block kernels in ${mode} mode`, () => {
    const spec = tinySpec({ mode, lambda: 0.01, probeSize: 6 });
    let kernels: BlockKernels;

    beforeAll(async () => {
      kernels = await computeBlockKernels(spec, inputs());
    });

    it('has one block per layer and module', () => {
      expect(kernels.blocks.map((block) => `${block.layer}:${block.module}`)).toEqual(
        [0, 1].flatMap((layer) =>
          ['attn.q', 'attn.k', 'attn.v', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((module) => `${layer}:${module}`),
        ),
      );
      expect(kernels.n).toBe(6);
      expect(kernels.c).toBe(2);
    });

    for (const subset of SUBSETS) {
      it(`sums to the runner's kernel for ${subset}`, () => {
        const expected = runnerKernel(spec, subset);
        const actual = subsetKernel(kernels, subset) as Float64Array;

        expect(maxAbsDifference(actual, expected.values) / maxAbs(expected.values)).toBeLessThan(1e-5);
      });

      it(`matches the runner's spectrum for ${subset}`, () => {
        const expected = runnerKernel(spec, subset).eigenvalues;
        const preview = subsetPreview(kernels, subset, spec.lambda);

        expect(preview.eigenvalues).toHaveLength(expected.length);
        expect(maxAbsDifference(preview.eigenvalues, expected) / maxAbs(expected)).toBeLessThan(1e-5);
      });

      it(`keeps ${subset} within Weyl bounds`, () => {
        const preview = subsetPreview(kernels, subset, spec.lambda);
        const stats = preview.stats as NonNullable<PreviewEvent['stats']>;
        const allowance = 1e-6 * preview.weyl.upper;

        expect(stats.muMax).toBeLessThanOrEqual(preview.weyl.upper + allowance);
        expect(stats.muMin).toBeGreaterThanOrEqual(preview.weyl.lower - allowance);
      });
    }

    it('never lowers an eigenvalue when blocks are added', () => {
      // Each subset in the chain contains the one before it.
      const chain = ['q.-', 'qv.-', 'qv.o', 'qkvofp.qkvofp'];
      const spectra = chain.map((subset) => subsetPreview(kernels, subset, spec.lambda).eigenvalues);
      const allowance = 1e-6 * maxAbs(spectra.at(-1) as number[]);

      for (let s = 1; s < spectra.length; s++) {
        const smaller = spectra[s - 1] as number[];
        const larger = spectra[s] as number[];
        smaller.forEach((mu, k) => {
          expect(larger[k], `${chain[s]} eigenvalue ${k}`).toBeGreaterThanOrEqual(mu - allowance);
        });
      }
    });
  });
}

describeBlockKernels('lora');
describeBlockKernels('full');

describe('subsetPreview', () => {
  const spec = tinySpec({ lambda: 0.5, probeSize: 4 });
  let kernels: BlockKernels;

  beforeAll(async () => {
    kernels = await computeBlockKernels(spec, inputs());
  });

  it('lists every block of the model', () => {
    const preview = subsetPreview(kernels, 'q.-', spec.lambda);

    expect(preview.blocks).toHaveLength(12);
    expect(preview.blocks[0]?.eigenvalues).toHaveLength(8);
  });

  it('reports the subset and its λ', () => {
    const preview = subsetPreview(kernels, 'qv.o', 0.25);

    expect(preview.adapters).toBe('qv.o');
    expect(preview.lambda).toBe(0.25);
    expect(preview.stats?.kappaLambda).toBeCloseTo(
      ((preview.stats?.muMax ?? 0) + 4 * 0.25) / ((preview.stats?.muMin ?? 0) + 4 * 0.25),
      10,
    );
  });

  it('gives different spectra for different subsets', () => {
    const first = subsetPreview(kernels, 'q.-', spec.lambda).eigenvalues;
    const second = subsetPreview(kernels, '-.p', spec.lambda).eigenvalues;

    expect(maxAbsDifference(first, second)).toBeGreaterThan(1e-3 * maxAbs(first));
  });

  it('sums the block traces', () => {
    const preview = subsetPreview(kernels, 'qv.o', spec.lambda);
    const members = subsetMembers(kernels, 'qv.o');
    const blockTraces = members.reduce((total, member) => total + (preview.blocks[member]?.trace ?? 0), 0);

    expect(preview.stats?.trace).toBeCloseTo(blockTraces, 6);
  });

  it('returns an empty spectrum for no blocks', () => {
    const preview = subsetPreview(kernels, '-.-', spec.lambda);

    expect(preview.eigenvalues).toEqual([]);
    expect(preview.stats).toBeNull();
    expect(preview.weyl).toEqual({ upper: 0, lower: 0 });
  });

  it('rejects a grid with the wrong layer count', () => {
    expect(() => subsetPreview(kernels, 'qv.qv.qv', spec.lambda)).toThrow(/3 layers but the model has 2 layers/);
  });

  it('rejects an invalid grid', () => {
    expect(() => subsetPreview(kernels, 'qx.-', spec.lambda)).toThrow(/invalid letter "x"/);
  });
});

describe('computeBlockKernels', () => {
  const spec = tinySpec({ probeSize: 4 });

  it('reports progress up to the total', async () => {
    const reports: [number, number][] = [];
    await computeBlockKernels(spec, inputs(), { onProgress: (done, total) => reports.push([done, total]) });

    // 4 probe examples in one Jacobian chunk, then 12 block eigendecompositions.
    expect(reports[0]).toEqual([4, 16]);
    expect(reports.at(-1)).toEqual([16, 16]);
    expect(reports.map(([done]) => done)).toEqual([...reports.map(([done]) => done)].sort((a, b) => a - b));
  });

  it('throws CancelledError without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const pending = computeBlockKernels(spec, inputs(), {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });

    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees its tensors', async () => {
    const before = tf.memory().numTensors;
    await computeBlockKernels(spec, inputs());

    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('blockKernelKey', () => {
  const spec = tinySpec();

  it('ignores λ and the adapters', () => {
    expect(blockKernelKey({ ...spec, lambda: 3, adapters: 'q.q' })).toBe(blockKernelKey(spec));
  });

  it('changes with the probe set', () => {
    for (const change of [{ probeSize: 4 }, { evalSize: 32 }, { trainSize: 32 }, { seed: 1 }]) {
      expect(blockKernelKey({ ...spec, ...change }), JSON.stringify(change)).not.toBe(blockKernelKey(spec));
    }
  });

  it('changes with θ₀', () => {
    for (const change of [{ r: 2 }, { loraAlpha: 4 }, { rslora: true }, { init: 'gaussian' as const }, { mode: 'full' as const }]) {
      expect(blockKernelKey({ ...spec, ...change }), JSON.stringify(change)).not.toBe(blockKernelKey(spec));
    }
  });
});

describe('allBlocksGrid', () => {
  it('adapts every module on every layer', () => {
    expect(allBlocksGrid(3)).toBe('qkvofp.qkvofp.qkvofp');
  });
});
