import 'fake-indexeddb/auto';

import { readFileSync } from 'node:fs';

import { openDB } from 'idb';
import { afterEach, describe, expect, test, vi } from 'vitest';

import type { LabEvent } from '../../src/core/events.ts';
import { createRunRecord, type RunRecord } from '../../src/ui/export/run-record.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN } from '../../src/ui/run-data.ts';
import { SavedRunsDb, summarizeRecord } from '../../src/ui/saved/db.ts';
import { describeStorageError, StorageError } from '../../src/ui/saved/storage-errors.ts';
import { parseEventLines } from '../e2e/fixtures/run-events.ts';

let databaseCount = 0;

/** Opens a database of its own for each test, so tests never see each other's runs. */
function openFresh(): Promise<SavedRunsDb> {
  databaseCount += 1;
  return SavedRunsDb.open(`saved-db-test-${databaseCount}`);
}

function record(file = 'run-ce-adam.jsonl'): RunRecord {
  const events = parseEventLines(readFileSync(new URL(`../e2e/fixtures/${file}`, import.meta.url), 'utf8'));
  const run = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, events as LabEvent[]).run;
  return createRunRecord(run, { spec: run.config!.spec, backend: 'wasm', startedAt: null, endedAt: null });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('saved runs database', () => {
  test('save, list and load', async () => {
    const db = await openFresh();
    const saved = record();
    await db.save(summarizeRecord('a', 'first', saved, 1000), saved);
    await db.save(summarizeRecord('b', 'second', record('run-mse-gd.jsonl'), 2000), record('run-mse-gd.jsonl'));

    const { runs, problems } = await db.list();
    expect(problems).toEqual([]);
    expect(runs.map((run) => run.name)).toEqual(['second', 'first']);
    expect(runs[1]?.task).toBe('brown-genre-2');
    expect(runs[1]?.finalEvalAccuracy).toBeGreaterThan(0);

    const loaded = await db.load('a');
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect(loaded.record.events).toEqual(saved.events);
    db.close();
  });

  test('rename and delete persist', async () => {
    const db = await openFresh();
    await db.save(summarizeRecord('a', 'first', record()), record());
    await db.save(summarizeRecord('b', 'second', record()), record());

    await db.rename('a', 'renamed');
    await db.remove('b');

    const { runs } = await db.list();
    expect(runs.map((run) => run.name)).toEqual(['renamed']);
    expect(await db.load('b')).toEqual({ ok: false, message: expect.stringMatching(/not found/) });
    db.close();
  });

  test('corrupt record gives a message and keeps others', async () => {
    const db = await openFresh();
    await db.save(summarizeRecord('good', 'good', record()), record());
    await db.save(summarizeRecord('bad', 'bad', record()), record());
    const raw = await openDB(`saved-db-test-${databaseCount}`, 1);
    await raw.put('records', { id: 'bad', record: { format: 'ntk-lab-run', version: 1, events: 'garbage' } });
    raw.close();

    const bad = await db.load('bad');
    const good = await db.load('good');

    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(/Saved run “bad” is corrupt and cannot be shown: Invalid spec/);
    expect(good.ok).toBe(true);
    expect((await db.list()).runs).toHaveLength(2);
    db.close();
  });

  test('corrupt summary is reported, not listed', async () => {
    const db = await openFresh();
    await db.save(summarizeRecord('good', 'good', record()), record());
    const raw = await openDB(`saved-db-test-${databaseCount}`, 1);
    await raw.put('summaries', { id: 'broken', name: 42 });
    raw.close();

    const { runs, problems } = await db.list();

    expect(runs.map((run) => run.id)).toEqual(['good']);
    expect(problems).toEqual(['Saved run broken has a corrupt summary and is not listed.']);
    db.close();
  });

  test('failed save keeps saved runs', async () => {
    const db = await openFresh();
    await db.save(summarizeRecord('a', 'first', record()), record());
    // A function cannot be cloned into IndexedDB, so the put fails and the transaction aborts.
    const unclonable = { ...record(), spec: { ...record().spec, lr: () => 1 } } as unknown as RunRecord;

    const saving = db.save(summarizeRecord('b', 'second', record()), unclonable);

    await expect(saving).rejects.toThrow(/Saving “second” failed \(DataCloneError.*the saved runs are unchanged/);
    const { runs } = await db.list();
    expect(runs.map((run) => run.id)).toEqual(['a']);
    expect((await db.load('a')).ok).toBe(true);
    db.close();
  });

  test('missing IndexedDB gives a message', async () => {
    vi.stubGlobal('indexedDB', undefined);

    await expect(openFresh()).rejects.toThrow(/Saved runs are unavailable: this browser has no IndexedDB/);
  });

  test('refused IndexedDB gives a message', async () => {
    vi.stubGlobal('indexedDB', {
      open() {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      },
    });

    const opening = openFresh();

    await expect(opening).rejects.toBeInstanceOf(StorageError);
    await expect(opening).rejects.toThrow(/Saved runs are unavailable: the browser refused IndexedDB \(SecurityError: The user denied/);
  });
});

describe('storage error messages', () => {
  test('quota error names the fix', () => {
    const error = describeStorageError(new DOMException('quota', 'QuotaExceededError'), 'Saving “λ = 0.1”');

    expect(error.message).toBe(
      'Saving “λ = 0.1” failed: the browser\'s storage quota for this site is full. Delete saved runs or export the run as JSON; the saved runs are unchanged.',
    );
    expect(error.reason).toBe('QuotaExceededError');
  });
});
