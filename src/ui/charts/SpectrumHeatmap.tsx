/**
 * The NTK spectrum over training: one column per recomputed kernel (x = its
 * step), one row per eigenvalue index (top k), coloured by log₁₀ μ.
 */
import * as d3 from 'd3';
import { useState } from 'react';

import type { NtkEvent } from '../../core/events.ts';
import { ChartCard } from './ChartCard.tsx';
import { createFrame, drawAxes, formatValue, hideTooltip, showTooltip, useChart, type SvgSelection } from './frame.ts';
import { KernelToggle } from './ChartControls.tsx';
import { drawReadout, formatPrecise, type ReadoutLine } from './marks.ts';
import { heatmapCells, kernelEigenvalues, logFloor, pickEvenly, type HeatmapCell, type KernelKind } from './series.ts';

export interface SpectrumHeatmapProps {
  ntk: readonly NtkEvent[];
  /** Rows: the top k eigenvalues of each kernel. */
  k?: number;
}

const HEIGHT = 300;
const MARGINS = { top: 16, right: 96, bottom: 44, left: 60 };
const DEFAULT_K = 32;

/** Each drawn column is at least this many pixels wide; more NTK events than fit are subsampled. */
const MIN_COLUMN_PX = 3;

const LEGEND_WIDTH = 14;
const LEGEND_STEPS = 64;

function render(
  ntk: readonly NtkEvent[],
  kernel: KernelKind,
  k: number,
  svg: SvgSelection,
  outerWidth: number,
  container: HTMLDivElement,
): void {
  const frame = createFrame(svg, outerWidth, HEIGHT, MARGINS);
  const events = pickEvenly(ntk, frame.width / MIN_COLUMN_PX);
  const rows = Math.min(k, Math.max(...events.map((event) => kernelEigenvalues(event, kernel).length)));
  const floor = logFloor(events.map((event) => kernelEigenvalues(event, kernel).slice(0, rows)));
  const cells = heatmapCells(events, kernel, rows, floor.floor);

  const x = d3
    .scaleLinear()
    .domain([d3.min(cells, (cell) => cell.x0) ?? 0, d3.max(cells, (cell) => cell.x1) ?? 1])
    .range([0, frame.width]);
  const y = d3.scaleLinear().domain([0.5, rows + 0.5]).range([0, frame.height]);
  const logMax = Math.log10(d3.max(cells, (cell) => cell.plotted) ?? 1);
  // The colormap starts at the smallest drawn value: the floor only when some eigenvalue is 0.
  const logMin = Math.log10(d3.min(cells, (cell) => cell.plotted) ?? floor.floor);
  const color = d3.scaleSequential(d3.interpolateViridis).domain([logMin, logMax > logMin ? logMax : logMin + 1]);

  frame.plot
    .append('g')
    .attr('class', 'cells')
    .selectAll('rect')
    .data(cells)
    .join('rect')
    .attr('class', 'cell')
    .attr('x', (cell) => x(cell.x0))
    .attr('y', (cell) => y(cell.index - 0.5))
    .attr('width', (cell) => Math.max(1, x(cell.x1) - x(cell.x0)))
    .attr('height', Math.max(1, y(1.5) - y(0.5)))
    .attr('fill', (cell) => color(Math.log10(cell.plotted)))
    .attr('shape-rendering', 'crispEdges');

  drawAxes(
    frame,
    x,
    y,
    { x: 'optimizer step of the NTK', y: 'eigenvalue index i' },
    { yTicks: Math.min(rows, 8), yFormat: (value) => (Number.isInteger(Number(value)) ? String(value) : '') },
  );
  drawColorLegend(frame.svg, color, frame.margins.left + frame.width + 18, frame.margins.top, frame.height);

  // One listener for all cells: the hovered rect's datum is the cell.
  frame.plot
    .select<SVGGElement>('g.cells')
    .on('pointermove', (event: PointerEvent) => {
      const cell = d3.select<Element, HeatmapCell>(event.target as Element).datum();
      const [cx, cy] = d3.pointer(event, container);
      showTooltip(container, cx, cy, [
        `step ${cell.step}`,
        `i = ${cell.index}`,
        `μ = ${formatPrecise(cell.value)}${cell.value <= 0 ? ' (drawn at the floor)' : ''}`,
      ]);
    })
    .on('pointerleave', () => hideTooltip(container));

  drawReadout(container, readoutLines(ntk.length, events.length, floor.zeros, floor.floor, floor.anyPositive));
}

/** Draws the color bar for log₁₀ μ at the right of the plot, from stacked rects so it needs no gradient id. */
function drawColorLegend(
  svg: SvgSelection,
  color: d3.ScaleSequential<string>,
  left: number,
  top: number,
  height: number,
): void {
  const [low, high] = color.domain() as [number, number];
  const scale = d3.scaleLinear().domain([low, high]).range([height, 0]);
  const legend = svg.append('g').attr('class', 'color-legend').attr('transform', `translate(${left},${top})`);
  const band = height / LEGEND_STEPS;
  legend
    .selectAll('rect')
    .data(d3.range(LEGEND_STEPS))
    .join('rect')
    .attr('x', 0)
    .attr('y', (i) => height - (i + 1) * band)
    .attr('width', LEGEND_WIDTH)
    .attr('height', band + 0.5)
    .attr('fill', (i) => color(low + ((i + 0.5) / LEGEND_STEPS) * (high - low)));
  legend
    .append('g')
    .attr('class', 'axis axis-color')
    .attr('transform', `translate(${LEGEND_WIDTH},0)`)
    .call(
      d3
        .axisRight(scale)
        .ticks(5)
        .tickFormat((value) => (Number.isInteger(Number(value)) ? `1e${value}` : '')),
    );
  legend
    .append('text')
    .attr('class', 'axis-label')
    .attr('transform', 'rotate(90)')
    .attr('x', height / 2)
    .attr('y', -LEGEND_WIDTH - 44)
    .attr('text-anchor', 'middle')
    .text('μ (log₁₀ color)');
}

function readoutLines(total: number, drawn: number, zeros: number, floor: number, anyPositive: boolean): ReadoutLine[] {
  const lines: ReadoutLine[] = [];
  if (drawn < total) {
    lines.push({ text: `${drawn} of ${total} kernels are drawn, evenly spaced, to fit the width.`, className: 'readout-subsample' });
  }
  if (!anyPositive) lines.push({ text: 'Every eigenvalue is 0.', className: 'readout-floor', warning: true });
  else if (zeros > 0) {
    lines.push({ text: `${zeros} zero eigenvalues are colored as the floor ${formatValue(floor)}.`, className: 'readout-floor' });
  }
  return lines;
}

export function SpectrumHeatmap({ ntk, k = DEFAULT_K }: SpectrumHeatmapProps) {
  const [kernel, setKernel] = useState<KernelKind>('full');
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (ntk.length > 0) render(ntk, kernel, k, svg, width, container);
    },
    [ntk, kernel, k],
  );

  const first = ntk[0];
  const rows = first === undefined ? 0 : Math.min(k, kernelEigenvalues(first, kernel).length);
  const caption =
    first === undefined
      ? undefined
      : `Top ${rows} eigenvalues of the ${kernel === 'full' ? `full NTK K (N·C × N·C = ${first.n * first.c} × ${first.n * first.c})` : `traced kernel K_tr (N × N = ${first.n} × ${first.n})`} ` +
        `on N = ${first.n} probe examples, C = ${first.c}, not divided by N; λ = ${first.lambda}. ` +
        'Each column is one recomputation at the real model’s θ_t; rows run from μ₁ at the top.';

  return (
    <ChartCard
      id="spectrum-heatmap"
      title="NTK spectrum over training"
      caption={caption}
      emptyMessage={ntk.length === 0 ? 'Start a run to see the spectrum over training.' : null}
    >
      <KernelToggle value={kernel} onChange={setKernel} tracedAvailable={true} />
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="NTK eigenvalues over training steps" />
      </div>
    </ChartCard>
  );
}
