/**
 * Core computations that tests/e2e/webgpu-core.spec.ts runs on WebGPU and on
 * tfjs `cpu` in one page and compares. They are a fine-tuning step's data
 * gradient, its selective regularizer and the divergence between two
 * predictions, on the tiny test model. The batch comes straight from
 * toBatchTensors, not gathered from a split.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';

import { divergenceOnSetAsync, readScalars } from '../../../src/core/read-async.ts';
import { correctCount } from '../../../src/core/finetune/objective.ts';
import { Trainer } from '../../../src/core/finetune/trainer.ts';
import { flattenTheta } from '../../../src/core/model/lora.ts';
import { createProblem, moveAlong, randomDirection } from '../../unit/ntk-fixtures.ts';

/** The outputs of one backend, as plain arrays keyed by name. */
export type CoreOutputs = Record<string, number[]>;

/** One backend's outputs, with the backend that tfjs ran them on. */
export interface CoreRun {
  backend: string;
  outputs: CoreOutputs;
}

/**
 * Computes the outputs on one backend for a batch of `texts`. θ is moved off
 * θ₀ along a fixed random direction, so that both LoRA factors have nonzero
 * gradients.
 */
export async function computeOn(backend: 'webgpu' | 'cpu', texts: readonly string[]): Promise<CoreRun> {
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend failed to start: tf.setBackend returned false`);
  await tf.ready();

  const problem = createProblem({ grid: 'qv.o', texts });
  const direction = randomDirection(problem.theta0, 0.5, 11);
  const theta = moveAlong(problem.theta0, direction, 1);
  const trainer = new Trainer(problem.predict, theta, problem.theta0, {
    loss: 'ce',
    optimizer: 'adam',
    lr: 0.01,
    lambda: 0.1,
    selective: true,
  });

  const f = tf.tidy(() => problem.predict(trainer.theta, problem.batch));
  const { value, grads } = trainer.dataLossAndGradient(problem.batch);
  const flatGrad = flattenTheta(grads);
  const correct = correctCount(f, problem.batch.labels);
  const [loss, correctRead] = await readScalars([value, correct]);

  const step = await trainer.stepAsync(problem.batch);
  const flatAfter = flattenTheta(trainer.theta);
  const fAfter = tf.tidy(() => problem.predict(trainer.theta, problem.batch));
  const divergence = await divergenceOnSetAsync(fAfter, f, f);

  const outputs: CoreOutputs = {
    f: Array.from(await f.data()),
    loss: [loss as number],
    correct: [correctRead as number],
    grad: Array.from(await flatGrad.data()),
    step: [step.loss, step.objective, step.distance],
    regularizerActive: [step.regularizerActive ? 1 : 0],
    thetaAfterStep: Array.from(await flatAfter.data()),
    divergence: [divergence.rms, divergence.relativeRms ?? Number.NaN, divergence.agreement],
  };

  tf.dispose([f, value, flatGrad, correct, flatAfter, fAfter, ...grads, ...direction, ...theta]);
  trainer.dispose();
  problem.dispose();
  return { backend: tf.getBackend(), outputs };
}
