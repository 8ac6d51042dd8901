/**
 * The exact spectrum of a layer choice K_S = Σ_{b∈S} K_b against its Weyl
 * bounds: μ₁(K_S) ≤ Σ_b μ₁(K_b) and μ_n(K_S) ≥ Σ_b μ_n(K_b). A second view
 * plots every sweep subset's exact extremes against its bounds.
 */
import * as d3 from 'd3';
import { useState } from 'react';

import type { PreviewEvent, SweepEvent } from '../../core/events.ts';
import { inheritAxisFont, logTickFormat, marginsInEm, MODULE_COLORS, relabelLogAxisX, setChartFont, tooltipOnHover } from './analysis-marks.ts';
import { logDomain, weylStack, type WeylSegment } from './analysis-series.ts';
import { ChartCard } from './ChartCard.tsx';
import './analysis-charts.css';
import {
  COLORS,
  createFrame,
  drawAxes,
  formatPercent,
  formatValue,
  hideTooltip,
  useChart,
  type GroupSelection,
  type SvgSelection,
} from './frame.ts';
import { drawLegend, drawReadout, LINE_WIDTH } from './marks.ts';

export interface WeylChartProps {
  /** The preview of the current layer choice; its blocks cover the whole model. */
  preview: PreviewEvent | null;
  /** Sweep subsets so far, for the second view. */
  sweep: readonly SweepEvent[];
}

type View = 'subset' | 'sweep';

/**
 * Vertical layout of the subset view in font units: the plot, its x axis,
 * then the stack (title, bar and two label rows under the bar).
 */
const SUBSET_LAYOUT = { plotHeight: 15, axis: 3.4, stackTitle: 1.4, stackTop: 1.9, stackHeight: 1.8, labelRow: 1.3, padding: 0.6 };
/** Height of the sweep view in font units. */
const SWEEP_HEIGHT_EM = 26;

/** Formats the ratio of an exact extreme eigenvalue to its bound. */
function formatRatio(exact: number, bound: number): string {
  if (bound === 0) return exact === 0 ? 'equal to the bound' : 'bound is 0';
  const ratio = exact / bound;
  return ratio <= 1 ? `${formatPercent(ratio)} of the bound` : `${formatValue(ratio)}× the bound`;
}

/** Writes μ₁(K_S) ≤ upper and μ_n(K_S) ≥ lower above the plot, marking either as violated if it fails. */
function drawInequalities(container: HTMLDivElement, preview: PreviewEvent, muMax: number, muMin: number): void {
  const { upper, lower } = preview.weyl;
  // Float64 round-off can put an exact eigenvalue a few ulps past its bound.
  const tolerance = 1e-9 * Math.max(upper, 1e-300);
  const rows = [
    { holds: muMax <= upper + tolerance, text: `μ₁(K_S) = ${formatValue(muMax)}  ≤  Σ_b μ₁(K_b) = ${formatValue(upper)}   (${formatRatio(muMax, upper)})` },
    { holds: muMin >= lower - tolerance, text: `μ_n(K_S) = ${formatValue(muMin)}  ≥  Σ_b μ_n(K_b) = ${formatValue(lower)}   (${formatRatio(muMin, lower)})` },
  ];
  drawReadout(
    container,
    rows.map((row) => ({
      text: row.holds ? row.text : `${row.text}: violated`,
      className: `inequality ${row.holds ? 'holds' : 'violated'}`,
      warning: !row.holds,
    })),
  );
}

function drawStack(
  plot: GroupSelection,
  container: HTMLDivElement,
  segments: readonly WeylSegment[],
  top: number,
  plotWidth: number,
  muMax: number,
  upper: number,
  em: number,
): void {
  const group = plot.append('g').attr('class', 'weyl-stack').attr('transform', `translate(0,${top})`);
  const x = d3.scaleLinear().domain([0, upper > 0 ? upper : 1]).range([0, plotWidth]);
  const stackHeight = SUBSET_LAYOUT.stackHeight * em;
  const labelRow = SUBSET_LAYOUT.labelRow * em;

  group
    .append('text')
    .attr('class', 'stack-title')
    .attr('y', (SUBSET_LAYOUT.stackTitle - SUBSET_LAYOUT.stackTop) * em)
    .text('μ₁(K_b) of each chosen block, stacked on a linear axis');

  group
    .selectAll('rect.bar')
    .data(segments)
    .join('rect')
    .attr('class', 'bar')
    .attr('data-block', (s) => `${s.layer}:${s.module}`)
    .attr('x', (s) => x(s.start))
    .attr('width', (s) => Math.max(0, x(s.end) - x(s.start)))
    .attr('height', stackHeight)
    .attr('fill', (s) => MODULE_COLORS[s.module])
    .attr('stroke', 'white')
    .on(
      'mouseenter',
      tooltipOnHover(container, (s: WeylSegment) => [
        `layer ${s.layer} ${s.module}`,
        `μ₁(K_b) = ${formatValue(s.muMax)} (${formatPercent(upper > 0 ? s.muMax / upper : null)} of the upper bound)`,
        `μ_n(K_b) = ${formatValue(s.muMin)}`,
      ]),
    )
    .on('mouseleave', () => hideTooltip(container));

  group
    .selectAll('text.segment-label')
    .data(segments.filter((s) => x(s.end) - x(s.start) >= 3.2 * em))
    .join('text')
    .attr('class', 'segment-label')
    .attr('x', (s) => (x(s.start) + x(s.end)) / 2)
    .attr('y', stackHeight / 2)
    .attr('dy', '0.35em')
    .attr('text-anchor', 'middle')
    .attr('fill', (s) => (s.module === 'attn.c_proj' || s.module === 'attn.v' || s.module === 'mlp.c_proj' ? 'white' : '#111827'))
    .style('pointer-events', 'none')
    .text((s) => `L${s.layer} ${s.module.split('.')[1] ?? s.module}`);

  const exactX = x(muMax);
  group
    .append('line')
    .attr('class', 'exact-max-marker')
    .attr('x1', exactX)
    .attr('x2', exactX)
    .attr('y1', -2)
    .attr('y2', stackHeight + 6)
    .attr('stroke', '#111827')
    .style('stroke-width', LINE_WIDTH);
  const labelOnLeft = exactX > plotWidth * 0.6;
  group
    .append('text')
    .attr('class', 'exact-max-label')
    .attr('x', exactX + (labelOnLeft ? -4 : 4))
    .attr('y', stackHeight + labelRow)
    .attr('text-anchor', labelOnLeft ? 'end' : 'start')
    .text(`exact μ₁(K_S) = ${formatValue(muMax)}`);
  group
    .append('text')
    .attr('class', 'stack-scale')
    .attr('x', plotWidth)
    .attr('y', stackHeight + 2 * labelRow)
    .attr('text-anchor', 'end')
    .attr('fill', COLORS.bound)
    .text(`full bar = Σ_b μ₁(K_b) = ${formatValue(upper)}, the upper bound`);
}

function renderSubset(svg: SvgSelection, width: number, container: HTMLDivElement, preview: PreviewEvent): void {
  const layout = SUBSET_LAYOUT;
  const em = setChartFont(svg);
  const bottom = layout.axis + layout.stackTop + layout.stackHeight + 2 * layout.labelRow + layout.padding;
  const frame = createFrame(svg, width, (1 + layout.plotHeight + bottom) * em, marginsInEm(em, { top: 1, right: 1.8, bottom, left: 5.2 }));
  const { plot, width: plotWidth, height } = frame;

  const eigenvalues = preview.eigenvalues;
  const muMax = eigenvalues[0] ?? 0;
  const muMin = eigenvalues[eigenvalues.length - 1] ?? 0;
  const { upper, lower } = preview.weyl;
  const indexed = eigenvalues.map((mu, i) => ({ index: i + 1, mu }));

  const x = d3
    .scaleLinear()
    .domain([0.5, Math.max(1, eigenvalues.length) + 0.5])
    .range([0, plotWidth]);
  const yDomain = logDomain([...eigenvalues, upper, lower]);
  const y = d3.scaleLog().domain(yDomain).range([height, 0]).clamp(true);

  drawAxes(frame, x, y, { x: `eigenvalue index i (1 … ${eigenvalues.length})`, y: 'eigenvalue μᵢ of K_S (log)' }, { yFormat: logTickFormat(y), xTicks: Math.min(eigenvalues.length, 8) });
  inheritAxisFont(svg);
  frame.plot.select('.axis-x').selectAll('.tick text').filter((value) => !Number.isInteger(Number(value))).remove();
  // drawAxes puts the x label at the bottom margin, which here contains the stack, so move it up under the axis.
  frame.plot.selectAll<SVGTextElement, unknown>('text.axis-label').filter((_, i) => i === 0).attr('y', height + (layout.axis - 0.5) * em);

  const bounds = [
    { name: 'upper', value: upper, dash: null, label: `upper bound Σ_b μ₁(K_b) = ${formatValue(upper)}`, anchor: 'end' as const },
    { name: 'lower', value: lower, dash: '6 3', label: `lower bound Σ_b μ_n(K_b) = ${formatValue(lower)}`, anchor: 'start' as const },
  ].filter((bound) => bound.value > 0);
  for (const bound of bounds) {
    const boundY = y(bound.value);
    plot
      .append('line')
      .attr('class', `bound bound-${bound.name}`)
      .attr('x1', 0)
      .attr('x2', plotWidth)
      .attr('y1', boundY)
      .attr('y2', boundY)
      .attr('stroke', COLORS.bound)
      .attr('stroke-dasharray', bound.dash)
      .style('stroke-width', LINE_WIDTH);
    plot
      .append('text')
      .attr('class', `bound-label bound-label-${bound.name}`)
      .attr('x', bound.anchor === 'end' ? plotWidth - 4 : 4)
      .attr('y', bound.name === 'upper' ? boundY - 0.45 * em : boundY + 1.15 * em)
      .attr('text-anchor', bound.anchor)
      .attr('fill', COLORS.bound)
      .text(bound.label);
  }

  const extremeClass = (index: number): string => {
    if (index === 1) return ' exact-max';
    if (index === eigenvalues.length) return ' exact-min';
    return '';
  };
  plot
    .selectAll('circle.mark')
    .data(indexed)
    .join('circle')
    .attr('class', (d) => `mark eigenvalue${extremeClass(d.index)}${d.mu > 0 ? '' : ' at-zero'}`)
    .attr('cx', (d) => x(d.index))
    .attr('cy', (d) => y(d.mu > 0 ? d.mu : yDomain[0]))
    .attr('r', (d) => (extremeClass(d.index) === '' ? 3.5 : 6))
    .attr('fill', (d) => (d.mu > 0 ? COLORS.real : 'white'))
    .attr('stroke', (d) => (extremeClass(d.index) === '' ? 'white' : '#111827'))
    .style('stroke-width', '1.5px')
    .on(
      'mouseenter',
      tooltipOnHover(container, (d: { index: number; mu: number }) => {
        const lines = [`μ_${d.index} of K_S = ${formatValue(d.mu)}`];
        if (d.index === 1) lines.push(`upper bound Σ_b μ₁(K_b) = ${formatValue(upper)}`, formatRatio(d.mu, upper));
        if (d.index === eigenvalues.length) lines.push(`lower bound Σ_b μ_n(K_b) = ${formatValue(lower)}`, formatRatio(d.mu, lower));
        if (d.mu === 0) lines.push('0 sits at the bottom of the log axis');
        return lines;
      }),
    )
    .on('mouseleave', () => hideTooltip(container));

  drawInequalities(container, preview, muMax, muMin);
  drawLegend(container, [
    { label: 'eigenvalues μᵢ of K_S (exact)', color: COLORS.real, kind: 'dot' },
    { label: 'Weyl upper bound Σ_b μ₁(K_b)', color: COLORS.bound },
    { label: 'Weyl lower bound Σ_b μ_n(K_b)', color: COLORS.bound, dash: '6 3' },
  ]);
  drawStack(plot, container, weylStack(preview), height + (layout.axis + layout.stackTop) * em, plotWidth, muMax, upper, em);
}

interface SweepBoundPoint {
  adapters: string;
  kind: 'upper' | 'lower';
  bound: number;
  exact: number;
}

function renderSweep(svg: SvgSelection, width: number, container: HTMLDivElement, sweep: readonly SweepEvent[]): void {
  const em = setChartFont(svg);
  const frame = createFrame(svg, width, SWEEP_HEIGHT_EM * em, marginsInEm(em, { top: 1, right: 1.8, bottom: 3.4, left: 5.2 }));
  const { plot, width: plotWidth, height } = frame;

  const points: SweepBoundPoint[] = sweep.flatMap((event) => [
    { adapters: event.adapters, kind: 'upper' as const, bound: event.weyl.upper, exact: event.stats.muMax },
    { adapters: event.adapters, kind: 'lower' as const, bound: event.weyl.lower, exact: event.stats.muMin },
  ]);
  const plotted = points.filter((point) => point.bound > 0 && point.exact > 0);
  const domain = logDomain(plotted.flatMap((point) => [point.bound, point.exact]));
  const x = d3.scaleLog().domain(domain).range([0, plotWidth]);
  const y = d3.scaleLog().domain(domain).range([height, 0]);

  drawAxes(frame, x, y, { x: 'Weyl bound from the blocks (log)', y: 'exact eigenvalue of K_S (log)' }, { yFormat: logTickFormat(y) });
  relabelLogAxisX(frame, x);
  inheritAxisFont(svg);

  plot
    .append('line')
    .attr('class', 'diagonal')
    .attr('x1', x(domain[0]))
    .attr('y1', y(domain[0]))
    .attr('x2', x(domain[1]))
    .attr('y2', y(domain[1]))
    .attr('stroke', COLORS.reference)
    .attr('stroke-dasharray', '4 4');

  plot
    .selectAll('circle.mark')
    .data(plotted)
    .join('circle')
    .attr('class', (point) => `mark series-${point.kind}`)
    .attr('data-adapters', (point) => point.adapters)
    .attr('cx', (point) => x(point.bound))
    .attr('cy', (point) => y(point.exact))
    .attr('r', 5)
    .attr('fill', (point) => (point.kind === 'upper' ? COLORS.real : 'white'))
    .attr('stroke', (point) => (point.kind === 'upper' ? 'white' : COLORS.highlight))
    .style('stroke-width', LINE_WIDTH)
    .on(
      'mouseenter',
      tooltipOnHover(container, (point: SweepBoundPoint) => [
        `adapters ${point.adapters}`,
        point.kind === 'upper' ? `μ₁(K_S) = ${formatValue(point.exact)}` : `μ_n(K_S) = ${formatValue(point.exact)}`,
        point.kind === 'upper' ? `Σ_b μ₁(K_b) = ${formatValue(point.bound)}` : `Σ_b μ_n(K_b) = ${formatValue(point.bound)}`,
        formatRatio(point.exact, point.bound),
      ]),
    )
    .on('mouseleave', () => hideTooltip(container));

  drawReadout(container, []);
  drawLegend(container, [
    { label: 'μ₁(K_S) vs upper bound: on or below the diagonal', color: COLORS.real, kind: 'dot' },
    { label: 'μ_n(K_S) vs lower bound (rings): on or above', color: COLORS.highlight, kind: 'dot' },
    { label: 'exact = bound', color: COLORS.reference, dash: '4 4' },
  ]);
  const hidden = points.length - plotted.length;
  if (hidden > 0) {
    plot
      .append('text')
      .attr('class', 'chart-note')
      .attr('x', 4)
      .attr('y', em)
      .text(`${hidden} value${hidden === 1 ? '' : 's'} of 0 not shown on the log axes`);
  }
}

/** Renders the Weyl bounds of the current layer choice, and of every sweep subset in a second view. */
export function WeylChart({ preview, sweep }: WeylChartProps) {
  const [requestedView, setView] = useState<View>('subset');
  const hasSubset = preview !== null && preview.eigenvalues.length > 0;
  // Without a subset spectrum the card would show only its empty state, so a sweep takes the chart.
  let view: View = requestedView;
  if (sweep.length === 0) view = 'subset';
  else if (!hasSubset) view = 'sweep';

  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      hideTooltip(container);
      if (view === 'sweep' && sweep.length > 0) renderSweep(svg, width, container, sweep);
      else if (view === 'subset' && preview !== null && preview.eigenvalues.length > 0) renderSubset(svg, width, container, preview);
    },
    [view, preview, sweep],
  );

  let emptyMessage: string | null = null;
  if (view === 'subset' && preview === null) emptyMessage = 'Compute the NTK preview to compare a layer choice with its Weyl bounds.';
  else if (view === 'subset' && !hasSubset) emptyMessage = 'No block is selected. Switch on at least one (layer, module) in the model grid.';

  let caption: string | undefined;
  if (view === 'subset' && preview !== null) {
    caption =
      `Full kernel K_S = Σ_{b∈S} K_b at θ₀ for adapters ${preview.adapters}, on N = ${preview.n} probe examples × C = ${preview.c} logits ` +
      `(${preview.n * preview.c} × ${preview.n * preview.c}). Eigenvalues of K itself, not divided by N. Every block K_b is PSD, ` +
      `so μ₁(K_S) ≤ Σ_b μ₁(K_b) and μ_n(K_S) ≥ Σ_b μ_n(K_b). The bounds do not depend on λ (here ${formatValue(preview.lambda)}).`;
  } else if (view === 'sweep') {
    caption =
      `Each subset S of the sweep (${sweep.length} so far) gives two points: its exact μ₁(K_S) against Σ_b μ₁(K_b) and its exact μ_n(K_S) against Σ_b μ_n(K_b). ` +
      'Full kernel at θ₀ on the probe set, not divided by N.';
  }

  return (
    <ChartCard id="weyl" title="Layer choice against Weyl bounds" caption={caption} emptyMessage={emptyMessage}>
      {sweep.length > 0 ? (
        <div className="chart-view-switch" role="group" aria-label="Weyl chart view">
          <button type="button" aria-pressed={view === 'subset'} disabled={!hasSubset} onClick={() => setView('subset')}>
            Current layer choice
          </button>
          <button type="button" aria-pressed={view === 'sweep'} onClick={() => setView('sweep')}>
            Sweep subsets ({sweep.length})
          </button>
        </div>
      ) : null}
      <div ref={containerRef} className="chart-container" style={{ position: 'relative' }}>
        <svg
          ref={svgRef}
          role="img"
          aria-label={view === 'subset' ? 'Eigenvalues of the chosen subset kernel between its Weyl bounds' : 'Exact extreme eigenvalues of each sweep subset against their Weyl bounds'}
        />
      </div>
    </ChartCard>
  );
}
