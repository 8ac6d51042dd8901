/**
 * The UI thread's handle on the lab worker. LabClient starts the module
 * worker, calls it through Comlink and passes its message batches to the
 * subscribers. When the worker crashes or its GPU device is lost, the client
 * ends it and starts a new one without the failed backend, then reports a
 * `restarted` notice. The new worker has no run: the UI starts again from idle.
 */
import * as Comlink from 'comlink';

import type { ExperimentSpec } from '../core/spec.ts';
import { backendsBefore } from './backend-order.ts';
import {
  BACKEND_ORDER,
  type BackendName,
  type BackendReport,
  type ClientNotice,
  type InitOptions,
  type LabWorkerApi,
  type LiveSettings,
  type TaskKind,
  type WorkerMessage,
} from './protocol.ts';

export interface LabClientOptions {
  /** The checkpoint folder URL; "/models/brown-gpt/" by default. */
  modelUrl?: string;
  /** The task data URL; "/data/task-sources.json" by default. */
  dataUrl?: string;
  /** Backends whose start fails on purpose, such as from the page's `?failBackend=webgpu` flag. */
  simulateFailure?: BackendName[];
  /** Backends never to try. */
  exclude?: BackendName[];
  /**
   * The backend to start with, such as from the page's `?backend=wasm`: the
   * ones before it in BACKEND_ORDER are skipped. Preferring WebGPU or WebGL
   * also lets them run on a software renderer.
   */
  prefer?: BackendName;
  /** Lets WebGPU and WebGL run on a software renderer such as SwiftShader, where WASM is usually faster. */
  allowSoftware?: boolean;
  /** Replacement workers to start after crashes or device loss before giving up; one per backend by default. */
  maxRestarts?: number;
  /** Starts the worker; tests may pass their own. */
  createWorker?: () => Worker;
}

export type MessageListener = (messages: WorkerMessage[]) => void;
export type NoticeListener = (notice: ClientNotice) => void;

/** The URL query parameter that lists backends whose start fails on purpose. */
export const FAIL_BACKEND_PARAMETER = 'failBackend';

/**
 * Reads the backends listed in `?failBackend=webgpu,webgl` from a URL query
 * string. Names that are not backends are left out with a console warning.
 */
export function simulatedFailuresFromQuery(query: string): BackendName[] {
  const value = new URLSearchParams(query).get(FAIL_BACKEND_PARAMETER);
  if (value === null || value === '') return [];

  const names = value.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(BACKEND_ORDER as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.warn(`${FAIL_BACKEND_PARAMETER}: ignoring ${unknown.join(', ')}; expected backends from ${BACKEND_ORDER.join(', ')}`);
  }
  return BACKEND_ORDER.filter((backend) => names.includes(backend));
}

function spawnLabWorker(): Worker {
  return new Worker(new URL('./lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
}

/** One started worker and the promise that rejects when it dies. */
interface Connection {
  generation: number;
  worker: Worker;
  remote: Comlink.Remote<LabWorkerApi>;
  died: Promise<never>;
  die: (error: Error) => void;
}

export class LabClient {
  private connection: Connection | null = null;
  /** Resolves once the current worker has finished init. A restart replaces it. */
  private ready: Promise<Connection> | null = null;
  private report: BackendReport | null = null;
  /** Backends that failed in an earlier worker, with the reason. */
  private readonly excluded = new Map<BackendName, string>();
  private readonly messageListeners = new Set<MessageListener>();
  private readonly noticeListeners = new Set<NoticeListener>();
  private generation = 0;
  private restarts = 0;
  private terminated = false;
  private readonly maxRestarts: number;

  constructor(private readonly options: LabClientOptions = {}) {
    this.maxRestarts = options.maxRestarts ?? BACKEND_ORDER.length;
    for (const backend of options.exclude ?? []) this.excluded.set(backend, 'excluded by the page');
    for (const backend of backendsBefore(options.prefer)) this.excluded.set(backend, `skipped because the link requests ${options.prefer} (backend=${options.prefer})`);
  }

  /** Adds listeners for the worker's message batches and the client's notices; returns a function that removes them. */
  subscribe(onMessages: MessageListener, onNotice?: NoticeListener): () => void {
    this.messageListeners.add(onMessages);
    if (onNotice !== undefined) this.noticeListeners.add(onNotice);
    return () => {
      this.messageListeners.delete(onMessages);
      if (onNotice !== undefined) this.noticeListeners.delete(onNotice);
    };
  }

  /** Starts the worker on the first call and resolves with its backend report, after any restarts. */
  async init(): Promise<BackendReport> {
    if (this.ready === null) this.ready = this.spawn(null);
    await this.whenReady();
    return this.report as BackendReport;
  }

  /** The backend report of the current worker, or null while none has finished init. */
  get backend(): BackendReport | null {
    return this.report;
  }

  preview(spec: ExperimentSpec): Promise<void> {
    return this.call((api) => api.preview(spec));
  }

  selectAdapters(adapters: string, lambda: number): Promise<void> {
    return this.call((api) => api.selectAdapters(adapters, lambda));
  }

  start(spec: ExperimentSpec): Promise<void> {
    return this.call((api) => api.start(spec));
  }

  pause(): Promise<void> {
    return this.call((api) => api.pause());
  }

  resume(): Promise<void> {
    return this.call((api) => api.resume());
  }

  stepOnce(spec: ExperimentSpec): Promise<void> {
    return this.call((api) => api.stepOnce(spec));
  }

  stop(): Promise<void> {
    return this.call((api) => api.stop());
  }

  reset(): Promise<void> {
    return this.call((api) => api.reset());
  }

  setLive(settings: LiveSettings): Promise<void> {
    return this.call((api) => api.setLive(settings));
  }

  runSweep(spec: ExperimentSpec, subsets: string[]): Promise<void> {
    return this.call((api) => api.runSweep(spec, subsets));
  }

  measureJacobianChange(spec: ExperimentSpec, radii: number[], directions: number): Promise<void> {
    return this.call((api) => api.measureJacobianChange(spec, radii, directions));
  }

  cancel(task: TaskKind): Promise<void> {
    return this.call((api) => api.cancel(task));
  }

  simulateDeviceLoss(): Promise<void> {
    return this.call((api) => api.simulateDeviceLoss());
  }

  memory(): Promise<{ numTensors: number; numBytes: number }> {
    return this.call((api) => api.memory());
  }

  exportAdapters(): Promise<Uint8Array> {
    return this.call((api) => api.exportAdapters());
  }

  /** Ends the worker for good; later calls reject. */
  terminate(): void {
    this.terminated = true;
    this.generation += 1;
    this.closeConnection(new Error('the lab client was terminated'));
    this.ready = Promise.reject(new Error('the lab client was terminated'));
    this.ready.catch(() => undefined);
  }

  private async spawn(restart: { from: BackendName | null; reason: string } | null): Promise<Connection> {
    this.generation += 1;
    const generation = this.generation;
    const worker = (this.options.createWorker ?? spawnLabWorker)();
    const remote = Comlink.wrap<LabWorkerApi>(worker);
    let die: (error: Error) => void = () => undefined;
    const died = new Promise<never>((_, reject) => {
      die = reject;
    });
    // Calls race against `died`; this handler only keeps an unraced rejection from being reported as unhandled.
    died.catch(() => undefined);
    const connection: Connection = { generation, worker, remote, died, die };
    this.connection = connection;

    worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault();
      const detail = event.message === '' || event.message === undefined ? 'the worker script failed to load or threw' : event.message;
      this.handleFailure(generation, `the worker crashed: ${detail}`, null);
    });
    worker.addEventListener('messageerror', () => {
      this.handleFailure(generation, 'the worker crashed: a message could not be deserialized', null);
    });

    const options: InitOptions = {
      exclude: [...this.excluded.keys()],
      exclusionReasons: Object.fromEntries(this.excluded),
      simulateFailure: this.options.simulateFailure ?? [],
      allowSoftware: this.options.allowSoftware === true || this.options.prefer === 'webgpu' || this.options.prefer === 'webgl',
      modelUrl: this.options.modelUrl ?? '/models/brown-gpt/',
      dataUrl: this.options.dataUrl ?? '/data/task-sources.json',
    };
    const listener = Comlink.proxy((messages: WorkerMessage[]) => this.receive(generation, messages));
    const report = await Promise.race([remote.init(options, listener), died]);

    this.report = report;
    this.notify({ kind: 'ready', report });
    if (restart !== null) this.notify({ kind: 'restarted', from: restart.from, to: report.backend, reason: restart.reason });
    return connection;
  }

  /** Waits for the current worker; when a restart replaces it meanwhile, waits for the replacement. */
  private async whenReady(): Promise<Connection> {
    for (;;) {
      const ready = this.ready;
      if (ready === null) throw new Error('the lab worker is not started; call init first');
      try {
        return await ready;
      } catch (error) {
        if (ready === this.ready) throw error;
      }
    }
  }

  /** Calls the worker; rejects if the worker dies before it replies. */
  private async call<T>(request: (api: Comlink.Remote<LabWorkerApi>) => Promise<T>): Promise<T> {
    const connection = await this.whenReady();
    return Promise.race([request(connection.remote), connection.died]);
  }

  private receive(generation: number, messages: WorkerMessage[]): void {
    if (generation !== this.generation) return;
    for (const listener of this.messageListeners) listener(messages);

    for (const message of messages) {
      if (message.kind === 'deviceLost') {
        this.handleFailure(generation, `the ${message.backend} device was lost: ${message.message}`, message.backend);
        return;
      }
    }
  }

  /** Ends the failed worker and starts a new one without the failed backend. */
  private handleFailure(generation: number, reason: string, backend: BackendName | null): void {
    if (generation !== this.generation || this.terminated) return;
    const failed = backend ?? this.report?.backend ?? null;
    console.error(`lab client: ${reason}`);

    this.closeConnection(new Error(`the lab worker stopped (${reason}); it restarts, so repeat the request`));
    this.report = null;
    if (failed !== null) this.excluded.set(failed, `excluded after ${reason}`);

    this.restarts += 1;
    if (this.restarts > this.maxRestarts) {
      const message = `the lab worker failed ${this.restarts} times; the last failure: ${reason}`;
      this.ready = Promise.reject(new Error(message));
      this.ready.catch(() => undefined);
      this.notify({ kind: 'failed', message });
      return;
    }

    const ready = this.spawn({ from: failed, reason });
    this.ready = ready;
    ready.catch((error: unknown) => {
      if (this.ready !== ready) return;
      const message = `the replacement worker failed to start: ${error instanceof Error ? error.message : String(error)}`;
      console.error(`lab client: ${message}`);
      this.notify({ kind: 'failed', message });
    });
  }

  private closeConnection(error: Error): void {
    const connection = this.connection;
    if (connection === null) return;
    this.connection = null;
    connection.die(error);
    connection.remote[Comlink.releaseProxy]();
    connection.worker.terminate();
  }

  private notify(notice: ClientNotice): void {
    for (const listener of this.noticeListeners) listener(notice);
  }
}
