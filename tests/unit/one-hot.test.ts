import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { oneHotFloat } from '../../src/core/model/one-hot.ts';

describe.each(['cpu', 'wasm'] as const)('oneHotFloat on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('puts 1 at each index', () => {
    const rows = tf.tidy(() => oneHotFloat(tf.tensor1d([2, 0, 3, 2], 'int32'), 4));
    expect(rows.dtype).toBe('float32');
    expect(rows.shape).toEqual([4, 4]);
    expect(rows.arraySync()).toEqual([
      [0, 0, 1, 0],
      [1, 0, 0, 0],
      [0, 0, 0, 1],
      [0, 0, 1, 0],
    ]);
    rows.dispose();
  });

  it('selects matrix rows in a product', () => {
    const table = tf.tensor2d([
      [1.5, -2],
      [0.25, 4],
      [-3, 0.5],
    ]);
    const picked = tf.tidy(() => tf.matMul(oneHotFloat(tf.tensor1d([2, 1], 'int32'), 3), table));
    expect(picked.arraySync()).toEqual([
      [-3, 0.5],
      [0.25, 4],
    ]);
    tf.dispose([table, picked]);
  });

  it('leaves no tensor behind', () => {
    const indices = tf.tensor1d([1, 0], 'int32');
    const before = tf.memory().numTensors;
    const rows = oneHotFloat(indices, 2);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([indices, rows]);
  });
});
