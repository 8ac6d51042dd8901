/**
 * How far the linearization stays valid: ‖J(θ₀ + r·v) − J(θ₀)‖_F / ‖J(θ₀)‖_F
 * against the radius r, the mean and max over random unit directions v.
 */
import * as d3 from 'd3';

import type { JacobianChangeEvent } from '../../core/events.ts';
import { inheritAxisFont, logTickFormat, marginsInEm, relabelLogAxisX, setChartFont, tooltipOnHover } from './analysis-marks.ts';
import { logDomain } from './analysis-series.ts';
import { ChartCard } from './ChartCard.tsx';
import { COLORS, createFrame, drawAxes, formatValue, hideTooltip, useChart, type SvgSelection } from './frame.ts';
import { drawLegend, LINE_WIDTH } from './marks.ts';

export interface JacobianChangeChartProps {
  /** The latest measurement, or null before the first. */
  event: JacobianChangeEvent | null;
}

type Point = JacobianChangeEvent['points'][number];

/** Plot height in font units. */
const HEIGHT_EM = 22;

function renderJacobianChange(svg: SvgSelection, width: number, container: HTMLDivElement, event: JacobianChangeEvent): void {
  const em = setChartFont(svg);
  const frame = createFrame(svg, width, HEIGHT_EM * em, marginsInEm(em, { top: 0.8, right: 1.8, bottom: 3.4, left: 5.2 }));
  const { plot, width: plotWidth, height } = frame;
  const points = [...event.points].sort((a, b) => a.radius - b.radius);

  const x = d3
    .scaleLog()
    .domain(logDomain([...points.map((point) => point.radius), event.distance]))
    .range([0, plotWidth]);

  // A zero change cannot sit on a log axis, so a measurement with any zero uses a linear y.
  const changes = points.flatMap((point) => [point.mean, point.max]);
  const logY = changes.every((value) => value > 0);
  const logScale = d3.scaleLog().domain(logDomain(changes)).range([height, 0]);
  const y = logY ? logScale : d3.scaleLinear().domain([0, Math.max(1e-9, ...changes)]).nice().range([height, 0]);

  drawAxes(
    frame,
    x,
    y,
    { x: 'radius r = ‖θ − θ₀‖ along a random unit direction (log)', y: `‖J(θ₀+rv) − J(θ₀)‖_F / ‖J(θ₀)‖_F${logY ? ' (log)' : ''}` },
    logY ? { yFormat: logTickFormat(logScale) } : {},
  );
  relabelLogAxisX(frame, x);
  inheritAxisFont(svg);

  plot
    .append('path')
    .attr('class', 'band series-band')
    .attr('fill', COLORS.real)
    .attr('fill-opacity', 0.15)
    .attr(
      'd',
      d3
        .area<Point>()
        .x((point) => x(point.radius))
        .y0((point) => y(point.mean))
        .y1((point) => y(point.max))(points),
    );
  plot
    .append('path')
    .attr('class', 'series series-max')
    .attr('fill', 'none')
    .attr('stroke', COLORS.real)
    .attr('stroke-dasharray', '6 3')
    .attr('stroke-opacity', 0.7)
    .style('stroke-width', LINE_WIDTH)
    .attr(
      'd',
      d3
        .line<Point>()
        .x((point) => x(point.radius))
        .y((point) => y(point.max))(points),
    );
  plot
    .append('path')
    .attr('class', 'series series-mean')
    .attr('fill', 'none')
    .attr('stroke', COLORS.real)
    .style('stroke-width', LINE_WIDTH)
    .attr(
      'd',
      d3
        .line<Point>()
        .x((point) => x(point.radius))
        .y((point) => y(point.mean))(points),
    );

  if (event.distance > 0) {
    const distanceX = x(event.distance);
    plot
      .append('line')
      .attr('class', 'current-distance')
      .attr('x1', distanceX)
      .attr('x2', distanceX)
      .attr('y1', 0)
      .attr('y2', height)
      .attr('stroke', COLORS.highlight)
      .attr('stroke-dasharray', '4 3')
      .style('stroke-width', LINE_WIDTH);
    const label = plot
      .append('text')
      .attr('class', 'current-distance-label')
      .attr('x', distanceX + 6)
      .attr('y', em)
      .attr('fill', COLORS.highlight)
      .text(`current ‖θ − θ₀‖ = ${formatValue(event.distance)}`);
    // Put the label left of the line where it would run past the plot's right edge.
    const labelWidth = label.node()?.getComputedTextLength() ?? 0;
    if (distanceX + 6 + labelWidth > plotWidth) label.attr('x', distanceX - 6).attr('text-anchor', 'end');
  }

  plot
    .selectAll('circle.mark')
    .data(points)
    .join('circle')
    .attr('class', 'mark series-mean')
    .attr('cx', (point) => x(point.radius))
    .attr('cy', (point) => y(point.mean))
    .attr('r', 4.5)
    .attr('fill', COLORS.real)
    .attr('stroke', 'white')
    .on(
      'mouseenter',
      tooltipOnHover(container, (point: Point) => [
        `radius r = ${formatValue(point.radius)}`,
        `mean change: ${formatValue(point.mean)}`,
        `max change: ${formatValue(point.max)}`,
      ]),
    )
    .on('mouseleave', () => hideTooltip(container));

  drawLegend(container, [
    { label: 'mean over directions', color: COLORS.real },
    { label: 'max over directions', color: COLORS.real, dash: '6 3', opacity: 0.7 },
    { label: 'mean to max', color: `${COLORS.real}33`, kind: 'square' },
    ...(event.distance > 0 ? [{ label: 'current ‖θ − θ₀‖ of the run', color: COLORS.highlight, dash: '4 3' }] : []),
  ]);
}

/** Log-radius chart of the relative Jacobian change, with the run's current distance from θ₀ marked. */
export function JacobianChangeChart({ event: jacobianChange }: JacobianChangeChartProps) {
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (jacobianChange !== null && jacobianChange.points.length > 0) renderJacobianChange(svg, width, container, jacobianChange);
    },
    [jacobianChange],
  );

  const emptyMessage =
    jacobianChange === null || jacobianChange.points.length === 0 ? 'Measure the Jacobian change to see how far the linearization holds.' : null;
  const caption =
    jacobianChange === null
      ? undefined
      : `J = ∂f/∂θ of the label logits on the probe set, at θ₀ and at θ₀ + r·v for random unit directions v in the space of trainable parameters. ` +
        `Measured at step ${jacobianChange.step}${jacobianChange.step === 0 ? ' (before training)' : ''}. ` +
        'Where the change stays small, f is close to its linearization f_lin.';

  return (
    <ChartCard id="jacobian-change" title="Jacobian change with radius" caption={caption} emptyMessage={emptyMessage}>
      <div ref={containerRef} className="chart-container" style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="Relative Jacobian change against radius, mean and max over directions" />
      </div>
    </ChartCard>
  );
}
