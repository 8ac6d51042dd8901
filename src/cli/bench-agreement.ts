/**
 * The agreement check between the lab (tfjs, float32) and the PyTorch peer
 * (float64 and float32). tfjs has no float64, so each quantity is compared
 * with torch in float64 and in float32, and torch float32 with torch float64
 * shows how much of the difference float32 alone explains.
 */
import type { AgreementOutputs } from '../../bench/subject.ts';

/** The bound on every relative error against torch float64. */
export const AGREEMENT_TOLERANCE = 1e-4;

export interface AgreementRow {
  /** Output key, as in the peer's file without the dtype suffix. */
  key: string;
  quantity: string;
  /** The reference scale of the relative error, such as max |f|. */
  scale: string;
  /** Entries compared. */
  size: number;
  versusTorch64: number;
  versusTorch32: number;
  /** torch float32 against torch float64: the error float32 arithmetic alone makes. */
  torch32VersusTorch64: number;
  /** Whether the row counts toward the check; see `note` when it does not. */
  counted: boolean;
  note?: string;
  pass: boolean;
}

export interface EigenvalueDetail {
  /** Eigenvalues whose own relative error |Δμ_i|/μ_i is within the tolerance, lab against torch float64. */
  withinTolerance: number;
  /** The same count for torch float32 against torch float64. */
  torch32WithinTolerance: number;
  count: number;
  /** μ₁/μ_n of torch float64's spectrum. */
  conditionNumber: number;
}

export interface AgreementResult {
  backend: string;
  tolerance: number;
  rows: AgreementRow[];
  eigenvalues: EigenvalueDetail;
  pass: boolean;
}

/**
 * Adam's first step is −lr·g/(|g| + ε) per entry, nearly a sign function: a
 * gradient entry near ε = 1e-8 moves its update by up to lr for a change of
 * order ε. float32 gradients carry errors of about 1e-6·max|g| ≈ 1e-7 here,
 * so the update is compared with the float64 formula applied to the lab's own
 * gradient (which tests the optimizer), and with torch only for information.
 */
const UPDATE_NOTE =
  "not counted: Adam's first step is −lr·g/(|g|+ε), which turns float32 round-off in gradient entries near ε into update differences; torch float32 against torch float64 shows the same effect";

const QUANTITIES: { key: string; quantity: string; scale: string; note?: string }[] = [
  { key: 'f_theta0', quantity: 'f(θ₀) on the batch [32×C]', scale: 'max |f|' },
  { key: 'loss_theta0', quantity: 'R_data(θ₀)', scale: '|R|' },
  { key: 'grad_theta0', quantity: '∇R_data(θ₀) [P]', scale: 'max |∇R|' },
  { key: 'update_own_gradient', quantity: 'first step θ₁ − θ₀ against the float64 step from the lab\'s ∇R_data(θ₀)', scale: 'max |θ₁ − θ₀|' },
  { key: 'update', quantity: 'first step θ₁ − θ₀', scale: 'max |θ₁ − θ₀|', note: UPDATE_NOTE },
  { key: 'f_theta1', quantity: 'f(θ₁) on the batch', scale: 'max |f|' },
  { key: 'loss_theta1', quantity: 'R_data(θ₁)', scale: '|R|' },
  { key: 'grad_theta1', quantity: '∇R_data(θ₁) [P]', scale: 'max |∇R|' },
  { key: 'f_lin_theta1', quantity: 'f_lin(θ₁) on the batch', scale: 'max |f_lin|' },
  { key: 'grad_lin_theta1', quantity: '∇R_lin(θ₁) [P]', scale: 'max |∇R_lin|' },
  { key: 'jacobian', quantity: 'J(θ₀) on the probe set [N·C×P]', scale: 'max |J|' },
  { key: 'kernel', quantity: 'NTK K(θ₀) [N·C×N·C]', scale: 'max |K|' },
  { key: 'eigenvalues', quantity: 'eigenvalues of K', scale: 'μ₁' },
  { key: 'traced_eigenvalues', quantity: 'eigenvalues of the traced kernel', scale: 'μ₁' },
  { key: 'block_mu_max', quantity: 'μ₁ of each block kernel K_b', scale: 'max μ₁(K_b)' },
];

/** Returns max|a − b| / max|reference|, the error relative to the reference's scale. */
export function relativeError(values: Float64Array, reference: Float64Array): number {
  if (values.length !== reference.length) {
    throw new Error(`relativeError: ${values.length} values against ${reference.length} reference values`);
  }
  let maxDifference = 0;
  let scale = 0;
  for (let i = 0; i < values.length; i++) {
    maxDifference = Math.max(maxDifference, Math.abs((values[i] as number) - (reference[i] as number)));
    scale = Math.max(scale, Math.abs(reference[i] as number));
  }
  if (scale === 0) return maxDifference === 0 ? 0 : Infinity;
  return maxDifference / scale;
}

function countWithinTolerance(values: Float64Array, reference: Float64Array, tolerance: number): number {
  let count = 0;
  reference.forEach((mu, i) => {
    if (Math.abs((values[i] as number) - mu) <= tolerance * Math.abs(mu)) count += 1;
  });
  return count;
}

function difference(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, i) => value - (b[i] as number));
}

function lookup(outputs: AgreementOutputs, key: string, side: string): Float64Array {
  const values = outputs[key];
  if (values === undefined) throw new Error(`agreement: ${side} has no output "${key}"`);
  return values;
}

/**
 * Returns the first update θ₁ − θ₀ of the spec's optimizer from gradient g,
 * in float64: −lr·m̂/(√v̂ + ε) with m̂ = g and v̂ = g² for Adam (β's cancel
 * in the bias correction of step 1), −lr·g for GD and SGD.
 */
export function firstStepUpdate(optimizer: string, lr: number, g: Float64Array, epsilon = 1e-8): Float64Array {
  if (optimizer === 'adam') return g.map((value) => (-lr * value) / (Math.abs(value) + epsilon));
  return g.map((value) => -lr * value);
}

/**
 * Compares the lab's outputs with the peer's. `peer` has each key with the
 * suffix _64 and _32; `theta0` is θ₀ flat, to compare the first update
 * rather than θ₁ itself, whose θ₀ part would hide update errors.
 */
export function compareWithPeer(
  backend: string,
  ours: AgreementOutputs,
  peer: AgreementOutputs,
  options: { theta0: Float64Array; optimizer: string; lr: number; tolerance?: number },
): AgreementResult {
  const { theta0, optimizer, lr } = options;
  const tolerance = options.tolerance ?? AGREEMENT_TOLERANCE;
  const get = (key: string): { ours: Float64Array; torch64: Float64Array; torch32: Float64Array } => {
    if (key === 'update_own_gradient') {
      // Both reference columns are the float64 step from the lab's gradient; torch is not involved.
      const reference = firstStepUpdate(optimizer, lr, lookup(ours, 'grad_theta0', 'the lab'));
      return { ours: get('update').ours, torch64: reference, torch32: reference };
    }
    if (key === 'update') {
      const step = get('theta_after_step');
      return {
        ours: difference(step.ours, theta0),
        torch64: difference(step.torch64, theta0),
        torch32: difference(step.torch32, theta0),
      };
    }
    return { ours: lookup(ours, key, 'the lab'), torch64: lookup(peer, `${key}_64`, 'the peer'), torch32: lookup(peer, `${key}_32`, 'the peer') };
  };

  const rows = QUANTITIES.map(({ key, quantity, scale, note }): AgreementRow => {
    const values = get(key);
    const versusTorch64 = relativeError(values.ours, values.torch64);
    const counted = note === undefined;
    return {
      key,
      quantity,
      scale,
      size: values.torch64.length,
      versusTorch64,
      versusTorch32: relativeError(values.ours, values.torch32),
      torch32VersusTorch64: relativeError(values.torch32, values.torch64),
      counted,
      ...(note === undefined ? {} : { note }),
      pass: versusTorch64 <= tolerance,
    };
  });

  const eigen = get('eigenvalues');
  const muMax = eigen.torch64[0] as number;
  const muMin = eigen.torch64[eigen.torch64.length - 1] as number;
  return {
    backend,
    tolerance,
    rows,
    eigenvalues: {
      withinTolerance: countWithinTolerance(eigen.ours, eigen.torch64, tolerance),
      torch32WithinTolerance: countWithinTolerance(eigen.torch32, eigen.torch64, tolerance),
      count: eigen.torch64.length,
      conditionNumber: muMax / muMin,
    },
    pass: rows.every((row) => row.pass || !row.counted),
  };
}
