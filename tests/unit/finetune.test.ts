import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  TINY_CONFIG,
  TOY_TASK,
  adapterOptions,
  createTinyParams,
  createToyBatch,
  maxAbsDifference,
  seededNormal,
  toyLabelIds,
} from './fixtures.ts';
import { createBatchSampler } from '../../src/core/finetune/batches.ts';
import {
  disposeBatch,
  encodeExamples,
  gatherBatch,
  labelTokenIds,
  toBatchTensors,
  type BatchTensors,
} from '../../src/core/finetune/encode.ts';
import {
  addRegularizerGradient,
  correctCount,
  dataLoss,
  innerProduct,
  squaredDistance,
  type LossName,
} from '../../src/core/finetune/objective.ts';
import { metricsOf, Trainer, type PredictFn, type TrainerOptions } from '../../src/core/finetune/trainer.ts';
import { verbalizerLogits } from '../../src/core/model/gpt.ts';
import {
  applyTheta,
  createThetaLayout,
  flattenTheta,
  initTheta,
  unflattenTheta,
  type AdapterMode,
  type ThetaLayout,
} from '../../src/core/model/lora.ts';
import type { GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';
import { createAdam, createGradientDescent, createOptimizer } from '../../src/core/optim.ts';

const tokenizer = CharTokenizer.ascii();

let base: GPTParams;
let batch: BatchTensors;
let labelIds: tf.Tensor1D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  base = createTinyParams(1);
  batch = createToyBatch(tokenizer);
  labelIds = toyLabelIds(tokenizer);
});

const TRAINER_DEFAULTS: TrainerOptions = { loss: 'ce', optimizer: 'gd', lr: 0.1, lambda: 0, selective: false };

/** A θ on grid "qv.fp", its verbalizer on the toy batch, and a trainer at θ anchored at θ₀. */
interface Setup {
  layout: ThetaLayout;
  predict: PredictFn;
  theta: tf.Tensor[];
  anchor: tf.Tensor[];
  trainer: Trainer;
}

/**
 * Builds θ for a mode. In LoRA mode every B is drawn N(0, 0.05²) rather than
 * zero, because with B = 0 the gradient with respect to A vanishes and its check
 * would be empty. `offset` moves θ away from the anchor along a seeded direction.
 */
function createSetup(mode: AdapterMode, options: Partial<TrainerOptions> = {}, offset = 0): Setup {
  const adapter = adapterOptions('qv.fp', { mode });
  const layout = createThetaLayout(TINY_CONFIG, adapter);
  const anchor = initTheta(base, layout, adapter, 3).map((tensor, i) =>
    layout.entries[i]?.part === 'lora_B' ? seededNormal(tensor.shape, 0.05, 10 + i) : tensor,
  );
  const theta = anchor.map((tensor, i) => tf.add(tensor, tf.mul(seededNormal(tensor.shape, 1, 50 + i), offset)));
  const predict: PredictFn = (values, rows) => verbalizerLogits(applyTheta(base, layout, values), rows.ids, rows.answerMask, labelIds);
  const trainer = new Trainer(predict, theta, anchor, { ...TRAINER_DEFAULTS, ...options });
  return { layout, predict, theta, anchor, trainer };
}

/**
 * Returns the mean data loss of logits f [B][C], computed in float64. The
 * finite differences use this in place of dataLoss because a float32 loss
 * near ln 2 is rounded in steps of 6e-8, too coarse for loss differences of
 * 1e-6 to 1e-4. The logits lie within ±0.25, where float32 steps are at
 * least 4× finer.
 */
function lossOfLogits(f: number[][], labels: ArrayLike<number>, loss: LossName): number {
  let total = 0;
  f.forEach((row, i) => {
    const label = labels[i] as number;
    if (loss === 'ce') {
      const max = Math.max(...row);
      const logSumExp = max + Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0));
      total += logSumExp - (row[label] as number);
    } else {
      total += 0.5 * row.reduce((sum, value, c) => sum + (value - (c === label ? 1 : 0)) ** 2, 0);
    }
  });
  return total / f.length;
}

/** Returns R(θ) = R_data(θ) + (λ/2)‖θ − θ₀‖² for a flat θ, in float64 from float32 logits. */
function objectiveAt(setup: Setup, flat: Float32Array, anchorFlat: Float32Array, loss: LossName, lambda: number): number {
  const f = tf.tidy(() => setup.predict(unflattenTheta(setup.layout, tf.tensor1d(flat)), batch).arraySync());
  let squared = 0;
  for (let i = 0; i < flat.length; i++) squared += ((flat[i] as number) - (anchorFlat[i] as number)) ** 2;
  return lossOfLogits(f, batch.labels.dataSync(), loss) + (lambda / 2) * squared;
}

/** Indices of θ's entries whose part is one of `parts`. */
function indicesOf(layout: ThetaLayout, parts: readonly string[]): number[] {
  return layout.entries
    .filter((entry) => parts.includes(entry.part))
    .flatMap((entry) => Array.from({ length: entry.size }, (_, k) => entry.offset + k));
}

/**
 * Step sizes for central differences in float32. A random unit direction
 * spreads ε over hundreds of coordinates, so each moves by 5e-4 or less.
 * Then ε = 1e-2 keeps the O(ε²) truncation error small and the loss change
 * far above the rounding noise. A single coordinate moves by the whole ε.
 * The residual stream of this random model has a scale of only 0.02 (the
 * embedding std), and LayerNorm curves sharply at that scale. On this
 * fixture, full-mode coordinates measured relative errors near 1e-2 at
 * ε = 1e-2 and below 3e-4 at ε = 1e-3.
 */
const DIRECTION_EPSILON = 1e-2;
const COORDINATE_EPSILON = 1e-3;
const RELATIVE_TOLERANCE = 1e-3;

/**
 * Compares gradient entries `indices` with central differences of R along 3
 * random unit directions and along the 3 coordinates of largest |gradient|.
 *
 * The perturbed θ± are rounded to float32 before use, and the analytic
 * value is ⟨g, θ₊ − θ₋⟩ over those rounded vectors, so rounding θ adds no
 * error. A random direction can be almost orthogonal to g, which makes its
 * derivative tiny and the float noise relatively large. So a direction's
 * error is taken relative to the larger of its derivative and the RMS
 * derivative over random directions, ‖g_S‖/√|S|.
 */
function expectGradientMatchesDifferences(
  setup: Setup,
  gradient: Float32Array,
  indices: readonly number[],
  loss: LossName,
  lambda: number,
): void {
  const theta = flattenTheta(setup.theta).dataSync() as Float32Array;
  const anchor = flattenTheta(setup.anchor).dataSync() as Float32Array;
  const objective = (flat: Float32Array): number => objectiveAt(setup, flat, anchor, loss, lambda);
  const gradientNorm = Math.hypot(...indices.map((i) => gradient[i] as number));
  expect(gradientNorm).toBeGreaterThan(1e-4);

  for (const seed of [101, 102, 103]) {
    const direction = tf.tidy(() => seededNormal([indices.length], 1, seed).dataSync());
    const norm = Math.hypot(...direction);
    const plus = Float32Array.from(theta);
    const minus = Float32Array.from(theta);
    let analytic = 0;
    indices.forEach((index, k) => {
      const step = (DIRECTION_EPSILON * (direction[k] as number)) / norm;
      plus[index] = (theta[index] as number) + step;
      minus[index] = (theta[index] as number) - step;
      analytic += (gradient[index] as number) * ((plus[index] as number) - (minus[index] as number));
    });
    const difference = objective(plus) - objective(minus);
    const typical = (2 * DIRECTION_EPSILON * gradientNorm) / Math.sqrt(indices.length);
    const error = Math.abs(difference - analytic) / Math.max(Math.abs(analytic), typical);
    expect(error, `direction seed ${seed}: difference ${difference}, analytic ${analytic}`).toBeLessThan(RELATIVE_TOLERANCE);
  }

  const largest = [...indices].sort((a, b) => Math.abs(gradient[b] as number) - Math.abs(gradient[a] as number)).slice(0, 3);
  for (const index of largest) {
    const plus = Float32Array.from(theta);
    const minus = Float32Array.from(theta);
    plus[index] = (theta[index] as number) + COORDINATE_EPSILON;
    minus[index] = (theta[index] as number) - COORDINATE_EPSILON;
    const analytic = (gradient[index] as number) * ((plus[index] as number) - (minus[index] as number));
    const difference = objective(plus) - objective(minus);
    const error = Math.abs(difference - analytic) / Math.abs(analytic);
    expect(error, `coordinate ${index}: difference ${difference}, analytic ${analytic}`).toBeLessThan(RELATIVE_TOLERANCE);
  }
}

/** Returns the trainer's data gradient at its θ as one flat vector. */
function dataGradient(setup: Setup): Float32Array {
  const { value, grads } = setup.trainer.dataLossAndGradient(batch);
  const flat = flattenTheta(grads).dataSync() as Float32Array;
  tf.dispose([value, ...grads]);
  return flat;
}

describe('data gradient', () => {
  for (const loss of ['ce', 'mse'] as const) {
    describe(`LoRA ${loss}`, () => {
      let setup: Setup;
      let gradient: Float32Array;

      beforeAll(() => {
        setup = createSetup('lora', { loss });
        gradient = dataGradient(setup);
      });

      it('matches differences in A', () => {
        expectGradientMatchesDifferences(setup, gradient, indicesOf(setup.layout, ['lora_A']), loss, 0);
      });

      it('matches differences in B', () => {
        expectGradientMatchesDifferences(setup, gradient, indicesOf(setup.layout, ['lora_B']), loss, 0);
      });
    });

    it(`matches differences in full mode (${loss})`, () => {
      const setup = createSetup('full', { loss });
      expectGradientMatchesDifferences(setup, dataGradient(setup), indicesOf(setup.layout, ['weight', 'bias']), loss, 0);
    });
  }

  it('returns the data loss as its value', () => {
    const setup = createSetup('lora', { loss: 'mse' });
    const { value, grads } = setup.trainer.dataLossAndGradient(batch);
    const expected = tf.tidy(() => dataLoss(setup.predict(setup.theta, batch), batch.labels, 'mse'));
    expect(value.dataSync()[0]).toBeCloseTo(expected.dataSync()[0] as number, 6);
    expect(grads).toHaveLength(setup.layout.entries.length);
  });
});

describe('objective gradient', () => {
  it('matches differences with the regularizer', () => {
    const lambda = 0.3;
    const setup = createSetup('lora', { loss: 'ce', lambda }, 0.02);
    const { value, grads: dataGrads } = setup.trainer.dataLossAndGradient(batch);
    const { grads, active } = addRegularizerGradient(dataGrads, setup.trainer.theta, setup.anchor, lambda, false);
    expect(active.dataSync()[0]).toBe(1);
    const gradient = flattenTheta(grads).dataSync() as Float32Array;
    tf.dispose([value, active, ...dataGrads, ...grads]);
    expectGradientMatchesDifferences(setup, gradient, indicesOf(setup.layout, ['lora_A', 'lora_B']), 'ce', lambda);
  });
});

describe('selective regularization', () => {
  const lambda = 0.5;

  /** Builds a trainer whose θ sits at θ₀ + sign·0.01·ĝ, with ĝ the unit data gradient at θ₀. */
  function setupAlongGradient(sign: 1 | -1, selective: boolean): Setup {
    const start = createSetup('lora', { lambda, selective });
    const gradient = dataGradient(start);
    const norm = Math.hypot(...gradient);
    const step = tf.tensor1d(gradient.map((value) => (sign * 0.01 * value) / norm));
    const theta = unflattenTheta(start.layout, tf.add(flattenTheta(start.anchor), step) as tf.Tensor1D);
    const trainer = new Trainer(start.predict, theta, start.anchor, { ...TRAINER_DEFAULTS, lambda, selective });
    start.trainer.dispose();
    return { ...start, theta, trainer };
  }

  /** Returns ⟨∇R_data(θ), θ − θ₀⟩, the pull's 0/1 flag, the data gradient and the gradient with the pull. */
  function pullAt(setup: Setup, selective: boolean): { inner: number; active: number; dataGrads: tf.Tensor[]; grads: tf.Tensor[] } {
    const { value, grads: dataGrads } = setup.trainer.dataLossAndGradient(batch);
    value.dispose();
    const deltas = setup.theta.map((tensor, i) => tf.sub(tensor, setup.anchor[i] as tf.Tensor));
    const inner = innerProduct(dataGrads, deltas).dataSync()[0] as number;
    const result = addRegularizerGradient(dataGrads, setup.theta, setup.anchor, lambda, selective);
    return { inner, active: result.active.dataSync()[0] as number, dataGrads, grads: result.grads };
  }

  it('pulls when the data gradient points away from θ₀', () => {
    const setup = setupAlongGradient(1, true);
    const { inner, active, dataGrads, grads } = pullAt(setup, true);
    expect(inner).toBeGreaterThan(0);
    expect(active).toBe(1);
    grads.forEach((grad, i) => {
      const expected = tf.add(dataGrads[i] as tf.Tensor, tf.mul(tf.sub(setup.theta[i] as tf.Tensor, setup.anchor[i] as tf.Tensor), lambda));
      expect(maxAbsDifference(grad, expected)).toBeLessThan(1e-7);
    });
  });

  it('skips the pull when the data gradient points toward θ₀', () => {
    const setup = setupAlongGradient(-1, true);
    const { inner, active, dataGrads, grads } = pullAt(setup, true);
    expect(inner).toBeLessThan(0);
    expect(active).toBe(0);
    grads.forEach((grad, i) => expect(maxAbsDifference(grad, dataGrads[i] as tf.Tensor)).toBe(0));
  });

  it('always pulls when not selective', () => {
    const setup = setupAlongGradient(-1, false);
    const { inner, active, dataGrads, grads } = pullAt(setup, false);
    expect(inner).toBeLessThan(0);
    expect(active).toBe(1);
    expect(maxAbsDifference(flattenTheta(grads), flattenTheta(dataGrads))).toBeGreaterThan(1e-4);
  });

  it('reports the pull from Trainer.step', () => {
    const toward = setupAlongGradient(-1, true);
    const away = setupAlongGradient(1, true);
    expect(toward.trainer.step(batch).regularizerActive).toBe(false);
    expect(away.trainer.step(batch).regularizerActive).toBe(true);
  });

  it('pulls at a zero inner product', () => {
    const dataGrads = [tf.tensor1d([1, 0])];
    const theta = [tf.tensor1d([0, 2])];
    const anchor = [tf.tensor1d([0, 0])];
    const { grads, active } = addRegularizerGradient(dataGrads, theta, anchor, 0.5, true);
    expect(active.dataSync()[0]).toBe(1);
    expect(Array.from(grads[0]?.dataSync() ?? [])).toEqual([1, 1]);
  });
});

describe('dataLoss', () => {
  it('computes cross-entropy by hand', () => {
    const f = tf.tensor2d([
      [1, 2],
      [0, 0],
      [3, -1],
    ]);
    const labels = tf.tensor1d([1, 0, 1], 'int32');
    // Row losses: log(1 + e⁻¹), log 2 and log(1 + e⁴).
    const expected = (Math.log(1 + Math.exp(-1)) + Math.log(2) + Math.log(1 + Math.exp(4))) / 3;
    expect(dataLoss(f, labels, 'ce').dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it('computes squared error by hand', () => {
    const f = tf.tensor2d([
      [1, 2],
      [0.5, -1],
    ]);
    const labels = tf.tensor1d([1, 0], 'int32');
    // ½((1 − 0)² + (2 − 1)²) = 1 and ½((0.5 − 1)² + (−1)²) = 0.625.
    expect(dataLoss(f, labels, 'mse').dataSync()[0]).toBeCloseTo((1 + 0.625) / 2, 6);
  });

  it('sums squared error over the classes', () => {
    const f = tf.tensor2d([[0, 0, 0, 0]]);
    const labels = tf.tensor1d([2], 'int32');
    expect(dataLoss(f, labels, 'mse').dataSync()[0]).toBeCloseTo(0.5, 6);
  });
});

describe('metricsOf', () => {
  it('returns mean loss and accuracy', () => {
    const f = tf.tensor2d([
      [1, 2],
      [0, 0],
      [3, -1],
    ]);
    const labels = tf.tensor1d([1, 0, 1], 'int32');
    const metrics = metricsOf(f, labels, 'mse');
    // Row losses are ½(1 + 1), ½(1 + 0) and ½(9 + 4). The first two rows count as correct because argMax takes the first of a tie.
    expect(metrics.loss).toBeCloseTo((1 + 0.5 + 6.5) / 3, 6);
    expect(metrics.accuracy).toBeCloseTo(2 / 3, 9);
  });
});

describe('correctCount', () => {
  it('counts rows whose largest logit is the label', () => {
    const f = tf.tensor2d([
      [1, 2, 0],
      [5, 1, 1],
      [0, 0, 3],
      [2, 1, 0],
    ]);
    const labels = tf.tensor1d([1, 0, 1, 0], 'int32');
    expect(correctCount(f, labels).dataSync()[0]).toBe(3);
  });
});

describe('squaredDistance and innerProduct', () => {
  it('sum over all tensors', () => {
    const a = [tf.tensor1d([1, 2]), tf.tensor2d([[3], [4]])];
    const b = [tf.tensor1d([0, 1]), tf.tensor2d([[1], [1]])];
    expect(squaredDistance(a, b).dataSync()[0]).toBeCloseTo(1 + 1 + 4 + 9, 6);
    expect(innerProduct(a, b).dataSync()[0]).toBeCloseTo(0 + 2 + 3 + 4, 6);
  });
});

describe('Trainer', () => {
  it('takes a regularized GD step', () => {
    const lambda = 0.2;
    const lr = 0.05;
    const setup = createSetup('lora', { loss: 'mse', lambda, lr }, 0.01);
    const { value, grads: dataGrads } = setup.trainer.dataLossAndGradient(batch);
    const loss = value.dataSync()[0] as number;
    const distanceBefore = squaredDistance(setup.theta, setup.anchor).dataSync()[0] as number;
    const expected = setup.theta.map((tensor, i) =>
      tf.sub(tensor, tf.mul(tf.add(dataGrads[i] as tf.Tensor, tf.mul(tf.sub(tensor, setup.anchor[i] as tf.Tensor), lambda)), lr)),
    );

    const result = setup.trainer.step(batch);

    expect(result.loss).toBeCloseTo(loss, 6);
    expect(result.objective).toBeCloseTo(loss + (lambda / 2) * distanceBefore, 6);
    expect(result.regularizerActive).toBe(true);
    setup.trainer.theta.forEach((tensor, i) => expect(maxAbsDifference(tensor, expected[i] as tf.Tensor)).toBeLessThan(1e-6));
    const distanceAfter = Math.sqrt(squaredDistance(setup.trainer.theta, setup.anchor).dataSync()[0] as number);
    expect(result.distance).toBeCloseTo(distanceAfter, 6);
  });

  it('owns copies of θ and the anchor', () => {
    const setup = createSetup('lora');
    setup.trainer.step(batch);
    setup.trainer.dispose();
    expect(setup.theta.every((tensor) => !tensor.isDisposed)).toBe(true);
    expect(setup.anchor.every((tensor) => !tensor.isDisposed)).toBe(true);
  });

  it('evaluates chunks as one split', () => {
    const setup = createSetup('lora', { loss: 'ce' });
    const chunks = [gatherBatch(batch, Int32Array.from([0, 1, 2, 3])), gatherBatch(batch, Int32Array.from([4, 5]))];
    const metrics = setup.trainer.evaluate(chunks, batch.labels);
    const f = tf.tidy(() => setup.predict(setup.theta, batch));
    const loss = tf.tidy(() => dataLoss(f, batch.labels, 'ce').dataSync()[0] as number);
    const correct = tf.tidy(() => correctCount(f, batch.labels).dataSync()[0] as number);
    expect(metrics.loss).toBeCloseTo(loss, 6);
    expect(metrics.accuracy).toBeCloseTo(correct / 6, 9);
  });

  it('predicts chunks in order', () => {
    const setup = createSetup('lora');
    const chunks = [gatherBatch(batch, Int32Array.from([0, 1, 2, 3])), gatherBatch(batch, Int32Array.from([4, 5]))];
    const expected = tf.tidy(() => setup.predict(setup.theta, batch));
    expect(maxAbsDifference(setup.trainer.predictAll(chunks), expected)).toBeLessThan(1e-6);
  });

  it('measures the distance to the anchor', () => {
    const setup = createSetup('lora', {}, 0.01);
    const expected = Math.sqrt(squaredDistance(setup.theta, setup.anchor).dataSync()[0] as number);
    expect(expected).toBeGreaterThan(0.1);
    expect(setup.trainer.distanceToAnchor()).toBeCloseTo(expected, 6);
  });

  it('keeps the tensor count flat over steps', () => {
    const setup = createSetup('lora', { optimizer: 'adam', lambda: 0.1, selective: true });
    setup.trainer.step(batch);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) setup.trainer.step(batch);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('optimizers', () => {
  it('take a GD step θ − lr·g', () => {
    const theta = [tf.tensor1d([1, -2, 3]), tf.tensor2d([[0.5, 0.25]])];
    const grads = [tf.tensor1d([0.1, 0.2, -0.3]), tf.tensor2d([[-1, 2]])];
    const next = createGradientDescent().step(theta, grads, 0.5);
    expect(Array.from(next[0]?.dataSync() ?? [])).toEqual([1 - 0.05, -2 - 0.1, 3 + 0.15].map(Math.fround));
    expect(Array.from(next[1]?.dataSync() ?? [])).toEqual([1, -0.75]);
  });

  it('run GD for sgd', () => {
    const next = createOptimizer('sgd').step([tf.tensor1d([1])], [tf.tensor1d([2])], 0.25);
    expect(next[0]?.dataSync()[0]).toBe(0.5);
  });

  it('match Adam in closed form over two steps', () => {
    const beta1 = 0.8;
    const beta2 = 0.9;
    const epsilon = 0.1;
    const lr = 0.01;
    const theta0 = [1, -2, 0.5];
    const g1 = [0.3, -0.2, 0];
    const g2 = [-0.1, 0.4, 2];
    const adam = createAdam({ beta1, beta2, epsilon });

    const step1 = adam.step([tf.tensor1d(theta0)], [tf.tensor1d(g1)], lr);
    const step2 = adam.step(step1, [tf.tensor1d(g2)], lr);

    // The bias-corrected first moment after one step is g and the second g², so the update is g/(|g| + ε).
    const expected1 = theta0.map((value, i) => value - (lr * (g1[i] as number)) / (Math.abs(g1[i] as number) + epsilon));
    const expected2 = expected1.map((value, i) => {
      const m = beta1 * (1 - beta1) * (g1[i] as number) + (1 - beta1) * (g2[i] as number);
      const v = beta2 * (1 - beta2) * (g1[i] as number) ** 2 + (1 - beta2) * (g2[i] as number) ** 2;
      const mHat = m / (1 - beta1 ** 2);
      const vHat = v / (1 - beta2 ** 2);
      return value - (lr * mHat) / (Math.sqrt(vHat) + epsilon);
    });
    Array.from(step1[0]?.dataSync() ?? []).forEach((value, i) => expect(value).toBeCloseTo(expected1[i] as number, 6));
    Array.from(step2[0]?.dataSync() ?? []).forEach((value, i) => expect(value).toBeCloseTo(expected2[i] as number, 6));
  });

  it('apply decoupled weight decay in Adam', () => {
    const adam = createAdam({ weightDecay: 0.1, epsilon: 0 });
    const next = adam.step([tf.tensor1d([2, -4])], [tf.tensor1d([0.5, -0.5])], 0.01);
    // θ − lr·g/|g| − lr·decay·θ
    expect(next[0]?.dataSync()[0]).toBeCloseTo(2 - 0.01 - 0.01 * 0.1 * 2, 6);
    expect(next[0]?.dataSync()[1]).toBeCloseTo(-4 + 0.01 + 0.01 * 0.1 * 4, 6);
  });

  it('keep inputs and free their moments', () => {
    const theta = [tf.tensor1d([1, 2])];
    const grads = [tf.tensor1d([0.1, 0.1])];
    const start = tf.memory().numTensors;
    const adam = createAdam();
    const first = adam.step(theta, grads, 0.1);
    const second = adam.step(first, grads, 0.1);
    expect(theta[0]?.isDisposed).toBe(false);
    expect(grads[0]?.isDisposed).toBe(false);
    tf.dispose([...first, ...second]);
    // Two moment tensors per parameter stay alive until dispose.
    expect(tf.memory().numTensors).toBe(start + 2);
    adam.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('createBatchSampler', () => {
  /** Draws `batches` batches and returns all indices in order. */
  function draw(count: number, batchSize: number, seed: number, batches: number): number[] {
    const sampler = createBatchSampler(count, batchSize, seed);
    return Array.from({ length: batches }, () => Array.from(sampler.next())).flat();
  }

  const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
  const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

  it('returns every index for a full batch', () => {
    expect(draw(5, 5, 1, 1)).toEqual([0, 1, 2, 3, 4]);
    expect(draw(5, 8, 1, 2)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });

  it('repeats for a seed', () => {
    expect(draw(10, 3, 7, 8)).toEqual(draw(10, 3, 7, 8));
  });

  it('differs between seeds', () => {
    expect(draw(10, 3, 7, 8)).not.toEqual(draw(10, 3, 8, 8));
  });

  it('covers each index once per epoch', () => {
    const indices = draw(10, 5, 3, 4);
    expect(sorted(indices.slice(0, 10))).toEqual(range(10));
    expect(sorted(indices.slice(10, 20))).toEqual(range(10));
    // A fresh permutation per epoch, not one order repeated.
    expect(indices.slice(0, 10)).not.toEqual(indices.slice(10, 20));
  });

  it('continues a batch across the epoch end', () => {
    // Batches of 4 from 10: the third batch takes the last 2 of epoch one and the first 2 of epoch two.
    const indices = draw(10, 4, 5, 10);
    expect(indices).toHaveLength(40);
    for (let epoch = 0; epoch < 4; epoch++) {
      expect(sorted(indices.slice(epoch * 10, epoch * 10 + 10)), `epoch ${epoch}`).toEqual(range(10));
    }
  });
});

describe('encodeExamples', () => {
  const examples = [
    { text: 'good', label: 1, source: 'test' },
    { text: 'a', label: 0, source: 'test' },
  ];

  it('right-pads rows with unk', () => {
    const encoded = encodeExamples(tokenizer, TOY_TASK, examples, 24);
    const suffix = tokenizer.encode(TOY_TASK.promptSuffix);
    expect(encoded.length).toBe(4 + suffix.length);
    expect(Array.from(encoded.ids.subarray(0, encoded.length))).toEqual([...tokenizer.encode('good'), ...suffix]);
    expect(Array.from(encoded.ids.subarray(encoded.length))).toEqual([...tokenizer.encode('a'), ...suffix, tokenizer.unkId, tokenizer.unkId, tokenizer.unkId]);
  });

  it('points at the last prompt character', () => {
    const encoded = encodeExamples(tokenizer, TOY_TASK, examples, 24);
    const suffixLength = TOY_TASK.promptSuffix.length;
    expect(Array.from(encoded.answerPositions)).toEqual([4 + suffixLength - 1, 1 + suffixLength - 1]);
    expect(Array.from(encoded.labels)).toEqual([1, 0]);
  });

  it('cuts the end of a long text and keeps the suffix', () => {
    const encoded = encodeExamples(tokenizer, TOY_TASK, [{ text: 'abcdefghijklmnopqrstuvwxyz', label: 0, source: 'test' }], 12);
    expect(encoded.length).toBe(12);
    expect(tokenizer.decode(Array.from(encoded.ids))).toBe(`abcdefgh${TOY_TASK.promptSuffix}`);
    expect(encoded.answerPositions[0]).toBe(11);
  });

  it('rejects a suffix that fills the context', () => {
    expect(() => encodeExamples(tokenizer, TOY_TASK, examples, TOY_TASK.promptSuffix.length)).toThrow(
      'the prompt suffix does not fit in a context of 4 tokens',
    );
  });

  it('builds a one-hot answer mask', () => {
    const encoded = encodeExamples(tokenizer, TOY_TASK, examples, 24);
    const tensors = toBatchTensors(encoded);
    expect(tensors.ids.dtype).toBe('int32');
    expect(tensors.answerMask.dtype).toBe('float32');
    const mask = tensors.answerMask.arraySync();
    expect(mask[1]?.indexOf(1)).toBe(encoded.answerPositions[1]);
    expect(mask[1]?.reduce((sum, value) => sum + value, 0)).toBe(1);
    disposeBatch(tensors);
  });

  it('gathers rows by index', () => {
    const gathered = gatherBatch(batch, Int32Array.from([3, 0]));
    expect(Array.from(gathered.labels.dataSync())).toEqual([1, 0]);
    const ids = batch.ids.arraySync();
    expect(gathered.ids.arraySync()).toEqual([ids[3], ids[0]]);
    disposeBatch(gathered);
  });
});

describe('labelTokenIds', () => {
  it('maps label tokens to ids', () => {
    expect(labelTokenIds(tokenizer, TOY_TASK)).toEqual([tokenizer.tokenId('n'), tokenizer.tokenId('p')]);
  });

  it('rejects a token outside the vocabulary', () => {
    expect(() => labelTokenIds(tokenizer, { ...TOY_TASK, labelTokens: ['n', 'é'] })).toThrow(
      `task afinn-valence: label token "é" is not in the tokenizer's vocabulary`,
    );
  });
});
