import { Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';

import { frobeniusNorm } from '../../src/core/ntk/spectrum.ts';
import { correlations, createGdTheory, distanceBound, type GdTheoryInput } from '../../src/core/ntk/theory.ts';
import { createRng, randomInt, randomNormal, type Rng } from '../../src/core/random.ts';

/** A linearized training problem built from explicit Jacobians J (train) and J′ (cross). */
interface Problem {
  n: number;
  c: number;
  m: number;
  parameters: number;
  jacobian: Float64Array;
  kernel: Float64Array;
  crossKernel: Float64Array;
  f0: Float64Array;
  y: Float64Array;
  crossF0: Float64Array;
  crossY: Float64Array;
}

function randomVector(rng: Rng, length: number, scale = 1): Float64Array {
  return Float64Array.from({ length }, () => scale * randomNormal(rng));
}

function oneHot(rng: Rng, examples: number, c: number): Float64Array {
  const y = new Float64Array(examples * c);
  for (let i = 0; i < examples; i++) {
    y[i * c + randomInt(rng, c)] = 1;
  }
  return y;
}

/** Returns A·Bᵀ for A rows×inner and B cols×inner. */
function multiplyTransposed(a: Float64Array, b: Float64Array, rows: number, cols: number, inner: number): Float64Array {
  const result = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let p = 0; p < inner; p++) {
        sum += (a[i * inner + p] as number) * (b[j * inner + p] as number);
      }
      result[i * cols + j] = sum;
    }
  }
  return result;
}

/** Builds K = J Jᵀ and K′ = J′ Jᵀ from random Jacobians with `parameters` columns. */
function makeProblem(seed: number, sizes: { n: number; c: number; m: number; parameters: number }): Problem {
  const { n, c, m, parameters } = sizes;
  const rng = createRng(seed);
  const jacobian = randomVector(rng, n * c * parameters);
  const crossJacobian = randomVector(rng, m * c * parameters);
  return {
    ...sizes,
    jacobian,
    kernel: multiplyTransposed(jacobian, jacobian, n * c, n * c, parameters),
    crossKernel: multiplyTransposed(crossJacobian, jacobian, m * c, n * c, parameters),
    f0: randomVector(rng, n * c, 0.3),
    y: oneHot(rng, n, c),
    crossF0: randomVector(rng, m * c, 0.3),
    crossY: oneHot(rng, m, c),
  };
}

function theoryInput(problem: Problem, lambda: number, eta: number): GdTheoryInput {
  return {
    kernel: problem.kernel,
    n: problem.n,
    c: problem.c,
    f0: problem.f0,
    y: problem.y,
    lambda,
    eta,
    cross: { kernel: problem.crossKernel, m: problem.m, f0: problem.crossF0, y: problem.crossY },
  };
}

/** Returns f₀ + A·α for an A with rows×α.length entries. */
function affine(f0: Float64Array, a: Float64Array, alpha: Float64Array): Float64Array {
  const cols = alpha.length;
  return f0.map((offset, row) => {
    let sum = offset;
    for (let col = 0; col < cols; col++) {
      sum += (a[row * cols + col] as number) * (alpha[col] as number);
    }
    return sum;
  });
}

/** Runs α_{t+1} = α_t − η(Kα_t/N + λα_t) + (η/N)(y − f₀) from α₀ = 0 and returns α_0 … α_steps. */
function iterateAlpha(problem: Problem, lambda: number, eta: number, steps: number): Float64Array[] {
  const size = problem.n * problem.c;
  const history = [new Float64Array(size)];
  for (let t = 0; t < steps; t++) {
    const alpha = history[t] as Float64Array;
    const kernelAlpha = affine(new Float64Array(size), problem.kernel, alpha);
    const next = alpha.map(
      (value, row) =>
        value -
        eta * ((kernelAlpha[row] as number) / problem.n + lambda * value) +
        (eta / problem.n) * ((problem.y[row] as number) - (problem.f0[row] as number)),
    );
    history.push(next);
  }
  return history;
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  const difference = actual.map((value, e) => value - (expected[e] as number));
  return frobeniusNorm(difference) / frobeniusNorm(expected);
}

function allFinite(values: Float64Array): boolean {
  return values.every((value) => Number.isFinite(value));
}

function subtract(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, e) => value - (b[e] as number));
}

describe('createGdTheory against the explicit iteration', () => {
  const cases = [
    { name: 'full-rank K with lambda > 0', parameters: 40, lambda: 0.05 },
    { name: 'singular K with lambda = 0', parameters: 5, lambda: 0 },
  ];

  for (const { name, parameters, lambda } of cases) {
    it(`matches every step, ${name}`, () => {
      const problem = makeProblem(3, { n: 6, c: 2, m: 4, parameters });
      const etaMax = createGdTheory(theoryInput(problem, lambda, 1)).etaMax as number;
      const eta = 0.9 * etaMax;
      const theory = createGdTheory(theoryInput(problem, lambda, eta));
      const history = iterateAlpha(problem, lambda, eta, 50);

      history.forEach((alpha, t) => {
        const prediction = theory.predict(t);
        const expectedTrain = affine(problem.f0, problem.kernel, alpha);
        const expectedCross = affine(problem.crossF0, problem.crossKernel, alpha);

        expect(relativeError(prediction.train, expectedTrain), `train at t = ${t}`).toBeLessThan(1e-10);
        expect(relativeError(prediction.cross as Float64Array, expectedCross), `cross at t = ${t}`).toBeLessThan(1e-10);
      });
    });
  }

  it('matches alpha and the parameter distance', () => {
    const problem = makeProblem(5, { n: 5, c: 3, m: 2, parameters: 30 });
    const eta = 0.5 * (createGdTheory(theoryInput(problem, 0.02, 1)).etaMax as number);
    const theory = createGdTheory(theoryInput(problem, 0.02, eta));
    const history = iterateAlpha(problem, 0.02, eta, 30);
    const size = problem.n * problem.c;

    for (const t of [1, 10, 30]) {
      const alpha = history[t] as Float64Array;
      // δ = Jᵀα, so ‖θ_t − θ₀‖ = ‖Jᵀα‖.
      const delta = new Float64Array(problem.parameters);
      for (let row = 0; row < size; row++) {
        for (let p = 0; p < problem.parameters; p++) {
          delta[p] = (delta[p] as number) + (problem.jacobian[row * problem.parameters + p] as number) * (alpha[row] as number);
        }
      }

      expect(relativeError(theory.alpha(t), alpha), `alpha at t = ${t}`).toBeLessThan(1e-10);
      expect(Math.abs(theory.distance(t) / frobeniusNorm(delta) - 1), `distance at t = ${t}`).toBeLessThan(1e-10);
    }
  });
});

describe('createGdTheory at t = Infinity', () => {
  it('equals the regularized solve for lambda > 0', () => {
    const problem = makeProblem(8, { n: 6, c: 2, m: 3, parameters: 8 });
    const lambda = 0.1;
    const size = problem.n * problem.c;
    const theory = createGdTheory(theoryInput(problem, lambda, 0.1));

    const shifted = Matrix.from1DArray(size, size, problem.kernel);
    for (let i = 0; i < size; i++) {
      shifted.set(i, i, shifted.get(i, i) + problem.n * lambda);
    }
    const residual = Matrix.columnVector(Array.from(subtract(problem.y, problem.f0)));
    const alphaStar = Float64Array.from(solve(shifted, residual).getColumn(0));
    const prediction = theory.predict(Infinity);

    expect(relativeError(theory.alpha(Infinity), alphaStar)).toBeLessThan(1e-10);
    expect(relativeError(prediction.train, affine(problem.f0, problem.kernel, alphaStar))).toBeLessThan(1e-10);
    expect(
      relativeError(prediction.cross as Float64Array, affine(problem.crossF0, problem.crossKernel, alphaStar)),
    ).toBeLessThan(1e-10);
  });

  it('is the limit of the iteration for lambda > 0', () => {
    const problem = makeProblem(9, { n: 4, c: 2, m: 2, parameters: 20 });
    const eta = 0.5 * (createGdTheory(theoryInput(problem, 0.2, 1)).etaMax as number);
    const theory = createGdTheory(theoryInput(problem, 0.2, eta));
    const limit = theory.predict(Infinity).train;

    expect(relativeError(theory.predict(100_000).train, limit)).toBeLessThan(1e-12);
    expect(relativeError(theory.predict(10).train, limit)).toBeGreaterThan(1e-6);
  });
});

describe('createGdTheory with lambda = 0 and a singular K', () => {
  // N·C = 12 outputs but only 5 parameters: K has rank 5.
  const problem = makeProblem(4, { n: 6, c: 2, m: 4, parameters: 5 });
  const probe = createGdTheory(theoryInput(problem, 0, 1));
  const eta = 0.9 * (probe.etaMax as number);
  const theory = createGdTheory(theoryInput(problem, 0, eta));
  const limit = theory.predict(Infinity);

  it('has exact zero eigenvalues', () => {
    expect(theory.eigen.eigenvalues[4]).toBeGreaterThan(0);
    expect(theory.eigen.eigenvalues[5]).toBe(0);
  });

  it('keeps predictions finite', () => {
    for (const t of [10, 1_000, 1_000_000, Infinity]) {
      const prediction = theory.predict(t);
      expect(allFinite(prediction.train), `train at t = ${t}`).toBe(true);
      expect(allFinite(prediction.cross as Float64Array), `cross at t = ${t}`).toBe(true);
      expect(Number.isFinite(theory.distance(t)), `distance at t = ${t}`).toBe(true);
    }
  });

  it('converges to the t = Infinity predictions', () => {
    const late = theory.predict(1_000_000);

    expect(relativeError(late.train, limit.train)).toBeLessThan(1e-9);
    expect(relativeError(late.cross as Float64Array, limit.cross as Float64Array)).toBeLessThan(1e-9);
  });

  it('matches the long explicit iteration', () => {
    const history = iterateAlpha(problem, 0, eta, 20_000);
    const alpha = history[20_000] as Float64Array;

    expect(relativeError(theory.predict(20_000).train, affine(problem.f0, problem.kernel, alpha))).toBeLessThan(1e-10);
    expect(relativeError(limit.train, affine(problem.f0, problem.kernel, alpha))).toBeLessThan(1e-9);
  });

  it('projects the residual onto the range of K', () => {
    // At the limit y − f lies in the null space of K, but is not zero.
    const remaining = subtract(problem.y, limit.train);
    const kernelTimesRemaining = affine(new Float64Array(remaining.length), problem.kernel, remaining);

    expect(frobeniusNorm(kernelTimesRemaining)).toBeLessThan(1e-10 * frobeniusNorm(problem.kernel));
    expect(theory.loss(Infinity).train).toBeGreaterThan(0.01);
  });
});

describe('createGdTheory above etaMax', () => {
  const problem = makeProblem(6, { n: 5, c: 2, m: 3, parameters: 30 });
  const lambda = 0.05;
  const etaMax = createGdTheory(theoryInput(problem, lambda, 1)).etaMax as number;
  // The top mode's factor is |1 − 1.5·2| = 2 per step.
  const eta = 1.5 * etaMax;
  const theory = createGdTheory(theoryInput(problem, lambda, eta));
  const fixedPoint = theory.predict(Infinity).train;

  it('reports etaMax below the step size', () => {
    expect(theory.etaMax).toBeLessThan(eta);
  });

  it('grows geometrically', () => {
    const distanceAt = (t: number): number => frobeniusNorm(subtract(theory.predict(t).train, fixedPoint));

    expect(distanceAt(40)).toBeGreaterThan(1e9 * distanceAt(10));
    expect(distanceAt(61) / distanceAt(60)).toBeCloseTo(2, 6);
  });

  it('matches the diverging explicit iteration', () => {
    const history = iterateAlpha(problem, lambda, eta, 40);
    const alpha = history[40] as Float64Array;

    expect(relativeError(theory.predict(40).train, affine(problem.f0, problem.kernel, alpha))).toBeLessThan(1e-10);
    expect(
      relativeError(theory.predict(40).cross as Float64Array, affine(problem.crossF0, problem.crossKernel, alpha)),
    ).toBeLessThan(1e-10);
  });
});

describe('createGdTheory on scalar problems', () => {
  const scalar = (kernel: number, lambda: number, eta: number): ReturnType<typeof createGdTheory> =>
    createGdTheory({
      kernel: Float64Array.from([kernel]),
      n: 1,
      c: 1,
      f0: Float64Array.from([0]),
      y: Float64Array.from([1]),
      lambda,
      eta,
    });

  it('halves the residual each step when eta m = 0.5', () => {
    const theory = scalar(1, 0, 0.5);

    for (const t of [0, 1, 2, 5]) {
      expect(theory.predict(t).train[0], `t = ${t}`).toBeCloseTo(1 - 0.5 ** t, 15);
    }
  });

  it('reaches the fixed point in one step when eta m = 1', () => {
    const theory = scalar(2, 0, 0.5);

    expect(theory.predict(0).train[0]).toBe(0);
    expect(theory.predict(1).train[0]).toBe(1);
    expect(theory.predict(7).train[0]).toBe(1);
  });

  it('keeps full precision for a tiny eta m', () => {
    // g_3 = (1 − (1 − ε)³)/ε = 3 − 3ε + ε². Evaluating 1 − pow(1 − ε, 3)
    // directly would lose about 4 of the 16 digits for ε = 1e-12.
    const epsilon = 1e-12;
    const theory = scalar(epsilon, 0, 1);

    expect(theory.alpha(3)[0]).toBeCloseTo(3 - 3 * epsilon, 13);
  });

  it('grows alpha linearly when m = 0', () => {
    const theory = scalar(0, 0, 0.25);

    expect(theory.alpha(8)[0]).toBe(2);
    expect(theory.predict(8).train[0]).toBe(0);
    expect(theory.alpha(Infinity)[0]).toBe(0);
  });
});

describe('createGdTheory metrics', () => {
  // Two examples, two logits: f₀ = [0.5, 0 | 0, 0.5], y = [1, 0 | 1, 0].
  const input: GdTheoryInput = {
    kernel: Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]),
    n: 2,
    c: 2,
    f0: Float64Array.from([0.5, 0, 0, 0.5]),
    y: Float64Array.from([1, 0, 1, 0]),
    lambda: 0,
    eta: 1,
    cross: { kernel: new Float64Array(2 * 4), m: 1, f0: Float64Array.from([0, 1]), y: Float64Array.from([1, 0]) },
  };

  it('computes the loss as a mean over examples', () => {
    // ½(0.25 + 0) + ½(1 + 0.25) = 0.75, divided by 2 examples.
    const loss = createGdTheory(input).loss(0);

    expect(loss.train).toBeCloseTo(0.375, 15);
    expect(loss.cross).toBeCloseTo(1, 15);
  });

  it('computes accuracy from the argmax', () => {
    const accuracy = createGdTheory(input).accuracy(0);

    expect(accuracy.train).toBe(0.5);
    expect(accuracy.cross).toBe(0);
  });

  it('omits cross metrics without cross labels', () => {
    const { y: _, ...crossWithoutLabels } = input.cross!;
    const theory = createGdTheory({ ...input, cross: crossWithoutLabels });

    expect(theory.loss(0).cross).toBeUndefined();
    expect(theory.predict(0).cross).toBeDefined();
  });

  it('stays under the distance bound while GD descends', () => {
    const problem = makeProblem(12, { n: 6, c: 2, m: 2, parameters: 20 });
    const lambda = 0.1;
    const etaMax = createGdTheory(theoryInput(problem, lambda, 1)).etaMax as number;
    const theory = createGdTheory(theoryInput(problem, lambda, 0.9 * etaMax));
    const bound = distanceBound(theory.loss(0).train, lambda) as number;

    for (const t of [1, 5, 20, 100, Infinity]) {
      expect(theory.distance(t), `t = ${t}`).toBeLessThanOrEqual(bound);
    }
  });
});

describe('createGdTheory input checks', () => {
  const problem = makeProblem(1, { n: 3, c: 2, m: 2, parameters: 4 });

  it('rejects mismatched sizes', () => {
    expect(() => createGdTheory({ ...theoryInput(problem, 0, 0.1), kernel: new Float64Array(35) })).toThrow(
      /kernel: expected a 6×6 matrix/,
    );
    expect(() => createGdTheory({ ...theoryInput(problem, 0, 0.1), y: new Float64Array(5) })).toThrow(
      /y has 5 entries; expected 6/,
    );
    expect(() =>
      createGdTheory({
        ...theoryInput(problem, 0, 0.1),
        cross: { kernel: new Float64Array(12), m: 2, f0: problem.crossF0 },
      }),
    ).toThrow(/cross kernel: expected a 4×6 matrix/);
  });

  it('rejects invalid steps and rates', () => {
    const theory = createGdTheory(theoryInput(problem, 0, 0.1));

    expect(() => theory.predict(-1)).toThrow(/invalid step t = -1/);
    expect(() => theory.predict(1.5)).toThrow(/invalid step t = 1.5/);
    expect(() => theory.predict(Number.NaN)).toThrow(/invalid step t = NaN/);
    expect(() => createGdTheory(theoryInput(problem, -0.1, 0.1))).toThrow(/invalid lambda -0.1/);
    expect(() => createGdTheory(theoryInput(problem, 0, Number.POSITIVE_INFINITY))).toThrow(/invalid step size eta/);
  });
});

describe('distanceBound', () => {
  it('returns sqrt(2 R / lambda)', () => {
    expect(distanceBound(0.5, 0.25)).toBe(2);
    expect(distanceBound(0, 0.25)).toBe(0);
  });

  it('returns null for lambda = 0', () => {
    expect(distanceBound(0.5, 0)).toBeNull();
  });

  it('rejects invalid input', () => {
    expect(() => distanceBound(-1, 0.1)).toThrow(/invalid data loss -1/);
    expect(() => distanceBound(1, -0.1)).toThrow(/invalid lambda -0.1/);
  });
});

describe('correlations', () => {
  it('separates monotone from linear', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const result = correlations(
      x,
      x.map((value) => value ** 3),
    );

    expect(result.spearman).toBeCloseTo(1, 14);
    expect(result.pearson).toBeLessThan(0.99);
    expect(result.pearson).toBeGreaterThan(0.8);
  });

  it('gives 1 for linear data', () => {
    const result = correlations([1, 2, 3], [2, 4, 6]);

    expect(result.pearson).toBeCloseTo(1, 14);
    expect(result.spearman).toBeCloseTo(1, 14);
  });

  it('gives -1 for reversed ranks', () => {
    expect(correlations([1, 2, 3, 4], [9, 5, 1, 0]).spearman).toBeCloseTo(-1, 14);
  });

  it('returns null for fewer than 3 points', () => {
    expect(correlations([1, 2], [3, 4])).toEqual({ pearson: null, spearman: null });
    expect(correlations([], [])).toEqual({ pearson: null, spearman: null });
  });

  it('returns null for a constant sample', () => {
    expect(correlations([0.1, 0.1, 0.1], [1, 2, 3])).toEqual({ pearson: null, spearman: null });
    expect(correlations([1, 2, 3], [5, 5, 5])).toEqual({ pearson: null, spearman: null });
  });

  it('rejects unpaired or non-finite samples', () => {
    expect(() => correlations([1, 2, 3], [1, 2])).toThrow(/x has 3 values but y has 2/);
    expect(() => correlations([1, Number.NaN, 3], [1, 2, 3])).toThrow(/invalid value NaN/);
  });
});
