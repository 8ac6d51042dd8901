/**
 * How far the real model's outputs drift from the linearized model's: the
 * relative RMS of f − f_lin on the probe and eval sets (top panel, log
 * scale) and the share of points where both predict the same class (bottom).
 */
import * as d3 from 'd3';

import type { DivergenceEvent } from '../../core/events.ts';
import { ChartCard } from './ChartCard.tsx';
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
}

const HEIGHT = 380;
const MARGINS = { top: 16, right: 20, bottom: 44, left: 64 };

/** Pixels between the two panels, and the agreement panel's height. */
const PANEL_GAP = 30;
const AGREEMENT_HEIGHT = 90;

const MAX_MARKS = 80;

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

function render(divergence: readonly DivergenceEvent[], svg: SvgSelection, outerWidth: number, container: HTMLDivElement): void {
  const frame = createFrame(svg, outerWidth, HEIGHT, MARGINS);
  const { top, bottom } = panels(frame);

  const lastStep = divergence.at(-1)?.step ?? 1;
  const x = d3.scaleLinear().domain([0, Math.max(1, lastStep)]).range([0, frame.width]);

  // Relative RMS: undefined (null) while f = f₀, and drawn on a log axis, so only positive values count.
  const rms = SETS.map((set) => divergenceSeries(divergence, set.key, 'relativeRms'));
  const positive = rms.map((points) => points.filter((point) => point.y > 0));
  const rmsExtent = yExtent(positive);
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
  if (rmsExtent === null) drawNote(top, 'The relative RMS is undefined until f moves away from f₀.');

  // Agreement in [0, 1], on an axis that starts at most at 90%.
  const agreement = SETS.map((set) => divergenceSeries(divergence, set.key, 'agreement'));
  const agreementLow = Math.min(0.9, Math.floor((yExtent(agreement)?.[0] ?? 0.9) * 20) / 20);
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

  drawLegend(container, [
    { label: 'relative RMS of f − f_lin', color: COLORS.highlight },
    { label: 'prediction agreement', color: COLORS.real },
    { label: 'probe set', color: COLORS.reference },
    { label: 'eval set', color: COLORS.reference, dash: DASH.eval },
  ]);

  const xs = divergence.map((event) => event.step);
  const lines = (index: number): string[] => {
    const event = divergence[index] as DivergenceEvent;
    return [
      `step ${event.step}`,
      ...SETS.map(
        (set) =>
          `${set.label}: relative RMS ${formatPrecise(event[set.key].relativeRms)}, RMS ${formatPrecise(event[set.key].rms)}, agreement ${formatPercent(event[set.key].agreement)}`,
      ),
    ];
  };
  attachHover(top, container, x, xs, lines);
  attachHover(bottom, container, x, xs, lines);
}

export function DivergenceChart({ divergence }: DivergenceChartProps) {
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (divergence.length > 0) render(divergence, svg, width, container);
    },
    [divergence],
  );

  return (
    <ChartCard
      id="divergence"
      title="Real vs linearized outputs"
      caption={
        'Top: RMS over points and logits of f(x; θ_t) − f_lin(x; θ_t^lin), divided by the RMS of f(x; θ_t) − f(x; θ₀), ' +
        'so 0.01 means the nonlinear part is 1% of the change; log scale. Bottom: share of points where both models predict the same class. ' +
        'Probe set: the first N training examples, as for the NTK.'
      }
      emptyMessage={divergence.length === 0 ? 'Start a run with the linearized model to see f − f_lin.' : null}
    >
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="Divergence of the real and linearized models against optimizer step" />
      </div>
    </ChartCard>
  );
}
