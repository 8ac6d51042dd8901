/**
 * D3 pieces shared by the analysis charts (drift, Weyl, Jacobian change,
 * sweep): text sizing from CSS, margins in font units, log tick labels,
 * side-by-side panels in one svg, tooltips on marks and the module palette.
 */
import * as d3 from 'd3';

import type { ModuleName } from '../../core/model/modules.ts';
import { COLORS, createFrame, showTooltip, type Frame, type Margins, type SvgSelection } from './frame.ts';
import { formatLogTick } from './marks.ts';

/** The chart font size when the CSS variable --chart-font-size is missing. */
const DEFAULT_FONT_PX = 12;

/**
 * Sets the svg's font size from the CSS variable --chart-font-size and
 * returns it in pixels, so margins and label offsets can be laid out in font
 * units and still fit in presentation mode.
 */
export function setChartFont(svg: SvgSelection): number {
  svg.style('font-size', `var(--chart-font-size, ${DEFAULT_FONT_PX}px)`);
  const node = svg.node();
  const size = node === null ? Number.NaN : Number.parseFloat(getComputedStyle(node).fontSize);
  return Number.isFinite(size) && size > 0 ? size : DEFAULT_FONT_PX;
}

/**
 * Lets the axes inherit the chart's font size. d3.axis writes font-size="10"
 * on each axis group, which would win over the inherited size.
 */
export function inheritAxisFont(svg: SvgSelection): void {
  svg.selectAll('.axis').attr('font-size', null);
}

/** Converts margins given in font units (em) to pixels. */
export function marginsInEm(em: number, margins: Margins): Margins {
  return {
    top: Math.round(margins.top * em),
    right: Math.round(margins.right * em),
    bottom: Math.round(margins.bottom * em),
    left: Math.round(margins.left * em),
  };
}

/**
 * Returns the tick label format for a log scale: decades only, or also the
 * 2 and 5 of each decade when the domain spans at most two decades, where
 * decades alone would leave one or two labels.
 */
export function logTickFormat(scale: d3.ScaleLogarithmic<number, number>): (value: d3.NumberValue) => string {
  const [low, high] = scale.domain() as [number, number];
  if (Math.log10(high / low) > 2) return formatLogTick;

  return (value) => {
    const number = Number(value);
    const decade = 10 ** Math.floor(Math.log10(number) + 1e-9);
    const mantissa = Math.round(number / decade);
    if (Math.abs(number / decade - mantissa) > 1e-9 || ![1, 2, 5].includes(mantissa)) return '';
    return mantissa === 1 ? formatLogTick(number) : d3.format('~g')(number);
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
