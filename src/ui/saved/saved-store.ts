/**
 * The saved-runs state in a Zustand store beside the lab store: the list of
 * saved runs, the run shown in place of the live one, the runs overlaid for
 * comparison and the λ sweep. It watches the lab store to time each run and
 * to save it when it ends (done or stopped).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';

import type { ConfigEvent } from '../../core/events.ts';
import type { ExperimentSpec } from '../../core/spec.ts';
import { overlayColor, type RunOverlay } from '../charts/overlays.ts';
import { createRunRecord, parseRunRecord, runDataFromRecord, type RunRecord } from '../export/run-record.ts';
import type { RunData } from '../run-data.ts';
import { isRunActive, type LabStore } from '../store.ts';
import { SavedRunsDb, summarizeRecord, type SavedRunSummary } from './db.ts';
import { parseLambdaList, waitForRunEnd } from './lambda-sweep.ts';
import { describeStorageError } from './storage-errors.ts';

export interface SavedMessage {
  level: 'info' | 'error';
  text: string;
}

/** A saved or imported run shown in the charts in place of the live run. */
export interface ShownRun {
  id: string | null;
  name: string;
  record: RunRecord;
  run: RunData;
}

/** An overlay with the id of its saved run, so a rename reaches it. */
export interface SavedOverlay extends RunOverlay {
  id: string | null;
}

export interface SweepProgress {
  lambdas: number[];
  /** The index of the run in progress, from 0. */
  index: number;
  /** The saved name of the run in progress, such as "λ = 0.01". */
  runName: string;
  cancelled: boolean;
}

export interface SavedState {
  /** False until the database has opened or failed to. */
  loaded: boolean;
  /** The reason saved runs are unavailable, or null while IndexedDB works. */
  storageProblem: string | null;
  runs: SavedRunSummary[];
  /** Ids of the runs ticked for comparison. */
  selected: string[];
  overlays: SavedOverlay[];
  shownRun: ShownRun | null;
  /** The outcome of the last action, shown in the panel. */
  message: SavedMessage | null;
  sweep: SweepProgress | null;
  /** When the live run started and ended, or null. */
  liveStartedAt: Date | null;
  liveEndedAt: Date | null;
}

export interface SavedActions {
  /** Opens the database, lists the runs and starts watching the lab store; returns a function that undoes it. */
  connect(): () => void;
  refresh(): Promise<void>;
  /** Saves the live run under `name` (by default its current or generated name); returns its id, or null when nothing was saved. */
  saveLive(name?: string): Promise<string | null>;
  rename(id: string, name: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Shows a saved run in the charts. */
  show(id: string): Promise<void>;
  /** Goes back to the live run. */
  showLive(): void;
  /** Checks a run record file's text, saves it and shows it; on failure the current state stays as it was. */
  importRecord(text: string, fileName: string): Promise<void>;
  /** Returns the record of what the charts show: the shown run, else the live run; null without either. */
  currentRecord(): RunRecord | null;
  toggleSelected(id: string): void;
  /** Overlays the ticked runs on the run charts. */
  compareSelected(): Promise<void>;
  clearComparison(): void;
  /** Runs one experiment per λ in the list with the current settings, saving and overlaying each. */
  runLambdaSweep(text: string): Promise<void>;
  cancelSweep(): void;
  setMessage(message: SavedMessage | null): void;
}

export type SavedStore = StoreApi<SavedState & SavedActions>;

/** Returns the name a run gets when it is saved without one, such as "brown-genre-2, λ = 0.01, adam lr 0.01". */
export function defaultRunName(spec: ExperimentSpec): string {
  return `${spec.task}, λ = ${spec.lambda}, ${spec.optimizer} lr ${spec.lr}`;
}

function newId(): string {
  return crypto.randomUUID();
}

/** Returns a file name without its folder and its last extension. */
function baseName(fileName: string): string {
  const name = fileName.split(/[\\/]/).pop() ?? fileName;
  return name.replace(/\.[^.]*$/, '') || name;
}

export function createSavedStore(labStore: LabStore, openDb: () => Promise<SavedRunsDb> = () => SavedRunsDb.open()): SavedStore {
  let db: SavedRunsDb | null = null;
  /** The saved id of each live run, keyed by its config event, so saving again updates the same entry. */
  let savedIds = new WeakMap<ConfigEvent, string>();
  const pendingSaves = new WeakMap<ConfigEvent, Promise<string | null>>();

  return createStore<SavedState & SavedActions>()((set, get) => {
    const fail = (error: unknown, action: string): void => {
      const text = describeStorageError(error, action).message;
      console.error(`saved runs: ${text}`);
      set({ message: { level: 'error', text } });
    };

    const requireDb = (): SavedRunsDb | null => {
      if (db === null) set({ message: { level: 'error', text: get().storageProblem ?? 'Saved runs are not ready yet; try again in a moment.' } });
      return db;
    };

    /** Times the live run and saves it when it ends. */
    const watchLab = (): (() => void) =>
      labStore.subscribe((state, previous) => {
        if (state.runState === previous.runState) return;
        if (state.runState === 'preparing' && !isRunActive(previous.runState)) {
          set({ liveStartedAt: new Date(), liveEndedAt: null, shownRun: null });
        }
        const ended = state.runState === 'done' || state.runState === 'stopped';
        if (ended && isRunActive(previous.runState) && state.run.config !== null) {
          set({ liveEndedAt: new Date() });
          void get().saveLive();
        }
      });

    return {
      loaded: false,
      storageProblem: null,
      runs: [],
      selected: [],
      overlays: [],
      shownRun: null,
      message: null,
      sweep: null,
      liveStartedAt: null,
      liveEndedAt: null,

      connect() {
        let connected = true;
        const unsubscribe = watchLab();
        openDb().then(
          (opened) => {
            if (!connected) {
              opened.close();
              return;
            }
            db = opened;
            set({ storageProblem: null });
            void get().refresh();
          },
          (error: unknown) => {
            if (!connected) return;
            const text = describeStorageError(error, 'Opening the saved runs').message;
            console.error(`saved runs: ${text}`);
            set({ loaded: true, storageProblem: text });
          },
        );
        return () => {
          connected = false;
          unsubscribe();
          db?.close();
          db = null;
          savedIds = new WeakMap();
        };
      },

      async refresh() {
        if (db === null) return;
        try {
          const { runs, problems } = await db.list();
          const ids = new Set(runs.map((run) => run.id));
          set((state) => ({
            loaded: true,
            runs,
            selected: state.selected.filter((id) => ids.has(id)),
            ...(problems.length > 0 ? { message: { level: 'error' as const, text: problems.join(' ') } } : {}),
          }));
        } catch (error) {
          set({ loaded: true });
          fail(error, 'Reading the saved runs');
        }
      },

      saveLive(name) {
        const lab = labStore.getState();
        const config = lab.run.config;
        if (config === null) {
          set({ message: { level: 'error', text: 'No run to save yet: start a run first.' } });
          return Promise.resolve(null);
        }
        const store = requireDb();
        if (store === null) return Promise.resolve(null);

        const id = savedIds.get(config) ?? newId();
        savedIds.set(config, id);
        const previousName = get().runs.find((run) => run.id === id)?.name;
        const runName = name ?? previousName ?? get().sweep?.runName ?? defaultRunName(config.spec);
        const state = get();
        const record = createRunRecord(lab.run, {
          spec: lab.runSpec ?? lab.spec,
          backend: lab.backend?.backend ?? null,
          startedAt: state.liveStartedAt,
          endedAt: isRunActive(lab.runState) ? null : state.liveEndedAt,
        });

        const saving = (async () => {
          try {
            await store.save(summarizeRecord(id, runName, record), record);
            set({ message: { level: 'info', text: `Saved “${runName}”.` } });
            await get().refresh();
            return id;
          } catch (error) {
            fail(error, `Saving “${runName}”`);
            return null;
          }
        })();
        pendingSaves.set(config, saving);
        return saving;
      },

      async rename(id, name) {
        const store = requireDb();
        const trimmed = name.trim();
        if (store === null) return;
        if (trimmed === '') {
          set({ message: { level: 'error', text: 'A saved run needs a name; the old name is kept.' } });
          return;
        }
        try {
          await store.rename(id, trimmed);
          set((state) => ({
            message: null,
            overlays: state.overlays.map((overlay) => (overlay.id === id ? { ...overlay, name: trimmed } : overlay)),
            shownRun: state.shownRun?.id === id ? { ...state.shownRun, name: trimmed } : state.shownRun,
          }));
          await get().refresh();
        } catch (error) {
          fail(error, 'Renaming the run');
        }
      },

      async remove(id) {
        const store = requireDb();
        if (store === null) return;
        try {
          await store.remove(id);
          set((state) => ({ message: null, shownRun: state.shownRun?.id === id ? null : state.shownRun }));
          await get().refresh();
        } catch (error) {
          fail(error, 'Deleting the run');
        }
      },

      async show(id) {
        const store = requireDb();
        if (store === null) return;
        try {
          const result = await store.load(id);
          if (!result.ok) {
            set({ message: { level: 'error', text: result.message } });
            return;
          }
          set({ shownRun: { id, name: result.summary.name, record: result.record, run: runDataFromRecord(result.record) }, message: null });
        } catch (error) {
          fail(error, 'Reading the run');
        }
      },

      showLive() {
        set({ shownRun: null });
      },

      async importRecord(text, fileName) {
        const parsed = parseRunRecord(text);
        if (!parsed.ok) {
          set({ message: { level: 'error', text: `${fileName}: ${parsed.message}` } });
          return;
        }
        const { record } = parsed;
        const name = baseName(fileName);
        const id = newId();
        set({ shownRun: { id: null, name, record, run: runDataFromRecord(record) }, message: null });

        if (db === null) {
          set({ message: { level: 'error', text: `Showing ${fileName}, but it is not saved: ${get().storageProblem ?? 'saved runs are not ready yet.'}` } });
          return;
        }
        try {
          await db.save(summarizeRecord(id, name, record), record);
          set((state) => ({
            shownRun: state.shownRun?.record === record ? { ...state.shownRun, id } : state.shownRun,
            message: { level: 'info', text: `Loaded and saved “${name}”.` },
          }));
          await get().refresh();
        } catch (error) {
          fail(error, `Saving “${name}”`);
        }
      },

      currentRecord() {
        const shownRun = get().shownRun;
        if (shownRun !== null) return shownRun.record;
        const lab = labStore.getState();
        if (lab.run.config === null) return null;
        const state = get();
        return createRunRecord(lab.run, {
          spec: lab.runSpec ?? lab.spec,
          backend: lab.backend?.backend ?? null,
          startedAt: state.liveStartedAt,
          endedAt: isRunActive(lab.runState) ? null : state.liveEndedAt,
        });
      },

      toggleSelected(id) {
        set((state) => ({
          selected: state.selected.includes(id) ? state.selected.filter((other) => other !== id) : [...state.selected, id],
        }));
      },

      async compareSelected() {
        const store = requireDb();
        if (store === null) return;
        const ids = get().selected;
        if (ids.length < 2) {
          set({ message: { level: 'error', text: 'Tick two or more saved runs to compare them.' } });
          return;
        }
        const overlays: SavedOverlay[] = [];
        const problems: string[] = [];
        try {
          for (const id of ids) {
            const result = await store.load(id);
            if (result.ok) {
              overlays.push({ id, name: result.summary.name, color: overlayColor(overlays.length), run: runDataFromRecord(result.record) });
            } else {
              problems.push(result.message);
            }
          }
        } catch (error) {
          fail(error, 'Reading the runs to compare');
          return;
        }
        set({ overlays, message: problems.length > 0 ? { level: 'error', text: problems.join(' ') } : null });
      },

      clearComparison() {
        set({ overlays: [] });
      },

      async runLambdaSweep(text) {
        const parsed = parseLambdaList(text);
        if (!parsed.ok) {
          set({ message: { level: 'error', text: parsed.message } });
          return;
        }
        if (get().sweep !== null || isRunActive(labStore.getState().runState)) {
          set({ message: { level: 'error', text: 'Stop the current run before starting a λ sweep.' } });
          return;
        }

        const { lambdas } = parsed;
        const finished: string[] = [];
        const originalLambda = labStore.getState().spec.lambda;
        set({ overlays: [], shownRun: null, message: null, sweep: { lambdas, index: 0, runName: `λ = ${lambdas[0]}`, cancelled: false } });
        try {
          for (const [index, lambda] of lambdas.entries()) {
            if (get().sweep?.cancelled !== false) break;
            const runName = `λ = ${lambda}`;
            set((state) => ({ sweep: state.sweep === null ? null : { ...state.sweep, index, runName } }));

            const previousConfig = labStore.getState().run.config;
            labStore.getState().applySpec({ lambda });
            labStore.getState().start();
            const outcome = await waitForRunEnd(labStore, previousConfig);
            if (outcome.kind === 'rejected') {
              set({ message: { level: 'error', text: `The λ sweep stopped: the run for ${runName} did not start (${outcome.message}).` } });
              return;
            }

            // Saving starts when the run ends; the sweep waits for it so that the list and the overlay agree.
            if (outcome.config !== null) {
              const id = await (pendingSaves.get(outcome.config) ?? get().saveLive(runName));
              const run = labStore.getState().run;
              set((state) => ({ overlays: [...state.overlays, { id, name: runName, color: overlayColor(state.overlays.length), run }] }));
              finished.push(runName);
            }
            if (outcome.state !== 'done') {
              const reason = get().sweep?.cancelled === true ? 'it was cancelled' : `the run for ${runName} ended ${outcome.state}`;
              set({ message: { level: 'error', text: `The λ sweep stopped after ${finished.length} of ${lambdas.length} runs: ${reason}.` } });
              return;
            }
          }
          const cancelled = get().sweep?.cancelled === true;
          set({
            message: cancelled
              ? { level: 'error', text: `The λ sweep stopped after ${finished.length} of ${lambdas.length} runs: it was cancelled.` }
              : { level: 'info', text: `λ sweep done: ${finished.length} runs saved and overlaid.` },
          });
        } finally {
          // The controls get back the λ they had before the sweep.
          if (!isRunActive(labStore.getState().runState)) labStore.getState().applySpec({ lambda: originalLambda });
          set({ sweep: null });
        }
      },

      cancelSweep() {
        const sweep = get().sweep;
        if (sweep === null) return;
        set({ sweep: { ...sweep, cancelled: true } });
        if (isRunActive(labStore.getState().runState)) labStore.getState().stop();
      },

      setMessage(message) {
        set({ message });
      },
    };
  });
}
