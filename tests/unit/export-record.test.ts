import { readFileSync } from 'node:fs';

import { describe, expect, test } from 'vitest';

import type { LabEvent } from '../../src/core/events.ts';
import { checkRunEvent } from '../../src/ui/export/event-schema.ts';
import { createRunRecord, formatRunRecord, parseRunRecord, runDataFromRecord, runEvents } from '../../src/ui/export/run-record.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN } from '../../src/ui/run-data.ts';
import { parseEventLines } from '../e2e/fixtures/run-events.ts';

const FIXTURES = ['run-mse-gd.jsonl', 'run-ce-adam.jsonl'];

function recordedRun(file: string) {
  const events = parseEventLines(readFileSync(new URL(`../e2e/fixtures/${file}`, import.meta.url), 'utf8'));
  return appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, events as LabEvent[]).run;
}

function recordText(file: string): string {
  const run = recordedRun(file);
  const record = createRunRecord(run, {
    spec: run.config!.spec,
    backend: 'wasm',
    startedAt: new Date('2026-12-04T10:00:00Z'),
    endedAt: new Date('2026-12-04T10:05:00Z'),
  });
  return formatRunRecord(record);
}

describe('run record', () => {
  test.each(FIXTURES)('round trip keeps run data of %s', (file) => {
    const run = recordedRun(file);
    const parsed = parseRunRecord(recordText(file));

    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record.format).toBe('ntk-lab-run');
    expect(parsed.record.version).toBe(1);
    expect(parsed.record.backend).toBe('wasm');
    expect(parsed.record.startedAt).toBe('2026-12-04T10:00:00.000Z');
    expect(runDataFromRecord(parsed.record)).toEqual(run);
  });

  test('events come in step order after config', () => {
    const events = runEvents(recordedRun('run-mse-gd.jsonl'));
    const steps = events.flatMap((event) => (event.type === 'done' || !('step' in event) ? [] : [event.step]));

    expect(events[0]?.type).toBe('config');
    expect(events.at(-1)?.type).toBe('done');
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  });

  test('null metrics read back as NaN', () => {
    const check = checkRunEvent({ type: 'eval', model: 'real', step: 3, split: 'eval', loss: null, accuracy: 0.5 });

    expect(check.ok).toBe(true);
    if (check.ok && check.event.type === 'eval') expect(check.event.loss).toBeNaN();
  });
});

describe('run record rejects', () => {
  const valid = (): Record<string, unknown> => JSON.parse(recordText('run-ce-adam.jsonl')) as Record<string, unknown>;

  const cases: [string, () => string, RegExp][] = [
    ['bad JSON', () => '{"format": "ntk-lab-run",', /not valid JSON/],
    ['a JSON array', () => '[]', /Expected a run record object, got an array/],
    ['wrong format', () => JSON.stringify({ ...valid(), format: 'other' }), /format is "other", expected "ntk-lab-run"/],
    ['wrong version', () => JSON.stringify({ ...valid(), version: 2 }), /Unsupported run record version 2/],
    ['invalid spec', () => JSON.stringify({ ...valid(), spec: { ...(valid().spec as object), lr: -1 } }), /Invalid spec in the run record: lr:/],
    ['events not an array', () => JSON.stringify({ ...valid(), events: { type: 'step' } }), /events: expected an array of run events, got an object/],
    ['unknown event type', () => JSON.stringify({ ...valid(), events: [...(valid().events as unknown[]), { type: 'telemetry' }] }), /unknown event type "telemetry"/],
    ['an analysis event', () => JSON.stringify({ ...valid(), events: [...(valid().events as unknown[]), { type: 'preview' }] }), /unknown event type "preview"/],
    [
      'an event missing a field',
      () => JSON.stringify({ ...valid(), events: [...(valid().events as unknown[]), { type: 'eval', model: 'real', step: 1, split: 'eval', loss: 1 }] }),
      /eval\.accuracy: expected a number, got nothing/,
    ],
    ['no config event', () => JSON.stringify({ ...valid(), events: (valid().events as unknown[]).slice(1) }), /expected exactly one config event, first/],
    ['a bad time', () => JSON.stringify({ ...valid(), startedAt: 'yesterday' }), /startedAt: expected an ISO 8601 time or null/],
  ];

  test.each(cases)('%s', (_name, text, message) => {
    const parsed = parseRunRecord(text());

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.message).toMatch(message);
      expect(parsed.message).not.toContain('\n');
    }
  });
});
