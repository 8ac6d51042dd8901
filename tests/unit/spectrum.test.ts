import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';

import {
  addMatrices,
  frobeniusNorm,
  relativeFrobeniusDistance,
  spectrumStats,
  symmetricEigen,
  symmetrize,
  tracedCrossKernel,
  tracedKernel,
  weylBounds,
} from '../../src/core/ntk/spectrum.ts';
import { createRng, randomNormal, type Rng } from '../../src/core/random.ts';

/** Returns a rows×cols matrix of standard normal entries. */
function randomMatrix(rng: Rng, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => randomNormal(rng));
}

/** Returns G·Gᵀ for a rows×cols G, a PSD matrix of rank min(rows, cols). */
function gram(g: Float64Array, rows: number, cols: number): Float64Array {
  const result = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let sum = 0;
      for (let p = 0; p < cols; p++) {
        sum += (g[i * cols + p] as number) * (g[j * cols + p] as number);
      }
      result[i * rows + j] = sum;
    }
  }
  return result;
}

function at(matrix: Float64Array, n: number, row: number, col: number): number {
  return matrix[row * n + col] as number;
}

/** Returns max_k ‖K v_k − μ_k v_k‖₂ over the eigenpairs. */
function maxEigenResidual(matrix: Float64Array, n: number, eigenvalues: Float64Array, eigenvectors: Float64Array): number {
  let worst = 0;
  for (let k = 0; k < n; k++) {
    let squared = 0;
    for (let i = 0; i < n; i++) {
      let product = 0;
      for (let j = 0; j < n; j++) {
        product += at(matrix, n, i, j) * at(eigenvectors, n, j, k);
      }
      const difference = product - (eigenvalues[k] as number) * at(eigenvectors, n, i, k);
      squared += difference * difference;
    }
    worst = Math.max(worst, Math.sqrt(squared));
  }
  return worst;
}

/** Returns max |VᵀV − I| over all entries. */
function maxOrthonormalityError(eigenvectors: Float64Array, n: number): number {
  let worst = 0;
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      let dot = 0;
      for (let i = 0; i < n; i++) {
        dot += at(eigenvectors, n, i, p) * at(eigenvectors, n, i, q);
      }
      worst = Math.max(worst, Math.abs(dot - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

function isDescending(values: Float64Array): boolean {
  for (let k = 1; k < values.length; k++) {
    if ((values[k] as number) > (values[k - 1] as number)) {
      return false;
    }
  }
  return true;
}

function trace(matrix: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += at(matrix, n, i, i);
  }
  return sum;
}

function sum(values: Float64Array): number {
  return values.reduce((total, value) => total + value, 0);
}

describe('symmetrize', () => {
  it('averages a matrix with its transpose', () => {
    const result = symmetrize(Float64Array.from([1, 2, 4, 3]), 2);
    expect(Array.from(result)).toEqual([1, 3, 3, 3]);
  });

  it('rejects a length that is not n²', () => {
    expect(() => symmetrize(new Float64Array(5), 2)).toThrow(/expected a 2×2 matrix \(4 entries\), got 5/);
  });
});

describe('symmetricEigen', () => {
  it('decomposes a diagonal matrix', () => {
    const { eigenvalues, eigenvectors } = symmetricEigen(Float64Array.from([3, 0, 0, 0, 1, 0, 0, 0, 2]), 3);

    expect(Array.from(eigenvalues)).toEqual([3, 2, 1]);
    // Column k is ±e_j for the diagonal entry j that carries eigenvalue k.
    expect(Math.abs(at(eigenvectors, 3, 0, 0))).toBe(1);
    expect(Math.abs(at(eigenvectors, 3, 2, 1))).toBe(1);
    expect(Math.abs(at(eigenvectors, 3, 1, 2))).toBe(1);
  });

  it('matches the 2×2 closed form', () => {
    // [[4, 1], [1, 2]] has μ = 3 ± √2 and eigenvectors ∝ (1, μ − 4).
    const { eigenvalues, eigenvectors } = symmetricEigen(Float64Array.from([4, 1, 1, 2]), 2);

    expect(eigenvalues[0]).toBeCloseTo(3 + Math.SQRT2, 14);
    expect(eigenvalues[1]).toBeCloseTo(3 - Math.SQRT2, 14);
    for (let k = 0; k < 2; k++) {
      const mu = eigenvalues[k] as number;
      const expectedRatio = mu - 4;
      const ratio = at(eigenvectors, 2, 1, k) / at(eigenvectors, 2, 0, k);
      expect(ratio, `eigenvector ${k}`).toBeCloseTo(expectedRatio, 12);
    }
  });

  describe('on a random SPD matrix with n = 40', () => {
    const n = 40;
    const rng = createRng(7);
    const matrix = gram(randomMatrix(rng, n, n), n, n);
    for (let i = 0; i < n; i++) {
      matrix[i * n + i] = (matrix[i * n + i] as number) + 0.1;
    }
    const { eigenvalues, eigenvectors } = symmetricEigen(matrix, n);
    const norm = frobeniusNorm(matrix);

    it('has a small eigen-residual', () => {
      expect(maxEigenResidual(matrix, n, eigenvalues, eigenvectors)).toBeLessThan(1e-12 * norm);
    });

    it('has orthonormal eigenvectors', () => {
      expect(maxOrthonormalityError(eigenvectors, n)).toBeLessThan(1e-12);
    });

    it('orders eigenvalues descending', () => {
      expect(isDescending(eigenvalues)).toBe(true);
    });

    it('keeps all eigenvalues positive', () => {
      expect(eigenvalues[n - 1]).toBeGreaterThan(0);
    });

    it('sums eigenvalues to the trace', () => {
      expect(Math.abs(sum(eigenvalues) - trace(matrix, n))).toBeLessThan(1e-12 * trace(matrix, n));
    });
  });

  it('symmetrizes a slightly asymmetric float32 input', () => {
    const n = 12;
    const rng = createRng(11);
    // Full rank, so that no eigenvalue is clipped and the residual test applies.
    const exact = gram(randomMatrix(rng, n, 3 * n), n, 3 * n);
    // Round each entry to float32 after a relative perturbation of about 1e-6,
    // as a kernel accumulated in float32 would be, so that K[i,j] ≠ K[j,i].
    const float32Like = exact.map((value) => Math.fround(value * (1 + 1e-6 * randomNormal(rng))));
    const symmetric = symmetrize(float32Like, n);

    expect(Matrix.from1DArray(n, n, float32Like).isSymmetric()).toBe(false);
    const { eigenvalues, eigenvectors } = symmetricEigen(float32Like, n);
    expect(maxOrthonormalityError(eigenvectors, n)).toBeLessThan(1e-12);
    expect(maxEigenResidual(symmetric, n, eigenvalues, eigenvectors)).toBeLessThan(1e-12 * frobeniusNorm(symmetric));
    expect(isDescending(eigenvalues)).toBe(true);
  });

  it('leaves its input unchanged', () => {
    const input = Float64Array.from([2, 1, 0.5, 3]);
    const copy = input.slice();
    symmetricEigen(input, 2);
    expect(Array.from(input)).toEqual(Array.from(copy));
  });

  it('clips a round-off negative eigenvalue to 0', () => {
    // K = Q diag(5, 2, 1, −1e-14) Qᵀ with Q a Householder reflection: a PSD
    // kernel whose last eigenvalue came out slightly negative from round-off.
    const n = 4;
    const u = [1, -2, 0.5, 3];
    const uu = u.reduce((total, value) => total + value * value, 0);
    const q = (i: number, j: number): number => (i === j ? 1 : 0) - (2 * (u[i] as number) * (u[j] as number)) / uu;
    const spectrum = [5, 2, 1, -1e-14];
    const matrix = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let value = 0;
        for (let k = 0; k < n; k++) {
          value += q(i, k) * (spectrum[k] as number) * q(j, k);
        }
        matrix[i * n + j] = value;
      }
    }
    const symmetric = symmetrize(matrix, n);
    const raw = new EigenvalueDecomposition(Matrix.from1DArray(n, n, symmetric)).realEigenvalues;

    // Precondition: without clipping, ml-matrix reports a negative eigenvalue.
    expect(Math.min(...raw)).toBeLessThan(0);
    const { eigenvalues } = symmetricEigen(matrix, n);
    expect(eigenvalues[n - 1]).toBe(0);
    expect(eigenvalues[0]).toBeCloseTo(5, 12);
  });
});

describe('symmetricEigen zeroTolerance', () => {
  // A rank-5 Gram matrix of size 12: its 7 smallest eigenvalues are round-off.
  const n = 12;
  const rank = 5;
  const matrix = gram(randomMatrix(createRng(21), n, rank), n, rank);

  it('zeroes round-off eigenvalues by default', () => {
    const { eigenvalues } = symmetricEigen(matrix, n);

    expect(eigenvalues[rank - 1]).toBeGreaterThan(0);
    expect(Array.from(eigenvalues.subarray(rank))).toEqual(new Array(n - rank).fill(0));
  });

  it('keeps positive round-off with a tolerance of 0', () => {
    const { eigenvalues } = symmetricEigen(matrix, n, { zeroTolerance: 0 });

    expect(eigenvalues[rank]).toBeGreaterThan(0);
    expect(eigenvalues[rank]).toBeLessThan(1e-13 * (eigenvalues[0] as number));
  });

  it('zeroes eigenvalues below a larger tolerance', () => {
    const { eigenvalues } = symmetricEigen(Float64Array.from([1, 0, 0, 1e-3]), 2, { zeroTolerance: 1e-2 });

    expect(Array.from(eigenvalues)).toEqual([1, 0]);
  });

  it('rejects an invalid tolerance', () => {
    expect(() => symmetricEigen(matrix, n, { zeroTolerance: -1 })).toThrow(/invalid zeroTolerance -1/);
  });
});

describe('spectrumStats', () => {
  it('computes statistics of a singular spectrum', () => {
    const stats = spectrumStats(Float64Array.from([4, 2, 1, 0]), { N: 2, lambda: 0 });

    expect(stats.trace).toBe(7);
    expect(stats.muMax).toBe(4);
    expect(stats.muMin).toBe(0);
    expect(stats.kappa).toBeNull();
    expect(stats.kappaLambda).toBeNull();
    expect(stats.effectiveRank).toBeCloseTo(49 / 21, 14);
    expect(stats.etaMax).toBe(1);
  });

  it('makes kappaLambda finite when lambda > 0', () => {
    const stats = spectrumStats(Float64Array.from([4, 2, 1, 0]), { N: 2, lambda: 0.5 });

    expect(stats.kappa).toBeNull();
    expect(stats.kappaLambda).toBe(5);
    expect(stats.etaMax).toBeCloseTo(2 / (4 / 2 + 0.5), 14);
  });

  it('computes kappa of a regular spectrum', () => {
    const stats = spectrumStats(Float64Array.from([8, 4, 2]), { N: 4, lambda: 0.25 });

    expect(stats.kappa).toBe(4);
    expect(stats.kappaLambda).toBe((8 + 1) / (2 + 1));
    expect(stats.etaMax).toBe(2 / (8 / 4 + 0.25));
  });

  it('gives effective rank n for equal eigenvalues', () => {
    const stats = spectrumStats(new Float64Array(5).fill(3), { N: 5, lambda: 0 });

    expect(stats.effectiveRank).toBeCloseTo(5, 14);
    expect(stats.kappa).toBe(1);
  });

  it('handles an all-zero spectrum', () => {
    const unregularized = spectrumStats(new Float64Array(3), { N: 3, lambda: 0 });
    const regularized = spectrumStats(new Float64Array(3), { N: 3, lambda: 0.1 });

    expect(unregularized.effectiveRank).toBe(0);
    expect(unregularized.kappa).toBeNull();
    expect(unregularized.etaMax).toBeNull();
    expect(regularized.kappaLambda).toBe(1);
    expect(regularized.etaMax).toBeCloseTo(20, 12);
  });

  it('accepts eigenvalues in ascending order', () => {
    const stats = spectrumStats(Float64Array.from([1, 2, 4]), { N: 1, lambda: 0 });

    expect(stats.muMax).toBe(4);
    expect(stats.muMin).toBe(1);
  });

  it('rejects invalid input', () => {
    expect(() => spectrumStats(Float64Array.from([1, -0.5]), { N: 1, lambda: 0 })).toThrow(/invalid eigenvalue -0.5/);
    expect(() => spectrumStats(Float64Array.from([1, Number.NaN]), { N: 1, lambda: 0 })).toThrow(/invalid eigenvalue NaN/);
    expect(() => spectrumStats(Float64Array.from([1]), { N: 0, lambda: 0 })).toThrow(/invalid example count N 0/);
    expect(() => spectrumStats(Float64Array.from([1]), { N: 1, lambda: -1 })).toThrow(/invalid lambda -1/);
    expect(() => spectrumStats(new Float64Array(0), { N: 1, lambda: 0 })).toThrow(/spectrum is empty/);
  });
});

describe('weylBounds', () => {
  it('sums block extremes', () => {
    const blocks = [Float64Array.from([3, 1]), Float64Array.from([2, 0.5]), Float64Array.from([9, 9])];

    expect(weylBounds(blocks, [0, 1])).toEqual({ upper: 5, lower: 1.5 });
    expect(weylBounds(blocks, [])).toEqual({ upper: 0, lower: 0 });
  });

  it('rejects invalid subsets', () => {
    const blocks = [Float64Array.from([1])];

    expect(() => weylBounds(blocks, [1])).toThrow(/invalid block index 1/);
    expect(() => weylBounds(blocks, [0.5])).toThrow(/invalid block index 0.5/);
    expect(() => weylBounds(blocks, [0, 0])).toThrow(/block 0 is listed twice/);
  });

  describe('on random PSD blocks', () => {
    const n = 12;
    // Low-rank blocks have μ_n = 0. Blocks of rank ≥ n make the lower bound non-trivial.
    const ranks = [1, 3, 5, 12, 16];
    const rng = createRng(2024);
    const blocks = ranks.map((rank) => gram(randomMatrix(rng, n, rank), n, rank));
    const blockEigenvalues = blocks.map((block) => symmetricEigen(block, n).eigenvalues);
    const subsets: number[][] = [];
    for (let draw = 0; draw < 25; draw++) {
      const subset = ranks.map((_, b) => b).filter(() => rng() < 0.5);
      subsets.push(subset.length > 0 ? subset : [draw % ranks.length]);
    }

    it('bounds the subset spectrum', () => {
      for (const subset of subsets) {
        const kernel = addMatrices(subset.map((b) => blocks[b] as Float64Array));
        const { eigenvalues } = symmetricEigen(kernel, n);
        const bounds = weylBounds(blockEigenvalues, subset);
        const tolerance = 1e-12 * bounds.upper;

        expect(eigenvalues[0], `μ₁ of subset ${subset}`).toBeLessThanOrEqual(bounds.upper + tolerance);
        expect(eigenvalues[n - 1], `μ_n of subset ${subset}`).toBeGreaterThanOrEqual(bounds.lower - tolerance);
      }
    });

    it('has a non-trivial lower bound for full-rank blocks', () => {
      expect(weylBounds(blockEigenvalues, [3, 4]).lower).toBeGreaterThan(0);
    });

    it('never lowers an eigenvalue when adding a block', () => {
      for (const subset of subsets) {
        const base = symmetricEigen(addMatrices(subset.map((b) => blocks[b] as Float64Array)), n).eigenvalues;
        for (let added = 0; added < blocks.length; added++) {
          if (subset.includes(added)) {
            continue;
          }
          const grown = [...subset, added];
          const larger = symmetricEigen(addMatrices(grown.map((b) => blocks[b] as Float64Array)), n).eigenvalues;
          const tolerance = 1e-12 * (larger[0] as number);
          for (let k = 0; k < n; k++) {
            expect(larger[k], `μ_${k + 1} after adding ${added} to ${subset}`).toBeGreaterThanOrEqual(
              (base[k] as number) - tolerance,
            );
          }
        }
      }
    });
  });
});

describe('addMatrices', () => {
  it('adds element-wise', () => {
    const result = addMatrices([Float64Array.from([1, 2]), Float64Array.from([10, 20]), Float64Array.from([100, 200])]);
    expect(Array.from(result)).toEqual([111, 222]);
  });

  it('rejects an empty list and mismatched sizes', () => {
    expect(() => addMatrices([])).toThrow(/no matrices given/);
    expect(() => addMatrices([new Float64Array(2), new Float64Array(3)])).toThrow(/matrix 1 has 3 entries/);
  });
});

describe('Frobenius norms', () => {
  it('computes the norm', () => {
    expect(frobeniusNorm(Float64Array.from([3, 4, 0, 0]))).toBe(5);
  });

  it('computes the relative distance', () => {
    const reference = Float64Array.from([3, 4]);
    expect(relativeFrobeniusDistance(Float64Array.from([3, 4]), reference)).toBe(0);
    expect(relativeFrobeniusDistance(Float64Array.from([6, 8]), reference)).toBe(1);
    expect(relativeFrobeniusDistance(Float64Array.from([3, 5]), reference)).toBeCloseTo(0.2, 15);
  });

  it('returns null relative to a zero matrix', () => {
    expect(relativeFrobeniusDistance(Float64Array.from([1, 0]), new Float64Array(2))).toBeNull();
  });

  it('rejects mismatched sizes', () => {
    expect(() => relativeFrobeniusDistance(new Float64Array(2), new Float64Array(3))).toThrow(/a has 2 entries but b has 3/);
  });
});

describe('tracedKernel', () => {
  /** Returns a rows×cols matrix with entry (r, s) = 10r + s, so every entry is distinct. */
  function indexedMatrix(rows: number, cols: number): Float64Array {
    return Float64Array.from({ length: rows * cols }, (_, e) => 10 * Math.floor(e / cols) + (e % cols));
  }

  it('averages the diagonal logit blocks', () => {
    // n = 2, c = 3: K_tr[i,j] = (K[3i,3j] + K[3i+1,3j+1] + K[3i+2,3j+2]) / 3.
    const traced = tracedKernel(indexedMatrix(6, 6), 2, 3);
    expect(Array.from(traced)).toEqual([(0 + 11 + 22) / 3, (3 + 14 + 25) / 3, (30 + 41 + 52) / 3, (33 + 44 + 55) / 3]);
  });

  it('returns the kernel itself for c = 1', () => {
    const full = indexedMatrix(3, 3);
    expect(Array.from(tracedKernel(full, 3, 1))).toEqual(Array.from(full));
  });

  it('traces a rectangular cross kernel', () => {
    // rows = 1, cols = 2, c = 2: K_tr[0,j] = (K[0,2j] + K[1,2j+1]) / 2.
    const traced = tracedCrossKernel(indexedMatrix(2, 4), 1, 2, 2);
    expect(Array.from(traced)).toEqual([(0 + 11) / 2, (2 + 13) / 2]);
  });

  it('rejects a kernel of the wrong size', () => {
    expect(() => tracedKernel(new Float64Array(16), 2, 3)).toThrow(/expected a 6×6 matrix/);
    expect(() => tracedCrossKernel(new Float64Array(8), 2, 2, 2)).toThrow(/expected a 4×4 matrix/);
    expect(() => tracedKernel(new Float64Array(4), 2, 0)).toThrow(/invalid c 0/);
  });
});
