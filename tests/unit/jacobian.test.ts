import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createProblem,
  euclideanNorm,
  listNorm,
  maxAbs,
  maxAbsDifference,
  moveAlong,
  randomDirection,
  relativeError,
  singleExampleGradients,
  toFloat64,
  type Problem,
} from './ntk-fixtures.ts';
import { TASKS } from '../../src/core/data/tasks.ts';
import { flattenTheta } from '../../src/core/model/lora.ts';
import { jacobian } from '../../src/core/ntk/jacobian.ts';
import { jacobianChange } from '../../src/core/ntk/jacobian-change.ts';
import { blockKernels, kernelFromJacobians } from '../../src/core/ntk/kernel.ts';

// Four labels, so that the row order i·C + a is tested beyond C = 2.
const GENRES = TASKS['brown-genre-4'];

let lora: Problem;
let full: Problem;
/** A LoRA point with B ≠ 0, where the A columns of J are live too. */
let loraMoved: tf.Tensor[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  lora = createProblem({ grid: 'qv.o', definition: GENRES });
  full = createProblem({ grid: 'v.f', mode: 'full', definition: GENRES });
  const shift = randomDirection(lora.theta0, listNorm(lora.theta0), 3);
  loraMoved = moveAlong(lora.theta0, shift, 1);
  tf.dispose(shift);
});

afterAll(() => {
  tf.dispose(loraMoved);
  lora.dispose();
  full.dispose();
});

/** Returns J·v as float64, with v given tensor by tensor. */
function jacobianVectorProduct(J: tf.Tensor2D, direction: readonly tf.Tensor[]): Float64Array {
  const product = tf.tidy(() => tf.matMul(J, flattenTheta(direction).reshape([-1, 1])));
  const values = toFloat64(product);
  product.dispose();
  return values;
}

/** Returns (f(θ + εv) − f(θ − εv)) / 2ε as float64, flattened in the i·C + a order of J's rows. */
function centralDifference(problem: Problem, theta: readonly tf.Tensor[], direction: readonly tf.Tensor[], epsilon: number): Float64Array {
  const plus = moveAlong(theta, direction, epsilon);
  const minus = moveAlong(theta, direction, -epsilon);
  const difference = tf.tidy(() => tf.div(tf.sub(problem.predict(plus, problem.batch), problem.predict(minus, problem.batch)), 2 * epsilon));
  const values = toFloat64(difference);
  tf.dispose([...plus, ...minus, difference]);
  return values;
}

describe('jacobian', () => {
  it('has N·C rows and |θ| columns', () => {
    const J = jacobian(lora.predict, lora.theta0, lora.batch, lora.numLabels);

    expect(J.shape[0]).toBe(lora.examples.length * GENRES.labels.length);
    expect(J.shape[1]).toBe(lora.layout.size);
    J.dispose();
  });

  const points: [string, () => Problem, () => readonly tf.Tensor[]][] = [
    ['LoRA at θ₀', () => lora, () => lora.theta0],
    ['LoRA with B ≠ 0', () => lora, () => loraMoved],
    ['full mode at θ₀', () => full, () => full.theta0],
  ];

  it.each(points)('rows match single-example gradients, %s', (_, problem, point) => {
    const J = jacobian(problem().predict, point(), problem().batch, problem().numLabels);
    const rows = singleExampleGradients(problem(), point());
    const values = toFloat64(J);
    const width = J.shape[1];
    J.dispose();

    rows.forEach((row, r) => {
      const jacobianRow = values.subarray(r * width, (r + 1) * width);
      expect(relativeError(jacobianRow, row), `row ${r}`).toBeLessThan(1e-5);
    });
  });

  // f is float32 with |f| ≈ 0.07, and a forward pass carries a relative
  // rounding error near 1e-7. So the central difference has a rounding error
  // of about 1e-8/ε and a truncation error of order ε². With ‖v‖ = 1,
  // ε = 3e-3 balances the two. Measured relative errors were 3e-5 to 1.5e-4
  // at ε = 3e-3, against about 2e-3 at ε = 0.1 and 1e-3 to 4e-3 at ε = 1e-4.
  const FD_EPSILON = 3e-3;

  it.each(points)('J·v matches central differences, %s', (_, problem, point) => {
    const direction = randomDirection(point(), 1, 11);
    const J = jacobian(problem().predict, point(), problem().batch, problem().numLabels);
    const exact = jacobianVectorProduct(J, direction);
    const estimate = centralDifference(problem(), point(), direction, FD_EPSILON);
    tf.dispose([J, ...direction]);

    expect(euclideanNorm(exact)).toBeGreaterThan(1e-3);
    expect(relativeError(estimate, exact)).toBeLessThan(1e-3);
  });

  it('ignores the chunk size', () => {
    const reference = jacobian(lora.predict, loraMoved, lora.batch, lora.numLabels);
    const expected = toFloat64(reference);
    reference.dispose();

    // Six rows give chunks of 1 × 6, 4 + 2 and 6.
    for (const chunkSize of [1, 4, 6]) {
      const J = jacobian(lora.predict, loraMoved, lora.batch, lora.numLabels, chunkSize);
      expect(maxAbsDifference(toFloat64(J), expected), `chunk size ${chunkSize}`).toBeLessThanOrEqual(1e-6 * maxAbs(expected));
      J.dispose();
    }
  });

  it('keeps the tensor count flat', () => {
    jacobian(lora.predict, lora.theta0, lora.batch, lora.numLabels).dispose();
    const before = tf.memory().numTensors;

    for (let call = 0; call < 3; call++) {
      jacobian(lora.predict, lora.theta0, lora.batch, lora.numLabels).dispose();
    }

    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('jacobian of LoRA at B = 0', () => {
  let values: Float64Array;
  let J: tf.Tensor2D;

  beforeAll(() => {
    J = jacobian(lora.predict, lora.theta0, lora.batch, lora.numLabels);
    values = toFloat64(J);
  });

  afterAll(() => {
    J.dispose();
  });

  /** Returns J's columns [offset, offset + size) as float64, row by row. */
  function columns(offset: number, size: number): Float64Array {
    const width = lora.layout.size;
    const rows = values.length / width;
    const out = new Float64Array(rows * size);
    for (let r = 0; r < rows; r++) out.set(values.subarray(r * width + offset, r * width + offset + size), r * size);
    return out;
  }

  it('starts every lora_B at zero', () => {
    lora.layout.entries.forEach((entry, i) => {
      if (entry.part !== 'lora_B') return;
      expect(maxAbs(toFloat64(lora.theta0[i] as tf.Tensor)), entry.name).toBe(0);
    });
  });

  it('has exactly zero lora_A columns', () => {
    for (const entry of lora.layout.entries.filter((candidate) => candidate.part === 'lora_A')) {
      expect(maxAbs(columns(entry.offset, entry.size)), entry.name).toBe(0);
    }
  });

  it('has nonzero lora_B columns', () => {
    for (const entry of lora.layout.entries.filter((candidate) => candidate.part === 'lora_B')) {
      expect(maxAbs(columns(entry.offset, entry.size)), entry.name).toBeGreaterThan(0);
    }
  });

  it('zeroes the A part of blocks', () => {
    const c = lora.numLabels;
    const blocks = blockKernels(lora.layout, J, c);

    lora.layout.blocks.forEach((block, b) => {
      const name = `${block.layer}:${block.module}`;
      const aEntry = lora.layout.entries.find((e) => e.layer === block.layer && e.module === block.module && e.part === 'lora_A');
      const bEntry = lora.layout.entries.find((e) => e.layer === block.layer && e.module === block.module && e.part === 'lora_B');
      if (aEntry === undefined || bEntry === undefined) throw new Error(`block ${name} lacks a LoRA factor`);

      const [aColumns, bColumns] = tf.tidy(() => [
        J.slice([0, aEntry.offset], [-1, aEntry.size]) as tf.Tensor2D,
        J.slice([0, bEntry.offset], [-1, bEntry.size]) as tf.Tensor2D,
      ]);
      const aKernel = kernelFromJacobians(aColumns as tf.Tensor2D, c).values;
      const bKernel = kernelFromJacobians(bColumns as tf.Tensor2D, c).values;
      tf.dispose([aColumns, bColumns]);

      expect(maxAbs(aKernel), `A part of ${name}`).toBe(0);
      expect(maxAbs(bKernel), `B part of ${name}`).toBeGreaterThan(0);
      expect(maxAbsDifference((blocks[b] as { values: Float64Array }).values, bKernel), name).toBeLessThanOrEqual(1e-6 * maxAbs(bKernel));
    });
  });
});

describe('jacobianChange', () => {
  const radii = [0, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  let points: ReturnType<typeof jacobianChange>;

  beforeAll(() => {
    points = jacobianChange(lora.predict, lora.theta0, lora.batch, lora.numLabels, { radii, directions: 2, seed: 5 });
  });

  it('returns one point per radius', () => {
    expect(points.map((point) => point.radius)).toEqual(radii);
  });

  it('returns exactly 0 at radius 0', () => {
    expect(points[0]?.mean).toBe(0);
    expect(points[0]?.max).toBe(0);
  });

  it('stays near 0 for tiny radii', () => {
    expect(points[1]?.mean).toBeLessThan(1e-3);
    expect(points[1]?.max).toBeLessThan(1e-3);
  });

  it('grows with the radius', () => {
    for (let k = 2; k < points.length; k++) {
      const [previous, current] = [points[k - 1], points[k]] as [{ mean: number }, { mean: number }];
      expect(current.mean, `radius ${radii[k]}`).toBeGreaterThan(previous.mean);
    }
    expect(points.at(-1)?.mean).toBeGreaterThan(0.05);
  });

  it('keeps max at or above mean', () => {
    for (const point of points) {
      expect(point.max, `radius ${point.radius}`).toBeGreaterThanOrEqual(point.mean);
    }
  });

  it('keeps the tensor count flat', () => {
    const before = tf.memory().numTensors;

    jacobianChange(lora.predict, lora.theta0, lora.batch, lora.numLabels, { radii: [1e-2], directions: 2, seed: 5 });

    expect(tf.memory().numTensors).toBe(before);
  });
});
