/**
 * The typed contract between the UI thread and the lab worker. The worker
 * exposes a LabWorkerApi object through Comlink; the UI passes a listener
 * (wrapped in Comlink.proxy) that receives coalesced batches of messages.
 */
import type { LabEvent } from '../core/events.ts';
import type { ExperimentSpec } from '../core/spec.ts';

/** tfjs backends in the order the worker tries them. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

export type BackendName = (typeof BACKEND_ORDER)[number];

/** The backend in use, and the reason each faster one was skipped. */
export interface BackendReport {
  backend: BackendName;
  /** One entry per backend tried before the one in use, in order. */
  skipped: { backend: BackendName; reason: string }[];
  /**
   * The GPU that runs WebGPU or WebGL, such as "google swiftshader (fallback
   * adapter)" or WebGL's unmasked renderer string; absent on WASM and CPU.
   */
  adapter?: string;
  /** True when that GPU is a software renderer (SwiftShader, llvmpipe or a fallback adapter), on which WASM is usually faster. */
  software?: boolean;
}

export interface InitOptions {
  /** Backends not to try, such as one whose device was lost. */
  exclude: BackendName[];
  /** The reason for each excluded backend, for the backend report; a default reason fills any gap. */
  exclusionReasons?: Partial<Record<BackendName, string>>;
  /** Backends whose initialization fails on purpose, to exercise the fallback path. */
  simulateFailure: BackendName[];
  /**
   * Lets WebGPU and WebGL run on a software renderer such as SwiftShader. By
   * default they are skipped there, because WASM is faster on the same CPU.
   */
  allowSoftware?: boolean;
  /** The checkpoint folder URL, such as "/models/brown-gpt/". */
  modelUrl: string;
  /** The task data URL, such as "/data/task-sources.json". */
  dataUrl: string;
}

/** The state of the run hosted by the worker. */
export type RunState = 'idle' | 'preparing' | 'running' | 'paused' | 'done' | 'stopped' | 'error';

/** Long computations that report progress and can be cancelled. */
export type TaskKind = 'load' | 'preview' | 'prepare' | 'sweep' | 'jacobianChange';

/** Settings that a running experiment takes without a restart. */
export interface LiveSettings {
  lr: number;
  lambda: number;
}

export type WorkerMessage =
  | { kind: 'events'; events: LabEvent[] }
  | { kind: 'state'; state: RunState; step: number; message?: string }
  | { kind: 'progress'; task: TaskKind; done: number; total: number; label: string }
  | { kind: 'taskEnd'; task: TaskKind; outcome: 'finished' | 'cancelled' | 'failed'; message?: string }
  | { kind: 'live'; settings: LiveSettings; step: number }
  | { kind: 'deviceLost'; backend: BackendName; message: string }
  | { kind: 'error'; message: string };

export type WorkerListener = (messages: WorkerMessage[]) => void;

/**
 * A notice from the main-thread client (client.ts) about the worker itself,
 * beside the worker's own messages.
 *
 * - ready: a worker finished init, the first one or a replacement.
 * - restarted: the worker crashed or lost its device, so the client started
 *   a new one without the failed backend. The new worker has no run, so the
 *   run state is idle.
 * - failed: no backend is left to try, or a replacement failed to start.
 */
export type ClientNotice =
  | { kind: 'ready'; report: BackendReport }
  | { kind: 'restarted'; from: BackendName | null; to: BackendName; reason: string }
  | { kind: 'failed'; message: string };

/**
 * Every method resolves once the request is accepted; results arrive
 * through the listener. Methods reject with an Error whose message is one
 * line fit for the UI.
 */
export interface LabWorkerApi {
  /** Picks a backend, loads the checkpoint and the task data, and returns the backend report. */
  init(options: InitOptions, listener: WorkerListener): Promise<BackendReport>;
  /** Computes the per-block NTK at θ₀ for the spec (all blocks) and emits a preview event for spec.adapters. */
  preview(spec: ExperimentSpec): Promise<void>;
  /** Re-sums the cached block kernels for another adapter grid and emits a preview event; no Jacobian is recomputed. */
  selectAdapters(adapters: string, lambda: number): Promise<void>;
  /** Builds a run and starts training; events stream until done, stop or error. */
  start(spec: ExperimentSpec): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Runs one step while paused (or builds the run and pauses after step 0 when idle). */
  stepOnce(spec: ExperimentSpec): Promise<void>;
  stop(): Promise<void>;
  /** Stops and disposes the run; the next start begins at step 0. */
  reset(): Promise<void>;
  setLive(settings: LiveSettings): Promise<void>;
  runSweep(spec: ExperimentSpec, subsets: string[]): Promise<void>;
  /** Measures the Jacobian change at the current θ (θ₀ when no run exists). */
  measureJacobianChange(spec: ExperimentSpec, radii: number[], directions: number): Promise<void>;
  /** Cancels a long task; the task ends with outcome 'cancelled'. */
  cancel(task: TaskKind): Promise<void>;
  /** Destroys the WebGPU device, to exercise the device-lost path. */
  simulateDeviceLoss(): Promise<void>;
  /** tf.memory() of the worker, for leak checks in tests. */
  memory(): Promise<{ numTensors: number; numBytes: number }>;
  /**
   * Encodes the current run's θ (the real model) as a safetensors file with
   * PEFT-style tensor names and the spec and step as metadata. Rejects when
   * no run exists: before the first start, after reset or after an error.
   */
  exportAdapters(): Promise<Uint8Array>;
}
