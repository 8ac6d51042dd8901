/**
 * How far the real model's outputs drift from the linearized model's: the
 * relative RMS of f − f_lin on the probe and eval sets (top panel, log
 * scale) and the share of points where both predict the same class (bottom).
 * Overlay runs add the same series as thin lines in their own colors.
 */
import * as d3 from 'd3';

import type { DivergenceEvent } from '../../core/events.ts';
import { ChartCard } from './ChartCard.tsx';
import { overlayLastStep, overlayLegend, type RunOverlay } from './overlays.ts';
import { COLORS, DASH, createFrame, drawAxes, formatPercent, useChart, type Frame, type SvgSelection } from './frame.ts';
import {
  attachHover,
  clippedLayer,
  drawLegend,
  drawMarks,
  drawNote,
  drawSeries,
  formatLogTick,
  formatPrecise,
  shortenMinorTicks,
  type LinearScale,
} from './marks.ts';
import { divergenceSeries, downsampleMinMax, yExtent, type Point } from './series.ts';

export interface DivergenceChartProps {
  divergence: readonly DivergenceEvent[];
  /** Other runs drawn as thin lines in their own colors, for comparison. */
  overlays?: readonly RunOverlay[];
}

const HEIGHT = 380;
const MARGINS = { top: 16, right: 20, bottom: 44, left: 64 };

/** Pixels between the two panels, and the agreement panel's height. */
const PANEL_GAP = 30;
const AGREEMENT_HEIGHT = 90;

const MAX_MARKS = 80;

const NO_OVERLAYS: readonly RunOverlay[] = [];

const SETS = [
  { key: 'probe', label: 'probe set', dash: DASH.train },
  { key: 'eval', label: 'eval set', dash: DASH.eval },
] as const;

/** Splits the frame into the relative-RMS panel on top and the agreement panel below, sharing x. */
function panels(frame: Frame): { top: Frame; bottom: Frame } {
  const topHeight = frame.height - PANEL_GAP - AGREEMENT_HEIGHT;
  const top: Frame = { ...frame, plot: frame.plot.append('g').attr('class', 'panel panel-rms'), height: topHeight, margins: { ...frame.margins, bottom: PANEL_GAP } };
  const bottom: Frame = {
    ...frame,
    plot: frame.plot
      .append('g')
      .attr('class', 'panel panel-agreement')
      .attr('transform', `translate(0,${topHeight + PANEL_GAP})`),
    height: AGREEMENT_HEIGHT,
  };
  return { top, bottom };
}

function render(
  divergence: readonly DivergenceEvent[],
  overlays: readonly RunOverlay[],
  svg: SvgSelection,
  outerWidth: number,
  container: HTMLDivElement,
): void {
  const frame = createFrame(svg, outerWidth, HEIGHT, MARGINS);
  const { top, bottom } = panels(frame);

  const lastStep = Math.max(divergence.at(-1)?.step ?? 1, overlayLastStep(overlays));
  const x = d3.scaleLinear().domain([0, Math.max(1, lastStep)]).range([0, frame.width]);

  // Relative RMS: undefined (null) while f = f₀, and drawn on a log axis, so only positive values count.
  const rms = SETS.map((set) => divergenceSeries(divergence, set.key, 'relativeRms'));
  const positive = rms.map((points) => points.filter((point) => point.y > 0));
  const overlayRms = overlays.map((overlay) =>
    SETS.map((set) => divergenceSeries(overlay.run.divergence, set.key, 'relativeRms').filter((point) => point.y > 0)),
  );
  const rmsExtent = yExtent([...positive, ...overlayRms.flat()]);
  const yRms: LinearScale = d3
    .scaleLog()
    .domain(rmsExtent === null ? [1e-3, 1] : [rmsExtent[0] / 1.5, rmsExtent[1] * 1.5])
    .range([top.height, 0])
    .nice();
  drawAxes(top, x, yRms, { x: '', y: 'RMS(f − f_lin) / RMS(f − f₀)' }, { yTicks: 4, yFormat: formatLogTick });
  shortenMinorTicks(top);

  const rmsLayer = clippedLayer(top);
  SETS.forEach((set, i) => {
    const points = positive[i] as Point[];
    drawSeries(rmsLayer, downsampleMinMax(points, top.width), x, yRms, { className: `series-${set.key}-relative-rms`, color: COLORS.highlight, dash: set.dash });
    if (points.length <= MAX_MARKS) {
      drawMarks(top.plot, points, x, yRms, { className: `marks-${set.key}-relative-rms`, color: COLORS.highlight, radius: 2.5, hollow: set.dash !== null });
    }
  });
  overlays.forEach((overlay, k) => {
    SETS.forEach((set, i) => {
      const points = overlayRms[k]?.[i] ?? [];
      drawSeries(rmsLayer, downsampleMinMax(points, top.width), x, yRms, { className: `series-overlay-${k}-${set.key}-relative-rms`, color: overlay.color, dash: set.dash, thin: true });
    });
  });
  if (rmsExtent === null) drawNote(top, 'The relative RMS is undefined until f moves away from f₀.');

  // Agreement in [0, 1], on an axis that starts at most at 90%.
  const agreement = SETS.map((set) => divergenceSeries(divergence, set.key, 'agreement'));
  const overlayAgreement = overlays.map((overlay) => SETS.map((set) => divergenceSeries(overlay.run.divergence, set.key, 'agreement')));
  const agreementLow = Math.min(0.9, Math.floor((yExtent([...agreement, ...overlayAgreement.flat()])?.[0] ?? 0.9) * 20) / 20);
  const yAgreement = d3.scaleLinear().domain([agreementLow, 1]).range([bottom.height, 0]);
  drawAxes(bottom, x, yAgreement, { x: 'optimizer step', y: 'agreement (%)' }, {
    yTicks: 3,
    yFormat: (value) => `${Math.round(Number(value) * 100)}`,
  });
  const agreementLayer = clippedLayer(bottom);
  SETS.forEach((set, i) => {
    const points = agreement[i] as Point[];
    drawSeries(agreementLayer, downsampleMinMax(points, bottom.width), x, yAgreement, { className: `series-${set.key}-agreement`, color: COLORS.real, dash: set.dash });
    if (points.length <= MAX_MARKS) {
      drawMarks(bottom.plot, points, x, yAgreement, { className: `marks-${set.key}-agreement`, color: COLORS.real, radius: 2.5, hollow: set.dash !== null });
    }
  });

  overlays.forEach((overlay, k) => {
    SETS.forEach((set, i) => {
      const points = overlayAgreement[k]?.[i] ?? [];
      drawSeries(agreementLayer, downsampleMinMax(points, bottom.width), x, yAgreement, { className: `series-overlay-${k}-${set.key}-agreement`, color: overlay.color, dash: set.dash, thin: true });
    });
  });

  drawLegend(container, [
    ...(divergence.length > 0
      ? [
          { label: 'relative RMS of f − f_lin', color: COLORS.highlight },
          { label: 'prediction agreement', color: COLORS.real },
        ]
      : []),
    { label: 'probe set', color: COLORS.reference },
    { label: 'eval set', color: COLORS.reference, dash: DASH.eval },
    ...overlayLegend(overlays),
  ]);

  const runs = [{ name: '', divergence }, ...overlays.map((overlay) => ({ name: `${overlay.name}: `, divergence: overlay.run.divergence }))];
  const xs = Array.from(new Set(runs.flatMap((run) => run.divergence.map((event) => event.step)))).sort((a, b) => a - b);
  const lines = (index: number): string[] => {
    const step = xs[index] as number;
    const result = [`step ${step}`];
    for (const run of runs) {
      const event = run.divergence.find((entry) => entry.step === step);
      if (event === undefined) continue;
      for (const set of SETS) {
        result.push(
          `${run.name}${set.label}: relative RMS ${formatPrecise(event[set.key].relativeRms)}, RMS ${formatPrecise(event[set.key].rms)}, agreement ${formatPercent(event[set.key].agreement)}`,
        );
      }
    }
    return result;
  };
  attachHover(top, container, x, xs, lines);
  attachHover(bottom, container, x, xs, lines);
}

export function DivergenceChart({ divergence, overlays = NO_OVERLAYS }: DivergenceChartProps) {
  const hasData = divergence.length > 0 || overlays.some((overlay) => overlay.run.divergence.length > 0);
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (hasData) render(divergence, overlays, svg, width, container);
    },
    [divergence, overlays],
  );

  return (
    <ChartCard
      id="divergence"
      title="Real vs linearized outputs"
      caption={
        'Top: RMS over points and logits of f(x; θ_t) − f_lin(x; θ_t^lin), divided by the RMS of f(x; θ_t) − f(x; θ₀), ' +
        'so 0.01 means the nonlinear part is 1% of the change; log scale. Bottom: share of points where both models predict the same class. ' +
        'Probe set: the first N training examples, as for the NTK.' +
        (overlays.length > 0 ? ' Thin colored lines: the same series for each compared run.' : '')
      }
      emptyMessage={hasData ? null : 'Start a run with the linearized model to see f − f_lin.'}
    >
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="Divergence of the real and linearized models against optimizer step" />
      </div>
    </ChartCard>
  );
}
