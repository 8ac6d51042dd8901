/**
 * The fine-tuning objective R(θ) = (1/N) Σᵢ ℓ(f_θ(xᵢ), yᵢ) + (λ/2)‖θ − θ₀‖².
 */
import * as tf from '@tensorflow/tfjs';

import { oneHotFloat } from '../model/one-hot.ts';

export type LossName = 'ce' | 'mse';

/**
 * Returns the mean data loss over a batch. f: [B, C] label logits, labels: [B].
 * "ce" is softmax cross-entropy over the C logits; "mse" is ½‖f − y‖²
 * against one-hot y, summed over the C outputs.
 */
export function dataLoss(f: tf.Tensor2D, labels: tf.Tensor1D, loss: LossName): tf.Scalar {
  const numLabels = f.shape[1];
  const targets = oneHotFloat(labels, numLabels); // [B, C]
  if (loss === 'ce') {
    const picked = tf.sum(tf.mul(tf.logSoftmax(f), targets), 1); // [B]
    return tf.neg(tf.mean(picked));
  }
  const perExample = tf.mul(0.5, tf.sum(tf.square(tf.sub(f, targets)), 1)); // [B]
  return tf.mean(perExample);
}

/** Counts the rows whose largest logit is the label's. */
export function correctCount(f: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(f, 1), labels), 'int32'));
}

/** Returns ‖θ − anchor‖² over all of θ's tensors. */
export function squaredDistance(theta: readonly tf.Tensor[], anchor: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() =>
    theta.reduce<tf.Scalar>(
      (total, tensor, i) => tf.add(total, tf.sum(tf.square(tf.sub(tensor, anchor[i] as tf.Tensor)))),
      tf.scalar(0),
    ),
  );
}

/** Returns Σ⟨a_k, b_k⟩ over paired tensor lists. */
export function innerProduct(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() =>
    a.reduce<tf.Scalar>((total, tensor, i) => tf.add(total, tf.sum(tf.mul(tensor, b[i] as tf.Tensor))), tf.scalar(0)),
  );
}

/**
 * Adds the regularizer's gradient λ(θ − θ₀) to the data gradient. With
 * `selective`, the pull applies only when ⟨∇R_data(θ), θ − θ₀⟩ ≥ 0. The
 * returned flag is 1 when it applied and 0 otherwise, and stays a scalar
 * tensor so that the step needs no readback.
 */
export function addRegularizerGradient(
  dataGrads: readonly tf.Tensor[],
  theta: readonly tf.Tensor[],
  anchor: readonly tf.Tensor[],
  lambda: number,
  selective: boolean,
): { grads: tf.Tensor[]; active: tf.Scalar } {
  return tf.tidy(() => {
    const deltas = theta.map((tensor, i) => tf.sub(tensor, anchor[i] as tf.Tensor));
    const active = selective
      ? (tf.cast(tf.greaterEqual(innerProduct(dataGrads, deltas), 0), 'float32') as tf.Scalar)
      : tf.scalar(1);
    const weight = tf.mul(active, lambda);
    const grads = dataGrads.map((grad, i) => tf.add(grad, tf.mul(deltas[i] as tf.Tensor, weight)));
    return { grads, active };
  });
}
