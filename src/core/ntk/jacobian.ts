/**
 * The exact per-example Jacobian J(x) = ∂f(x; θ)/∂θ over the trainable
 * parameters, with rows ordered i·C + a (example i, logit a).
 *
 * Each example in a chunk gets its own copy of θ (a leading batch axis), so
 * the gradient of Σᵢ f_a(xᵢ; θᵢ) with respect to the stacked copies is the
 * per-example gradient ∂f_a(xᵢ)/∂θ, for every i in one backward pass. That
 * takes C backward passes per chunk instead of N·C. Only first-order
 * `tf.grads` is used: nested gradients are wrong in tfjs 4.22 for tanh,
 * softmax and exp.
 */
import * as tf from '@tensorflow/tfjs';

import { disposeBatch, gatherBatch, rowRange, type BatchTensors } from '../finetune/encode.ts';
import type { PredictFn } from '../finetune/trainer.ts';
import { oneHotFloat } from '../model/one-hot.ts';
import { throwIfCancelled, yieldToEventLoop, type TaskControl } from '../task-control.ts';

/** Examples per chunk: bounds memory to chunk · |θ| floats per stacked copy. */
export const JACOBIAN_CHUNK = 16;

/** Returns J [N·C, P] for the rows of `batch`, at parameters θ (each tensor of its layout shape). */
export function jacobian(
  predict: PredictFn,
  theta: readonly tf.Tensor[],
  batch: BatchTensors,
  numLabels: number,
  chunkSize = JACOBIAN_CHUNK,
): tf.Tensor2D {
  const count = batch.labels.shape[0];
  const parts: tf.Tensor2D[] = [];

  for (let start = 0; start < count; start += chunkSize) {
    const rows = Math.min(chunkSize, count - start);
    const chunk = gatherBatch(batch, rowRange(start, start + rows));
    parts.push(chunkJacobian(predict, theta, chunk, numLabels));
    disposeBatch(chunk);
  }

  const J = tf.concat(parts, 0) as tf.Tensor2D; // [N·C, P]
  tf.dispose(parts);
  return J;
}

/**
 * Computes the same J as `jacobian`, one chunk per macrotask. It reports
 * progress in examples done, waits for each chunk's kernels to finish, so
 * that progress is real on GPU backends, and checks the signal between
 * chunks. On cancellation it frees the finished chunks and throws a
 * CancelledError.
 */
export async function jacobianAsync(
  predict: PredictFn,
  theta: readonly tf.Tensor[],
  batch: BatchTensors,
  numLabels: number,
  control: TaskControl = {},
  chunkSize = JACOBIAN_CHUNK,
): Promise<tf.Tensor2D> {
  const count = batch.labels.shape[0];
  const parts: tf.Tensor2D[] = [];

  try {
    for (let start = 0; start < count; start += chunkSize) {
      throwIfCancelled(control.signal, 'the Jacobian');
      const rows = Math.min(chunkSize, count - start);
      const chunk = gatherBatch(batch, rowRange(start, start + rows));
      try {
        parts.push(chunkJacobian(predict, theta, chunk, numLabels));
      } finally {
        disposeBatch(chunk);
      }

      await settle(parts[parts.length - 1] as tf.Tensor2D);
      control.onProgress?.(start + rows, count);
      await yieldToEventLoop();
    }
    throwIfCancelled(control.signal, 'the Jacobian');
    return tf.concat(parts, 0) as tf.Tensor2D; // [N·C, P]
  } finally {
    tf.dispose(parts);
  }
}

/** Waits until the kernels that produce `tensor` have run, by reading back one of its values. */
async function settle(tensor: tf.Tensor2D): Promise<void> {
  const first = tf.tidy(() => tensor.slice([0, 0], [1, 1]));
  await first.data();
  first.dispose();
}

function chunkJacobian(
  predict: PredictFn,
  theta: readonly tf.Tensor[],
  chunk: BatchTensors,
  numLabels: number,
): tf.Tensor2D {
  const rows = chunk.labels.shape[0];
  return tf.tidy(() => {
    const stacked = theta.map((tensor) => tf.tile(tensor.expandDims(0), [rows, ...tensor.shape.map(() => 1)])); // [rows, ...shape]
    const perLogit: tf.Tensor2D[] = [];

    for (let a = 0; a < numLabels; a++) {
      // A tidy per logit frees that backward pass's activations before the
      // next one starts, which halves the peak memory for C = 2.
      const rowsOfJ = tf.tidy(() => {
        const dy = oneHotFloat(tf.fill([rows], a, 'int32') as tf.Tensor1D, numLabels); // [rows, C]
        const grads = tf.grads((...copies: tf.Tensor[]) => predict(copies, chunk))(stacked, dy);
        const flat = grads.map((grad) => grad.reshape([rows, -1])); // each [rows, size]
        return tf.concat(flat, 1) as tf.Tensor2D; // [rows, P]
      });
      perLogit.push(rowsOfJ);
    }

    return tf.stack(perLogit, 1).reshape([rows * numLabels, -1]) as tf.Tensor2D; // [rows, C, P] → [rows·C, P]
  });
}
