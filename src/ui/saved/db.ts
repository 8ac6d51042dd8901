/**
 * Saved runs in IndexedDB, through the `idb` wrapper. Two object stores keep
 * one entry each per run under the same id: a small summary for the list and
 * the full run record. Each write is one transaction (saving and deleting
 * span both stores), so a failed write, such as one over the storage quota,
 * aborts as a whole and leaves the saved runs as they were.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

import { checkRunRecord, type RunRecord } from '../export/run-record.ts';
import { describeOpenError, describeStorageError, StorageError } from './storage-errors.ts';

export const SAVED_RUNS_DB_NAME = 'ntk-lab-saved-runs';
const DB_VERSION = 1;

/** The fields of a saved run that the list shows, read without its events. */
export interface SavedRunSummary {
  id: string;
  name: string;
  /** Milliseconds since the epoch. */
  savedAt: number;
  task: string;
  lambda: number;
  steps: number;
  /** The real model's accuracy on the eval split at the end, or null for a run without a done event. */
  finalEvalAccuracy: number | null;
}

interface SavedRunsSchema extends DBSchema {
  summaries: { key: string; value: SavedRunSummary };
  records: { key: string; value: { id: string; record: RunRecord } };
}

export type LoadResult = { ok: true; summary: SavedRunSummary; record: RunRecord } | { ok: false; message: string };

/** Builds a run's summary from its record. */
export function summarizeRecord(id: string, name: string, record: RunRecord, savedAt = Date.now()): SavedRunSummary {
  const done = record.events.find((event) => event.type === 'done');
  const steps = done?.steps ?? Math.max(0, ...record.events.map((event) => ('step' in event ? event.step : 0)));
  return {
    id,
    name,
    savedAt,
    task: record.spec.task,
    lambda: record.spec.lambda,
    steps,
    finalEvalAccuracy: done !== undefined && Number.isFinite(done.eval.accuracy) ? done.eval.accuracy : null,
  };
}

function isSummary(value: unknown): value is SavedRunSummary {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.id === 'string' &&
    typeof entry.name === 'string' &&
    typeof entry.savedAt === 'number' &&
    typeof entry.task === 'string' &&
    typeof entry.lambda === 'number' &&
    typeof entry.steps === 'number' &&
    (entry.finalEvalAccuracy === null || typeof entry.finalEvalAccuracy === 'number')
  );
}

export class SavedRunsDb {
  private constructor(private readonly db: IDBPDatabase<SavedRunsSchema>) {}

  /** Opens the database; throws a StorageError when IndexedDB is missing or refused. */
  static async open(name = SAVED_RUNS_DB_NAME): Promise<SavedRunsDb> {
    if (typeof indexedDB === 'undefined') {
      throw new StorageError('Saved runs are unavailable: this browser has no IndexedDB. Export runs as JSON to keep them.', 'NotSupportedError');
    }
    try {
      const db = await openDB<SavedRunsSchema>(name, DB_VERSION, {
        upgrade(database) {
          database.createObjectStore('summaries', { keyPath: 'id' });
          database.createObjectStore('records', { keyPath: 'id' });
        },
      });
      return new SavedRunsDb(db);
    } catch (error) {
      throw describeOpenError(error);
    }
  }

  /** Lists the runs newest first; entries that are not valid summaries are left out and reported. */
  async list(): Promise<{ runs: SavedRunSummary[]; problems: string[] }> {
    let entries: unknown[];
    try {
      entries = await this.db.getAll('summaries');
    } catch (error) {
      throw describeStorageError(error, 'Reading the saved runs');
    }
    const runs = entries.filter(isSummary).sort((a, b) => b.savedAt - a.savedAt);
    const problems = entries
      .filter((entry) => !isSummary(entry))
      .map((entry) => {
        const id = typeof entry === 'object' && entry !== null && 'id' in entry ? String(entry.id) : '?';
        return `Saved run ${id} has a corrupt summary and is not listed.`;
      });
    return { runs, problems };
  }

  /** Writes a run's summary and record in one transaction, replacing any run with the same id. */
  async save(summary: SavedRunSummary, record: RunRecord): Promise<void> {
    try {
      const transaction = this.db.transaction(['summaries', 'records'], 'readwrite');
      await Promise.all([
        transaction.objectStore('records').put({ id: summary.id, record }),
        transaction.objectStore('summaries').put(summary),
        transaction.done,
      ]);
    } catch (error) {
      throw describeStorageError(error, `Saving “${summary.name}”`);
    }
  }

  async rename(id: string, name: string): Promise<SavedRunSummary> {
    try {
      const transaction = this.db.transaction('summaries', 'readwrite');
      const summary = await transaction.store.get(id);
      if (summary === undefined) throw new StorageError(`Renaming failed: saved run ${id} was not found; it may have been deleted in another tab.`, 'NotFoundError');
      const renamed = { ...summary, name };
      await Promise.all([transaction.store.put(renamed), transaction.done]);
      return renamed;
    } catch (error) {
      throw describeStorageError(error, 'Renaming the run');
    }
  }

  async remove(id: string): Promise<void> {
    try {
      const transaction = this.db.transaction(['summaries', 'records'], 'readwrite');
      await Promise.all([transaction.objectStore('summaries').delete(id), transaction.objectStore('records').delete(id), transaction.done]);
    } catch (error) {
      throw describeStorageError(error, 'Deleting the run');
    }
  }

  /** Reads and checks a run's record; a corrupt or missing record gives a message and is left in place. */
  async load(id: string): Promise<LoadResult> {
    let summary: SavedRunSummary | undefined;
    let entry: { id: string; record: unknown } | undefined;
    try {
      const transaction = this.db.transaction(['summaries', 'records'], 'readonly');
      [summary, entry] = await Promise.all([transaction.objectStore('summaries').get(id), transaction.objectStore('records').get(id)]);
    } catch (error) {
      throw describeStorageError(error, 'Reading the run');
    }
    if (summary === undefined || entry === undefined) return { ok: false, message: `Saved run ${id} was not found; it may have been deleted in another tab.` };

    const check = checkRunRecord(entry.record);
    if (!check.ok) return { ok: false, message: `Saved run “${summary.name}” is corrupt and cannot be shown: ${check.message}` };
    return { ok: true, summary, record: check.record };
  }

  close(): void {
    this.db.close();
  }
}
