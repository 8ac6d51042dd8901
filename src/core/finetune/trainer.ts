/**
 * One optimizer on one model function f(θ, batch) → [B, C]. The real model
 * and, later, its linearization share this loop, so they use the same loss,
 * regularizer, optimizer and batches.
 */
import * as tf from '@tensorflow/tfjs';

import { parameterDistance } from './divergence.ts';
import type { BatchTensors } from './encode.ts';
import { addRegularizerGradient, correctCount, dataLoss, squaredDistance, type LossName } from './objective.ts';
import { createOptimizer, type Optimizer, type OptimizerName } from '../optim.ts';
import { parameterDistanceAsync, readScalars } from '../read-async.ts';

export type PredictFn = (theta: readonly tf.Tensor[], batch: BatchTensors) => tf.Tensor2D;

export interface TrainerOptions {
  loss: LossName;
  optimizer: OptimizerName;
  lr: number;
  lambda: number;
  selective: boolean;
}

export interface StepResult {
  loss: number;
  objective: number;
  distance: number;
  regularizerActive: boolean;
}

export interface Metrics {
  loss: number;
  accuracy: number;
}

/** Returns the mean data loss and the accuracy of predictions f [N, C]. */
export function metricsOf(f: tf.Tensor2D, labels: tf.Tensor1D, loss: LossName): Metrics {
  const [lossValue, hits] = tf.tidy(() => [dataLoss(f, labels, loss), correctCount(f, labels)]);
  const metrics = { loss: lossValue.dataSync()[0] as number, accuracy: (hits.dataSync()[0] as number) / f.shape[0] };
  tf.dispose([lossValue, hits]);
  return metrics;
}

/** Returns the same metrics as metricsOf, read asynchronously (see read-async.ts). */
export async function metricsOfAsync(f: tf.Tensor2D, labels: tf.Tensor1D, loss: LossName): Promise<Metrics> {
  const scalars = tf.tidy(() => [dataLoss(f, labels, loss), correctCount(f, labels)]);
  const [lossValue, hits] = (await readScalars(scalars)) as [number, number];
  tf.dispose(scalars);
  return { loss: lossValue, accuracy: hits / f.shape[0] };
}

/** The scalars of one update, before they are read: loss, ‖θ − θ₀‖² before and after, and the regularizer flag. */
interface PendingStep {
  scalars: [tf.Scalar, tf.Scalar, tf.Scalar, tf.Scalar];
  lambda: number;
}

export class Trainer {
  private thetaTensors: tf.Tensor[];
  private readonly anchor: tf.Tensor[];
  private readonly optimizer: Optimizer;

  /** Takes ownership of copies of theta0 and anchor. */
  constructor(
    private readonly predict: PredictFn,
    theta0: readonly tf.Tensor[],
    anchor: readonly tf.Tensor[],
    public options: TrainerOptions,
  ) {
    this.thetaTensors = theta0.map((tensor) => tensor.clone());
    this.anchor = anchor.map((tensor) => tensor.clone());
    this.optimizer = createOptimizer(options.optimizer);
  }

  get theta(): readonly tf.Tensor[] {
    return this.thetaTensors;
  }

  /**
   * Sets the learning rate and λ used from the next step on. The optimizer
   * state (Adam's moments and step count) is kept. Throws a RangeError for
   * lr ≤ 0 or λ < 0, or for a value that is not finite.
   */
  setHyperparameters(settings: { lr: number; lambda: number }): void {
    const { lr, lambda } = settings;
    if (!Number.isFinite(lr) || lr <= 0) throw new RangeError(`invalid learning rate ${lr}; expected a finite value > 0`);
    if (!Number.isFinite(lambda) || lambda < 0) throw new RangeError(`invalid lambda ${lambda}; expected a finite value ≥ 0`);
    this.options = { ...this.options, lr, lambda };
  }

  /** Returns R_data on a batch and its gradient with respect to θ. */
  dataLossAndGradient(batch: BatchTensors): { value: tf.Scalar; grads: tf.Tensor[] } {
    return tf.tidy(() => {
      const loss = (...theta: tf.Tensor[]): tf.Scalar => dataLoss(this.predict(theta, batch), batch.labels, this.options.loss);
      return tf.valueAndGrads(loss)(this.thetaTensors);
    });
  }

  /** Runs one update on a batch; the reported loss and objective are taken before it. */
  step(batch: BatchTensors): StepResult {
    const { scalars, lambda } = this.update(batch);
    const values = scalars.map((scalar) => scalar.dataSync()[0] as number) as [number, number, number, number];
    tf.dispose(scalars);
    return stepResult(values, lambda);
  }

  /** Runs the same update as `step` and reads its scalars asynchronously (see read-async.ts). */
  async stepAsync(batch: BatchTensors): Promise<StepResult> {
    const { scalars, lambda } = this.update(batch);
    try {
      return stepResult((await readScalars(scalars)) as [number, number, number, number], lambda);
    } finally {
      tf.dispose(scalars);
    }
  }

  /** Updates θ and returns the step's scalars unread. */
  private update(batch: BatchTensors): PendingStep {
    const { lr, lambda, selective } = this.options;
    const { value, grads: dataGrads } = this.dataLossAndGradient(batch);
    const { grads, active } = addRegularizerGradient(dataGrads, this.thetaTensors, this.anchor, lambda, selective);
    const before = squaredDistance(this.thetaTensors, this.anchor);

    const next = this.optimizer.step(this.thetaTensors, grads, lr);
    tf.dispose([...this.thetaTensors, ...dataGrads, ...grads]);
    this.thetaTensors = next;
    const after = squaredDistance(this.thetaTensors, this.anchor);
    return { scalars: [value, before, after, active], lambda };
  }

  /** Returns f(θ) [N, C] over batches that together form one set, in order. */
  predictAll(chunks: readonly BatchTensors[]): tf.Tensor2D {
    return tf.tidy(() => tf.concat(chunks.map((chunk) => this.predict(this.thetaTensors, chunk)), 0) as tf.Tensor2D);
  }

  /** Returns the mean data loss and the accuracy over batches that together form one split. */
  evaluate(chunks: readonly BatchTensors[], labels: tf.Tensor1D): Metrics {
    const f = this.predictAll(chunks);
    const metrics = metricsOf(f, labels, this.options.loss);
    f.dispose();
    return metrics;
  }

  /** Returns ‖θ − θ₀‖ with θ₀ the anchor. */
  distanceToAnchor(): number {
    return parameterDistance(this.thetaTensors, this.anchor);
  }

  /** Returns ‖θ − θ₀‖ like distanceToAnchor, read asynchronously. */
  distanceToAnchorAsync(): Promise<number> {
    return parameterDistanceAsync(this.thetaTensors, this.anchor);
  }

  dispose(): void {
    tf.dispose([...this.thetaTensors, ...this.anchor]);
    this.optimizer.dispose();
  }
}

/** Turns the read scalars of an update into its result; the objective uses the λ of the update. */
function stepResult(values: [number, number, number, number], lambda: number): StepResult {
  const [loss, distanceBefore, distanceAfter, regularizerActive] = values;
  return {
    loss,
    objective: loss + (lambda / 2) * distanceBefore,
    distance: Math.sqrt(distanceAfter),
    regularizerActive: regularizerActive === 1,
  };
}
