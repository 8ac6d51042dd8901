/**
 * D3 pieces shared by the analysis charts (drift, Weyl, Jacobian change,
 * sweep): text sizing from CSS, decade tick labels for log axes, side-by-side
 * panels in one svg, legends and the module palette.
 */
import * as d3 from 'd3';

import type { ModuleName } from '../../core/model/modules.ts';
import { COLORS, createFrame, showTooltip, type Frame, type GroupSelection, type Margins, type SvgSelection } from './frame.ts';

/**
 * Takes every font size in the chart from the CSS variable --chart-font-size.
 * d3.axis writes font-size="10" on each axis group, which would win over the
 * inherited size, so that attribute is removed.
 */
export function applyChartText(svg: SvgSelection): void {
  svg.style('font-size', 'var(--chart-font-size, 12px)');
  svg.selectAll('.axis').attr('font-size', null);
}

const SUPERSCRIPT_DIGITS = '⁰¹²³⁴⁵⁶⁷⁸⁹';

function superscript(exponent: number): string {
  const digits = Array.from(String(Math.abs(exponent)), (digit) => SUPERSCRIPT_DIGITS[Number(digit)] ?? digit).join('');
  return exponent < 0 ? `⁻${digits}` : digits;
}

/**
 * Labels the decades of a log axis (0.01, 0.1, 1, 10, 100, then 10⁻³ and
 * 10³ beyond) and leaves the ticks between decades unlabelled.
 */
export function formatDecadeTick(value: d3.NumberValue): string {
  const number = Number(value);
  if (!(number > 0)) return '';
  const exponent = Math.round(Math.log10(number));
  if (Math.abs(number / 10 ** exponent - 1) > 1e-9) return '';
  if (exponent >= -2 && exponent <= 2) return String(10 ** exponent);
  return `10${superscript(exponent)}`;
}

/**
 * Returns the tick label format for a log scale: decades only, or also the
 * 2 and 5 of each decade when the domain spans at most two decades, where
 * decades alone would leave one or two labels.
 */
export function logTickFormat(scale: d3.ScaleLogarithmic<number, number>): (value: d3.NumberValue) => string {
  const [low, high] = scale.domain() as [number, number];
  if (Math.log10(high / low) > 2) return formatDecadeTick;

  return (value) => {
    const number = Number(value);
    const decade = 10 ** Math.floor(Math.log10(number) + 1e-9);
    const mantissa = Math.round(number / decade);
    if (Math.abs(number / decade - mantissa) > 1e-9 || ![1, 2, 5].includes(mantissa)) return '';
    return mantissa === 1 ? formatDecadeTick(number) : d3.format('~g')(number);
  };
}

/** Relabels the x axis that drawAxes drew, for a log x scale, with logTickFormat labels. */
export function relabelLogAxisX(frame: Frame, x: d3.ScaleLogarithmic<number, number>, ticks = 6): void {
  frame.plot.select<SVGGElement>('.axis-x').call(d3.axisBottom(x).ticks(ticks).tickFormat(logTickFormat(x)));
  frame.plot.selectAll('.axis').attr('font-size', null);
}

/**
 * Splits the svg into `count` panels of equal size, side by side when
 * `columns` is true, else stacked. Each panel has the same margins. The svg
 * is cleared first.
 */
export function createPanels(
  svg: SvgSelection,
  outerWidth: number,
  outerHeight: number,
  count: number,
  columns: boolean,
  margins: Margins,
): Frame[] {
  const panelWidth = columns ? outerWidth / count : outerWidth;
  const panelHeight = columns ? outerHeight : outerHeight / count;

  const first = createFrame(svg, outerWidth, outerHeight, {
    ...margins,
    right: margins.right + (outerWidth - panelWidth),
    bottom: margins.bottom + (outerHeight - panelHeight),
  });
  const frames: Frame[] = [{ ...first, margins }];

  for (let k = 1; k < count; k++) {
    const left = (columns ? k * panelWidth : 0) + margins.left;
    const top = (columns ? 0 : k * panelHeight) + margins.top;
    const plot = svg.append('g').attr('class', 'plot').attr('transform', `translate(${left},${top})`);
    frames.push({ svg, plot, width: first.width, height: first.height, margins });
  }
  return frames;
}

export type LegendShape = 'line' | 'dashed' | 'dotted' | 'dot' | 'hollow' | 'band' | 'swatch';

export interface LegendItem {
  label: string;
  color: string;
  shape: LegendShape;
}

const LEGEND_SAMPLE = 18;
const LEGEND_DASH: Partial<Record<LegendShape, string>> = { dashed: '6 3', dotted: '2 3' };
const LEGEND_GAP = 14;
const LEGEND_ROW = 18;

/**
 * Draws a legend into `parent` at (x, y), wrapping items onto new rows
 * within maxWidth. Label widths are measured after layout, so rows fit
 * whatever font size CSS sets. Returns the legend's height.
 */
export function drawLegend(parent: GroupSelection, items: readonly LegendItem[], x: number, y: number, maxWidth: number): number {
  const legend = parent.append('g').attr('class', 'legend').attr('transform', `translate(${x},${y})`);
  const entries = items.map((item) => {
    const entry = legend.append('g').attr('class', 'legend-item');
    drawLegendSample(entry, item);
    entry
      .append('text')
      .attr('x', LEGEND_SAMPLE + 5)
      .attr('dy', '0.35em')
      .text(item.label);
    return entry;
  });

  let cursorX = 0;
  let row = 0;
  for (const entry of entries) {
    const width = (entry.node()?.getBBox().width ?? 80) + LEGEND_GAP;
    if (cursorX > 0 && cursorX + width > maxWidth) {
      cursorX = 0;
      row += 1;
    }
    entry.attr('transform', `translate(${cursorX},${row * LEGEND_ROW})`);
    cursorX += width;
  }
  return (row + 1) * LEGEND_ROW;
}

function drawLegendSample(entry: GroupSelection, item: LegendItem): void {
  const middle = LEGEND_SAMPLE / 2;
  switch (item.shape) {
    case 'line':
    case 'dashed':
    case 'dotted':
      entry
        .append('line')
        .attr('x1', 0)
        .attr('x2', LEGEND_SAMPLE)
        .attr('stroke', item.color)
        .attr('stroke-dasharray', LEGEND_DASH[item.shape] ?? null)
        .style('stroke-width', 'var(--line-width, 2px)');
      break;
    case 'dot':
    case 'hollow':
      entry
        .append('circle')
        .attr('cx', middle)
        .attr('r', 4.5)
        .attr('fill', item.shape === 'dot' ? item.color : 'white')
        .attr('stroke', item.color)
        .style('stroke-width', 'var(--line-width, 2px)');
      break;
    case 'band':
    case 'swatch':
      entry
        .append('rect')
        .attr('y', -6)
        .attr('width', LEGEND_SAMPLE)
        .attr('height', 12)
        .attr('fill', item.color)
        .attr('fill-opacity', item.shape === 'band' ? 0.2 : 1);
      break;
  }
}

/**
 * One color per module: blues for the attention projections and ambers for
 * the MLP, so the two kinds read apart. Not part of COLORS because it
 * encodes modules, not series.
 */
export const MODULE_COLORS: Readonly<Record<ModuleName, string>> = {
  'attn.q': '#93c5fd',
  'attn.k': '#60a5fa',
  'attn.v': COLORS.real,
  'attn.c_proj': '#1e3a8a',
  'mlp.c_fc': '#fbbf24',
  'mlp.c_proj': '#b45309',
};

/** Returns a D3 mouse handler that shows the tooltip lines of the hovered datum. */
export function tooltipOnHover<T>(container: HTMLElement, lines: (datum: T) => string[]): (event: MouseEvent, datum: T) => void {
  return (event, datum) => {
    const [left, top] = d3.pointer(event, container);
    showTooltip(container, left, top, lines(datum));
  };
}

/** Returns the plot x of a pointer event relative to a panel, and the container position for a tooltip. */
export function pointerIn(event: MouseEvent, panel: SVGGElement, container: HTMLElement): { x: number; y: number; left: number; top: number } {
  const [x, y] = d3.pointer(event, panel);
  const [left, top] = d3.pointer(event, container);
  return { x, y, left, top };
}
