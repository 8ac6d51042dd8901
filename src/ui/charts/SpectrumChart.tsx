/**
 * The empirical NTK spectrum μᵢ against the index i on a log axis. It shows
 * the kernel at θ₀ against the latest recomputed one, or the θ₀ preview
 * before a run, with the Nλ line and the GD stability edge N(2/η − λ) for
 * the current lr.
 */
import * as d3 from 'd3';
import { useState } from 'react';

import type { NtkEvent, PreviewEvent } from '../../core/events.ts';
import { ChartCard } from './ChartCard.tsx';
import { COLORS, createFrame, drawAxes, formatValue, useChart, type SvgSelection } from './frame.ts';
import { KernelToggle } from './ChartControls.tsx';
import {
  attachHover,
  clippedLayer,
  drawLegend,
  drawMarks,
  drawReadout,
  drawRules,
  drawSeries,
  formatLogTick,
  formatPrecise,
  shortenMinorTicks,
  type HorizontalRule,
  type LegendItem,
  type ReadoutLine,
} from './marks.ts';
import {
  downsampleMinMax,
  eigenPoints,
  etaMax,
  kernelEigenvalues,
  logFloor,
  stabilityEdge,
  type EigenPoint,
  type KernelKind,
  type LogFloor,
  type Point,
} from './series.ts';

export interface SpectrumChartProps {
  ntk: readonly NtkEvent[];
  preview: PreviewEvent | null;
  /** The current learning rate η. */
  lr: number;
  /** The current regularization strength λ. */
  lambda: number;
}

const HEIGHT = 300;

/** Eigenvalues are drawn as dots only while a spectrum has at most this many. */
const MAX_MARKS = 128;

/** Reference lines stretch the y axis by at most this factor beyond the spectrum's range. */
const RULE_HEADROOM = 1000;

interface Spectrum {
  key: 'theta0' | 'now' | 'preview';
  label: string;
  color: string;
  eigenvalues: number[];
}

interface SpectrumView {
  spectra: Spectrum[];
  /** Probe examples N and logits C. */
  n: number;
  c: number;
  kernel: KernelKind;
}

/** Chooses what to draw: θ₀ and the latest NTK of the run, or the preview before any run. */
function spectrumView(props: SpectrumChartProps, requested: KernelKind): SpectrumView | null {
  const { ntk, preview } = props;
  const first = ntk[0];
  if (first !== undefined) {
    const spectra: Spectrum[] = [
      { key: 'theta0', label: `θ₀ (step ${first.step})`, color: COLORS.reference, eigenvalues: kernelEigenvalues(first, requested) },
    ];
    const last = ntk.at(-1) as NtkEvent;
    if (ntk.length > 1) {
      spectra.push({ key: 'now', label: `now (step ${last.step})`, color: COLORS.real, eigenvalues: kernelEigenvalues(last, requested) });
    }
    return { spectra, n: first.n, c: first.c, kernel: requested };
  }
  if (preview !== null && preview.eigenvalues.length > 0) {
    return {
      spectra: [{ key: 'preview', label: 'θ₀ preview', color: COLORS.highlight, eigenvalues: preview.eigenvalues }],
      n: preview.n,
      c: preview.c,
      kernel: 'full',
    };
  }
  return null;
}

function render(
  props: SpectrumChartProps,
  view: SpectrumView,
  svg: SvgSelection,
  outerWidth: number,
  container: HTMLDivElement,
): void {
  const { lr, lambda } = props;
  const { spectra, n } = view;
  const frame = createFrame(svg, outerWidth, HEIGHT);
  const floor = logFloor(spectra.map((spectrum) => spectrum.eigenvalues));
  const points = spectra.map((spectrum) => eigenPoints(spectrum.eigenvalues, floor.floor));

  const count = Math.max(...spectra.map((spectrum) => spectrum.eigenvalues.length));
  const x = d3.scaleLinear().domain([1, Math.max(2, count)]).range([0, frame.width]);

  const nLambda = n * lambda;
  const edge = stabilityEdge(n, lr, lambda);
  const muMax = Math.max(...points.flat().map((point) => point.plotted));
  let low = floor.floor;
  let high = muMax * 1.5;
  for (const value of [nLambda, edge]) {
    if (value === null || value <= 0) continue;
    if (value >= low / RULE_HEADROOM && value <= high * RULE_HEADROOM) {
      low = Math.min(low, value / 1.5);
      high = Math.max(high, value * 1.5);
    }
  }
  const y = d3.scaleLog().domain([low, high]).range([frame.height, 0]).nice();

  const kernelName = view.kernel === 'full' ? 'K' : 'K_tr';
  drawAxes(frame, x, y, { x: 'eigenvalue index i', y: `eigenvalue μᵢ of ${kernelName} (log, not ÷ N)` }, {
    yTicks: 5,
    yFormat: formatLogTick,
  });
  shortenMinorTicks(frame);

  const layer = clippedLayer(frame);
  spectra.forEach((spectrum, i) => {
    const eigen = points[i] as EigenPoint[];
    const toPoint = (point: EigenPoint): Point => ({ x: point.index, y: point.plotted });
    // A kernel of probeSize·C rows can have thousands of eigenvalues; keep about one point per pixel.
    drawSeries(layer, downsampleMinMax(eigen.map(toPoint), frame.width), x, y, { className: `series-${spectrum.key}`, color: spectrum.color });
    if (eigen.length <= MAX_MARKS) {
      const positive = eigen.filter((point) => !point.clipped).map(toPoint);
      drawMarks(frame.plot, positive, x, y, { className: `marks-${spectrum.key}`, color: spectrum.color, radius: 2.5 });
    }
    const zeros = eigen.filter((point) => point.clipped).map(toPoint);
    if (zeros.length <= MAX_MARKS) {
      drawMarks(frame.plot, zeros, x, y, { className: `marks-${spectrum.key}-zero`, color: spectrum.color, radius: 3, hollow: true });
    }
  });

  const rules: HorizontalRule[] = [];
  if (nLambda > 0) {
    rules.push({ value: nLambda, className: 'rule-n-lambda', color: COLORS.theory, dash: '4 3', label: `Nλ = ${formatValue(nLambda)}` });
  }
  if (edge !== null) {
    rules.push({
      value: edge,
      className: 'rule-stability-edge',
      color: COLORS.bound,
      dash: '6 3',
      label: `stability edge N(2/η − λ) = ${formatValue(edge)}`,
    });
  }
  drawRules(frame, rules, y);

  drawLegend(container, legendItems(spectra, nLambda, edge));
  drawReadout(container, readoutLines(view, floor, lr, lambda, nLambda, edge, y.domain() as [number, number]));

  const xs = d3.range(1, count + 1);
  attachHover(frame, container, x, xs, (index) => tooltipLines(view, index, lr, lambda));
}

function legendItems(spectra: readonly Spectrum[], nLambda: number, edge: number | null): LegendItem[] {
  const items: LegendItem[] = spectra.map((spectrum) => ({ label: spectrum.label, color: spectrum.color }));
  if (nLambda > 0) items.push({ label: 'Nλ', color: COLORS.theory, dash: '4 3' });
  if (edge !== null) items.push({ label: 'GD stability edge for the current lr', color: COLORS.bound, dash: '6 3' });
  return items;
}

function readoutLines(
  view: SpectrumView,
  floor: LogFloor,
  lr: number,
  lambda: number,
  nLambda: number,
  edge: number | null,
  domain: [number, number],
): ReadoutLine[] {
  const { spectra, n } = view;
  const latest = spectra.at(-1) as Spectrum;
  const muMax = latest.eigenvalues[0] ?? 0;
  const maxRate = etaMax(muMax, n, lambda);
  const lines: ReadoutLine[] = [];

  if (maxRate !== null) {
    const stable = lr < maxRate;
    lines.push({
      text:
        `η_max = 2/(μ₁/N + λ) = ${formatValue(maxRate)} for ${latest.label}; current lr η = ${formatValue(lr)}` +
        (stable ? ' < η_max, so full-batch GD is stable in every mode.' : ' ≥ η_max, so full-batch GD would diverge along the top mode.'),
      className: 'readout-eta',
      warning: !stable,
    });
  } else {
    lines.push({ text: 'η_max is unbounded: μ₁ = 0 and λ = 0.', className: 'readout-eta' });
  }

  if (edge === null) {
    lines.push({
      text: `No stability edge: η·λ = ${formatValue(lr * lambda)} ≥ 2, so GD diverges in every mode at this lr.`,
      className: 'readout-edge',
      warning: true,
    });
  } else if (edge > domain[1]) {
    lines.push({ text: `The stability edge N(2/η − λ) = ${formatValue(edge)} lies above the plot.`, className: 'readout-edge' });
  }
  if (lambda === 0) lines.push({ text: 'λ = 0: no Nλ line.', className: 'readout-lambda' });
  else if (nLambda < domain[0]) lines.push({ text: `Nλ = ${formatValue(nLambda)} lies below the plot.`, className: 'readout-lambda' });

  if (!floor.anyPositive) {
    lines.push({ text: 'Every eigenvalue is 0.', className: 'readout-floor', warning: true });
  } else if (floor.zeros > 0) {
    lines.push({
      text:
        `${floor.zeros} zero eigenvalue${floor.zeros === 1 ? ' is' : 's are'} drawn at the floor ${formatValue(floor.floor)}` +
        (floor.zeros <= MAX_MARKS ? ' (hollow dots).' : '.'),
      className: 'readout-floor',
    });
  }
  return lines;
}

function tooltipLines(view: SpectrumView, index: number, lr: number, lambda: number): string[] {
  const lines = [`i = ${index + 1}`];
  for (const spectrum of view.spectra) {
    const mu = spectrum.eigenvalues[index];
    if (mu === undefined) continue;
    const rate = mu / view.n + lambda;
    lines.push(
      `${spectrum.label}: μ = ${formatPrecise(mu)}${mu <= 0 ? ' (drawn at the floor)' : ''}`,
      `   μ/N + λ = ${formatPrecise(rate)}, GD contraction |1 − η(μ/N + λ)| = ${formatPrecise(Math.abs(1 - lr * rate))}`,
    );
  }
  return lines;
}

function caption(view: SpectrumView, lambda: number): string {
  const { n, c, kernel } = view;
  const kernelText =
    kernel === 'full'
      ? `the full empirical NTK K over N = ${n} probe examples and C = ${c} logits (N·C × N·C = ${n * c} × ${n * c})`
      : `the traced kernel K_tr = (1/C) Σₐ K_aa over N = ${n} probe examples (N × N = ${n} × ${n}; C = ${c})`;
  const edgeText =
    kernel === 'full'
      ? 'Mode i of full-batch GD is stable while η(μᵢ/N + λ) < 2.'
      : 'The stability edge is exact for the full kernel; for K_tr it holds when K = K_tr ⊗ I_C.';
  return `Eigenvalues μᵢ of ${kernelText}, descending and not divided by N; λ = ${lambda}. ${edgeText}`;
}

function emptyMessage(props: SpectrumChartProps): string | null {
  if (props.ntk.length > 0) return null;
  if (props.preview === null) return 'Preview the model or start a run to see the NTK spectrum.';
  if (props.preview.eigenvalues.length === 0) return 'No module is adapted: choose at least one (layer, module) to see the spectrum.';
  return null;
}

export function SpectrumChart(props: SpectrumChartProps) {
  const [kernel, setKernel] = useState<KernelKind>('full');
  const view = spectrumView(props, kernel);
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (view !== null) render(props, view, svg, width, container);
    },
    [props.ntk, props.preview, props.lr, props.lambda, kernel],
  );

  return (
    <ChartCard
      id="spectrum"
      title="NTK spectrum"
      caption={view !== null ? caption(view, props.lambda) : undefined}
      emptyMessage={emptyMessage(props)}
    >
      <KernelToggle value={view?.kernel ?? kernel} onChange={setKernel} tracedAvailable={props.ntk.length > 0} />
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label="NTK eigenvalues against index" />
      </div>
    </ChartCard>
  );
}
