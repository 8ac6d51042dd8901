/**
 * Fixtures for the Jacobian, linearized-model, NTK and sweep tests: a tiny
 * random GPT, hand-written examples for a real task definition, the verbalizer
 * f(θ) on them, and float64 helpers for comparing tensors and kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import { TASKS, type Example, type TaskDefinition } from '../../src/core/data/tasks.ts';
import { disposeBatch, encodeExamples, labelTokenIds, toBatchTensors, type BatchTensors } from '../../src/core/finetune/encode.ts';
import type { PredictFn } from '../../src/core/finetune/trainer.ts';
import { parseAdapterGrid } from '../../src/core/model/adapters.ts';
import type { GPTConfig } from '../../src/core/model/config.ts';
import { verbalizerLogits } from '../../src/core/model/gpt.ts';
import {
  applyTheta,
  createThetaLayout,
  flattenTheta,
  initTheta,
  type AdapterMode,
  type AdapterOptions,
  type ThetaLayout,
} from '../../src/core/model/lora.ts';
import { disposeParams, initParams, type GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';
import { createRng, randomNormal } from '../../src/core/random.ts';
import { validateSpec, type ExperimentSpec } from '../../src/core/spec.ts';

/** Two layers of width 16 and a 24-token context, small enough for N·C backward passes per test. */
export const NTK_TEST_CONFIG: GPTConfig = {
  vocabSize: 97,
  nPositions: 24,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
};

export const tokenizer = CharTokenizer.ascii();

/** Creates a checkpoint in memory: random tiny weights and the ASCII tokenizer. */
export function createTestCheckpoint(seed = 7): Checkpoint {
  return { config: NTK_TEST_CONFIG, tokenizer, params: initParams(NTK_TEST_CONFIG, seed) };
}

/** Short texts of different lengths, so that padding and answer positions differ between rows. */
export const SAMPLE_TEXTS: readonly string[] = ['good', 'bad day', 'a fine tale', 'rain', 'ok so', 'dull'];

/** Builds a validated spec for the tiny model on the AFINN valence task. Throws on an invalid override. */
export function tinySpec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  const result = validateSpec({
    task: 'afinn-valence',
    adapters: 'qv.o',
    trainSize: 16,
    evalSize: 16,
    probeSize: 8,
    steps: 2,
    evalInterval: 2,
    ntkInterval: 0,
    ...overrides,
  });
  if (!result.ok) throw new Error(`tinySpec: invalid overrides ${JSON.stringify(result.errors)}`);
  return result.spec;
}

/** The pieces needed to evaluate f(θ) = verbalizer logits on a fixed batch. */
export interface Problem {
  base: GPTParams;
  definition: TaskDefinition;
  examples: Example[];
  layout: ThetaLayout;
  theta0: tf.Tensor[];
  predict: PredictFn;
  batch: BatchTensors;
  numLabels: number;
  dispose(): void;
}

export interface ProblemOptions {
  grid: string;
  mode?: AdapterMode;
  r?: number;
  loraAlpha?: number;
  /** The real task definition that supplies label tokens and the prompt suffix, AFINN valence (C = 2) by default. */
  definition?: TaskDefinition;
  texts?: readonly string[];
  seed?: number;
}

/** Builds f(θ) for the tiny model with adapters on `grid`, at θ₀ from `initTheta`. */
export function createProblem(options: ProblemOptions): Problem {
  const definition = options.definition ?? TASKS['afinn-valence'];
  const texts = options.texts ?? SAMPLE_TEXTS;
  const seed = options.seed ?? 7;
  const adapterOptions: AdapterOptions = {
    grid: parseAdapterGrid(options.grid),
    mode: options.mode ?? 'lora',
    r: options.r ?? 4,
    loraAlpha: options.loraAlpha ?? 8,
    rslora: false,
    init: 'kaiming',
  };

  const base = initParams(NTK_TEST_CONFIG, seed);
  const layout = createThetaLayout(NTK_TEST_CONFIG, adapterOptions);
  const theta0 = initTheta(base, layout, adapterOptions, seed + 1);
  const examples = texts.map((text, i) => ({ text, label: i % definition.labels.length, source: 'test' }));
  const batch = toBatchTensors(encodeExamples(tokenizer, definition, examples, NTK_TEST_CONFIG.nPositions));
  const labelIds = tf.tensor1d(labelTokenIds(tokenizer, definition), 'int32');
  const predict: PredictFn = (theta, rows) =>
    verbalizerLogits(applyTheta(base, layout, theta), rows.ids, rows.answerMask, labelIds);

  return {
    base,
    definition,
    examples,
    layout,
    theta0,
    predict,
    batch,
    numLabels: definition.labels.length,
    dispose() {
      disposeParams(base);
      tf.dispose([...theta0, labelIds]);
      disposeBatch(batch);
    },
  };
}

/**
 * Returns ∂f_a(xᵢ)/∂θ at θ for every example i and logit a, in row order
 * i·C + a. Each gradient is a separate first-order `tf.grads` of one logit of
 * one example, encoded on its own (so without the batch's padding), which
 * makes the rows independent of the stacked-copy trick in jacobian.ts.
 */
export function singleExampleGradients(problem: Problem, theta: readonly tf.Tensor[]): Float64Array[] {
  const rows: Float64Array[] = [];
  for (const example of problem.examples) {
    const single = toBatchTensors(encodeExamples(tokenizer, problem.definition, [example], NTK_TEST_CONFIG.nPositions));
    for (let a = 0; a < problem.numLabels; a++) {
      const logit = (...parameters: tf.Tensor[]): tf.Scalar => problem.predict(parameters, single).slice([0, a], [1, 1]).sum();
      const grads = tf.grads(logit)([...theta]);
      const flat = flattenTheta(grads);
      rows.push(toFloat64(flat));
      tf.dispose([...grads, flat]);
    }
    disposeBatch(single);
  }
  return rows;
}

/** Returns the float64 Gram matrix G[r][s] = ⟨rows[r], rows[s]⟩, row-major. */
export function gramMatrix(rows: readonly Float64Array[]): Float64Array {
  const n = rows.length;
  const gram = new Float64Array(n * n);
  rows.forEach((left, r) => {
    rows.forEach((right, s) => {
      let sum = 0;
      for (let p = 0; p < left.length; p++) sum += (left[p] as number) * (right[p] as number);
      gram[r * n + s] = sum;
    });
  });
  return gram;
}

/** Returns seeded N(0, 1) tensors shaped like θ, scaled so that the whole list has Euclidean norm `norm`. */
export function randomDirection(theta: readonly tf.Tensor[], norm: number, seed: number): tf.Tensor[] {
  const rng = createRng(seed);
  const raw = theta.map((tensor) => Float32Array.from({ length: tensor.size }, () => randomNormal(rng)));
  const length = Math.sqrt(raw.reduce((total, values) => total + values.reduce((sum, x) => sum + x * x, 0), 0));
  return raw.map((values, i) => tf.tensor(values.map((x) => (x * norm) / length), (theta[i] as tf.Tensor).shape));
}

/** Returns θ + ε·v, tensor by tensor. */
export function moveAlong(theta: readonly tf.Tensor[], direction: readonly tf.Tensor[], epsilon: number): tf.Tensor[] {
  return tf.tidy(() => theta.map((tensor, i) => tf.add(tensor, tf.mul(direction[i] as tf.Tensor, epsilon))));
}

/** Returns the Euclidean norm of a list of tensors taken as one vector. */
export function listNorm(tensors: readonly tf.Tensor[]): number {
  return Math.sqrt(tensors.reduce((total, tensor) => total + tf.tidy(() => tf.sum(tf.square(tensor)).dataSync()[0] as number), 0));
}

/** Reads a tensor into float64. */
export function toFloat64(tensor: tf.Tensor): Float64Array {
  return Float64Array.from(tensor.dataSync());
}

export function euclideanNorm(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += (values[i] as number) ** 2;
  return Math.sqrt(total);
}

/** Returns ‖a − b‖ / ‖b‖ over two equally long arrays. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeError: lengths ${a.length} and ${b.length} differ`);
  const difference = Array.from({ length: a.length }, (_, i) => (a[i] as number) - (b[i] as number));
  return euclideanNorm(difference) / euclideanNorm(b);
}

/** Returns max |aᵢ − bᵢ|. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDifference: lengths ${a.length} and ${b.length} differ`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

export function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i] as number));
  return max;
}

/**
 * Returns every eigenvalue of the symmetric part of an n×n matrix, ascending
 * and not clipped, so that negative round-off stays visible (unlike
 * `symmetricEigen`, which clips at 0).
 */
export function rawEigenvalues(matrix: Float64Array, n: number): number[] {
  const symmetric = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) symmetric[i * n + j] = ((matrix[i * n + j] as number) + (matrix[j * n + i] as number)) / 2;
  }
  const decomposition = new EigenvalueDecomposition(Matrix.from1DArray(n, n, symmetric), { assumeSymmetric: true });
  return [...decomposition.realEigenvalues].sort((p, q) => p - q);
}

/** Returns the n×n matrix M·v. */
export function multiplyVector(matrix: Float64Array, v: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += (matrix[i * n + j] as number) * (v[j] as number);
    out[i] = sum;
  }
  return out;
}

/** Returns the least-squares slope of y on x. */
export function fitSlope(x: readonly number[], y: readonly number[]): number {
  const meanX = x.reduce((a, b) => a + b, 0) / x.length;
  const meanY = y.reduce((a, b) => a + b, 0) / y.length;
  let covariance = 0;
  let variance = 0;
  x.forEach((xi, i) => {
    covariance += (xi - meanX) * ((y[i] as number) - meanY);
    variance += (xi - meanX) ** 2;
  });
  return covariance / variance;
}
