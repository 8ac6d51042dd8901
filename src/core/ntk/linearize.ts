/**
 * The linearized model f_lin(x; θ) = f(x; θ₀) + J(x)·(θ − θ₀), with J the
 * exact Jacobian at θ₀ (see jacobian.ts).
 */
import * as tf from '@tensorflow/tfjs';

import { jacobian } from './jacobian.ts';
import type { BatchTensors } from '../finetune/encode.ts';
import type { PredictFn } from '../finetune/trainer.ts';
import { flattenTheta } from '../model/lora.ts';

/** The precomputed terms of f_lin on a fixed set of examples: f(θ₀) [N, C] and J(θ₀) [N·C, P]. */
export interface Linearization {
  f0: tf.Tensor2D;
  J: tf.Tensor2D;
}

/** Computes f(θ₀) and J(θ₀) on the rows of a batch. */
export function linearize(predict: PredictFn, theta0: readonly tf.Tensor[], batch: BatchTensors, numLabels: number): Linearization {
  const f0 = tf.tidy(() => predict(theta0, batch));
  const J = jacobian(predict, theta0, batch, numLabels);
  return { f0, J };
}

/** Returns f_lin [N, C] at θ for rows `indices` of a linearization (all rows when omitted). */
export function linearPredict(
  linearization: Linearization,
  theta: readonly tf.Tensor[],
  theta0Flat: tf.Tensor1D,
  indices?: tf.Tensor1D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [N, C] = linearization.f0.shape;
    const delta = tf.sub(flattenTheta(theta), theta0Flat).reshape([-1, 1]); // [P, 1]
    const f0 = indices === undefined ? linearization.f0 : tf.gather(linearization.f0, indices); // [B, C]
    const rows = f0.shape[0];
    const J =
      indices === undefined
        ? linearization.J
        : (tf.gather(linearization.J.reshape([N, C, -1]), indices).reshape([rows * C, -1]) as tf.Tensor2D); // [B·C, P]
    const change = tf.matMul(J, delta).reshape([rows, C]); // [B, C]
    return tf.add(f0, change) as tf.Tensor2D;
  });
}

export function disposeLinearization(linearization: Linearization): void {
  tf.dispose([linearization.f0, linearization.J]);
}
