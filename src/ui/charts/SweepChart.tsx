/**
 * The layer-subset sweep: κ_λ of each subset's kernel at θ₀ against its final
 * eval accuracy and its final train loss, in two panels. Points appear as the
 * sweep streams them.
 */
import * as d3 from 'd3';

import type { Correlation, SweepEvent, SweepSummaryEvent } from '../../core/events.ts';
import { createPanels, inheritAxisFont, marginsInEm, relabelLogAxisX, setChartFont } from './analysis-marks.ts';
import { formatCorrelation, logDomain, sweepPoints, type SweepPoint } from './analysis-series.ts';
import { ChartCard } from './ChartCard.tsx';
import { COLORS, drawAxes, formatPercent, formatValue, hideTooltip, showTooltip, useChart, type Frame, type SvgSelection } from './frame.ts';
import { LINE_WIDTH } from './marks.ts';

export interface SweepChartProps {
  /** Sweep subsets in the order they finished. */
  sweep: readonly SweepEvent[];
  /** The correlations, once the sweep has finished; null while it runs. */
  summary: SweepSummaryEvent | null;
}

interface Panel {
  name: 'accuracy' | 'loss';
  title: string;
  yLabel: string;
  value: (point: SweepPoint) => number;
  correlation: Correlation | null;
}

/** Panel height and margins in font units; the top margin holds the title and the correlations. */
const PANEL_HEIGHT_EM = 26;
const MARGINS_EM = { top: 4, right: 1.4, bottom: 3.4, left: 5.4 };
/** Below this width in font units the panels stack instead of sitting side by side. */
const MIN_COLUMNS_EM = 50;

function tooltipLines(point: SweepPoint): string[] {
  return [
    `adapters ${point.adapters}`,
    `κ_λ = ${formatValue(point.kappaLambda)}`,
    `μ₁ = ${formatValue(point.muMax)}, μ_n = ${formatValue(point.muMin)}`,
    `trainable parameters: ${d3.format(',')(point.trainable)}`,
    `final eval accuracy: ${formatPercent(point.evalAccuracy)}`,
    `final train loss: ${formatValue(point.trainLoss)}`,
  ];
}

function yScale(panel: Panel, points: readonly SweepPoint[], height: number): d3.ScaleLinear<number, number> {
  const values = points.map(panel.value);
  if (panel.name === 'loss') {
    return d3
      .scaleLinear()
      .domain([0, Math.max(1e-6, ...values) * 1.1])
      .nice()
      .range([height, 0]);
  }
  const low = Math.max(0, Math.min(...values) - 0.05);
  const high = Math.min(1, Math.max(...values) + 0.05);
  return d3.scaleLinear().domain([low, high]).nice().range([height, 0]);
}

function drawPanel(
  frame: Frame,
  panel: Panel,
  points: readonly SweepPoint[],
  x: d3.ScaleLogarithmic<number, number>,
  container: HTMLDivElement,
  running: string | null,
  em: number,
): void {
  const { plot, height } = frame;
  const y = yScale(panel, points, height);

  drawAxes(frame, x, y, { x: 'κ_λ of K_S at θ₀ (log)', y: panel.yLabel }, panel.name === 'accuracy' ? { yFormat: (value) => formatPercent(Number(value)) } : {});
  relabelLogAxisX(frame, x);

  plot
    .append('text')
    .attr('class', 'panel-title')
    .attr('x', 0)
    .attr('y', -2.6 * em)
    .attr('font-weight', 600)
    .text(panel.title);
  plot
    .append('text')
    .attr('class', `panel-correlation correlation-${panel.name}`)
    .attr('x', 0)
    .attr('y', -1.1 * em)
    .text(running === null ? formatCorrelation(panel.correlation) : `${formatCorrelation(null)} (${running})`);

  plot
    .selectAll('circle.mark')
    .data(points)
    .join('circle')
    .attr('class', `mark series-${panel.name}`)
    .attr('data-adapters', (point) => point.adapters)
    .attr('data-index', (point) => point.index)
    .attr('cx', (point) => x(point.kappaLambda))
    .attr('cy', (point) => y(panel.value(point)))
    .attr('r', 5.5)
    .attr('fill', COLORS.real)
    .attr('fill-opacity', 0.85)
    .attr('stroke', 'white')
    .on('mouseenter', (event: MouseEvent, point) => {
      const [left, top] = d3.pointer(event, container);
      showTooltip(container, left, top, tooltipLines(point));
      // Ring the same subset in the other panel too.
      d3.select(container)
        .selectAll<SVGCircleElement, SweepPoint>('circle.mark')
        .classed('hovered', (other) => other.index === point.index)
        .attr('stroke', (other) => (other.index === point.index ? COLORS.highlight : 'white'))
        .style('stroke-width', (other) => (other.index === point.index ? LINE_WIDTH : null));
    })
    .on('mouseleave', () => {
      hideTooltip(container);
      d3.select(container).selectAll('circle.mark').classed('hovered', false).attr('stroke', 'white').style('stroke-width', null);
    });
}

function renderSweep(
  svg: SvgSelection,
  outerWidth: number,
  container: HTMLDivElement,
  points: readonly SweepPoint[],
  panels: readonly Panel[],
  running: string | null,
): void {
  const em = setChartFont(svg);
  const columns = outerWidth >= MIN_COLUMNS_EM * em;
  const outerHeight = (columns ? 1 : panels.length) * PANEL_HEIGHT_EM * em;
  const frames = createPanels(svg, outerWidth, outerHeight, panels.length, columns, marginsInEm(em, MARGINS_EM));

  const firstFrame = frames[0] as Frame;
  const x = d3
    .scaleLog()
    .domain(logDomain(points.map((point) => point.kappaLambda)))
    .range([0, firstFrame.width]);
  panels.forEach((panel, k) => drawPanel(frames[k] as Frame, panel, points, x, container, running, em));
  inheritAxisFont(svg);
}

/** Scatter of κ_λ against the final eval accuracy and the final train loss of each sweep subset. */
export function SweepChart({ sweep, summary }: SweepChartProps) {
  const { points, skipped } = sweepPoints(sweep);
  const total = sweep[0]?.total ?? 0;
  const finished = summary !== null && summary.subsets === sweep.length;
  const running = finished ? null : `sweep running: ${sweep.length} of ${total}`;

  const panels: Panel[] = [
    {
      name: 'accuracy',
      title: 'Final eval accuracy',
      yLabel: 'eval accuracy',
      value: (point) => point.evalAccuracy,
      correlation: summary?.kappaLambdaVsEvalAccuracy ?? null,
    },
    {
      name: 'loss',
      title: 'Final train loss',
      yLabel: 'train loss (mean over examples)',
      value: (point) => point.trainLoss,
      correlation: summary?.kappaLambdaVsTrainLoss ?? null,
    },
  ];

  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      hideTooltip(container);
      if (points.length > 0) renderSweep(svg, width, container, points, panels, running);
    },
    [sweep, summary],
  );

  let emptyMessage: string | null = null;
  if (sweep.length === 0) emptyMessage = 'Run a sweep to compare layer subsets.';
  else if (points.length === 0) emptyMessage = `No subset so far has a finite κ_λ (${sweep.length} of ${total} done).`;

  const caption =
    sweep.length === 0
      ? undefined
      : 'Each point is one layer subset S, fine-tuned from θ₀ for the same steps. ' +
        'κ_λ = (μ₁ + Nλ)/(μ_n + Nλ) of the full kernel K_S at θ₀ on the probe set, with the sweep’s λ. ' +
        'Pearson r is computed on log₁₀ κ_λ, Spearman ρ on ranks; both appear when the sweep finishes.' +
        (skipped > 0 ? ` ${skipped} subset${skipped === 1 ? '' : 's'} without a finite κ_λ not shown.` : '');

  return (
    <ChartCard id="sweep" title="Layer sweep: κ_λ against outcome" caption={caption} emptyMessage={emptyMessage}>
      <div ref={containerRef} className="chart-container" style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="κ_λ of each layer subset against its final eval accuracy and train loss" />
      </div>
    </ChartCard>
  );
}
