/**
 * The lab's UI state in one Zustand store, created per page by
 * `createLabStore` (no module-level state). Worker messages arrive in
 * batches through `receive`; the controls call the actions.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';

import { BLOCK_KERNEL_FIELDS } from '../core/ntk/preview-key.ts';
import { DEFAULT_SPEC, SPEC_KEYS, type ExperimentSpec, type SpecKey } from '../core/spec.ts';
import type {
  BackendReport,
  ClientNotice,
  LabWorkerApi,
  LiveSettings,
  RunState,
  TaskKind,
  WorkerMessage,
} from '../worker/protocol.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN, type AnalysisData, type RunData } from './run-data.ts';

/** Settings a running experiment takes without a restart. */
export const LIVE_KEYS: readonly SpecKey[] = ['lr', 'lambda'];

/** Settings that only change the analysis views, never the run: none of them needs a restart. */
const VIEW_ONLY_KEYS: readonly SpecKey[] = [];

/** Settings that change the kernel at θ₀, so the preview must be recomputed. */
export const PREVIEW_KEYS: readonly SpecKey[] = BLOCK_KERNEL_FIELDS;

export interface Notice {
  id: number;
  level: 'info' | 'warning' | 'error';
  text: string;
}

export interface Progress {
  done: number;
  total: number;
  label: string;
}

/**
 * The worker client methods that the store calls: the worker API without
 * init, which the client runs itself. exportAdapters is optional, so that
 * test ports that never export need not implement it.
 */
export type LabPort = Omit<LabWorkerApi, 'init' | 'exportAdapters'> & Partial<Pick<LabWorkerApi, 'exportAdapters'>>;

export interface LabState {
  /** The settings in the controls. */
  spec: ExperimentSpec;
  /** The spec of the run in the worker, or null when none exists. */
  runSpec: ExperimentSpec | null;
  backend: BackendReport | null;
  /** True once the worker has loaded the checkpoint and the task data. */
  ready: boolean;
  runState: RunState;
  step: number;
  progress: Partial<Record<TaskKind, Progress>>;
  run: RunData;
  analysis: AnalysisData;
  notices: Notice[];
  /** Settings changed since the run started that take effect only after a restart. */
  pendingRestart: SpecKey[];
  /** Settings applied to the running experiment, with the step at which they applied. */
  liveApplied: { settings: LiveSettings; step: number } | null;
  /** The worker's tf.memory() at the last reading, or null before one. */
  memory: { numTensors: number; numBytes: number } | null;
}

export interface LabActions {
  /** Connects the store to a worker client; the store calls nothing before this. */
  attach(port: LabPort): void;
  receive(messages: readonly WorkerMessage[]): void;
  setBackend(report: BackendReport): void;
  /** Handles the client's notices: ready, restarted on another backend, or failed for good. */
  receiveNotice(notice: ClientNotice): void;
  notify(level: Notice['level'], text: string): void;
  dismissNotice(id: number): void;
  /** Changes one setting: live settings apply to a running experiment, others ask for a restart. */
  setSpecValue<K extends SpecKey>(key: K, value: ExperimentSpec[K]): void;
  /** Changes several settings at once, as a lesson or a link does, with the effects of setSpecValue. */
  applySpec(partial: Partial<ExperimentSpec>): void;
  start(): void;
  pause(): void;
  resume(): void;
  stepOnce(): void;
  stop(): void;
  reset(): void;
  /** Stops the run and starts it again with the settings in the controls. */
  restart(): void;
  runSweep(subsets: string[]): void;
  measureJacobianChange(): void;
  cancel(task: TaskKind): void;
  refreshPreview(): void;
  /** Destroys the WebGPU device on purpose, so a teacher or a test can watch the fallback. */
  simulateDeviceLoss(): void;
  /** Reads the worker's tensor count and bytes into `memory`. */
  readMemory(): void;
  /** Returns the worker's run θ as a safetensors file; rejects with a one-line message. */
  exportAdapters(): Promise<Uint8Array>;
}

export type LabStore = StoreApi<LabState & LabActions>;

/** Radii of the Jacobian-change measurement, spanning the distances fine-tuning reaches. */
export const JACOBIAN_CHANGE_RADII = [0.01, 0.03, 0.1, 0.3, 1, 3];
export const JACOBIAN_CHANGE_DIRECTIONS = 2;

const ACTIVE_STATES: readonly RunState[] = ['preparing', 'running', 'paused'];

export function isRunActive(state: RunState): boolean {
  return ACTIVE_STATES.includes(state);
}

export function createLabStore(initialSpec: ExperimentSpec = { ...DEFAULT_SPEC }): LabStore {
  let port: LabPort | null = null;
  let noticeId = 0;

  return createStore<LabState & LabActions>()((set, get) => {
    /** Calls the worker and turns a rejected call into an error notice. */
    const call = (action: (worker: LabPort) => Promise<void>): void => {
      if (port === null) {
        get().notify('error', 'The lab worker is not running yet; wait for the backend to load.');
        return;
      }
      action(port).catch((error: unknown) => {
        get().notify('error', error instanceof Error ? error.message : String(error));
      });
    };

    return {
      spec: initialSpec,
      runSpec: null,
      backend: null,
      ready: false,
      runState: 'idle',
      step: 0,
      progress: {},
      run: EMPTY_RUN,
      analysis: EMPTY_ANALYSIS,
      notices: [],
      pendingRestart: [],
      liveApplied: null,
      memory: null,

      attach(nextPort) {
        port = nextPort;
      },

      receive(messages) {
        const state = get();
        let { run, analysis, progress } = state;
        const patch: Partial<LabState> = {};
        const events = messages.flatMap((message) => (message.kind === 'events' ? message.events : []));
        if (events.length > 0) ({ run, analysis } = appendEvents(run, analysis, events));

        for (const message of messages) {
          switch (message.kind) {
            case 'state':
              patch.runState = message.state;
              patch.step = message.step;
              if (message.state === 'error' && message.message !== undefined) get().notify('error', message.message);
              break;
            case 'progress':
              progress = { ...progress, [message.task]: { done: message.done, total: message.total, label: message.label } };
              break;
            case 'taskEnd': {
              const { [message.task]: _finished, ...rest } = progress;
              progress = rest;
              if (message.outcome === 'failed') get().notify('error', message.message ?? `${message.task} failed`);
              if (message.outcome === 'cancelled') get().notify('info', `${taskLabel(message.task)} cancelled.`);
              break;
            }
            case 'live':
              patch.liveApplied = { settings: message.settings, step: message.step };
              break;
            case 'deviceLost':
              get().notify('warning', `The ${message.backend} device was lost: ${message.message}`);
              break;
            case 'error':
              get().notify('error', message.message);
              break;
            case 'events':
              // The worker sends state messages only on changes, so the step counter follows the step events.
              for (const event of message.events) {
                if (event.type === 'step') patch.step = event.step;
              }
              break;
          }
        }
        if (run.error !== null && run.error !== state.run.error) get().notify('error', run.error);
        set({ ...patch, run, analysis, progress });
      },

      setBackend(report) {
        set({ backend: report, ready: true });
        const webgpu = report.skipped.find((skip) => skip.backend === 'webgpu');
        if (webgpu !== undefined) {
          get().notify('warning', `WebGPU is not used (${webgpu.reason}), so the lab runs on ${report.backend}.`);
        }
      },

      receiveNotice(notice) {
        switch (notice.kind) {
          case 'ready':
            get().setBackend(notice.report);
            get().refreshPreview();
            break;
          case 'restarted': {
            const interrupted = isRunActive(get().runState) ? ` The run stopped at step ${get().step}; press Start to run it again.` : '';
            const from = notice.from === null ? 'The worker' : `The ${notice.from} backend`;
            get().notify('warning', `${from} failed (${notice.reason}). The lab now runs on ${notice.to}.${interrupted}`);
            // The new worker recomputes the preview on its own backend; the old one is gone with its worker.
            set((state) => ({
              runState: 'idle',
              step: 0,
              runSpec: null,
              progress: {},
              pendingRestart: [],
              liveApplied: null,
              analysis: { ...state.analysis, preview: null },
            }));
            break;
          }
          case 'failed':
            set({ ready: false, runState: 'error' });
            get().notify('error', notice.message);
            break;
        }
      },

      notify(level, text) {
        noticeId += 1;
        const notice = { id: noticeId, level, text };
        // Keep the latest few; an unchanged repeat replaces the older copy.
        set((state) => ({ notices: [...state.notices.filter((old) => old.text !== text), notice].slice(-6) }));
      },

      dismissNotice(id) {
        set((state) => ({ notices: state.notices.filter((notice) => notice.id !== id) }));
      },

      setSpecValue(key, value) {
        get().applySpec({ [key]: value });
      },

      applySpec(partial) {
        const state = get();
        const spec = { ...state.spec, ...partial };
        const changed = SPEC_KEYS.filter((key) => spec[key] !== state.spec[key]);
        if (changed.length === 0) return;
        set({ spec });

        const active = isRunActive(state.runState) && state.runSpec !== null;
        if (active) {
          let runSpec = state.runSpec as ExperimentSpec;
          if (changed.some((key) => LIVE_KEYS.includes(key))) {
            call((worker) => worker.setLive({ lr: spec.lr, lambda: spec.lambda }));
            runSpec = { ...runSpec, lr: spec.lr, lambda: spec.lambda };
            set({ runSpec });
          }
          if (changed.some((key) => !LIVE_KEYS.includes(key) && !VIEW_ONLY_KEYS.includes(key))) {
            const pending = SPEC_KEYS.filter((name) => spec[name] !== runSpec[name] && !LIVE_KEYS.includes(name));
            set({ pendingRestart: pending });
          }
        }

        if (changed.some((key) => PREVIEW_KEYS.includes(key))) get().refreshPreview();
        else if (changed.includes('adapters') || changed.includes('lambda')) {
          if (state.analysis.preview !== null) call((worker) => worker.selectAdapters(spec.adapters, spec.lambda));
        }
      },

      start() {
        const { spec } = get();
        set({ runSpec: spec, pendingRestart: [], liveApplied: null, run: EMPTY_RUN });
        call((worker) => worker.start(spec));
      },

      pause() {
        call((worker) => worker.pause());
      },

      resume() {
        call((worker) => worker.resume());
      },

      stepOnce() {
        const { spec, runSpec, runState } = get();
        if (!isRunActive(runState) || runSpec === null) set({ runSpec: spec, pendingRestart: [], liveApplied: null, run: EMPTY_RUN });
        call((worker) => worker.stepOnce(spec));
      },

      stop() {
        call((worker) => worker.stop());
      },

      reset() {
        set({ runSpec: null, pendingRestart: [], liveApplied: null, run: EMPTY_RUN });
        call((worker) => worker.reset());
      },

      restart() {
        const { spec } = get();
        set({ runSpec: spec, pendingRestart: [], liveApplied: null, run: EMPTY_RUN });
        call(async (worker) => {
          await worker.reset();
          await worker.start(spec);
        });
      },

      runSweep(subsets) {
        const { spec } = get();
        call((worker) => worker.runSweep(spec, subsets));
      },

      measureJacobianChange() {
        const { spec } = get();
        call((worker) => worker.measureJacobianChange(spec, JACOBIAN_CHANGE_RADII, JACOBIAN_CHANGE_DIRECTIONS));
      },

      cancel(task) {
        call((worker) => worker.cancel(task));
      },

      simulateDeviceLoss() {
        call((worker) => worker.simulateDeviceLoss());
      },

      readMemory() {
        call(async (worker) => {
          set({ memory: await worker.memory() });
        });
      },

      exportAdapters() {
        if (port?.exportAdapters === undefined) return Promise.reject(new Error('The lab worker is not running yet; wait for the backend to load.'));
        return port.exportAdapters();
      },

      refreshPreview() {
        const { spec } = get();
        call((worker) => worker.preview(spec));
      },
    };
  });
}

export function taskLabel(task: TaskKind): string {
  switch (task) {
    case 'load':
      return 'Loading the model';
    case 'preview':
      return 'NTK at θ₀';
    case 'prepare':
      return 'Linearizing the model';
    case 'sweep':
      return 'Layer sweep';
    case 'jacobianChange':
      return 'Jacobian change';
  }
}
