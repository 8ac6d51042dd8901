import { readFileSync } from 'node:fs';

import { describe, expect, test } from 'vitest';

import type { EvalEvent, LabEvent, StepEvent } from '../../src/core/events.ts';
import { EVAL_CSV_COLUMNS, evalsToCsv, parseCsv, STEP_CSV_COLUMNS, stepsToCsv } from '../../src/ui/export/run-csv.ts';
import { ofType, parseEventLines } from '../e2e/fixtures/run-events.ts';

const events: LabEvent[] = parseEventLines(readFileSync(new URL('../e2e/fixtures/run-mse-gd.jsonl', import.meta.url), 'utf8'));

describe('metrics CSV', () => {
  test('eval rows match the eval events', () => {
    const evals = ofType(events, 'eval');
    const { fields, rows } = parseCsv(evalsToCsv(evals));

    expect(fields).toEqual([...EVAL_CSV_COLUMNS]);
    expect(rows).toHaveLength(evals.length);
    rows.forEach((row, i) => {
      const event = evals[i] as EvalEvent;
      expect(Number(row.step)).toBe(event.step);
      expect(row.model).toBe(event.model);
      expect(row.split).toBe(event.split);
      expect(Number(row.loss)).toBe(event.loss);
      expect(Number(row.accuracy)).toBe(event.accuracy);
    });
  });

  test('step rows match the step events', () => {
    const steps = ofType(events, 'step');
    const { fields, rows } = parseCsv(stepsToCsv(steps));

    expect(fields).toEqual([...STEP_CSV_COLUMNS]);
    expect(rows).toHaveLength(steps.length);
    const last = steps.at(-1) as StepEvent;
    expect(Number(rows.at(-1)?.distance)).toBe(last.distance);
    expect(rows.at(-1)?.regularizerActive).toBe(String(last.regularizerActive));
  });

  test('empty run has a header only', () => {
    const { fields, rows } = parseCsv(evalsToCsv([]));

    expect(fields).toEqual([...EVAL_CSV_COLUMNS]);
    expect(rows).toHaveLength(0);
  });
});
