/**
 * Everything a run has streamed so far, accumulated from LabEvents. The
 * charts read slices of it; `appendEvents` is the only writer.
 */
import type {
  ConfigEvent,
  DivergenceEvent,
  DoneEvent,
  EvalEvent,
  JacobianChangeEvent,
  LabEvent,
  NtkEvent,
  PreviewEvent,
  StepEvent,
  SweepEvent,
  SweepSummaryEvent,
  TheoryEvent,
} from '../core/events.ts';

export interface RunData {
  config: ConfigEvent | null;
  steps: StepEvent[];
  evals: EvalEvent[];
  divergence: DivergenceEvent[];
  /** NTK events in step order; the first is the kernel at θ₀. */
  ntk: NtkEvent[];
  theory: TheoryEvent | null;
  done: DoneEvent | null;
  error: string | null;
}

/** The analyses that do not belong to one training run. */
export interface AnalysisData {
  preview: PreviewEvent | null;
  jacobianChange: JacobianChangeEvent | null;
  sweep: SweepEvent[];
  sweepSummary: SweepSummaryEvent | null;
}

export const EMPTY_RUN: RunData = Object.freeze({
  config: null,
  steps: [],
  evals: [],
  divergence: [],
  ntk: [],
  theory: null,
  done: null,
  error: null,
}) as RunData;

export const EMPTY_ANALYSIS: AnalysisData = Object.freeze({
  preview: null,
  jacobianChange: null,
  sweep: [],
  sweepSummary: null,
}) as AnalysisData;

/** The event types that AnalysisData stores; RunData stores every other type. */
const ANALYSIS_EVENT_TYPES: ReadonlySet<LabEvent['type']> = new Set(['preview', 'jacobianChange', 'sweep', 'sweepSummary']);

/**
 * Returns new run and analysis data with the events appended. Arrays that did
 * not change keep their identity, and so do `run` and `analysis` when no event
 * touched them, so that components selecting them do not re-render.
 */
export function appendEvents(
  run: RunData,
  analysis: AnalysisData,
  events: readonly LabEvent[],
): { run: RunData; analysis: AnalysisData } {
  const nextRun: RunData = { ...run };
  const nextAnalysis: AnalysisData = { ...analysis };
  const grown = new Set<string>();
  const push = <K extends 'steps' | 'evals' | 'divergence' | 'ntk'>(key: K, event: RunData[K][number]): void => {
    if (!grown.has(key)) {
      nextRun[key] = [...run[key]] as RunData[K];
      grown.add(key);
    }
    (nextRun[key] as RunData[K][number][]).push(event);
  };

  let runChanged = false;
  let analysisChanged = false;
  for (const event of events) {
    if (ANALYSIS_EVENT_TYPES.has(event.type)) analysisChanged = true;
    else runChanged = true;

    switch (event.type) {
      case 'config':
        Object.assign(nextRun, EMPTY_RUN, { config: event });
        grown.clear();
        break;
      case 'step':
        push('steps', event);
        break;
      case 'eval':
        push('evals', event);
        break;
      case 'divergence':
        push('divergence', event);
        break;
      case 'ntk':
        push('ntk', event);
        break;
      case 'theory':
        nextRun.theory = event;
        break;
      case 'done':
        nextRun.done = event;
        break;
      case 'error':
        nextRun.error = event.message;
        break;
      case 'preview':
        nextAnalysis.preview = event;
        break;
      case 'jacobianChange':
        nextAnalysis.jacobianChange = event;
        break;
      case 'sweep':
        nextAnalysis.sweep = event.index === 0 ? [event] : [...nextAnalysis.sweep, event];
        if (event.index === 0) nextAnalysis.sweepSummary = null;
        break;
      case 'sweepSummary':
        nextAnalysis.sweepSummary = event;
        break;
    }
  }
  return { run: runChanged ? nextRun : run, analysis: analysisChanged ? nextAnalysis : analysis };
}
