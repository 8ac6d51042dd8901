/**
 * The Jacobian's change away from θ₀: for radii r and random unit
 * directions v, ‖J(θ₀ + r·v) − J(θ₀)‖_F / ‖J(θ₀)‖_F on a probe set. Where
 * this stays small, the linearized model is a good stand-in.
 */
import * as tf from '@tensorflow/tfjs';

import { jacobian, jacobianAsync } from './jacobian.ts';
import type { BatchTensors } from '../finetune/encode.ts';
import type { PredictFn } from '../finetune/trainer.ts';
import { createRng, deriveSeed, randomNormal } from '../random.ts';
import { readScalars } from '../read-async.ts';
import { throwIfCancelled, type TaskControl } from '../task-control.ts';

export interface JacobianChangePoint {
  radius: number;
  mean: number;
  max: number;
}

export interface JacobianChangeOptions {
  radii: readonly number[];
  directions: number;
  seed: number;
}

export function jacobianChange(
  predict: PredictFn,
  theta0: readonly tf.Tensor[],
  probe: BatchTensors,
  numLabels: number,
  options: JacobianChangeOptions,
): JacobianChangePoint[] {
  const J0 = jacobian(predict, theta0, probe, numLabels);
  const norm0 = frobeniusNorm(J0);
  const directions = randomUnitDirections(theta0, options);

  const points = options.radii.map((radius) => {
    const ratios = directions.map((direction) => {
      const moved = movedTheta(theta0, direction, radius);
      const J = jacobian(predict, moved, probe, numLabels);
      const ratio = relativeChange(J, J0, norm0);
      tf.dispose([...moved, J]);
      return ratio;
    });
    return summarize(radius, ratios);
  });

  directions.forEach((direction) => tf.dispose(direction));
  J0.dispose();
  return points;
}

/**
 * Computes the same points as `jacobianChange`, one Jacobian chunk per
 * macrotask. Progress counts probe examples over all 1 + radii·directions
 * Jacobians. On cancellation it frees every tensor it made and throws a
 * CancelledError.
 */
export async function jacobianChangeAsync(
  predict: PredictFn,
  theta0: readonly tf.Tensor[],
  probe: BatchTensors,
  numLabels: number,
  options: JacobianChangeOptions,
  control: TaskControl = {},
): Promise<JacobianChangePoint[]> {
  const count = probe.labels.shape[0];
  const total = count * (1 + options.radii.length * options.directions);
  let finished = 0;
  const jacobianAt = async (theta: readonly tf.Tensor[]): Promise<tf.Tensor2D> => {
    const J = await jacobianAsync(predict, theta, probe, numLabels, {
      signal: control.signal,
      onProgress: (done) => control.onProgress?.(finished + done, total),
    });
    finished += count;
    return J;
  };

  const J0 = await jacobianAt(theta0);
  const directions = randomUnitDirections(theta0, options);
  try {
    const norm0 = await frobeniusNormAsync(J0);
    const points: JacobianChangePoint[] = [];
    for (const radius of options.radii) {
      const ratios: number[] = [];
      for (const direction of directions) {
        throwIfCancelled(control.signal, 'the Jacobian change');
        const moved = movedTheta(theta0, direction, radius);
        try {
          const J = await jacobianAt(moved);
          try {
            ratios.push(await relativeChangeAsync(J, J0, norm0));
          } finally {
            J.dispose();
          }
        } finally {
          tf.dispose(moved);
        }
      }
      points.push(summarize(radius, ratios));
    }
    return points;
  } finally {
    directions.forEach((direction) => tf.dispose(direction));
    J0.dispose();
  }
}

/**
 * Draws `options.directions` directions v with ‖v‖ = 1 over all of θ, from
 * the seed. The norm is summed in JavaScript from the drawn values, so no
 * tensor is read back.
 */
function randomUnitDirections(theta0: readonly tf.Tensor[], options: JacobianChangeOptions): tf.Tensor[][] {
  const rng = createRng(deriveSeed(options.seed, 'jacobian-change'));
  return Array.from({ length: options.directions }, () => {
    const raw = theta0.map((tensor) => {
      const values = new Float32Array(tensor.size);
      for (let i = 0; i < values.length; i++) values[i] = randomNormal(rng);
      return values;
    });
    const length = Math.sqrt(raw.reduce((total, values) => total + sumOfSquares(values), 0));
    return raw.map((values, i) => tf.tidy(() => tf.div(tf.tensor(values, (theta0[i] as tf.Tensor).shape), length)));
  });
}

/** Returns Σ x², accumulated in float64. */
function sumOfSquares(values: Float32Array): number {
  let total = 0;
  for (const value of values) total += value * value;
  return total;
}

function movedTheta(theta0: readonly tf.Tensor[], direction: readonly tf.Tensor[], radius: number): tf.Tensor[] {
  return tf.tidy(() => theta0.map((tensor, i) => tf.add(tensor, tf.mul(direction[i] as tf.Tensor, radius))));
}

function frobeniusNorm(J: tf.Tensor2D): number {
  return tf.tidy(() => tf.norm(J).dataSync()[0] as number);
}

async function frobeniusNormAsync(J: tf.Tensor2D): Promise<number> {
  const norm = tf.tidy(() => tf.norm(J));
  const [value] = (await readScalars([norm])) as [number];
  norm.dispose();
  return value;
}

/** Returns ‖J − J₀‖_F / ‖J₀‖_F, or 0 when ‖J₀‖_F = 0. */
function relativeChange(J: tf.Tensor2D, J0: tf.Tensor2D, norm0: number): number {
  const change = tf.tidy(() => tf.norm(tf.sub(J, J0)).dataSync()[0] as number);
  return norm0 > 0 ? change / norm0 : 0;
}

async function relativeChangeAsync(J: tf.Tensor2D, J0: tf.Tensor2D, norm0: number): Promise<number> {
  const change = tf.tidy(() => tf.norm(tf.sub(J, J0)));
  const [value] = (await readScalars([change])) as [number];
  change.dispose();
  return norm0 > 0 ? value / norm0 : 0;
}

function summarize(radius: number, ratios: readonly number[]): JacobianChangePoint {
  return {
    radius,
    mean: ratios.reduce((a, b) => a + b, 0) / ratios.length,
    max: Math.max(...ratios),
  };
}
