/**
 * Shared pieces of the D3 charts: the React hook that owns an <svg>, the
 * chart's inner frame, the tooltip, the palette and number formats. Line
 * widths and font sizes come from CSS variables, so presentation mode can
 * scale every chart at once.
 */
import * as d3 from 'd3';
import { useContext, useEffect, useRef, useState, type RefObject } from 'react';

import { DrawQueueContext } from './draw-queue.ts';

export interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export const DEFAULT_MARGINS: Margins = { top: 16, right: 20, bottom: 44, left: 60 };

/** Series colors: the real model and its linearization, plus theory and reference marks. */
export const COLORS = {
  real: '#2563eb',
  linear: '#ea580c',
  theory: '#16a34a',
  reference: '#6b7280',
  bound: '#dc2626',
  highlight: '#9333ea',
} as const;

/** Stroke dash for each split: train solid, eval dashed. */
export const DASH = { train: null, eval: '6 4' } as const;

export type SvgSelection = d3.Selection<SVGSVGElement, unknown, null, undefined>;
export type GroupSelection = d3.Selection<SVGGElement, unknown, null, undefined>;

export interface Frame {
  svg: SvgSelection;
  /** The plot area, translated by the margins. */
  plot: GroupSelection;
  width: number;
  height: number;
  margins: Margins;
}

/** Clears the svg and returns a frame whose plot area is width × height inside the margins. */
export function createFrame(svg: SvgSelection, outerWidth: number, outerHeight: number, margins = DEFAULT_MARGINS): Frame {
  svg.selectAll('*').remove();
  svg.attr('width', outerWidth).attr('height', outerHeight).attr('viewBox', `0 0 ${outerWidth} ${outerHeight}`);
  // Strict containment: the svg's size comes from its width and height alone, so a redraw inside it cannot resize the page.
  svg.style('contain', 'strict');
  const plot = svg.append('g').attr('class', 'plot').attr('transform', `translate(${margins.left},${margins.top})`);
  return {
    svg,
    plot,
    width: Math.max(10, outerWidth - margins.left - margins.right),
    height: Math.max(10, outerHeight - margins.top - margins.bottom),
    margins,
  };
}

/** Draws the bottom and left axes with their labels (axis labels carry units). */
export function drawAxes(
  frame: Frame,
  x: d3.AxisScale<d3.NumberValue>,
  y: d3.AxisScale<d3.NumberValue>,
  labels: { x: string; y: string },
  options: { xTicks?: number; yTicks?: number; yFormat?: (value: d3.NumberValue) => string } = {},
): void {
  const { plot, width, height, margins } = frame;
  const xAxis = d3.axisBottom(x).ticks(options.xTicks ?? 6);
  const yAxis = d3.axisLeft(y).ticks(options.yTicks ?? 5);
  if (options.yFormat !== undefined) yAxis.tickFormat(options.yFormat);
  plot.append('g').attr('class', 'axis axis-x').attr('transform', `translate(0,${height})`).call(xAxis);
  plot.append('g').attr('class', 'axis axis-y').call(yAxis);
  plot
    .append('text')
    .attr('class', 'axis-label')
    .attr('x', width / 2)
    .attr('y', height + margins.bottom - 8)
    .attr('text-anchor', 'middle')
    .text(labels.x);
  plot
    .append('text')
    .attr('class', 'axis-label')
    .attr('transform', 'rotate(-90)')
    .attr('x', -height / 2)
    .attr('y', -margins.left + 14)
    .attr('text-anchor', 'middle')
    .text(labels.y);
}

/** Formats a number with 4 significant digits, switching to exponent form outside [1e-3, 1e5). */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(3);
  return d3.format('.4~r')(value);
}

/** Formats a share in [0, 1] as a percentage with one decimal. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * Shows a tooltip inside `container` near (x, y) in container pixels. Lines
 * are set as text, never as HTML, because they may include task text.
 */
export function showTooltip(container: HTMLElement, x: number, y: number, lines: readonly string[]): void {
  let tooltip = container.querySelector<HTMLDivElement>(':scope > .chart-tooltip');
  if (tooltip === null) {
    tooltip = document.createElement('div');
    tooltip.className = 'chart-tooltip';
    tooltip.setAttribute('role', 'tooltip');
    container.appendChild(tooltip);
  }
  tooltip.replaceChildren(
    ...lines.map((line) => {
      const row = document.createElement('div');
      row.textContent = line;
      return row;
    }),
  );
  const left = Math.min(x + 12, container.clientWidth - tooltip.offsetWidth - 4);
  tooltip.style.left = `${Math.max(0, left)}px`;
  tooltip.style.top = `${Math.max(0, y - 12)}px`;
  tooltip.style.display = 'block';
}

export function hideTooltip(container: HTMLElement): void {
  const tooltip = container.querySelector<HTMLDivElement>(':scope > .chart-tooltip');
  if (tooltip !== null) tooltip.style.display = 'none';
}

/** Tracks an element's content width with a ResizeObserver. */
export function useWidth(ref: RefObject<HTMLElement | null>, fallback = 480): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (element === null) return undefined;
    const observer = new ResizeObserver((entries) => {
      const entry = entries[0];
      if (entry !== undefined) setWidth(Math.max(200, Math.floor(entry.contentRect.width)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/**
 * Owns a chart's container and <svg>, and redraws from scratch with `render`
 * whenever the width or one of `deps` changes. Inside a DrawQueueContext the
 * redraw goes through the page's draw queue, which may defer it to a later
 * animation frame. Without one it runs in the effect.
 */
export function useChart(
  render: (svg: SvgSelection, width: number, container: HTMLDivElement) => void,
  deps: readonly unknown[],
): { containerRef: RefObject<HTMLDivElement | null>; svgRef: RefObject<SVGSVGElement | null> } {
  const containerRef = useRef<HTMLDivElement | null>(null);
  const svgRef = useRef<SVGSVGElement | null>(null);
  const width = useWidth(containerRef);
  const queue = useContext(DrawQueueContext);
  // The chart's identity in the queue: one object per mounted chart.
  const [chart] = useState(() => ({}));

  useEffect(() => {
    const draw = (): void => {
      const container = containerRef.current;
      if (svgRef.current === null || container === null) return;
      render(d3.select(svgRef.current), width, container);
    };
    if (queue === null) draw();
    else queue.schedule(chart, draw);
    // The caller lists the data that render reads in deps.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [width, queue, ...deps]);

  useEffect(() => () => queue?.cancel(chart), [queue, chart]);
  return { containerRef, svgRef };
}
