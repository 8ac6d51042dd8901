/**
 * Drawing helpers that several run charts share: the HTML legend above a
 * chart, a clipped layer for marks, labelled reference lines, series paths
 * and the hover rule with its tooltip. Stroke widths come from the CSS
 * variable --line-width and font sizes from the stylesheet.
 */
import * as d3 from 'd3';

import { COLORS, hideTooltip, showTooltip, type Frame, type GroupSelection } from './frame.ts';
import { nearestIndex, type Point } from './series.ts';

export const LINE_WIDTH = 'var(--line-width, 2px)';

/** A thinner stroke for faint per-step series, still scaled by --line-width. */
export const THIN_LINE_WIDTH = 'calc(var(--line-width, 2px) / 2)';

/** A wide stroke for a faint band under a series that another series may cover exactly. */
export const WIDE_LINE_WIDTH = 'calc(var(--line-width, 2px) * 3)';

function strokeWidth(style: { thin?: boolean; wide?: boolean }): string {
  if (style.wide === true) return WIDE_LINE_WIDTH;
  return style.thin === true ? THIN_LINE_WIDTH : LINE_WIDTH;
}

export type LinearScale = d3.ScaleContinuousNumeric<number, number>;

export interface LegendItem {
  label: string;
  color: string;
  /** stroke-dasharray of the swatch; null or absent for solid. */
  dash?: string | null;
  /** A line swatch (default), a dot or a filled square. */
  kind?: 'line' | 'dot' | 'square';
  thin?: boolean;
  wide?: boolean;
  opacity?: number;
}

/** Replaces the legend row at the top of a chart container (a div.chart-legend of span.legend-item). */
export function drawLegend(container: HTMLElement, items: readonly LegendItem[]): void {
  let legend = container.querySelector<HTMLDivElement>(':scope > .chart-legend');
  if (legend === null) {
    legend = document.createElement('div');
    legend.className = 'chart-legend';
    container.insertBefore(legend, container.firstChild);
  }

  // The legend is HTML, so rebuilding it unchanged would make the browser lay out the page again for nothing.
  const key = JSON.stringify(items);
  if (legend.dataset.items === key) return;
  legend.dataset.items = key;

  // Inline layout so the legend wraps without a stylesheet; the font size follows --chart-font-size.
  const row = d3
    .select(legend)
    .style('display', 'flex')
    .style('flex-wrap', 'wrap')
    .style('column-gap', '12px')
    .style('row-gap', '2px')
    .style('font-size', 'var(--chart-font-size, 11px)')
    .style('margin-bottom', '4px');
  row.selectAll('*').remove();
  for (const item of items) {
    const entry = row
      .append('span')
      .attr('class', 'legend-item')
      .style('display', 'inline-flex')
      .style('align-items', 'center')
      .style('gap', '4px')
      .style('white-space', 'nowrap');
    // Inline sizes win over stylesheet rules such as `.chart-body svg { width: 100% }`.
    const swatch = entry
      .append('svg')
      .attr('width', 26)
      .attr('height', 12)
      .attr('aria-hidden', 'true')
      .style('width', '26px')
      .style('height', '12px')
      .style('flex', 'none')
      .style('display', 'inline-block');
    if (item.kind === 'dot') {
      swatch.append('circle').attr('cx', 13).attr('cy', 6).attr('r', 4).attr('fill', item.color);
    } else if (item.kind === 'square') {
      swatch.append('rect').attr('x', 7).attr('y', 0).attr('width', 12).attr('height', 12).attr('fill', item.color);
    } else {
      swatch
        .append('line')
        .attr('x1', 1)
        .attr('x2', 25)
        .attr('y1', 6)
        .attr('y2', 6)
        .attr('stroke', item.color)
        .attr('stroke-dasharray', item.dash ?? null)
        .attr('opacity', item.opacity ?? 1)
        .style('stroke-width', strokeWidth(item));
    }
    entry.append('span').text(item.label);
  }
}

/**
 * Returns a layer over the plot area that clips its marks to width × height.
 * A nested <svg> clips its content without a clipPath id.
 */
export function clippedLayer(frame: Frame): d3.Selection<SVGSVGElement, unknown, null, undefined> {
  return frame.plot
    .append('svg')
    .attr('class', 'plot-clip')
    .attr('width', frame.width)
    .attr('height', frame.height)
    .attr('overflow', 'hidden');
}

type Layer = GroupSelection | d3.Selection<SVGSVGElement, unknown, null, undefined>;

/** Draws one series as a path of class `className`; points whose y is not defined break the line. */
export function drawSeries(
  layer: Layer,
  points: readonly Point[],
  x: LinearScale,
  y: LinearScale,
  style: { className: string; color: string; dash?: string | null; thin?: boolean; wide?: boolean; opacity?: number },
): void {
  const line = d3
    .line<Point>()
    .defined((point) => Number.isFinite(point.y) && Number.isFinite(y(point.y)))
    .x((point) => x(point.x))
    .y((point) => y(point.y));
  layer
    .append('path')
    .attr('class', `series ${style.className}`)
    .attr('fill', 'none')
    .attr('stroke', style.color)
    .attr('stroke-dasharray', style.dash ?? null)
    .attr('opacity', style.opacity ?? 1)
    .attr('stroke-linejoin', 'round')
    .style('stroke-width', strokeWidth(style))
    .attr('d', line(points as Point[]));
}

/** Draws a dot of class `mark` at each point with a finite position, tagged with `className`. */
export function drawMarks(
  layer: Layer,
  points: readonly Point[],
  x: LinearScale,
  y: LinearScale,
  style: { className: string; color: string; radius?: number; hollow?: boolean },
): void {
  const visible = points.filter((point) => Number.isFinite(point.y) && Number.isFinite(y(point.y)));
  layer
    .append('g')
    .attr('class', `marks ${style.className}`)
    .selectAll('circle')
    .data(visible)
    .join('circle')
    .attr('class', 'mark')
    .attr('cx', (point) => x(point.x))
    .attr('cy', (point) => y(point.y))
    .attr('r', style.radius ?? 3)
    .attr('fill', style.hollow === true ? 'white' : style.color)
    .attr('stroke', style.color);
}

/** A horizontal reference line with a label at its right end. */
export interface HorizontalRule {
  value: number;
  className: string;
  color: string;
  dash: string;
  /** Text at the line's right end; empty for none, as when the legend names the line. */
  label: string;
}

/**
 * Draws horizontal reference lines across the plot, labelled at the right.
 * Lines outside the y range are skipped, and labels that would overlap are
 * pushed apart vertically.
 */
export function drawRules(frame: Frame, rules: readonly HorizontalRule[], y: LinearScale): void {
  const visible = rules
    .map((rule) => ({ rule, position: y(rule.value) }))
    .filter(({ position }) => Number.isFinite(position) && position >= 0 && position <= frame.height);

  const layer = frame.plot.append('g').attr('class', 'rules');
  for (const { rule, position } of visible) {
    layer
      .append('line')
      .attr('class', `rule ${rule.className}`)
      .attr('x1', 0)
      .attr('x2', frame.width)
      .attr('y1', position)
      .attr('y2', position)
      .attr('stroke', rule.color)
      .attr('stroke-dasharray', rule.dash)
      .style('stroke-width', LINE_WIDTH);
  }

  const labelled = visible.filter(({ rule }) => rule.label !== '');
  const labelYs = spreadPositions(
    labelled.map(({ position }) => position - 4),
    13,
    10,
    frame.height - 2,
  );
  labelled.forEach(({ rule }, i) => {
    layer
      .append('text')
      .attr('class', `chart-annotation rule-label ${rule.className}-label`)
      .attr('x', frame.width - 4)
      .attr('y', labelYs[i] as number)
      .attr('text-anchor', 'end')
      .attr('fill', rule.color)
      .attr('paint-order', 'stroke')
      .attr('stroke', 'white')
      .attr('stroke-width', 3)
      .text(rule.label);
  });
}

/**
 * Moves label baselines apart so that neighbours are at least `gap` pixels
 * apart, keeping their order and staying within [low, high] where possible.
 * Returns the new positions in the input's order.
 */
export function spreadPositions(positions: readonly number[], gap: number, low: number, high: number): number[] {
  const order = positions.map((position, i) => ({ position, i })).sort((a, b) => a.position - b.position);
  const placed = order.map(({ position }) => Math.min(high, Math.max(low, position)));
  for (let k = 1; k < placed.length; k++) {
    placed[k] = Math.max(placed[k] as number, (placed[k - 1] as number) + gap);
  }

  // Shift the stack up when it ran past the bottom edge.
  const overflow = (placed[placed.length - 1] ?? high) - high;
  if (overflow > 0) {
    for (let k = placed.length - 1; k >= 0; k--) {
      const limit = k === placed.length - 1 ? high : (placed[k + 1] as number) - gap;
      placed[k] = Math.min(placed[k] as number, limit);
    }
  }

  const result = new Array<number>(positions.length);
  order.forEach(({ i }, k) => {
    result[i] = placed[k] as number;
  });
  return result;
}

/**
 * Adds a transparent overlay that follows the pointer: it snaps a vertical
 * rule to the nearest of `xs` (ascending) and shows `lines(index)` as the
 * tooltip. Call it last so the overlay sits above the marks.
 */
export function attachHover(
  frame: Frame,
  container: HTMLElement,
  x: LinearScale,
  xs: readonly number[],
  lines: (index: number) => string[],
): void {
  if (xs.length === 0) return;
  const rule = frame.plot
    .append('line')
    .attr('class', 'hover-rule')
    .attr('y1', 0)
    .attr('y2', frame.height)
    .attr('stroke', '#9ca3af')
    .attr('stroke-width', 1)
    .attr('pointer-events', 'none')
    .style('display', 'none');

  frame.plot
    .append('rect')
    .attr('class', 'hover-overlay')
    .attr('width', frame.width)
    .attr('height', frame.height)
    .attr('fill', 'transparent')
    .attr('pointer-events', 'all')
    .on('pointermove', (event: PointerEvent) => {
      const [px] = d3.pointer(event, frame.plot.node());
      const index = nearestIndex(xs, x.invert(px));
      const position = x(xs[index] as number);
      rule.attr('x1', position).attr('x2', position).style('display', null);
      const [cx, cy] = d3.pointer(event, container);
      showTooltip(container, cx, cy, lines(index));
    })
    .on('pointerleave', () => {
      rule.style('display', 'none');
      hideTooltip(container);
    });
}

/** Formats a value for a tooltip with 6 significant digits, in exponent form outside [1e-3, 1e5). */
export function formatPrecise(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(5);
  return d3.format('.6~r')(value);
}

/** Writes a note on row `row` of the plot's top-left corner (class chart-note). */
export function drawNote(frame: Frame, text: string, row = 0, color = '#374151'): void {
  frame.plot
    .append('text')
    .attr('class', 'chart-annotation chart-note')
    .attr('x', 6)
    .attr('y', 14 + row * 15)
    .attr('fill', color)
    .attr('paint-order', 'stroke')
    .attr('stroke', 'white')
    .attr('stroke-width', 3)
    .text(text);
}

/** One line of a chart's readout: a short statement of derived numbers, such as η_max against the lr. */
export interface ReadoutLine {
  text: string;
  className: string;
  /** Marks a warning, such as an unstable learning rate. */
  warning?: boolean;
}

/** Replaces the readout block (div.chart-readout) that sits between a chart's legend and its svg. */
export function drawReadout(container: HTMLElement, lines: readonly ReadoutLine[]): void {
  let readout = container.querySelector<HTMLDivElement>(':scope > .chart-readout');
  if (readout === null) {
    readout = document.createElement('div');
    readout.className = 'chart-readout';
    const svg = container.querySelector(':scope > svg');
    container.insertBefore(readout, svg);
  }

  const key = JSON.stringify(lines);
  if (readout.dataset.lines === key) return;
  readout.dataset.lines = key;
  const block = d3.select(readout).style('font-size', 'var(--chart-font-size, 11px)');
  block.selectAll('*').remove();
  for (const line of lines) {
    const row = block
      .append('div')
      .attr('class', `readout-line ${line.className}${line.warning === true ? ' readout-warning' : ''}`)
      .text(line.text);
    if (line.warning === true) row.style('color', COLORS.bound);
  }
}

/** Labels powers of ten only, as plain numbers in [0.01, 1000] and as 1ek beyond, so a log axis spanning decades stays readable. */
export function formatLogTick(value: d3.NumberValue): string {
  const exponent = Math.log10(Number(value));
  if (Math.abs(exponent - Math.round(exponent)) > 1e-9) return '';
  const k = Math.round(exponent);
  if (k >= -2 && k <= 3) return d3.format('~g')(Number(value));
  return `1e${k}`;
}

/** Shortens the unlabelled ticks of a log y axis to minor ticks, so only the labelled decades stand out. */
export function shortenMinorTicks(frame: Frame): void {
  frame.plot
    .selectAll<SVGGElement, unknown>('.axis-y .tick')
    .filter(function isUnlabelled() {
      return (this.querySelector('text')?.textContent ?? '') === '';
    })
    .select('line')
    .attr('x2', -3);
}
