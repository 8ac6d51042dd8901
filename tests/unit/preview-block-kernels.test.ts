import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { NTK_TEST_CONFIG } from './ntk-fixtures.ts';
import { parseAdapterGrid } from '../../src/core/model/adapters.ts';
import { createThetaLayout, type AdapterMode } from '../../src/core/model/lora.ts';
import { blockKernelsConcurrentAsync } from '../../src/core/ntk/block-kernels.ts';
import { blockKernels } from '../../src/core/ntk/kernel.ts';
import { createRng, randomNormal } from '../../src/core/random.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Returns a random Jacobian [rows·c, P] for the layout's P columns. */
function randomJacobian(rows: number, c: number, columns: number, seed: number): tf.Tensor2D {
  const rng = createRng(seed);
  const values = Float32Array.from({ length: rows * c * columns }, () => randomNormal(rng));
  return tf.tensor2d(values, [rows * c, columns]);
}

describe('blockKernelsConcurrentAsync', () => {
  for (const mode of ['lora', 'full'] as AdapterMode[]) {
    it(`matches blockKernels in ${mode} mode`, async () => {
      const layout = createThetaLayout(NTK_TEST_CONFIG, {
        grid: parseAdapterGrid('qv.ofp'),
        mode,
        r: 2,
        loraAlpha: 4,
        rslora: false,
        init: 'kaiming',
      });
      const J = randomJacobian(5, 2, layout.size, 11);
      const expected = blockKernels(layout, J, 2);
      const actual = await blockKernelsConcurrentAsync(layout, J, 2);
      J.dispose();

      expect(actual).toHaveLength(layout.blocks.length);
      for (const [index, kernel] of actual.entries()) {
        const reference = expected[index] as (typeof expected)[number];
        expect(kernel.rows).toBe(5);
        expect(kernel.cols).toBe(5);
        expect(kernel.c).toBe(2);
        expect(kernel.values).toHaveLength(reference.values.length);
        const scale = Math.max(...reference.values.map(Math.abs));
        const difference = Math.max(...kernel.values.map((value, i) => Math.abs(value - (reference.values[i] as number))));
        expect(difference / scale).toBeLessThan(1e-6);
      }
    });
  }

  it('leaves no tensors behind', async () => {
    const layout = createThetaLayout(NTK_TEST_CONFIG, {
      grid: parseAdapterGrid('q.-'),
      mode: 'lora',
      r: 2,
      loraAlpha: 4,
      rslora: false,
      init: 'kaiming',
    });
    const J = randomJacobian(3, 2, layout.size, 5);
    const before = tf.memory().numTensors;
    await blockKernelsConcurrentAsync(layout, J, 2);
    expect(tf.memory().numTensors).toBe(before);
    J.dispose();
  });
});
