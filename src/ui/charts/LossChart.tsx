/**
 * Loss or accuracy against the optimizer step for the real model and its
 * linearization: train solid and eval dashed at each evaluation, the faint
 * per-step batch loss, and the closed-form GD prediction where it applies.
 * Overlay runs add their real model's train and eval curves as thin lines.
 */
import * as d3 from 'd3';
import { useMemo, useState } from 'react';

import type { ConfigEvent, EvalEvent, ModelKind, StepEvent, TheoryEvent } from '../../core/events.ts';
import type { ExperimentSpec } from '../../core/spec.ts';
import { ChartCard } from './ChartCard.tsx';
import { LogScaleToggle } from './ChartControls.tsx';
import { overlayLastStep, overlayLegend, type RunOverlay } from './overlays.ts';
import { COLORS, DASH, createFrame, drawAxes, formatPercent, useChart, type SvgSelection } from './frame.ts';
import {
  attachHover,
  clippedLayer,
  drawLegend,
  drawMarks,
  drawNote,
  drawRules,
  drawSeries,
  formatLogTick,
  formatPrecise,
  shortenMinorTicks,
  type HorizontalRule,
  type LegendItem,
  type LinearScale,
} from './marks.ts';
import {
  downsampleMinMax,
  evalSeries,
  nearestIndex,
  stepSeries,
  theoryNote,
  theorySeries,
  yExtent,
  type Metric,
  type Point,
} from './series.ts';

export interface LossChartProps {
  metric: Metric;
  /** The run's spec, used until the config event arrives; config.spec wins after that. */
  spec: ExperimentSpec;
  config: ConfigEvent | null;
  steps: readonly StepEvent[];
  evals: readonly EvalEvent[];
  theory: TheoryEvent | null;
  /** Other runs drawn as thin lines in their own colors, for comparison. */
  overlays?: readonly RunOverlay[];
}

const HEIGHT = 300;

/** Eval points are drawn as dots only while a series has at most this many. */
const MAX_MARKS = 80;

/** The theory curve may stretch the y axis to this multiple of the measured maximum, and is clipped beyond. */
const THEORY_HEADROOM = 3;

const MODEL_NAMES: Record<ModelKind, string> = { real: 'real', linear: 'linearized' };
const LOSS_NAMES = { ce: 'cross-entropy', mse: 'squared error ½‖f − y‖²' } as const;

interface Series {
  key: string;
  label: string;
  points: Point[];
  color: string;
  dash: string | null;
  thin?: boolean;
  /** A wide faint band drawn under the other series, for the theory that the linearized model may cover exactly. */
  wide?: boolean;
  opacity?: number;
  marks?: boolean;
  /** A series of an overlay run: thin, but its tooltip value is exact like an evaluation's. */
  overlay?: boolean;
}

function buildSeries(props: LossChartProps): Series[] {
  const { metric, steps, evals, theory } = props;
  const series: Series[] = [];

  if (metric === 'loss') {
    for (const model of ['real', 'linear'] as const) {
      series.push({
        key: `${model}-batch`,
        label: `${MODEL_NAMES[model]} batch`,
        points: stepSeries(steps, model, 'loss'),
        color: COLORS[model],
        dash: null,
        thin: true,
        opacity: 0.35,
      });
    }
  }

  for (const model of ['real', 'linear'] as const) {
    for (const split of ['train', 'eval'] as const) {
      series.push({
        key: `${model}-${split}`,
        label: `${MODEL_NAMES[model]} ${split}`,
        points: evalSeries(evals, model, split, metric),
        color: COLORS[model],
        dash: DASH[split],
        marks: true,
      });
    }
  }

  if (theory !== null) {
    for (const split of ['train', 'eval'] as const) {
      series.push({
        key: `theory-${split}`,
        label: `theory ${split}`,
        points: theorySeries(theory, split, metric),
        color: COLORS.theory,
        dash: DASH[split],
        wide: true,
        opacity: 0.35,
      });
    }
  }
  (props.overlays ?? []).forEach((overlay, i) => {
    for (const split of ['train', 'eval'] as const) {
      series.push({
        key: `overlay-${i}-${split}`,
        label: `${overlay.name} ${split}`,
        points: evalSeries(overlay.run.evals, 'real', split, metric),
        color: overlay.color,
        dash: DASH[split],
        thin: true,
        marks: true,
        overlay: true,
      });
    }
  });
  return series.filter((entry) => entry.points.length > 0);
}

/** Returns the y domain, which the measured series set and the theory may stretch only up to THEORY_HEADROOM. */
function yDomain(series: readonly Series[], theory: TheoryEvent | null, metric: Metric, logY: boolean): [number, number] {
  if (metric === 'accuracy') return [0, 1];

  const measured = series.filter((entry) => !entry.key.startsWith('theory')).map((entry) => entry.points);
  const predicted = series.filter((entry) => entry.key.startsWith('theory')).map((entry) => entry.points);
  if (theory !== null) predicted.push([{ x: 0, y: theory.limit.train.loss }, { x: 0, y: theory.limit.eval.loss }]);
  const positive = (points: readonly Point[]): Point[] => points.filter((point) => point.y > 0);

  const measuredExtent = yExtent(logY ? measured.map(positive) : measured) ?? yExtent(predicted) ?? [0, 1];
  const predictedExtent = yExtent(logY ? predicted.map(positive) : predicted);
  let [low, high] = measuredExtent;
  if (predictedExtent !== null) {
    low = Math.max(Math.min(low, predictedExtent[0]), logY ? low / 100 : 0);
    high = Math.max(high, Math.min(predictedExtent[1], high * THEORY_HEADROOM));
  }
  if (logY) return low > 0 && high > low ? [low, high] : [Math.max(low, 1e-6), Math.max(high, low * 10, 1e-5)];
  return [0, high > 0 ? high : 1];
}

function render(
  props: LossChartProps,
  series: readonly Series[],
  logY: boolean,
  svg: SvgSelection,
  outerWidth: number,
  container: HTMLDivElement,
): void {
  const { metric, config, steps, evals, theory } = props;
  const spec = config?.spec ?? props.spec;
  const frame = createFrame(svg, outerWidth, HEIGHT);

  const overlays = props.overlays ?? [];
  const lastStep = Math.max(spec.steps, steps.at(-1)?.step ?? 0, evals.at(-1)?.step ?? 0, overlayLastStep(overlays));
  const x = d3.scaleLinear().domain([0, Math.max(1, lastStep)]).range([0, frame.width]);
  const domain = yDomain(series, theory, metric, logY);
  const y: LinearScale = (logY ? d3.scaleLog() : d3.scaleLinear()).domain(domain).range([frame.height, 0]).nice();

  // Compared runs may use another loss, and then the axis can name only the kind of quantity.
  const mixedLosses = overlays.some((overlay) => (overlay.run.config?.spec.loss ?? spec.loss) !== spec.loss);
  let lossName = spec.loss === 'mse' ? 'squared error' : 'cross-entropy';
  if (mixedLosses) lossName = 'loss (each run’s own)';
  const lossLabel = `mean ${lossName} per example${logY ? ' (log)' : ''}`;
  drawAxes(
    frame,
    x,
    y,
    { x: 'optimizer step', y: metric === 'loss' ? lossLabel : 'accuracy (%)' },
    metric === 'accuracy' ? { yFormat: (value) => `${Math.round(Number(value) * 100)}` } : logY ? { yFormat: formatLogTick } : {},
  );
  if (logY) shortenMinorTicks(frame);

  // Per-step series reach spec.steps points; keep about one point per pixel.
  // Wide theory bands go first, so the measured lines stay on top of them.
  const layer = clippedLayer(frame);
  const drawOrder = [...series.filter((entry) => entry.wide === true), ...series.filter((entry) => entry.wide !== true)];
  for (const entry of drawOrder) {
    const points = downsampleMinMax(entry.points, frame.width);
    drawSeries(layer, points, x, y, {
      className: `series-${entry.key}`,
      color: entry.color,
      dash: entry.dash,
      thin: entry.thin === true,
      wide: entry.wide === true,
      opacity: entry.opacity ?? 1,
    });
  }
  for (const entry of series) {
    if (entry.marks === true && entry.points.length <= MAX_MARKS) {
      const radius = entry.overlay === true ? 1.8 : 2.5;
      drawMarks(frame.plot, entry.points, x, y, { className: `marks-${entry.key}`, color: entry.color, radius, hollow: entry.dash !== null });
    }
  }

  const rules: HorizontalRule[] = [];
  if (metric === 'accuracy' && config !== null) {
    rules.push({
      value: config.task.majorityRate,
      className: 'rule-majority',
      color: COLORS.reference,
      dash: '2 3',
      label: `majority class ${formatPercent(config.task.majorityRate)}`,
    });
  }
  // The legend gives the limits' values, because labels on the plot would cover the curves that approach them.
  if (theory !== null) {
    for (const split of ['train', 'eval'] as const) {
      rules.push({ value: theory.limit[split][metric], className: `rule-theory-limit-${split}`, color: COLORS.theory, dash: '1 4', label: '' });
    }
  }
  drawRules(frame, rules, y);

  const clippedTheory = series.some(
    (entry) => entry.key.startsWith('theory') && entry.points.some((point) => point.y > domain[1] * 1.0001),
  );
  if (clippedTheory) drawNote(frame, 'The theory curve exceeds the plotted range: the tooltip has its values.', 0, COLORS.theory);

  drawLegend(container, [...legendItems(series, metric, theory, config), ...overlayLegend(overlays)]);

  const overlaySteps = overlays.flatMap((overlay) => overlay.run.evals.map((event) => event.step));
  const xs = Array.from(new Set([...evals.map((event) => event.step), ...overlaySteps])).sort((a, b) => a - b);
  attachHover(frame, container, x, xs, (index) => tooltipLines(series, xs[index] as number, metric));
}

function legendItems(series: readonly Series[], metric: Metric, theory: TheoryEvent | null, config: ConfigEvent | null): LegendItem[] {
  const has = (key: string): boolean => series.some((entry) => entry.key.startsWith(key));
  const items: LegendItem[] = [];
  // Without a run of its own the chart shows overlays only, so the real model's entry would name nothing.
  if (config !== null || has('real')) items.push({ label: 'real', color: COLORS.real });
  if (has('linear')) items.push({ label: 'linearized', color: COLORS.linear });
  if (theory !== null) items.push({ label: 'theory (closed form)', color: COLORS.theory, wide: true, opacity: 0.35 });
  items.push({ label: 'train', color: COLORS.reference }, { label: 'eval', color: COLORS.reference, dash: DASH.eval });
  if (metric === 'loss' && has('real-batch')) items.push({ label: 'batch loss per step', color: COLORS.reference, thin: true, opacity: 0.5 });
  if (theory !== null) {
    const format = metric === 'accuracy' ? formatPercent : formatPrecise;
    const { train, eval: evaluation } = theory.limit;
    items.push({
      label: `theory at t = ∞: train ${format(train[metric])}, eval ${format(evaluation[metric])}`,
      color: COLORS.theory,
      dash: '1 4',
    });
  }
  if (metric === 'accuracy' && config !== null) items.push({ label: 'majority-class rate', color: COLORS.reference, dash: '2 3' });
  return items;
}

/** Lists each series' value at `step`: the exact evaluation for eval and theory series, the nearest step for batch loss. */
function tooltipLines(series: readonly Series[], step: number, metric: Metric): string[] {
  const format = metric === 'accuracy' ? formatPercent : formatPrecise;
  const lines = [`step ${step}`];
  for (const entry of series) {
    const steps = entry.points.map((point) => point.x);
    const index = nearestIndex(steps, step);
    const point = entry.points[index];
    if (point === undefined) continue;
    const exact = entry.thin !== true || entry.overlay === true;
    if (exact && point.x !== step) continue;
    const where = point.x !== step ? ` (step ${point.x})` : '';
    lines.push(`${entry.label}: ${format(point.y)}${where}`);
  }
  return lines;
}

const OVERLAY_CAPTION = 'Thin colored lines: the real model of each compared run, on its own train (solid) and eval (dashed) examples.';

function caption(props: LossChartProps): string {
  const { metric, config, theory } = props;
  const overlays = props.overlays ?? [];
  if (config === null && props.evals.length === 0 && overlays.length > 0) {
    return `${metric === 'loss' ? 'Mean data loss per example, without the (λ/2)‖θ − θ₀‖² term.' : 'Share of examples classified correctly.'} ${OVERLAY_CAPTION}`;
  }
  const spec = config?.spec ?? props.spec;
  const trainSize = config?.task.trainSize ?? spec.trainSize;
  const evalSize = config?.task.evalSize ?? spec.evalSize;
  const sizes = `${trainSize} train and ${evalSize} eval examples`;
  const parts: string[] = [];
  if (metric === 'loss') {
    parts.push(
      `Mean ${LOSS_NAMES[spec.loss]} over the ${sizes}, without the (λ/2)‖θ − θ₀‖² term; λ = ${spec.lambda}.`,
      'Faint lines: the loss of each step’s batch before its update.',
    );
  } else {
    parts.push(`Share of the ${sizes} classified correctly; λ = ${spec.lambda}.`);
  }
  if (theory !== null) {
    parts.push('Green: the closed-form prediction for the linearized model under squared loss and full-batch GD.');
  } else {
    const note = theoryNote(spec);
    if (note !== null) parts.push(note);
  }
  if (overlays.length > 0) parts.push(OVERLAY_CAPTION);
  return parts.join(' ');
}

export function LossChart(props: LossChartProps) {
  const { metric, spec, config, steps, evals, theory, overlays } = props;
  const [logY, setLogY] = useState(false);
  const useLog = metric === 'loss' && logY;
  const empty = config === null && evals.length === 0 && (overlays ?? []).length === 0;

  // Extracting the series is the costliest step at 20,000 steps, so resizes and the log toggle reuse it.
  const series = useMemo(
    () => buildSeries({ metric, spec, config, steps, evals, theory, overlays }),
    [metric, spec, config, steps, evals, theory, overlays],
  );
  const { containerRef, svgRef } = useChart(
    (svg, width, container) => {
      if (!empty) render(props, series, useLog, svg, width, container);
    },
    [metric, spec, config, steps, evals, theory, overlays, useLog],
  );

  const title = metric === 'loss' ? 'Loss' : 'Accuracy';
  return (
    <ChartCard
      id={metric}
      title={title}
      caption={caption(props)}
      emptyMessage={empty ? `Start a run to see the ${metric}.` : null}
    >
      {metric === 'loss' ? (
        <LogScaleToggle checked={logY} onChange={setLogY} />
      ) : null}
      <div className="chart-container" ref={containerRef} style={{ position: 'relative' }}>
        <svg ref={svgRef} role="img" aria-label={`${title} against optimizer step`} />
      </div>
    </ChartCard>
  );
}
