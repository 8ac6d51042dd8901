/**
 * A run's metrics as CSV: one file with a row per evaluation and one with a
 * row per optimizer step. Papa Parse writes and reads them, so quoting and
 * escaping follow RFC 4180.
 */
import Papa from 'papaparse';

import type { EvalEvent, StepEvent } from '../../core/events.ts';

export const EVAL_CSV_COLUMNS = ['step', 'model', 'split', 'loss', 'accuracy'] as const;
export const STEP_CSV_COLUMNS = ['step', 'model', 'loss', 'objective', 'distance', 'regularizerActive'] as const;

/** One row per eval event: the real and linearized models' loss and accuracy on each split. */
export function evalsToCsv(evals: readonly EvalEvent[]): string {
  const rows = evals.map((event) => EVAL_CSV_COLUMNS.map((column) => event[column]));
  return Papa.unparse({ fields: [...EVAL_CSV_COLUMNS], data: rows });
}

/** One row per step event: each model's batch loss, objective and distance ‖θ − θ₀‖ after the update. */
export function stepsToCsv(steps: readonly StepEvent[]): string {
  const rows = steps.map((event) => STEP_CSV_COLUMNS.map((column) => event[column]));
  return Papa.unparse({ fields: [...STEP_CSV_COLUMNS], data: rows });
}

/** Parses CSV text with a header row into objects of strings; throws on a malformed row. */
export function parseCsv(text: string): { fields: string[]; rows: Record<string, string>[] } {
  const result = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
  const first = result.errors[0];
  if (first !== undefined) throw new Error(`invalid CSV at row ${first.row ?? '?'}: ${first.message}`);
  return { fields: result.meta.fields ?? [], rows: result.data };
}
