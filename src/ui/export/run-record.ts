/**
 * The run record: one run's spec and events, with the backend and the times,
 * as a JSON file the lab loads back and shows without training again. The
 * saved runs in IndexedDB hold the same record.
 */
import type { ConfigEvent, LabEvent } from '../../core/events.ts';
import { formatSpecIssue, validateSpec, type ExperimentSpec } from '../../core/spec.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN, type RunData } from '../run-data.ts';
import { checkRunEvent, describe, isPlainObject, type RunEvent } from './event-schema.ts';

export const RUN_RECORD_FORMAT = 'ntk-lab-run';
export const RUN_RECORD_VERSION = 1;

export interface RunRecord {
  format: typeof RUN_RECORD_FORMAT;
  version: typeof RUN_RECORD_VERSION;
  /** The run's settings; the config event carries the same spec once the run has started. */
  spec: ExperimentSpec;
  /** The tfjs backend that ran it, such as "webgpu"; null when unknown. */
  backend: string | null;
  /** ISO 8601 times; null when unknown, as for a run still going when it was exported. */
  startedAt: string | null;
  endedAt: string | null;
  exportedAt: string;
  /** The run's events: the config event first, then step order. */
  events: RunEvent[];
}

export type RecordResult = { ok: true; record: RunRecord } | { ok: false; message: string };

/** Returns the events that rebuild `run` through appendEvents: config and theory first, then step order, then done or error. */
export function runEvents(run: RunData): RunEvent[] {
  const stepped: RunEvent[] = [...run.ntk, ...run.steps, ...run.evals, ...run.divergence];
  // A stable sort keeps each kind's order within a step, which appendEvents preserves.
  stepped.sort((a, b) => (a as { step: number }).step - (b as { step: number }).step);

  const events: RunEvent[] = [];
  if (run.config !== null) events.push(run.config);
  if (run.theory !== null) events.push(run.theory);
  events.push(...stepped);
  if (run.done !== null) events.push(run.done);
  if (run.error !== null) events.push({ type: 'error', message: run.error });
  return events;
}

export function createRunRecord(
  run: RunData,
  options: { spec: ExperimentSpec; backend: string | null; startedAt: Date | null; endedAt: Date | null; exportedAt?: Date },
): RunRecord {
  return {
    format: RUN_RECORD_FORMAT,
    version: RUN_RECORD_VERSION,
    spec: run.config?.spec ?? options.spec,
    backend: run.config?.backend ?? options.backend,
    startedAt: options.startedAt?.toISOString() ?? null,
    endedAt: options.endedAt?.toISOString() ?? null,
    exportedAt: (options.exportedAt ?? new Date()).toISOString(),
    events: runEvents(run),
  };
}

/** Rebuilds the charts' run data from a record's events. */
export function runDataFromRecord(record: RunRecord): RunData {
  return appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, record.events as LabEvent[]).run;
}

/** Parses a run record file's text; every failure is one line naming what is wrong. */
export function parseRunRecord(text: string): RecordResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, message: `The file is not valid JSON (${reason}).` };
  }
  return checkRunRecord(value);
}

/** Checks a parsed record, such as one read back from IndexedDB, and returns a normalized copy. */
export function checkRunRecord(value: unknown): RecordResult {
  const fail = (message: string): RecordResult => ({ ok: false, message });
  if (!isPlainObject(value)) return fail(`Expected a run record object, got ${describe(value)}.`);
  if (value.format !== RUN_RECORD_FORMAT) {
    return fail(`Not a run record: format is ${describe(value.format)}, expected "${RUN_RECORD_FORMAT}".`);
  }
  if (value.version !== RUN_RECORD_VERSION) {
    return fail(`Unsupported run record version ${describe(value.version)}; this lab reads version ${RUN_RECORD_VERSION}.`);
  }

  const spec = validateSpec(value.spec);
  if (!spec.ok) return fail(`Invalid spec in the run record: ${spec.errors.map(formatSpecIssue).join('; ')}.`);

  for (const field of ['startedAt', 'endedAt'] as const) {
    if (value[field] !== null && !isIsoTime(value[field])) return fail(`${field}: expected an ISO 8601 time or null, got ${describe(value[field])}.`);
  }
  if (!isIsoTime(value.exportedAt)) return fail(`exportedAt: expected an ISO 8601 time, got ${describe(value.exportedAt)}.`);
  if (value.backend !== null && typeof value.backend !== 'string') return fail(`backend: expected a string or null, got ${describe(value.backend)}.`);

  if (!Array.isArray(value.events)) return fail(`events: expected an array of run events, got ${describe(value.events)}.`);
  const events: RunEvent[] = [];
  for (const [i, item] of value.events.entries()) {
    const check = checkRunEvent(item);
    if (!check.ok) return fail(`events[${i}]: ${check.problem}.`);
    events.push(check.event);
  }
  const configs = events.filter((event): event is ConfigEvent => event.type === 'config');
  if (events[0]?.type !== 'config' || configs.length !== 1) {
    return fail(`events: expected exactly one config event, first; found ${configs.length} config events, and the first event is ${describe(events[0]?.type)}.`);
  }

  return {
    ok: true,
    record: {
      format: RUN_RECORD_FORMAT,
      version: RUN_RECORD_VERSION,
      spec: spec.spec,
      backend: value.backend,
      startedAt: value.startedAt as string | null,
      endedAt: value.endedAt as string | null,
      exportedAt: value.exportedAt as string,
      events,
    },
  };
}

function isIsoTime(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value));
}

/** Serializes a record as JSON with one event per line, so a long run stays compact and still readable. */
export function formatRunRecord(record: RunRecord): string {
  const { events, ...header } = record;
  const fields = Object.entries(header).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
  const lines = events.map((event, i) => `    ${JSON.stringify(event)}${i < events.length - 1 ? ',' : ''}`);
  return ['{', ...fields, '  "events": [', ...lines, '  ]', '}', ''].join('\n');
}
