/**
 * Closed-form predictions of full-batch gradient descent on the linearized
 * model, plus the distance bound and the correlation statistics that the lab
 * overlays on measured runs.
 *
 * The objective is R(θ) = (1/N) Σᵢ ½‖f(xᵢ) − yᵢ‖² + (λ/2)‖θ − θ₀‖², a mean
 * over N examples. With δ = θ − θ₀ = Jᵀα, GD with step size η gives
 *
 *   α_{t+1} = (I − η(K/N + λI)) α_t + (η/N)(y − f₀),   α₀ = 0,
 *
 * with predictions f_t(X) = f₀(X) + K α_t on the training set and
 * f_t(x′) = f₀(x′) + K(x′, X) α_t elsewhere.
 */
import { sampleCorrelation, sampleRankCorrelation } from 'simple-statistics';

import { checkExampleCount, checkLambda, checkMatrixSize, symmetricEigen, type SymmetricEigen } from './spectrum.ts';

/**
 * A training problem for `createGdTheory`. Vectors over examples and logits
 * are flattened with index i·C + a, like the rows of the full kernel.
 */
export interface GdTheoryInput {
  /** The full (N·C)×(N·C) kernel K on the training examples. */
  kernel: Float64Array;
  /** N, the number of training examples. */
  n: number;
  /** C, the number of logits per example. */
  c: number;
  /** f₀(X), the N·C outputs at θ₀. */
  f0: Float64Array;
  /** The N·C targets, one-hot for classification. */
  y: Float64Array;
  /** The regularization strength λ ≥ 0. */
  lambda: number;
  /** The GD step size η ≥ 0. */
  eta: number;
  /** Relative size below which eigenvalues of K count as 0; see `symmetricEigen`. */
  zeroTolerance?: number;
  /** Other points x′, such as evaluation examples. */
  cross?: {
    /** The (M·C)×(N·C) kernel K(x′, X). */
    kernel: Float64Array;
    /** M, the number of other examples. */
    m: number;
    /** f₀(x′), the M·C outputs at θ₀. */
    f0: Float64Array;
    /** The M·C targets, needed only for the cross loss and accuracy. */
    y?: Float64Array;
  };
}

/** Outputs predicted at one step. */
export interface GdPrediction {
  /** f_t(X), N·C values. */
  train: Float64Array;
  /** f_t(x′), M·C values, present when the input has `cross`. */
  cross?: Float64Array;
}

/** A metric on the training set and, when `cross.y` is given, on the other points. */
export interface GdMetric {
  train: number;
  cross?: number;
}

/** The closed-form GD solution for one training problem. */
export interface GdTheory {
  /** The eigendecomposition of K, computed once. */
  eigen: SymmetricEigen;
  /** The maximum stable step size 2/(μ₁/N + λ), or null when μ₁/N + λ = 0. */
  etaMax: number | null;
  /**
   * Returns the dual coefficients α_t (N·C values) after t steps, with t a
   * non-negative integer or Infinity. For λ = 0, alpha(Infinity) leaves out
   * the null modes of K, along which α_t grows without bound.
   */
  alpha(t: number): Float64Array;
  /** Returns the predictions after t steps, with t a non-negative integer or Infinity. */
  predict(t: number): GdPrediction;
  /** Returns the mean over examples of ½‖f_t(x) − y‖² after t steps. */
  loss(t: number): GdMetric;
  /** Returns the fraction of examples whose argmax output equals the target's argmax (first index on ties). */
  accuracy(t: number): GdMetric;
  /** Returns ‖θ_t − θ₀‖ = √(α_tᵀ K α_t), the parameter distance after t steps. */
  distance(t: number): number;
}

/**
 * Eigendecomposes K once and returns the closed-form GD solution in its eigenbasis.
 *
 * With m_k = μ_k/N + λ and z = Vᵀ(y − f₀), α_t = V diag(g_t) z, where
 * g_t,k = (1 − (1 − η m_k)^t) / (N m_k), or η t / N when m_k = 0. At t = ∞
 * the gain is 1/(μ_k + Nλ), or 0 for modes with μ_k + Nλ = 0, which gives
 * α* = (K + NλI)⁺(y − f₀). Modes with μ_k = 0 do not move K α, nor
 * K(x′, X) α when both kernels come from the same Jacobians
 * (K(x′, X) = J(x′)·Jᵀ). So the predictions stay finite where α grows along
 * those modes (λ = 0).
 *
 * Above η_max, predictions at finite t grow geometrically, as GD does, and
 * overflow to ±Infinity or NaN at large t. t = ∞ still returns the fixed point,
 * which GD reaches only when η < etaMax.
 */
export function createGdTheory(input: GdTheoryInput): GdTheory {
  checkInput(input);
  const { kernel, n, c, f0, y, lambda, eta, cross, zeroTolerance } = input;
  const size = n * c;

  const eigen = symmetricEigen(kernel, size, zeroTolerance === undefined ? {} : { zeroTolerance });
  const { eigenvalues, eigenvectors } = eigen;

  // z = Vᵀ(y − f₀), the residual at θ₀ in the eigenbasis.
  const residualModes = new Float64Array(size);
  for (let row = 0; row < size; row++) {
    const residual = (y[row] as number) - (f0[row] as number);
    for (let k = 0; k < size; k++) {
      residualModes[k] = (residualModes[k] as number) + (eigenvectors[row * size + k] as number) * residual;
    }
  }

  const mu1 = eigenvalues[0] as number;
  const stepDenominator = mu1 / n + lambda;
  const etaMax = stepDenominator === 0 ? null : 2 / stepDenominator;

  /** Returns g_t ⊙ z, the coordinates of α_t in the eigenbasis. */
  function alphaModes(t: number): Float64Array {
    checkStep(t);
    const modes = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      modes[k] = modeGain(eigenvalues[k] as number, n, lambda, eta, t) * (residualModes[k] as number);
    }
    return modes;
  }

  function alpha(t: number): Float64Array {
    return multiplyByEigenvectors(eigenvectors, alphaModes(t), size);
  }

  function predict(t: number): GdPrediction {
    const modes = alphaModes(t);

    // K α_t = V diag(μ) g_t ⊙ z, so the training predictions need no K product.
    const scaled = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      scaled[k] = (eigenvalues[k] as number) * (modes[k] as number);
    }
    const train = multiplyByEigenvectors(eigenvectors, scaled, size);
    for (let row = 0; row < size; row++) {
      train[row] = (train[row] as number) + (f0[row] as number);
    }
    if (cross === undefined) {
      return { train };
    }

    const alphaT = multiplyByEigenvectors(eigenvectors, modes, size);
    const crossRows = cross.m * c;
    const crossPrediction = new Float64Array(crossRows);
    for (let row = 0; row < crossRows; row++) {
      let sum = cross.f0[row] as number;
      for (let column = 0; column < size; column++) {
        sum += (cross.kernel[row * size + column] as number) * (alphaT[column] as number);
      }
      crossPrediction[row] = sum;
    }
    return { train, cross: crossPrediction };
  }

  function loss(t: number): GdMetric {
    const prediction = predict(t);
    const result: GdMetric = { train: meanHalfSquaredError(prediction.train, y, n) };
    if (prediction.cross !== undefined && cross?.y !== undefined) {
      result.cross = meanHalfSquaredError(prediction.cross, cross.y, cross.m);
    }
    return result;
  }

  function accuracy(t: number): GdMetric {
    const prediction = predict(t);
    const result: GdMetric = { train: argmaxAgreement(prediction.train, y, n, c) };
    if (prediction.cross !== undefined && cross?.y !== undefined) {
      result.cross = argmaxAgreement(prediction.cross, cross.y, cross.m, c);
    }
    return result;
  }

  function distance(t: number): number {
    const modes = alphaModes(t);
    let squared = 0;
    for (let k = 0; k < size; k++) {
      squared += (eigenvalues[k] as number) * (modes[k] as number) ** 2;
    }
    return Math.sqrt(squared);
  }

  return { eigen, etaMax, alpha, predict, loss, accuracy, distance };
}

/**
 * Returns the GD gain g_t of one eigenmode after t steps: the factor that maps
 * the mode's residual at θ₀ to its coordinate in α_t.
 */
function modeGain(mu: number, n: number, lambda: number, eta: number, t: number): number {
  const shifted = mu + n * lambda;
  if (t === Infinity) {
    return shifted === 0 ? 0 : 1 / shifted;
  }

  const rate = mu / n + lambda;
  if (rate === 0) {
    return (eta * t) / n;
  }

  // 1 − (1 − ηm)^t. For 0 < ηm < 1 the form −expm1(t·log1p(−ηm)) keeps full
  // precision when ηm·t is small, where 1 − pow(1 − ηm, t) would cancel.
  const step = eta * rate;
  const decayed = step < 1 ? -Math.expm1(t * Math.log1p(-step)) : 1 - Math.pow(1 - step, t);
  return decayed / shifted;
}

/** Returns V·v for an n×n row-major V. */
function multiplyByEigenvectors(eigenvectors: Float64Array, v: Float64Array, size: number): Float64Array {
  const result = new Float64Array(size);
  for (let row = 0; row < size; row++) {
    let sum = 0;
    for (let k = 0; k < size; k++) {
      sum += (eigenvectors[row * size + k] as number) * (v[k] as number);
    }
    result[row] = sum;
  }
  return result;
}

function meanHalfSquaredError(prediction: Float64Array, target: Float64Array, examples: number): number {
  let sum = 0;
  for (let e = 0; e < prediction.length; e++) {
    const difference = (prediction[e] as number) - (target[e] as number);
    sum += difference * difference;
  }
  return sum / (2 * examples);
}

/** Returns the fraction of examples whose argmax output equals the argmax target (first index on ties). */
function argmaxAgreement(prediction: Float64Array, target: Float64Array, examples: number, c: number): number {
  let correct = 0;
  for (let i = 0; i < examples; i++) {
    if (argmax(prediction, i * c, c) === argmax(target, i * c, c)) {
      correct++;
    }
  }
  return correct / examples;
}

function argmax(values: Float64Array, offset: number, count: number): number {
  let best = 0;
  for (let a = 1; a < count; a++) {
    if ((values[offset + a] as number) > (values[offset + best] as number)) {
      best = a;
    }
  }
  return best;
}

function checkStep(t: number): void {
  if (t !== Infinity && !(Number.isInteger(t) && t >= 0)) {
    throw new RangeError(`GdTheory: invalid step t = ${t}; expected a non-negative integer or Infinity`);
  }
}

function checkVectorLength(name: string, vector: Float64Array, expected: number): void {
  if (vector.length !== expected) {
    throw new RangeError(`createGdTheory: ${name} has ${vector.length} entries; expected ${expected}`);
  }
}

function checkInput(input: GdTheoryInput): void {
  const { kernel, n, c, f0, y, lambda, eta, cross } = input;
  checkExampleCount('createGdTheory', n);
  if (!Number.isInteger(c) || c < 1) {
    throw new RangeError(`createGdTheory: invalid logit count c ${c}; expected a positive integer`);
  }
  checkLambda('createGdTheory', lambda);
  if (!Number.isFinite(eta) || eta < 0) {
    throw new RangeError(`createGdTheory: invalid step size eta ${eta}; expected a finite value ≥ 0`);
  }

  const size = n * c;
  checkMatrixSize('createGdTheory: kernel', kernel, size, size);
  checkVectorLength('f0', f0, size);
  checkVectorLength('y', y, size);
  if (cross === undefined) {
    return;
  }

  checkExampleCount('createGdTheory: cross', cross.m);
  checkMatrixSize('createGdTheory: cross kernel', cross.kernel, cross.m * c, size);
  checkVectorLength('cross.f0', cross.f0, cross.m * c);
  if (cross.y !== undefined) {
    checkVectorLength('cross.y', cross.y, cross.m * c);
  }
}

/**
 * Returns the bound √(2 R_data(θ₀)/λ) on ‖θ_t − θ₀‖. The bound is valid while
 * the regularized objective descends monotonically, as with selective
 * regularization and full-batch GD. Returns null for λ = 0, where there is no
 * bound.
 */
export function distanceBound(dataLossAtTheta0: number, lambda: number): number | null {
  if (!Number.isFinite(dataLossAtTheta0) || dataLossAtTheta0 < 0) {
    throw new RangeError(`distanceBound: invalid data loss ${dataLossAtTheta0}; expected a finite value ≥ 0`);
  }
  checkLambda('distanceBound', lambda);
  if (lambda === 0) {
    return null;
  }
  return Math.sqrt((2 * dataLossAtTheta0) / lambda);
}

/** Pearson and Spearman correlations, each null where it is undefined. */
export interface Correlations {
  pearson: number | null;
  spearman: number | null;
}

/**
 * Computes the Pearson and Spearman (midrank) correlations of paired samples
 * with simple-statistics. Both are null for fewer than 3 pairs or when x or y
 * is constant.
 */
export function correlations(x: number[], y: number[]): Correlations {
  if (x.length !== y.length) {
    throw new RangeError(`correlations: x has ${x.length} values but y has ${y.length}; expected pairs`);
  }
  for (const value of [...x, ...y]) {
    if (!Number.isFinite(value)) {
      throw new RangeError(`correlations: invalid value ${value}; expected finite numbers`);
    }
  }
  if (x.length < 3 || isConstant(x) || isConstant(y)) {
    return { pearson: null, spearman: null };
  }
  return {
    pearson: finiteOrNull(sampleCorrelation(x, y)),
    spearman: finiteOrNull(sampleRankCorrelation(x, y)),
  };
}

function isConstant(values: number[]): boolean {
  return values.every((value) => value === values[0]);
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
