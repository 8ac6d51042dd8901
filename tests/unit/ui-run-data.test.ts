import { describe, expect, it } from 'vitest';

import type { EvalEvent, StepEvent, SweepSummaryEvent } from '../../src/core/events.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN } from '../../src/ui/run-data.ts';

const step = (n: number): StepEvent => ({ type: 'step', model: 'real', step: n, loss: 1 / n, objective: 1 / n, distance: n, regularizerActive: true });
const evaluation: EvalEvent = { type: 'eval', model: 'real', step: 5, split: 'train', loss: 0.5, accuracy: 0.75 };
const summary: SweepSummaryEvent = {
  type: 'sweepSummary',
  subsets: 3,
  kappaLambdaVsTrainLoss: { pearson: 0.9, spearman: 1 },
  kappaLambdaVsEvalAccuracy: { pearson: -0.5, spearman: -0.5 },
};

describe('appendEvents', () => {
  it('keeps analysis identity for run events', () => {
    const first = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, [step(1), step(2)]);
    expect(first.analysis).toBe(EMPTY_ANALYSIS);
    expect(first.run.steps.map((event) => event.step)).toEqual([1, 2]);

    const second = appendEvents(first.run, first.analysis, [evaluation]);
    expect(second.analysis).toBe(EMPTY_ANALYSIS);
    expect(second.run).not.toBe(first.run);
    // Only the array that grew is new.
    expect(second.run.steps).toBe(first.run.steps);
    expect(second.run.evals).toEqual([evaluation]);
  });

  it('keeps run identity for analysis events', () => {
    const { run } = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, [step(1)]);
    const next = appendEvents(run, EMPTY_ANALYSIS, [summary]);
    expect(next.run).toBe(run);
    expect(next.analysis).not.toBe(EMPTY_ANALYSIS);
    expect(next.analysis.sweepSummary).toBe(summary);
  });

  it('returns both unchanged for no events', () => {
    const result = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, []);
    expect(result.run).toBe(EMPTY_RUN);
    expect(result.analysis).toBe(EMPTY_ANALYSIS);
  });
});
