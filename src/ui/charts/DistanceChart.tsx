/**
 * Parameter distances against the optimizer step. It draws ‖θ_t − θ₀‖ of the
 * real model (at each evaluation, and per step as a thin line), ‖θ_t^lin − θ₀‖
 * of the linearized model and the gap ‖θ_t − θ_t^lin‖. The bound
 * √(2R_data(θ₀)/λ) on ‖θ_t − θ₀‖ under monotone descent is a red dashed line.
 * Overlay runs add their real model's ‖θ_t − θ₀‖ as thin lines in their own colors.
 */
import * as d3 from 'd3';
import { useState } from 'react';

import type { DivergenceEvent, StepEvent } from '../../core/events.ts';
import { ChartCard } from './ChartCard.tsx';
import { LogScaleToggle } from './ChartControls.tsx';
import { overlayLastStep, overlayLegend, valueAt, type RunOverlay } from './overlays.ts';
import { COLORS, createFrame, drawAxes, formatValue, useChart, type SvgSelection } from './frame.ts';
import {
  attachHover,
  clippedLayer,
  drawLegend,
  drawMarks,
  drawReadout,
  drawRules,
  drawSeries,
  formatLogTick,
  formatPrecise,
  shortenMinorTicks,
  type LegendItem,
  type LinearScale,
  type ReadoutLine,
} from './marks.ts';
import { distanceSeries, downsampleMinMax, nearestIndex, stepSeries, yExtent, type Point } from './series.ts';

export interface DistanceChartProps {
  divergence: readonly DivergenceEvent[];
  steps: readonly StepEvent[];
  /** The run's regularization strength λ. */
  lambda: number;
  /** Other runs drawn as thin lines in their own colors, for comparison. */
  overlays?: readonly RunOverlay[];
}

const HEIGHT = 300;
const MAX_MARKS = 80;

/** On the linear axis, the bound stretches it only while it is at most this multiple of the largest measured distance. */
const BOUND_HEADROOM = 4;

/** The log axis spans at most this ratio from bottom to top, so distances near 0 do not squash the rest. */
const LOG_RANGE = 1e-6;

const SERIES = [
  { field: 'distance', className: 'series-real-distance', label: '‖θ_t − θ₀‖ real', color: COLORS.real },
  { field: 'distanceLinear', className: 'series-linear-distance', label: '‖θ_t^lin − θ₀‖ linearized', color: COLORS.linear },
  { field: 'thetaGap', className: 'series-theta-gap', label: '‖θ_t − θ_t^lin‖', color: COLORS.highlight },
] as const;

/** Returns a run's ‖θ_t − θ₀‖ of the real model: at each divergence event, or at each step when it has none. */
function overlayDistances(overlay: RunOverlay): Point[] {
  const { divergence, steps } = overlay.run;
  return divergence.length > 0 ? distanceSeries(divergence, 'distance') : stepSeries(steps, 'real', 'distance');
}

function render(props: DistanceChartProps, logY: boolean, svg: SvgSelection, outerWidth: number, container: HTMLDivElement): void {
  const { divergence, steps, lambda } = props;
  const overlays = props.overlays ?? [];
  const frame = createFrame(svg, outerWidth, HEIGHT);

  const perStep = stepSeries(steps, 'real', 'distance');
  const measured = SERIES.map((entry) => distanceSeries(divergence, entry.field));
  const overlaySeries = overlays.map(overlayDistances);
  const bound = divergence.at(-1)?.distanceBound ?? null;

  const lastStep = Math.max(steps.at(-1)?.step ?? 0, divergence.at(-1)?.step ?? 0, overlayLastStep(overlays));
  const x = d3.scaleLinear().domain([0, Math.max(1, lastStep)]).range([0, frame.width]);
  const allSeries = [perStep, ...measured, ...overlaySeries];
  const dataMax = yExtent(allSeries)?.[1] ?? 0;
  const y = logY ? logScale(allSeries, bound, frame.height) : linearScale(dataMax, bound, frame.height);
  const boundFits = bound !== null && bound <= (y.domain()[1] as number);
  drawAxes(
    frame,
    x,
    y,
    { x: 'optimizer step', y: `Euclidean norm over θ${logY ? ' (log)' : ''}` },
    logY ? { yTicks: 5, yFormat: formatLogTick } : {},
  );
  if (logY) shortenMinorTicks(frame);

  const layer = clippedLayer(frame);
  drawSeries(layer, downsampleMinMax(perStep, frame.width), x, y, {
    className: 'series-real-step-distance',
    color: COLORS.real,
    thin: true,
    opacity: 0.45,
  });
  SERIES.forEach((entry, i) => {
    const points = measured[i] as Point[];
    drawSeries(layer, downsampleMinMax(points, frame.width), x, y, { className: entry.className, color: entry.color });
    if (points.length <= MAX_MARKS) {
      drawMarks(frame.plot, points, x, y, { className: entry.className.replace('series-', 'marks-'), color: entry.color, radius: 2.5 });
    }
  });

  overlays.forEach((overlay, k) => {
    drawSeries(layer, downsampleMinMax(overlaySeries[k] as Point[], frame.width), x, y, {
      className: `series-overlay-${k}-distance`,
      color: overlay.color,
      thin: true,
    });
  });

  if (bound !== null) {
    drawRules(
      frame,
      [{ value: bound, className: 'rule-distance-bound', color: COLORS.bound, dash: '6 4', label: `bound √(2R_data(θ₀)/λ) = ${formatValue(bound)}` }],
      y,
    );
  }

  const legend: LegendItem[] = [
    ...SERIES.filter((_, i) => (measured[i] as Point[]).length > 0).map((entry) => ({ label: entry.label, color: entry.color })),
  ];
  if (perStep.length > 0) legend.push({ label: '‖θ_t − θ₀‖ real, every step', color: COLORS.real, thin: true, opacity: 0.6 });
  if (bound !== null) legend.push({ label: 'bound √(2R_data(θ₀)/λ)', color: COLORS.bound, dash: '6 4' });
  if (overlays.length > 0) legend.push({ label: 'overlays: ‖θ_t − θ₀‖ real', color: COLORS.reference, thin: true });
  drawLegend(container, [...legend, ...overlayLegend(overlays)]);
  const hasOwnRun = divergence.length > 0 || steps.length > 0;
  drawReadout(container, hasOwnRun ? readoutLines(bound, boundFits, dataMax, lambda) : []);

  const ownSteps = divergence.length > 0 ? divergence.map((event) => event.step) : perStep.map((point) => point.x);
  const xs = Array.from(new Set([...ownSteps, ...overlaySeries.flatMap((points) => points.map((point) => point.x))])).sort((a, b) => a - b);
  attachHover(frame, container, x, xs, (index) => {
    const step = xs[index] as number;
    const lines = hasOwnRun ? tooltipLines(props, perStep, step) : [`step ${step}`];
    overlays.forEach((overlay, k) => {
      const value = valueAt(overlaySeries[k] as Point[], step);
      if (value !== undefined) lines.push(`${overlay.name}: ‖θ_t − θ₀‖ ${formatPrecise(value)}`);
    });
    return lines;
  });
}

/** Builds a linear axis from 0, which the bound stretches only up to BOUND_HEADROOM × the largest distance. */
function linearScale(dataMax: number, bound: number | null, height: number): LinearScale {
  const boundFits = bound !== null && bound <= Math.max(dataMax, 1e-12) * BOUND_HEADROOM;
  const top = Math.max(dataMax, boundFits ? (bound as number) : 0);
  return d3
    .scaleLinear()
    .domain([0, top > 0 ? top * 1.05 : 1])
    .range([height, 0])
    .nice();
}

/** Builds a log axis over the positive distances and the bound. Zeros (θ_t = θ₀ at step 0) are left out. */
function logScale(series: readonly (readonly Point[])[], bound: number | null, height: number): LinearScale {
  const extent = yExtent(series.map((points) => points.filter((point) => point.y > 0)));
  const high = Math.max(extent?.[1] ?? 1, bound ?? 0) * 1.5;
  const low = Math.max(extent?.[0] ?? high / 100, high * LOG_RANGE) / 1.5;
  return d3.scaleLog().domain([low, high]).range([height, 0]).nice();
}

function readoutLines(bound: number | null, boundFits: boolean, dataMax: number, lambda: number): ReadoutLine[] {
  if (lambda === 0) return [{ text: 'λ = 0: there is no bound on ‖θ_t − θ₀‖.', className: 'readout-bound' }];
  if (bound === null) return [];
  if (boundFits) return [];
  return [
    {
      text: `The bound √(2R_data(θ₀)/λ) = ${formatValue(bound)} lies above the plot, ${formatValue(bound / dataMax)}× the largest distance; the log axis shows it.`,
      className: 'readout-bound',
    },
  ];
}

function tooltipLines(props: DistanceChartProps, perStep: readonly Point[], step: number): string[] {
  const lines = [`step ${step}`];
  const event = props.divergence.find((entry) => entry.step === step);
  if (event !== undefined) {
    for (const entry of SERIES) lines.push(`${entry.label}: ${formatPrecise(event[entry.field])}`);
    if (event.distanceBound !== null) lines.push(`bound: ${formatPrecise(event.distanceBound)}`);
  } else {
    const point = perStep[nearestIndex(perStep.map((entry) => entry.x), step)];
    if (point !== undefined) lines.push(`‖θ_t − θ₀‖ real: ${formatPrecise(point.y)}`);
  }
  return lines;
}

export function DistanceChart(props: DistanceChartProps) {
  const { divergence, steps, lambda, overlays } = props;
  const [logY, setLogY] = useState(true);
  const hasData = divergence.length > 0 || steps.length > 0 || (overlays ?? []).some((overlay) => overlayDistances(overlay).length > 0);
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (hasData) render(props, logY, svg, width, container);
    },
    [divergence, steps, lambda, overlays, logY],
  );

  return (
    <ChartCard
      id="distance"
      title="Distance from θ₀"
      caption={
        `Euclidean norms over the trainable parameters θ, with θ₀ the anchor` +
        (divergence.length > 0 || steps.length > 0 ? `; λ = ${lambda}.` : '.') +
        ((overlays ?? []).length > 0 ? ' Thin colored lines: ‖θ_t − θ₀‖ of each compared run’s real model.' : '') +
        (lambda > 0 && (divergence.length > 0 || steps.length > 0)
          ? ' The bound follows from (λ/2)‖θ_t − θ₀‖² ≤ R(θ₀) and holds under monotone descent of R ' +
            '(full-batch GD with selective regularization); R_data is the mean loss over the train set.'
          : '')
      }
      emptyMessage={hasData ? null : 'Start a run to see how far θ moves from θ₀.'}
    >
      <LogScaleToggle checked={logY} onChange={setLogY} />
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="Parameter distances against optimizer step" />
      </div>
    </ChartCard>
  );
}
