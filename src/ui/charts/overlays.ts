/**
 * Other runs drawn over a run chart for comparison, such as saved runs or the
 * runs of a λ sweep. Each is a thin line in its own color with one legend
 * entry; the chart's own run keeps its full styling.
 */
import type { RunData } from '../run-data.ts';
import type { LegendItem } from './marks.ts';
import type { Point } from './series.ts';

export interface RunOverlay {
  name: string;
  color: string;
  run: RunData;
}

/**
 * Overlay colors, chosen apart from the chart palette (blue real, orange
 * linearized, green theory, gray reference, red bound, purple highlight).
 */
export const OVERLAY_COLORS = ['#0891b2', '#ca8a04', '#db2777', '#4d7c0f', '#1e3a8a', '#9f1239', '#0f766e', '#a16207', '#6d28d9', '#be123c'] as const;

export function overlayColor(index: number): string {
  return OVERLAY_COLORS[index % OVERLAY_COLORS.length] as string;
}

/** Returns the largest step any overlay reaches, or 0 without overlays. */
export function overlayLastStep(overlays: readonly RunOverlay[]): number {
  let last = 0;
  for (const { run } of overlays) {
    last = Math.max(last, run.steps.at(-1)?.step ?? 0, run.evals.at(-1)?.step ?? 0, run.divergence.at(-1)?.step ?? 0);
  }
  return last;
}

/** One legend entry per overlay run, with a thin swatch in its color. */
export function overlayLegend(overlays: readonly RunOverlay[]): LegendItem[] {
  return overlays.map((overlay) => ({ label: overlay.name, color: overlay.color, thin: true }));
}

/** Returns the value of a series at exactly `step`, or undefined. */
export function valueAt(points: readonly Point[], step: number): number | undefined {
  return points.find((point) => point.x === step)?.y;
}
