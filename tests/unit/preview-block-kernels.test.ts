import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NTK_TEST_CONFIG } from './ntk-fixtures.ts';
import { parseAdapterGrid } from '../../src/core/model/adapters.ts';
import { createThetaLayout, type AdapterMode } from '../../src/core/model/lora.ts';
import { blockKernelsAsync } from '../../src/core/ntk/block-kernels.ts';
import { blockKernels, type Kernel } from '../../src/core/ntk/kernel.ts';
import { createRng, randomNormal } from '../../src/core/random.ts';

/** Returns a random Jacobian [rows·c, P] for the layout's P columns. */
function randomJacobian(rows: number, c: number, columns: number, seed: number): tf.Tensor2D {
  const rng = createRng(seed);
  const values = Float32Array.from({ length: rows * c * columns }, () => randomNormal(rng));
  return tf.tensor2d(values, [rows * c, columns]);
}

/** Expects kernels equal to blockKernels' within 1e-6 of each block's largest entry. */
function expectMatching(actual: Kernel[], expected: Kernel[], rows: number, cols: number): void {
  expect(actual).toHaveLength(expected.length);
  for (const [index, kernel] of actual.entries()) {
    const reference = expected[index] as Kernel;
    expect(kernel.rows).toBe(rows);
    expect(kernel.cols).toBe(cols);
    expect(kernel.c).toBe(2);
    expect(kernel.values).toHaveLength(reference.values.length);
    const scale = Math.max(...reference.values.map(Math.abs));
    const difference = Math.max(...kernel.values.map((value, i) => Math.abs(value - (reference.values[i] as number))));
    expect(difference / scale).toBeLessThan(1e-6);
  }
}

// wasm multiplies by an explicit transpose, the other backends by transposeB.
describe.each(['cpu', 'wasm'] as const)('blockKernelsAsync on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

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
      const actual = await blockKernelsAsync(layout, J, 2);
      J.dispose();

      expectMatching(actual, expected, 5, 5);
    });
  }

  it('matches blockKernels for two Jacobians', async () => {
    const layout = createThetaLayout(NTK_TEST_CONFIG, {
      grid: parseAdapterGrid('qv.ofp'),
      mode: 'lora',
      r: 2,
      loraAlpha: 4,
      rslora: false,
      init: 'kaiming',
    });
    const J1 = randomJacobian(5, 2, layout.size, 11);
    const J2 = randomJacobian(3, 2, layout.size, 12);
    const expected = blockKernels(layout, J1, 2, J2);
    const actual = await blockKernelsAsync(layout, J1, 2, J2);
    tf.dispose([J1, J2]);

    expectMatching(actual, expected, 5, 3);
  });

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
    await blockKernelsAsync(layout, J, 2);
    expect(tf.memory().numTensors).toBe(before);
    J.dispose();
  });
});
