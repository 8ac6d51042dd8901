/**
 * Kernel drift during training: ‖K_t − K₀‖_F / ‖K₀‖_F from the ntk events,
 * with the relative change of μ_max and of the trace of the full kernel as
 * secondary lines.
 */
import * as d3 from 'd3';

import type { NtkEvent } from '../../core/events.ts';
import { inheritAxisFont, marginsInEm, setChartFont } from './analysis-marks.ts';
import { kernelChangeSeries, type KernelChangePoint } from './analysis-series.ts';
import { ChartCard } from './ChartCard.tsx';
import { COLORS, createFrame, drawAxes, formatValue, useChart, type SvgSelection } from './frame.ts';
import { attachHover, drawLegend, LINE_WIDTH } from './marks.ts';

export interface DriftChartProps {
  /** NTK events of the current run in step order; the first is the kernel at θ₀. */
  ntk: readonly NtkEvent[];
}

type SeriesKey = 'drift' | 'muMax' | 'trace';

interface Series {
  key: SeriesKey;
  /** Class suffix: path.series-<name>, circle.mark.series-<name>. */
  name: string;
  label: string;
  color: string;
  dash: string | null;
}

const SERIES: readonly Series[] = [
  { key: 'drift', name: 'drift', label: 'drift ‖K_t − K₀‖_F / ‖K₀‖_F', color: COLORS.real, dash: null },
  { key: 'muMax', name: 'mu-max', label: 'Δμ_max / μ_max(K₀)', color: COLORS.highlight, dash: '6 3' },
  { key: 'trace', name: 'trace', label: 'Δtr K / tr K₀', color: COLORS.reference, dash: '2 3' },
];

/** Plot height in font units. */
const HEIGHT_EM = 22;

/** Formats a relative change as a signed percentage with three significant digits. */
function formatChange(value: number | null): string {
  if (value === null) return '–';
  const percent = d3.format('+.3~r')(value * 100);
  return `${percent.replace('-', '−')}%`;
}

function renderDrift(svg: SvgSelection, width: number, container: HTMLDivElement, points: readonly KernelChangePoint[]): void {
  const em = setChartFont(svg);
  const frame = createFrame(svg, width, HEIGHT_EM * em, marginsInEm(em, { top: 0.8, right: 1.8, bottom: 3.4, left: 5.2 }));
  const { plot, width: plotWidth, height } = frame;

  const x = d3
    .scaleLinear()
    .domain(d3.extent(points, (point) => point.step) as [number, number])
    .range([0, plotWidth]);
  const values = points.flatMap((point) => SERIES.map((series) => point[series.key])).filter((value): value is number => value !== null);
  const [low, high] = d3.extent([0, ...values]) as [number, number];
  const y = d3
    .scaleLinear()
    .domain([low, high === low ? low + 0.01 : high])
    .nice()
    .range([height, 0]);

  drawAxes(frame, x, y, { x: 'training step', y: 'relative change (% of value at θ₀)' }, { yFormat: (value) => `${d3.format('~r')(Number(value) * 100)}%` });
  inheritAxisFont(svg);

  plot
    .append('line')
    .attr('class', 'zero-line')
    .attr('x1', 0)
    .attr('x2', plotWidth)
    .attr('y1', y(0))
    .attr('y2', y(0))
    .attr('stroke', COLORS.reference)
    .attr('stroke-opacity', 0.5);

  for (const series of SERIES) {
    const defined = points.filter((point) => point[series.key] !== null);
    const line = d3
      .line<KernelChangePoint>()
      .defined((point) => point[series.key] !== null)
      .x((point) => x(point.step))
      .y((point) => y(point[series.key] ?? 0));
    plot
      .append('path')
      .attr('class', `series series-${series.name}`)
      .attr('fill', 'none')
      .attr('stroke', series.color)
      .attr('stroke-dasharray', series.dash)
      .style('stroke-width', LINE_WIDTH)
      .attr('d', line(points));
    plot
      .selectAll(`circle.series-${series.name}`)
      .data(defined)
      .join('circle')
      .attr('class', `mark series-${series.name}`)
      .attr('cx', (point) => x(point.step))
      .attr('cy', (point) => y(point[series.key] ?? 0))
      .attr('r', series.key === 'drift' ? 3.5 : 2.5)
      .attr('fill', series.color);
  }

  drawLegend(
    container,
    SERIES.map((series) => ({ label: series.label, color: series.color, dash: series.dash })),
  );
  attachHover(
    frame,
    container,
    x,
    points.map((point) => point.step),
    (index) => {
      const point = points[index] as KernelChangePoint;
      return [
        `step ${point.step}`,
        `drift ‖K_t − K₀‖_F/‖K₀‖_F: ${formatValue(point.drift)}`,
        `μ_max change: ${formatChange(point.muMax)}`,
        `trace change: ${formatChange(point.trace)}`,
      ];
    },
  );
}

/** Line chart of the kernel's drift from θ₀ and of its μ_max and trace changes, over training steps. */
export function DriftChart({ ntk }: DriftChartProps) {
  const points = kernelChangeSeries(ntk);
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (points.length >= 2) renderDrift(svg, width, container, points);
    },
    [ntk],
  );

  const first = ntk[0];
  let emptyMessage: string | null = null;
  if (first === undefined) emptyMessage = 'Start a run to measure the kernel during training.';
  else if (points.length < 2) emptyMessage = 'The kernel at θ₀ is measured. Drift appears at the next NTK measurement of the run.';

  const caption =
    first === undefined
      ? undefined
      : `Full kernel K (N·C = ${first.n}·${first.c} = ${first.n * first.c} rows) on the probe set, unnormalized (not divided by N), λ = ${formatValue(first.lambda)}. ` +
        'Drift is ‖K_t − K₀‖_F / ‖K₀‖_F. The secondary lines are the signed changes of the largest eigenvalue μ_max and of the trace, relative to their values at θ₀. ' +
        'A drift near 0 means the NTK stays fixed and the linearized model describes training.';

  return (
    <ChartCard id="drift" title="Kernel drift during training" caption={caption} emptyMessage={emptyMessage}>
      <div ref={containerRef} className="chart-container" style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="Kernel drift and relative changes of μ_max and trace against training step" />
      </div>
    </ChartCard>
  );
}
