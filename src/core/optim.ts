/**
 * Optimizers over a list of plain tensors. Each step returns new tensors and
 * leaves disposal of the old parameters and the gradients to the caller.
 */
import * as tf from '@tensorflow/tfjs';

export type OptimizerName = 'gd' | 'sgd' | 'adam';

export interface Optimizer {
  /** Returns θ after one update with gradient g at learning rate lr. */
  step(theta: readonly tf.Tensor[], grads: readonly tf.Tensor[], lr: number): tf.Tensor[];
  dispose(): void;
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay (AdamW), applied as θ ← θ − lr·decay·θ. */
  weightDecay?: number;
}

/** Plain gradient descent: θ ← θ − lr·g. Full-batch GD and SGD differ only in their batches. */
export function createGradientDescent(): Optimizer {
  return {
    step: (theta, grads, lr) =>
      tf.tidy(() => theta.map((value, i) => tf.sub(value, tf.mul(grads[i] as tf.Tensor, lr)))),
    dispose: () => undefined,
  };
}

/** Adam (Kingma and Ba, 2015) with bias correction, optionally with decoupled weight decay. */
export function createAdam(options: AdamOptions = {}): Optimizer {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const weightDecay = options.weightDecay ?? 0;
  let firstMoments: tf.Tensor[] | null = null;
  let secondMoments: tf.Tensor[] | null = null;
  let t = 0;

  return {
    step(theta, grads, lr) {
      t += 1;
      const m0 = firstMoments ?? theta.map((value) => tf.zerosLike(value));
      const v0 = secondMoments ?? theta.map((value) => tf.zerosLike(value));
      const correction1 = 1 - beta1 ** t;
      const correction2 = 1 - beta2 ** t;

      const next = tf.tidy(() =>
        theta.map((value, i) => {
          const g = grads[i] as tf.Tensor;
          const m = tf.add(tf.mul(m0[i] as tf.Tensor, beta1), tf.mul(g, 1 - beta1));
          const v = tf.add(tf.mul(v0[i] as tf.Tensor, beta2), tf.mul(tf.square(g), 1 - beta2));
          const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), epsilon));
          let updated = tf.sub(value, tf.mul(update, lr));
          if (weightDecay > 0) updated = tf.sub(updated, tf.mul(value, lr * weightDecay));
          return { m, v, updated };
        }),
      );

      tf.dispose(m0);
      tf.dispose(v0);
      firstMoments = next.map((entry) => entry.m);
      secondMoments = next.map((entry) => entry.v);
      return next.map((entry) => entry.updated);
    },
    dispose() {
      if (firstMoments !== null) tf.dispose(firstMoments);
      if (secondMoments !== null) tf.dispose(secondMoments);
      firstMoments = null;
      secondMoments = null;
    },
  };
}

export function createOptimizer(name: OptimizerName, options: AdamOptions = {}): Optimizer {
  return name === 'adam' ? createAdam(options) : createGradientDescent();
}
