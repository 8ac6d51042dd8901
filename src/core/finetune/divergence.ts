/** How far the real model's outputs have moved from the linearized model's. */
import * as tf from '@tensorflow/tfjs';

import { squaredDistance } from './objective.ts';
import type { DivergenceOnSet } from '../events.ts';

/**
 * Compares f(θ_t), f_lin(θ_t^lin) and f(θ₀), each [N, C], on one set of
 * points. Returns the RMS of f − f_lin and that RMS relative to the RMS of
 * f − f(θ₀). Also returns the share of points where the two models predict
 * the same class.
 */
export function divergenceOnSet(f: tf.Tensor2D, fLin: tf.Tensor2D, f0: tf.Tensor2D): DivergenceOnSet {
  const [gap, moved, agree] = tf.tidy(() => [
    tf.sqrt(tf.mean(tf.square(tf.sub(f, fLin)))),
    tf.sqrt(tf.mean(tf.square(tf.sub(f, f0)))),
    tf.mean(tf.cast(tf.equal(tf.argMax(f, 1), tf.argMax(fLin, 1)), 'float32')),
  ]);
  const [rms, movedRms, agreement] = [gap, moved, agree].map((scalar) => scalar.dataSync()[0] as number) as [
    number,
    number,
    number,
  ];
  tf.dispose([gap, moved, agree]);
  return { rms, relativeRms: movedRms > 0 ? rms / movedRms : null, agreement };
}

/** Returns ‖a − b‖ over paired tensor lists. */
export function parameterDistance(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): number {
  const squared = squaredDistance(a, b);
  const value = Math.sqrt(squared.dataSync()[0] as number);
  squared.dispose();
  return value;
}
