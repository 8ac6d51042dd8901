/**
 * The Jacobian's change away from θ₀: for radii r and random unit
 * directions v, ‖J(θ₀ + r·v) − J(θ₀)‖_F / ‖J(θ₀)‖_F on a probe set. Where
 * this stays small, the linearized model is a good stand-in.
 */
import * as tf from '@tensorflow/tfjs';

import { jacobian } from './jacobian.ts';
import type { BatchTensors } from '../finetune/encode.ts';
import type { PredictFn } from '../finetune/trainer.ts';
import { createRng, deriveSeed, randomNormal } from '../random.ts';

export interface JacobianChangePoint {
  radius: number;
  mean: number;
  max: number;
}

export function jacobianChange(
  predict: PredictFn,
  theta0: readonly tf.Tensor[],
  probe: BatchTensors,
  numLabels: number,
  options: { radii: readonly number[]; directions: number; seed: number },
): JacobianChangePoint[] {
  const J0 = jacobian(predict, theta0, probe, numLabels);
  const norm0 = tf.tidy(() => tf.norm(J0).dataSync()[0] as number);
  const rng = createRng(deriveSeed(options.seed, 'jacobian-change'));

  const directions = Array.from({ length: options.directions }, () => {
    const raw = theta0.map((tensor) => {
      const values = new Float32Array(tensor.size);
      for (let i = 0; i < values.length; i++) values[i] = randomNormal(rng);
      return tf.tensor(values, tensor.shape);
    });
    const length = tf.tidy(() => Math.sqrt(raw.reduce((total, t) => total + (tf.sum(tf.square(t)).dataSync()[0] as number), 0)));
    const unit = raw.map((tensor) => tf.div(tensor, length));
    tf.dispose(raw);
    return unit;
  });

  const points = options.radii.map((radius) => {
    const ratios = directions.map((direction) => {
      const moved = tf.tidy(() => theta0.map((tensor, i) => tf.add(tensor, tf.mul(direction[i] as tf.Tensor, radius))));
      const J = jacobian(predict, moved, probe, numLabels);
      const change = tf.tidy(() => tf.norm(tf.sub(J, J0)).dataSync()[0] as number);
      tf.dispose([...moved, J]);
      return norm0 > 0 ? change / norm0 : 0;
    });
    return {
      radius,
      mean: ratios.reduce((a, b) => a + b, 0) / ratios.length,
      max: Math.max(...ratios),
    };
  });

  directions.forEach((direction) => tf.dispose(direction));
  J0.dispose();
  return points;
}
