/**
 * Pure data shaping for the run charts: series extraction from the event
 * arrays, min-max downsampling, the log-scale floor for spectra, the GD
 * stability edge and the cells of the spectrum heatmap. Nothing here touches
 * the DOM, so every function is unit-tested in Node.
 */
import type {
  DivergenceEvent,
  EvalEvent,
  ModelKind,
  NtkEvent,
  Split,
  StepEvent,
  TheoryEvent,
} from '../../core/events.ts';
import type { ExperimentSpec } from '../../core/spec.ts';

/** One point of a line series; x is usually the optimizer step. */
export interface Point {
  x: number;
  y: number;
}

export type Metric = 'loss' | 'accuracy';

/** The kernel a spectrum chart shows: the full N·C × N·C kernel or the N × N traced one. */
export type KernelKind = 'full' | 'traced';

/**
 * Reduces a series sorted by x to at most maxPoints points by keeping the
 * minimum and the maximum of each of maxPoints/2 equal-count buckets, in x
 * order, so spikes survive. Points with a non-finite x or y are dropped first.
 */
export function downsampleMinMax(points: readonly Point[], maxPoints: number): Point[] {
  const finite = points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  const limit = Math.max(2, Math.floor(maxPoints));
  if (finite.length <= limit) return finite;

  const buckets = Math.floor(limit / 2);
  const result: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * finite.length) / buckets);
    const end = Math.floor(((b + 1) * finite.length) / buckets);
    let minIndex = start;
    let maxIndex = start;
    for (let i = start + 1; i < end; i++) {
      if ((finite[i] as Point).y < (finite[minIndex] as Point).y) minIndex = i;
      if ((finite[i] as Point).y > (finite[maxIndex] as Point).y) maxIndex = i;
    }
    const first = Math.min(minIndex, maxIndex);
    const second = Math.max(minIndex, maxIndex);
    result.push(finite[first] as Point);
    if (second !== first) result.push(finite[second] as Point);
  }
  return result;
}

/** Returns one model's per-step batch loss or distance, in step order. */
export function stepSeries(steps: readonly StepEvent[], model: ModelKind, field: 'loss' | 'distance'): Point[] {
  // A plain loop: this runs over up to 2 × 20,000 events on every redraw.
  const points: Point[] = [];
  for (const event of steps) {
    if (event.model === model) points.push({ x: event.step, y: event[field] });
  }
  return points;
}

/** Returns one model's loss or accuracy on one split at each evaluation, in step order. */
export function evalSeries(evals: readonly EvalEvent[], model: ModelKind, split: Split, metric: Metric): Point[] {
  return evals
    .filter((event) => event.model === model && event.split === split)
    .map((event) => ({ x: event.step, y: event[metric] }));
}

/** Returns the closed-form prediction of loss or accuracy on one split at the theory's steps. */
export function theorySeries(theory: TheoryEvent, split: Split, metric: Metric): Point[] {
  const metrics = theory[split];
  return theory.steps.map((step, i) => ({ x: step, y: metrics[i]?.[metric] ?? Number.NaN }));
}

const LOSS_NAMES: Record<ExperimentSpec['loss'], string> = { ce: 'cross-entropy', mse: 'squared loss' };
const OPTIMIZER_NAMES: Record<ExperimentSpec['optimizer'], string> = {
  gd: 'full-batch GD',
  sgd: 'mini-batch SGD',
  adam: 'Adam',
};

/**
 * Returns a note on why a run has no closed-form theory overlay, or null when
 * the overlay applies. The runner computes it only for squared loss, full-batch
 * GD, a trained linearized model and the anchor at θ's initial value.
 */
export function theoryNote(spec: ExperimentSpec): string | null {
  const missing: string[] = [];
  if (spec.loss !== 'mse') missing.push(`squared loss (this run uses ${LOSS_NAMES[spec.loss]})`);
  if (spec.optimizer !== 'gd') missing.push(`full-batch GD (this run uses ${OPTIMIZER_NAMES[spec.optimizer]})`);
  if (!spec.linearized) missing.push('the linearized model (this run does not train it)');
  if (spec.anchor !== 'init') missing.push(`anchor=init (this run anchors at ${spec.anchor})`);
  if (missing.length === 0) return null;
  return `No closed-form theory overlay: it needs ${joinWords(missing)}.`;
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Returns the index of the value in an ascending array nearest to x, or -1 for an empty array. */
export function nearestIndex(sorted: readonly number[], x: number): number {
  if (sorted.length === 0) return -1;
  let low = 0;
  let high = sorted.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as number) < x) low = middle + 1;
    else high = middle;
  }
  if (low > 0 && x - (sorted[low - 1] as number) <= (sorted[low] as number) - x) return low - 1;
  return low;
}

/** The floor that replaces zero eigenvalues on a log axis, and how many values it replaces. */
export interface LogFloor {
  /** A power of ten one decade below the smallest positive value; 1 when no value is positive. */
  floor: number;
  /** Values ≤ 0, which are drawn at the floor. */
  zeros: number;
  /** Whether any value is positive. */
  anyPositive: boolean;
}

/** Chooses a log-axis floor for a set of spectra, one decade below their smallest positive eigenvalue. */
export function logFloor(spectra: readonly (readonly number[])[]): LogFloor {
  let minPositive = Infinity;
  let zeros = 0;
  for (const spectrum of spectra) {
    for (const value of spectrum) {
      if (value > 0) minPositive = Math.min(minPositive, value);
      else zeros += 1;
    }
  }
  if (!Number.isFinite(minPositive)) return { floor: 1, zeros, anyPositive: false };
  return { floor: 10 ** (Math.floor(Math.log10(minPositive)) - 1), zeros, anyPositive: true };
}

/** One eigenvalue for plotting: its 1-based index, its exact value and the value clipped to the floor. */
export interface EigenPoint {
  index: number;
  value: number;
  plotted: number;
  clipped: boolean;
}

export function eigenPoints(eigenvalues: readonly number[], floor: number): EigenPoint[] {
  return eigenvalues.map((value, i) => ({
    index: i + 1,
    value,
    plotted: value > floor ? value : floor,
    clipped: value <= 0,
  }));
}

/**
 * Returns the eigenvalue μ = N(2/η − λ) above which GD's eigen-mode is
 * unstable, because mode i contracts by |1 − η(μᵢ/N + λ)| per step. Returns
 * null when it is ≤ 0, since then every mode is unstable (ηλ ≥ 2).
 */
export function stabilityEdge(n: number, lr: number, lambda: number): number | null {
  const edge = n * (2 / lr - lambda);
  return Number.isFinite(edge) && edge > 0 ? edge : null;
}

/** Returns the maximum stable GD learning rate η_max = 2/(μ₁/N + λ), or null when μ₁/N + λ = 0. */
export function etaMax(muMax: number, n: number, lambda: number): number | null {
  const denominator = muMax / n + lambda;
  return denominator > 0 ? 2 / denominator : null;
}

export function kernelEigenvalues(event: NtkEvent, kernel: KernelKind): number[] {
  return kernel === 'full' ? event.eigenvalues : event.traced;
}

/** Returns the x extent of each NTK step's heatmap column: halfway to its neighbours, one unit wide when alone. */
export function stepEdges(steps: readonly number[]): [number, number][] {
  return steps.map((step, i) => {
    const previous = steps[i - 1];
    const next = steps[i + 1];
    if (previous === undefined && next === undefined) return [step - 0.5, step + 0.5];

    // An end column mirrors its one neighbour's half-gap.
    const leftGap = previous !== undefined ? step - previous : (next as number) - step;
    const rightGap = next !== undefined ? next - step : step - (previous as number);
    return [step - leftGap / 2, step + rightGap / 2];
  });
}

/** One cell of the spectrum heatmap: eigenvalue `index` (1-based) of the kernel at `step`. */
export interface HeatmapCell {
  step: number;
  index: number;
  value: number;
  /** The value drawn, clipped to the log floor. */
  plotted: number;
  x0: number;
  x1: number;
}

/** Builds the heatmap cells of the top k eigenvalues of each NTK event. */
export function heatmapCells(ntk: readonly NtkEvent[], kernel: KernelKind, k: number, floor: number): HeatmapCell[] {
  const edges = stepEdges(ntk.map((event) => event.step));
  const cells: HeatmapCell[] = [];
  ntk.forEach((event, column) => {
    const [x0, x1] = edges[column] as [number, number];
    kernelEigenvalues(event, kernel)
      .slice(0, k)
      .forEach((value, i) => {
        cells.push({ step: event.step, index: i + 1, value, plotted: value > floor ? value : floor, x0, x1 });
      });
  });
  return cells;
}

/** Returns a divergence series on the probe or eval set: relative RMS (NaN while it is null), RMS or agreement. */
export function divergenceSeries(
  divergence: readonly DivergenceEvent[],
  set: 'probe' | 'eval',
  field: 'relativeRms' | 'agreement' | 'rms',
): Point[] {
  return divergence.map((event) => ({ x: event.step, y: event[set][field] ?? Number.NaN }));
}

/** Returns a parameter-distance series from the divergence events. */
export function distanceSeries(
  divergence: readonly DivergenceEvent[],
  field: 'distance' | 'distanceLinear' | 'thetaGap',
): Point[] {
  return divergence.map((event) => ({ x: event.step, y: event[field] }));
}

/** Returns the extent of the finite y values of several series, or null when there are none. */
export function yExtent(series: readonly (readonly Point[])[]): [number, number] | null {
  let low = Infinity;
  let high = -Infinity;
  for (const points of series) {
    for (const point of points) {
      if (!Number.isFinite(point.y)) continue;
      low = Math.min(low, point.y);
      high = Math.max(high, point.y);
    }
  }
  return Number.isFinite(low) ? [low, high] : null;
}

/** Picks at most maxItems items spread evenly over the array, always keeping the first and the last. */
export function pickEvenly<T>(items: readonly T[], maxItems: number): T[] {
  const limit = Math.max(2, Math.floor(maxItems));
  if (items.length <= limit) return [...items];
  const picked: T[] = [];
  for (let k = 0; k < limit; k++) picked.push(items[Math.round((k * (items.length - 1)) / (limit - 1))] as T);
  return picked;
}
