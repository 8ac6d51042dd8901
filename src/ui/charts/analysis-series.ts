/**
 * Pure data preparation for the analysis charts: kernel change over
 * training, the Weyl stack of a layer choice, sweep points, correlation
 * labels and log-axis domains. No DOM here, so Vitest covers it.
 */
import type { Correlation, NtkEvent, PreviewEvent, SweepEvent } from '../../core/events.ts';
import type { ModuleName } from '../../core/model/modules.ts';
import { isAdapterEnabled, readAdapterGrid } from '../panels/adapter-toggles.ts';

/** Changes of the kernel at one NTK measurement, each relative to the first measurement (θ₀). */
export interface KernelChangePoint {
  step: number;
  /** ‖K_t − K₀‖_F / ‖K₀‖_F, or null while K₀ is zero. */
  drift: number | null;
  /** (μ_max(K_t) − μ_max(K₀)) / μ_max(K₀), signed, or null when μ_max(K₀) = 0. */
  muMax: number | null;
  /** (tr K_t − tr K₀) / tr K₀, signed, or null when tr K₀ = 0. */
  trace: number | null;
}

/** Returns the relative change of a value from its start, or null when the start is 0 or not finite. */
export function relativeChange(value: number, start: number): number | null {
  if (start === 0 || !Number.isFinite(start) || !Number.isFinite(value)) return null;
  return (value - start) / start;
}

/** Computes the drift and the relative changes of μ_max and the trace of the full kernel, against the first event. */
export function kernelChangeSeries(ntk: readonly NtkEvent[]): KernelChangePoint[] {
  const first = ntk[0];
  if (first === undefined) return [];

  return ntk.map((event) => ({
    step: event.step,
    drift: event.drift,
    muMax: relativeChange(event.stats.muMax, first.stats.muMax),
    trace: relativeChange(event.stats.trace, first.stats.trace),
  }));
}

/** One block of a layer choice in the Weyl stack: its μ₁(K_b), stacked from start to end. */
export interface WeylSegment {
  layer: number;
  module: ModuleName;
  muMax: number;
  /** μ_n(K_b), the block's smallest eigenvalue. */
  muMin: number;
  /** Sum of the μ₁ of the blocks stacked below this one. */
  start: number;
  /** start + muMax. The last segment's end is the Weyl upper bound. */
  end: number;
}

/** Returns the number of layers the preview's blocks cover. */
export function previewLayerCount(preview: PreviewEvent): number {
  return preview.blocks.reduce((count, block) => Math.max(count, block.layer + 1), 0);
}

/**
 * Stacks the μ₁(K_b) of the blocks in the preview's subset S, largest first.
 * The last end is Σ_{b∈S} μ₁(K_b), the Weyl upper bound on μ₁(K_S).
 */
export function weylStack(preview: PreviewEvent): WeylSegment[] {
  const grid = readAdapterGrid(preview.adapters, previewLayerCount(preview));
  const chosen = preview.blocks
    .filter((block) => isAdapterEnabled(grid, block.layer, block.module))
    .sort((a, b) => b.muMax - a.muMax);

  const segments: WeylSegment[] = [];
  let start = 0;
  for (const block of chosen) {
    const end = start + block.muMax;
    segments.push({
      layer: block.layer,
      module: block.module,
      muMax: block.muMax,
      muMin: block.eigenvalues[block.eigenvalues.length - 1] ?? 0,
      start,
      end,
    });
    start = end;
  }
  return segments;
}

/** One sweep subset as a scatter point; only subsets with a defined κ_λ become points. */
export interface SweepPoint {
  index: number;
  adapters: string;
  kappaLambda: number;
  muMax: number;
  muMin: number;
  trainable: number;
  evalAccuracy: number;
  evalLoss: number;
  trainAccuracy: number;
  trainLoss: number;
}

/** Turns sweep events into points and counts the subsets skipped because κ_λ is undefined or not positive. */
export function sweepPoints(sweep: readonly SweepEvent[]): { points: SweepPoint[]; skipped: number } {
  const points: SweepPoint[] = [];
  for (const event of sweep) {
    const kappaLambda = event.stats.kappaLambda;
    if (kappaLambda === null || !(kappaLambda > 0) || !Number.isFinite(kappaLambda)) continue;

    points.push({
      index: event.index,
      adapters: event.adapters,
      kappaLambda,
      muMax: event.stats.muMax,
      muMin: event.stats.muMin,
      trainable: event.trainable,
      evalAccuracy: event.final.eval.accuracy,
      evalLoss: event.final.eval.loss,
      trainAccuracy: event.final.train.accuracy,
      trainLoss: event.final.train.loss,
    });
  }
  return { points, skipped: sweep.length - points.length };
}

/** Formats a correlation coefficient with two decimals and a true minus sign, or "–" when it is null. */
export function formatCoefficient(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(2).replace('-', '−');
}

/** Formats both coefficients for a panel title, such as "Pearson r = −0.82, Spearman ρ = −0.79". */
export function formatCorrelation(correlation: Correlation | null | undefined): string {
  return `Pearson r = ${formatCoefficient(correlation?.pearson)}, Spearman ρ = ${formatCoefficient(correlation?.spearman)}`;
}

/**
 * Returns a log-axis domain of whole decades that covers the positive,
 * finite values, or `fallback` when there are none. A single decade is
 * widened by one decade on each side so the axis has ticks.
 */
export function logDomain(values: Iterable<number>, fallback: [number, number] = [1e-3, 1]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (!(value > 0) || !Number.isFinite(value)) continue;
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  if (min === Infinity) return fallback;

  let low = Math.floor(Math.log10(min));
  let high = Math.ceil(Math.log10(max));
  if (high - low < 1) {
    low -= 1;
    high += 1;
  }
  return [10 ** low, 10 ** high];
}
