import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createProblem,
  createTestCheckpoint,
  gramMatrix,
  listNorm,
  maxAbs,
  maxAbsDifference,
  moveAlong,
  multiplyVector,
  randomDirection,
  rawEigenvalues,
  relativeError,
  singleExampleGradients,
  tinySpec,
  type Problem,
} from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import { TASKS } from '../../src/core/data/tasks.ts';
import { disposeBatch, gatherBatch } from '../../src/core/finetune/encode.ts';
import { jacobian } from '../../src/core/ntk/jacobian.ts';
import { empiricalNtk, type Kernel, type NtkResult } from '../../src/core/ntk/kernel.ts';
import { addMatrices, symmetricEigen, symmetrize, tracedKernel, weylBounds } from '../../src/core/ntk/spectrum.ts';
import { createRng, randomInt } from '../../src/core/random.ts';
import { FineTuneRun, type RunnerInputs } from '../../src/core/runner.ts';

// Four labels, so that the row order i·C + a is tested beyond C = 2.
const GENRES = TASKS['brown-genre-4'];

let inputs: RunnerInputs;

beforeAll(async () => {
  await tf.setBackend('cpu');
  inputs = { checkpoint: createTestCheckpoint(), sources: loadTaskSources(), backend: 'cpu' };
});

function ntkOf(problem: Problem, theta: readonly tf.Tensor[]): NtkResult {
  return empiricalNtk(problem.predict, theta, problem.batch, { layout: problem.layout, numLabels: problem.numLabels });
}

/** Returns Σ_b K_b over the listed blocks, or over all of them. */
function sumOfBlocks(blocks: readonly Kernel[], members: readonly number[] = blocks.map((_, b) => b)): Float64Array {
  return addMatrices(members.map((member) => (blocks[member] as Kernel).values));
}

describe('empiricalNtk on hand-written examples', () => {
  let lora: Problem;
  let full: Problem;
  let loraMoved: tf.Tensor[];

  beforeAll(() => {
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

  const points: [string, () => Problem, () => readonly tf.Tensor[]][] = [
    ['LoRA at θ₀', () => lora, () => lora.theta0],
    ['LoRA with B ≠ 0', () => lora, () => loraMoved],
    ['full mode', () => full, () => full.theta0],
  ];

  it.each(points)('matches single-example gradient kernel, %s', (_, problem, point) => {
    const { full: kernel } = ntkOf(problem(), point());
    const expected = gramMatrix(singleExampleGradients(problem(), point()));

    expect(kernel.rows).toBe(problem().examples.length);
    expect(kernel.cols).toBe(problem().examples.length);
    expect(kernel.c).toBe(GENRES.labels.length);
    expect(relativeError(kernel.values, expected)).toBeLessThan(1e-5);
    expect(maxAbsDifference(kernel.values, expected)).toBeLessThanOrEqual(1e-5 * maxAbs(expected));
  });

  it.each(points)('sums blocks to the full kernel, %s', (_, problem, point) => {
    const { full: kernel, blocks } = ntkOf(problem(), point());

    expect(blocks).toHaveLength(problem().layout.blocks.length);
    expect(maxAbsDifference(sumOfBlocks(blocks), kernel.values)).toBeLessThanOrEqual(1e-5 * maxAbs(kernel.values));
  });

  it('computes the cross kernel between batches', () => {
    const n = lora.examples.length;
    const c = lora.numLabels;
    const joint = ntkOf(lora, loraMoved).full.values;
    const first = gatherBatch(lora.batch, Int32Array.of(0, 1));
    const rest = gatherBatch(lora.batch, Int32Array.of(2, 3, 4, 5));

    const cross = empiricalNtk(lora.predict, loraMoved, first, { layout: lora.layout, numLabels: c, other: rest });
    disposeBatch(first);
    disposeBatch(rest);

    // Rows 0..2C of the joint kernel, columns 2C..N·C.
    const expected = new Float64Array(2 * c * 4 * c);
    for (let r = 0; r < 2 * c; r++) {
      for (let s = 0; s < 4 * c; s++) expected[r * 4 * c + s] = joint[r * n * c + 2 * c + s] as number;
    }
    expect(cross.full.rows).toBe(2);
    expect(cross.full.cols).toBe(4);
    expect(maxAbsDifference(cross.full.values, expected)).toBeLessThanOrEqual(1e-5 * maxAbs(joint));
    expect(maxAbsDifference(sumOfBlocks(cross.blocks), cross.full.values)).toBeLessThanOrEqual(1e-5 * maxAbs(joint));
  });

  it('keeps the tensor count flat', () => {
    ntkOf(lora, lora.theta0);
    const before = tf.memory().numTensors;

    for (let call = 0; call < 3; call++) ntkOf(lora, lora.theta0);

    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('empiricalNtk positive semidefiniteness', () => {
  // With r = 1, each block has 16 live lora_B parameters at θ₀ (A's columns
  // are zero), but N·C = 24 rows, so each block kernel has at least 8 zero
  // eigenvalues. Their computed values are pure float32 round-off (measured
  // within ±4e-9·μ₁), which is where a kernel that is not J·Jᵀ would show
  // negative eigenvalues. Float32's unit round-off is 6e-8.
  const liveParameters = 16;
  const tolerance = 1e-7;
  let problem: Problem;
  let result: NtkResult;
  let size: number;

  beforeAll(() => {
    problem = createProblem({ grid: 'v.o', r: 1, definition: GENRES });
    result = ntkOf(problem, problem.theta0);
    size = result.full.rows * result.full.c;
  });

  afterAll(() => {
    problem.dispose();
  });

  it('is symmetric', () => {
    const { values } = result.full;
    let asymmetry = 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < i; j++) asymmetry = Math.max(asymmetry, Math.abs((values[i * size + j] as number) - (values[j * size + i] as number)));
    }

    expect(asymmetry).toBeLessThanOrEqual(1e-6 * maxAbs(values));
  });

  it.each([0, 1])('has round-off eigenvalues in block %i', (block) => {
    const eigenvalues = rawEigenvalues((result.blocks[block] as Kernel).values, size);
    const top = eigenvalues.at(-1) as number;
    const nullity = size - liveParameters;

    expect(nullity).toBeGreaterThan(0);
    expect(maxAbs(eigenvalues.slice(0, nullity))).toBeLessThanOrEqual(tolerance * top);
  });

  it.each([0, 1])('keeps block %i eigenvalues above −tol·μ₁', (block) => {
    const eigenvalues = rawEigenvalues((result.blocks[block] as Kernel).values, size);
    const top = eigenvalues.at(-1) as number;

    expect(top).toBeGreaterThan(0);
    expect(eigenvalues[0]).toBeGreaterThanOrEqual(-tolerance * top);
  });

  it('keeps full eigenvalues above −tol·μ₁', () => {
    const eigenvalues = rawEigenvalues(result.full.values, size);
    const top = eigenvalues.at(-1) as number;

    expect(top).toBeGreaterThan(0);
    expect(eigenvalues[0]).toBeGreaterThanOrEqual(-tolerance * top);
  });

  it('flags an indefinite kernel', () => {
    // K_v − K_o is symmetric but not PSD, so the same check must flag it.
    const [v, o] = result.blocks as [Kernel, Kernel];
    const difference = v.values.map((value, e) => value - (o.values[e] as number));
    const eigenvalues = rawEigenvalues(difference, size);

    expect(eigenvalues[0]).toBeLessThan(-tolerance * Math.abs(eigenvalues.at(-1) as number));
  });
});

describe('empiricalNtk of a real task', () => {
  // brown-genre-4 has C = 4 and 'qvo.qvo' gives 6 blocks. The probe set contains
  // 8 examples, so K is 32 × 32.
  let run: FineTuneRun;
  let result: NtkResult;
  let n: number;
  let c: number;
  let size: number;

  beforeAll(() => {
    const spec = tinySpec({ task: 'brown-genre-4', adapters: 'qvo.qvo', linearized: false });
    run = FineTuneRun.create(spec, inputs);
    result = empiricalNtk(run.predict, run.theta, run.probe, { layout: run.layout, numLabels: run.numLabels });
    n = result.full.rows;
    c = result.full.c;
    size = n * c;
  });

  afterAll(() => {
    run.dispose();
  });

  it('has the probe and label sizes', () => {
    expect(n).toBe(8);
    expect(c).toBe(4);
    expect(result.blocks).toHaveLength(6);
  });

  it('sums blocks to the full kernel', () => {
    expect(maxAbsDifference(sumOfBlocks(result.blocks), result.full.values)).toBeLessThanOrEqual(1e-5 * maxAbs(result.full.values));
  });

  it('has small eigen-residuals for top eigenpairs', () => {
    const { eigenvalues, eigenvectors } = symmetricEigen(result.full.values, size);
    const symmetric = symmetrize(result.full.values, size);
    const top = eigenvalues[0] as number;

    for (let k = 0; k < 4; k++) {
      const v = Float64Array.from({ length: size }, (_, row) => eigenvectors[row * size + k] as number);
      const mu = eigenvalues[k] as number;
      const residualOf = (matrix: Float64Array): number =>
        Math.hypot(...multiplyVector(matrix, v, size).map((value, row) => value - mu * (v[row] as number)));

      expect(Math.hypot(...v), `‖v_${k}‖`).toBeCloseTo(1, 10);
      expect(mu, `μ_${k}`).toBeGreaterThan(1e-3 * top);
      // symmetricEigen decomposes (K + Kᵀ)/2 in float64. Measured residuals were near 1e-15·μ₁.
      expect(residualOf(symmetric), `‖K_sym v − μv‖ for k = ${k}`).toBeLessThanOrEqual(1e-12 * top);
      // K itself may be asymmetric at float32 round-off.
      expect(residualOf(result.full.values), `‖Kv − μv‖ for k = ${k}`).toBeLessThanOrEqual(1e-6 * top);
    }
  });

  it('traces as mean of diagonal blocks', () => {
    // Independent of tracedKernel's indexing: K_tr = (1/C) Σ_a J_a J_aᵀ,
    // with J_a the rows of logit a.
    const J = jacobian(run.predict, run.theta, run.probe, c);
    const expectedTensor = tf.tidy(() => {
      const perLogit = J.reshape([n, c, -1]);
      const sum = Array.from({ length: c }, (_, a) => {
        const rows = perLogit.slice([0, a, 0], [n, 1, -1]).reshape([n, -1]);
        return tf.matMul(rows, rows, false, true);
      }).reduce((total, term) => tf.add(total, term));
      return tf.div(sum, c);
    });
    const expected = Float64Array.from(expectedTensor.dataSync());
    tf.dispose([J, expectedTensor]);

    const traced = tracedKernel(result.full.values, n, c);
    expect(traced).toHaveLength(n * n);
    expect(maxAbsDifference(traced, expected)).toBeLessThanOrEqual(1e-5 * maxAbs(expected));
  });

  it('reports traced eigenvalues in events', () => {
    const event = run.ntk();
    const expected = symmetricEigen(tracedKernel(result.full.values, n, c), n).eigenvalues;

    expect(event.traced).toHaveLength(n);
    expect(maxAbsDifference(event.traced, expected)).toBeLessThanOrEqual(1e-5 * (expected[0] as number));
    expect(maxAbsDifference(event.eigenvalues, symmetricEigen(result.full.values, size).eigenvalues)).toBeLessThanOrEqual(
      1e-5 * (event.eigenvalues[0] as number),
    );
  });

  describe('Weyl bounds on random subsets', () => {
    const rng = createRng(2024);
    const blockCount = 6;
    // Subsets of 1 to 5 of the 6 blocks, drawn once with a fixed seed.
    const subsets = Array.from({ length: 8 }, () => {
      const chosen = new Set<number>();
      const target = 1 + randomInt(rng, blockCount - 1);
      while (chosen.size < target) chosen.add(randomInt(rng, blockCount));
      return [...chosen].sort((p, q) => p - q);
    });
    let blockEigenvalues: Float64Array[];

    beforeAll(() => {
      blockEigenvalues = result.blocks.map((block) => symmetricEigen(block.values, size).eigenvalues);
    });

    /** Float32 round-off allowance: each block kernel is PSD only to about 1e-7 of its μ₁. */
    function tolerance(members: readonly number[]): number {
      return 1e-6 * members.reduce((total, member) => total + ((blockEigenvalues[member] as Float64Array)[0] as number), 0);
    }

    it.each(subsets.map((subset) => [subset.join(',')] as const))('bounds μ₁ and μ_n of subset %s', (key) => {
      const members = key.split(',').map(Number);
      const eigenvalues = symmetricEigen(sumOfBlocks(result.blocks, members), size).eigenvalues;
      const upper = members.reduce((total, member) => total + ((blockEigenvalues[member] as Float64Array)[0] as number), 0);
      const lower = members.reduce((total, member) => total + ((blockEigenvalues[member] as Float64Array)[size - 1] as number), 0);
      const bounds = weylBounds(blockEigenvalues, members);

      expect(bounds.upper).toBeCloseTo(upper, 12);
      expect(bounds.lower).toBeCloseTo(lower, 12);
      expect(eigenvalues[0]).toBeLessThanOrEqual(upper + tolerance(members));
      expect(eigenvalues[size - 1]).toBeGreaterThanOrEqual(lower - tolerance(members));
    });

    it.each(subsets.map((subset) => [subset.join(',')] as const))('never lowers eigenvalues adding to %s', (key) => {
      const members = key.split(',').map(Number);
      const before = symmetricEigen(sumOfBlocks(result.blocks, members), size).eigenvalues;

      for (let added = 0; added < blockCount; added++) {
        if (members.includes(added)) continue;
        const grown = [...members, added];
        const after = symmetricEigen(sumOfBlocks(result.blocks, grown), size).eigenvalues;
        const allowance = tolerance(grown);
        before.forEach((mu, k) => {
          expect(after[k], `μ_${k} after adding block ${added}`).toBeGreaterThanOrEqual(mu - allowance);
        });
      }
    });
  });
});

describe('FineTuneRun.ntk', () => {
  it.each([
    ['with a fresh Jacobian', false],
    ['with the linearization', true],
  ])('keeps the tensor count flat %s', (_, linearized) => {
    const run = FineTuneRun.create(tinySpec({ linearized }), inputs);
    run.ntk();
    const before = tf.memory().numTensors;

    for (let call = 0; call < 3; call++) run.ntk();
    const after = tf.memory().numTensors;
    run.dispose();

    expect(after).toBe(before);
  });

  it('keeps tensor count flat after stepping', () => {
    const run = FineTuneRun.create(tinySpec({ linearized: true }), inputs);
    run.ntk();
    run.advance();
    run.ntk();
    const before = tf.memory().numTensors;

    for (let call = 0; call < 3; call++) run.ntk();
    const after = tf.memory().numTensors;
    run.dispose();

    expect(after).toBe(before);
  });

  it('has zero drift only at θ₀', () => {
    const run = FineTuneRun.create(tinySpec({ linearized: false, optimizer: 'gd', lr: 5 }), inputs);
    const first = run.ntk();
    const again = run.ntk();
    run.advance();
    const moved = run.ntk();
    run.dispose();

    expect(first.drift).toBe(0);
    expect(again.drift).toBe(0);
    expect(moved.drift).toBeGreaterThan(0);
  });
});
