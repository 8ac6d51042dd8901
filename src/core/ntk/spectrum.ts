/**
 * Float64 linear algebra on NTK matrices: the symmetric eigendecomposition,
 * spectrum statistics, Weyl bounds for sums of kernel blocks, norms for kernel
 * drift and the traced kernel.
 *
 * Matrices are row-major Float64Array values with explicit sizes. A full
 * kernel over N examples and C logits is NC×NC, with row index i·C + a for
 * example i and logit a.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Eigenvalues in descending order and the matching orthonormal eigenvectors. */
export interface SymmetricEigen {
  /** μ₁ ≥ … ≥ μ_n ≥ 0, with negative values and round-off near 0 clipped to 0. */
  eigenvalues: Float64Array;
  /** An n×n row-major matrix whose column k is the unit eigenvector of eigenvalues[k]. */
  eigenvectors: Float64Array;
}

/** Spectrum statistics of a kernel, under the mean-over-N loss convention. */
export interface SpectrumStats {
  /** Σμ. */
  trace: number;
  /** The largest eigenvalue μ₁. */
  muMax: number;
  /** The smallest eigenvalue μ_n. */
  muMin: number;
  /** The condition number μ₁/μ_n, or null when μ_n = 0. */
  kappa: number | null;
  /** The regularized condition number (μ₁ + Nλ)/(μ_n + Nλ), or null when μ_n + Nλ = 0. */
  kappaLambda: number | null;
  /** The effective rank (Σμ)²/Σμ², or 0 for an all-zero spectrum. */
  effectiveRank: number;
  /** The maximum stable GD step size 2/(μ₁/N + λ), or null when μ₁/N + λ = 0. */
  etaMax: number | null;
}

/** Weyl bounds on the extreme eigenvalues of K_S = Σ_{b∈S} K_b for PSD blocks K_b. */
export interface WeylBounds {
  /** Σ_{b∈S} μ₁(K_b), an upper bound on μ₁(K_S). */
  upper: number;
  /** Σ_{b∈S} μ_n(K_b), a lower bound on μ_n(K_S). */
  lower: number;
}

/** Returns (A + Aᵀ)/2 for an n×n row-major matrix A. The result is exactly symmetric. */
export function symmetrize(matrix: Float64Array, n: number): Float64Array {
  checkMatrixSize('symmetrize', matrix, n, n);

  const result = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // (x + y)/2 and (y + x)/2 round identically, so result[i,j] === result[j,i].
      result[i * n + j] = ((matrix[i * n + j] as number) + (matrix[j * n + i] as number)) / 2;
    }
  }
  return result;
}

/**
 * Decomposes the symmetric part (A + Aᵀ)/2 of an n×n kernel in float64.
 *
 * A float32 kernel is rarely exactly symmetric, and ml-matrix's
 * EigenvalueDecomposition takes its slow general (non-symmetric) path unless
 * the input is exactly symmetric, so the input is symmetrized first.
 * Eigenvalues are returned in descending order and clipped to 0 in two cases:
 *
 * - |μ| ≤ zeroTolerance·max|μ|: round-off around 0 of either sign, so that a
 *   singular kernel has exact zeros. The default n·ε is the rank tolerance
 *   of numpy.linalg.matrix_rank and MATLAB's rank. It suits kernels computed
 *   in float64. A kernel accumulated in float32 has round-off of order
 *   ε₃₂·max|μ| (ε₃₂ ≈ 1.2e-7) and needs a larger tolerance.
 * - μ < 0: a PSD kernel has none, so they come from round-off. This also hides the
 *   negative eigenvalues of an input that is not PSD, so pass only Gram
 *   matrices such as J·Jᵀ.
 */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
  options: { zeroTolerance?: number } = {},
): SymmetricEigen {
  const zeroTolerance = options.zeroTolerance ?? n * Number.EPSILON;
  if (!Number.isFinite(zeroTolerance) || zeroTolerance < 0) {
    throw new RangeError(`symmetricEigen: invalid zeroTolerance ${zeroTolerance}; expected a finite value ≥ 0`);
  }
  const symmetric = symmetrize(matrix, n);
  const decomposition = new EigenvalueDecomposition(Matrix.from1DArray(n, n, symmetric), {
    assumeSymmetric: true,
  });
  const values = decomposition.realEigenvalues;
  const vectors = decomposition.eigenvectorMatrix;

  // ml-matrix 6.15 returns ascending eigenvalues. Sorting explicitly keeps the
  // result correct if that order ever changes.
  const order = Array.from(values.keys()).sort((p, q) => (values[q] as number) - (values[p] as number));

  const largestMagnitude = values.reduce((largest, mu) => Math.max(largest, Math.abs(mu)), 0);
  const zeroThreshold = zeroTolerance * largestMagnitude;

  const eigenvalues = new Float64Array(n);
  const eigenvectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const source = order[k] as number;
    const mu = values[source] as number;
    eigenvalues[k] = mu <= zeroThreshold ? 0 : mu;
    for (let row = 0; row < n; row++) {
      eigenvectors[row * n + k] = vectors.get(row, source);
    }
  }
  return { eigenvalues, eigenvectors };
}

/**
 * Computes the trace, extreme eigenvalues, condition numbers, effective rank
 * and maximum stable step size of a kernel spectrum.
 *
 * `N` is the number of examples, not N·C, because the loss is a mean over
 * examples. GD mode k then contracts by 1 − η(μ_k/N + λ) per step. The
 * eigenvalues may be in any order but must be non-negative, as
 * `symmetricEigen` returns them.
 */
export function spectrumStats(eigenvalues: Float64Array, options: { N: number; lambda: number }): SpectrumStats {
  const { N, lambda } = options;
  if (eigenvalues.length === 0) {
    throw new RangeError('spectrumStats: the spectrum is empty; pass at least one eigenvalue');
  }
  checkExampleCount('spectrumStats', N);
  checkLambda('spectrumStats', lambda);

  let trace = 0;
  let sumOfSquares = 0;
  let muMax = -Infinity;
  let muMin = Infinity;
  for (const mu of eigenvalues) {
    if (!(mu >= 0) || !Number.isFinite(mu)) {
      throw new RangeError(`spectrumStats: invalid eigenvalue ${mu}; expected finite values ≥ 0`);
    }
    trace += mu;
    sumOfSquares += mu * mu;
    muMax = Math.max(muMax, mu);
    muMin = Math.min(muMin, mu);
  }

  const shift = N * lambda;
  const stepDenominator = muMax / N + lambda;
  return {
    trace,
    muMax,
    muMin,
    kappa: muMin === 0 ? null : muMax / muMin,
    kappaLambda: muMin + shift === 0 ? null : (muMax + shift) / (muMin + shift),
    effectiveRank: sumOfSquares === 0 ? 0 : (trace * trace) / sumOfSquares,
    etaMax: stepDenominator === 0 ? null : 2 / stepDenominator,
  };
}

/**
 * Computes the Weyl bounds for the blocks listed in `subset`, given each
 * block's eigenvalues (any order). The bounds hold when every block is PSD.
 * An empty subset gives K_S = 0 and bounds of 0.
 */
export function weylBounds(blockEigenvalues: readonly Float64Array[], subset: readonly number[]): WeylBounds {
  const seen = new Set<number>();
  let upper = 0;
  let lower = 0;
  for (const block of subset) {
    const eigenvalues = blockEigenvalues[block];
    if (!Number.isInteger(block) || eigenvalues === undefined) {
      throw new RangeError(
        `weylBounds: invalid block index ${block}; expected an integer in [0, ${blockEigenvalues.length})`,
      );
    }
    if (seen.has(block)) {
      throw new RangeError(`weylBounds: block ${block} is listed twice; list each block of the subset once`);
    }
    if (eigenvalues.length === 0) {
      throw new RangeError(`weylBounds: block ${block} has an empty spectrum; expected at least one eigenvalue`);
    }
    seen.add(block);

    let blockMax = -Infinity;
    let blockMin = Infinity;
    for (const mu of eigenvalues) {
      blockMax = Math.max(blockMax, mu);
      blockMin = Math.min(blockMin, mu);
    }
    upper += blockMax;
    lower += blockMin;
  }
  return { upper, lower };
}

/** Returns the element-wise sum of equally sized matrices, such as the kernel K_S of a block subset. */
export function addMatrices(matrices: readonly Float64Array[]): Float64Array {
  const first = matrices[0];
  if (first === undefined) {
    throw new RangeError('addMatrices: no matrices given; pass at least one, because the size is unknown otherwise');
  }

  const sum = new Float64Array(first.length);
  matrices.forEach((matrix, index) => {
    if (matrix.length !== first.length) {
      throw new RangeError(
        `addMatrices: matrix ${index} has ${matrix.length} entries but matrix 0 has ${first.length}`,
      );
    }
    for (let e = 0; e < sum.length; e++) {
      sum[e] = (sum[e] as number) + (matrix[e] as number);
    }
  });
  return sum;
}

/** Returns the Frobenius norm √(Σ aᵢⱼ²). */
export function frobeniusNorm(a: Float64Array): number {
  let sumOfSquares = 0;
  for (const value of a) {
    sumOfSquares += value * value;
  }
  return Math.sqrt(sumOfSquares);
}

/**
 * Returns ‖a − b‖_F / ‖b‖_F, the kernel drift when a = K_t and b = K₀.
 * Returns null when ‖b‖_F = 0, where the ratio is undefined.
 */
export function relativeFrobeniusDistance(a: Float64Array, b: Float64Array): number | null {
  if (a.length !== b.length) {
    throw new RangeError(`relativeFrobeniusDistance: a has ${a.length} entries but b has ${b.length}`);
  }

  const reference = frobeniusNorm(b);
  if (reference === 0) {
    return null;
  }
  let sumOfSquares = 0;
  for (let e = 0; e < a.length; e++) {
    const difference = (a[e] as number) - (b[e] as number);
    sumOfSquares += difference * difference;
  }
  return Math.sqrt(sumOfSquares) / reference;
}

/**
 * Computes the traced kernel K_tr[i,j] = (1/C) Σ_a K[(i,a),(j,a)], the mean
 * over logits of the diagonal logit blocks, from a full (n·c)×(n·c) kernel.
 * Returns an n×n matrix.
 */
export function tracedKernel(full: Float64Array, n: number, c: number): Float64Array {
  return tracedCrossKernel(full, n, n, c);
}

/**
 * Computes the traced kernel of a rectangular (rows·c)×(cols·c) kernel, such
 * as the kernel between evaluation and training examples. Returns a rows×cols
 * matrix.
 */
export function tracedCrossKernel(full: Float64Array, rows: number, cols: number, c: number): Float64Array {
  checkPositiveInteger('tracedCrossKernel', 'c', c);
  checkMatrixSize('tracedCrossKernel', full, rows * c, cols * c);

  const fullColumns = cols * c;
  const traced = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let a = 0; a < c; a++) {
        sum += full[(i * c + a) * fullColumns + j * c + a] as number;
      }
      traced[i * cols + j] = sum / c;
    }
  }
  return traced;
}

/** Throws unless `matrix` has rows×cols entries and both sizes are positive integers. */
export function checkMatrixSize(caller: string, matrix: Float64Array, rows: number, cols: number): void {
  checkPositiveInteger(caller, 'the row count', rows);
  checkPositiveInteger(caller, 'the column count', cols);
  if (matrix.length !== rows * cols) {
    throw new RangeError(
      `${caller}: expected a ${rows}×${cols} matrix (${rows * cols} entries), got ${matrix.length} entries`,
    );
  }
}

function checkPositiveInteger(caller: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${caller}: invalid ${name} ${value}; expected a positive integer`);
  }
}

/** Throws unless N, the example count, is a positive integer. */
export function checkExampleCount(caller: string, N: number): void {
  checkPositiveInteger(caller, 'example count N', N);
}

/** Throws unless λ is finite and ≥ 0. */
export function checkLambda(caller: string, lambda: number): void {
  if (!Number.isFinite(lambda) || lambda < 0) {
    throw new RangeError(`${caller}: invalid lambda ${lambda}; expected a finite value ≥ 0`);
  }
}
