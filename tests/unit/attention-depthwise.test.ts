/**
 * The depthwise-convolution attention of the wasm backend against plain
 * batched matmuls: the same outputs, the same gradients for q, k and v, and
 * gradients that match central finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { depthwiseAttention } from '../../src/core/model/attention-depthwise.ts';

const B = 2;
const T = 5;
const N_HEAD = 3;
const HEAD_DIM = 4;
const SHAPE: [number, number, number, number] = [B, T, N_HEAD, HEAD_DIM];

/** softmax(q·kᵀ/√d + mask)·v per head with batched matmuls, as [B, T, nHead, d]. */
function referenceAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const byHead = (t: tf.Tensor4D): tf.Tensor4D => t.transpose([0, 2, 1, 3]); // [B, nHead, T, d]

  const scores = tf.mul(tf.matMul(byHead(q), byHead(k), false, true), 1 / Math.sqrt(HEAD_DIM)); // [B, nHead, T, T]
  const weights = tf.softmax(tf.add(scores, mask)); // [B, nHead, T, T]
  return tf.matMul(weights, byHead(v)).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, T, nHead, d]
}

/** Returns the causal mask: 0 on and below the diagonal, -1e9 above it. */
function causalMask(): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9) as tf.Tensor2D);
}

type Attention = typeof referenceAttention;

/** Returns Σ out·w and its gradients for q, k and v, read back as arrays. */
function lossAndGrads(attend: Attention, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, w: tf.Tensor4D): { loss: number; grads: Float32Array[] } {
  return tf.tidy(() => {
    const f = (qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor): tf.Scalar => tf.sum(tf.mul(attend(qi as tf.Tensor4D, ki as tf.Tensor4D, vi as tf.Tensor4D, mask), w));
    const { value, grads } = tf.valueAndGrads(f)([q, k, v]);
    return { loss: value.dataSync()[0] ?? NaN, grads: grads.map((grad) => grad.dataSync() as Float32Array) };
  });
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

let q: tf.Tensor4D;
let k: tf.Tensor4D;
let v: tf.Tensor4D;
let w: tf.Tensor4D;
let mask: tf.Tensor2D;

beforeAll(async () => {
  await tf.setBackend('wasm');
  q = tf.randomNormal(SHAPE, 0, 1, 'float32', 1);
  k = tf.randomNormal(SHAPE, 0, 1, 'float32', 2);
  v = tf.randomNormal(SHAPE, 0, 1, 'float32', 3);
  w = tf.randomNormal(SHAPE, 0, 1, 'float32', 4);
  mask = causalMask();
});

afterAll(() => {
  tf.dispose([q, k, v, w, mask]);
});

describe('depthwiseAttention on wasm', () => {
  test('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  test('equals batched matmul attention', () => {
    const [depthwise, reference] = tf.tidy(() => [depthwiseAttention(q, k, v, mask).dataSync(), referenceAttention(q, k, v, mask).dataSync()]);

    expect(depthwise).toHaveLength(B * T * N_HEAD * HEAD_DIM);
    expect(maxAbsDifference(depthwise ?? [], reference ?? [])).toBeLessThan(1e-5);
  });

  test('has the reference gradients', () => {
    const depthwise = lossAndGrads(depthwiseAttention, q, k, v, mask, w);
    const reference = lossAndGrads(referenceAttention, q, k, v, mask, w);

    expect(Math.abs(depthwise.loss - reference.loss)).toBeLessThan(1e-4);
    for (const [i, name] of ['q', 'k', 'v'].entries()) {
      const scale = Math.max(...Array.from(reference.grads[i] ?? [], Math.abs));
      expect(scale, `scale of d/d${name}`).toBeGreaterThan(0);
      expect(maxAbsDifference(depthwise.grads[i] ?? [], reference.grads[i] ?? []) / scale, `d/d${name}`).toBeLessThan(1e-5);
    }
  });

  test('matches finite differences', () => {
    const { grads } = lossAndGrads(depthwiseAttention, q, k, v, mask, w);
    const inputs = [q, k, v];
    const h = 1e-2;
    // A few entries of each input, including the last time step, which attends to every key.
    const entries = [0, 7, B * T * N_HEAD * HEAD_DIM - 1];

    for (const [i, input] of inputs.entries()) {
      for (const entry of entries) {
        const loss = (delta: number): number =>
          tf.tidy(() => {
            const shifted = input.dataSync().slice();
            shifted[entry] = (shifted[entry] ?? 0) + delta;
            const moved = inputs.map((other, j) => (j === i ? tf.tensor4d(shifted, SHAPE) : other)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
            return tf.sum(tf.mul(depthwiseAttention(...moved, mask), w)).dataSync()[0] ?? NaN;
          });
        const numeric = (loss(h) - loss(-h)) / (2 * h);

        expect(Math.abs((grads[i]?.[entry] ?? NaN) - numeric), `input ${i}, entry ${entry}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
    }
  });

  test('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    lossAndGrads(depthwiseAttention, q, k, v, mask, w);

    expect(tf.memory().numTensors).toBe(before);
  });
});
