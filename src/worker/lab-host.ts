/**
 * The lab engine as the worker hosts it: one training run driven step by
 * step, and the long analyses (NTK preview, sweep, Jacobian change) as
 * cancellable tasks. It implements LabWorkerApi without Comlink, so Node
 * tests can drive it directly; lab.worker.ts exposes it to the UI thread.
 *
 * Training advances one step per macrotask (a 0 ms timeout), so pause, stop,
 * setLive and cancel requests are handled between steps. Long tasks yield
 * between Jacobian chunks for the same reason. Every read of a tensor is
 * asynchronous (the runner's *Async methods), because synchronous reads fail
 * on WebGPU in a worker. Every operation on the run (a step, finishing,
 * reset, a θ snapshot) goes through one lock, so that no other operation
 * disposes or steps the run while one awaits a read.
 */
import * as tf from '@tensorflow/tfjs';

import type { LabEvent, PreviewEvent } from '../core/events.ts';
import { tryParseAdapterGrid } from '../core/model/adapters.ts';
import { jacobianChangeAsync } from '../core/ntk/jacobian-change.ts';
import { flattenTheta } from '../core/model/lora.ts';
import { blockKernelKey, computeBlockKernels, subsetPreview, type BlockKernels } from '../core/ntk/preview.ts';
import { FineTuneRun, type RunnerInputs } from '../core/runner.ts';
import { formatSpecIssue, validateSpec, type ExperimentSpec } from '../core/spec.ts';
import { runSweep } from '../core/sweep.ts';
import { CancelledError } from '../core/task-control.ts';
import { encodeAdapterFile } from '../ui/export/adapter-file.ts';
import { firstLine, type BackendOptions } from './backend-order.ts';
import { decodeLabFiles, fetchLabFiles, folderName, LOAD_STEPS, type FetchFn } from './loading.ts';
import { MessageBatcher } from './message-batcher.ts';
import { markPhase } from './phase-marks.ts';
import type {
  BackendReport,
  InitOptions,
  LabWorkerApi,
  LiveSettings,
  RunState,
  TaskKind,
  WorkerListener,
  WorkerMessage,
} from './protocol.ts';

/** The host's dependencies on its surroundings: the browser's, or a test's. */
export interface HostEnvironment {
  selectBackend(options: BackendOptions): Promise<BackendReport>;
  fetch: FetchFn;
  /** Calls `onLost` once the GPU device of the active backend is lost; does nothing without one. */
  watchDeviceLoss(onLost: (message: string) => void): void;
  /** Destroys the GPU device of the active backend. Throws on a backend without one. */
  destroyGpuDevice(): void;
  /** Milliseconds between message batches; 100 by default. */
  batchIntervalMs?: number;
}

/** The maximum number of random directions per radius that measureJacobianChange accepts. */
export const MAX_JACOBIAN_CHANGE_DIRECTIONS = 16;

const TASK_KINDS: readonly TaskKind[] = ['load', 'preview', 'prepare', 'sweep', 'jacobianChange'];

interface Session {
  inputs: RunnerInputs;
  /** The checkpoint folder name, which spec.model must equal. */
  modelName: string;
  outbox: MessageBatcher;
}

interface RunningTask {
  controller: AbortController;
  /** Settles once the task has freed its tensors and sent its taskEnd message. */
  finished: Promise<void>;
}

export class LabHost implements LabWorkerApi {
  private session: Session | null = null;
  private initializing = false;
  private state: RunState = 'idle';
  private run: FineTuneRun | null = null;
  private stepTimer: ReturnType<typeof setTimeout> | null = null;
  /** The tail of the queue of run operations; see withRun. */
  private runLock: Promise<void> = Promise.resolve();
  /** The step of the last eval events, so that stop and done evaluate only when needed. */
  private lastEvalStep = 0;
  /** The run's next state once preparing ends: running, or paused after step 0. */
  private afterPrepare: 'run' | 'pause' = 'run';
  private readonly tasks = new Map<TaskKind, RunningTask>();
  private blockKernels: BlockKernels | null = null;
  /** The block-kernel key of the preview being computed. */
  private previewKey: string | null = null;
  /** The adapter subset and λ of the latest preview request. */
  private selection: { adapters: string; lambda: number } = { adapters: '', lambda: 0 };

  constructor(private readonly environment: HostEnvironment) {}

  async init(options: InitOptions, listener: WorkerListener): Promise<BackendReport> {
    if (this.session !== null || this.initializing) {
      throw new Error('the worker is already initialized; start a new worker to change its options');
    }
    this.initializing = true;
    const outbox = new MessageBatcher((messages) => deliver(listener, messages), this.environment.batchIntervalMs);
    const total = LOAD_STEPS.length + 1;
    let done = 0;
    const advance = (label: string): void => {
      done += 1;
      outbox.push({ kind: 'progress', task: 'load', done, total, label });
    };

    try {
      markPhase('init');
      outbox.push({ kind: 'progress', task: 'load', done: 0, total, label: 'starting a tfjs backend; loading the model' });
      // The files download while the backend starts. Decoding allocates tensors, so it waits for the backend.
      const files = fetchLabFiles(this.environment.fetch, options, (file) => {
        markPhase(`fetched ${file}`);
        advance(`loaded ${file}`);
      });
      // A failed download is raised by the await below, after the backend has started or failed.
      files.catch(() => undefined);
      const report = await this.environment.selectBackend(options);
      markPhase('backend');
      advance(`running on ${report.backend}`);

      const data = decodeLabFiles(await files, options.dataUrl);
      markPhase('decoded');
      this.session = {
        inputs: { ...data, backend: tf.getBackend() },
        modelName: folderName(options.modelUrl),
        outbox,
      };
      this.environment.watchDeviceLoss((message) => this.handleDeviceLoss(report, message));
      outbox.push({ kind: 'taskEnd', task: 'load', outcome: 'finished' });
      return report;
    } catch (error) {
      const message = firstLine(error);
      outbox.push({ kind: 'taskEnd', task: 'load', outcome: 'failed', message });
      console.error(`lab worker: init failed: ${message}`);
      throw new Error(message);
    } finally {
      this.initializing = false;
    }
  }

  async preview(spec: ExperimentSpec): Promise<void> {
    const session = this.requireSession();
    const checked = this.checkSpec(spec);
    this.selection = { adapters: checked.adapters, lambda: checked.lambda };
    const key = blockKernelKey(checked);

    if (this.tasks.has('preview') && this.previewKey === key) return;
    if (!this.tasks.has('preview') && this.blockKernels?.key === key) {
      this.postPreview(this.blockKernels);
      return;
    }

    await this.cancelTask('preview');
    this.previewKey = key;
    markPhase('preview');
    this.runTask('preview', async (signal) => {
      const kernels = await computeBlockKernels(checked, session.inputs, {
        signal,
        onProgress: (done, total) => this.post({ kind: 'progress', task: 'preview', done, total, label: 'block kernels at θ₀' }),
        onPhase: (phase) => markPhase(`preview ${phase}`),
      });
      this.blockKernels = kernels;
      this.postPreview(kernels);
      markPhase('preview posted');
    });
  }

  async selectAdapters(adapters: string, lambda: number): Promise<void> {
    this.requireSession();
    if (!Number.isFinite(lambda) || lambda < 0) throw new Error(`invalid lambda ${lambda}; expected a finite value ≥ 0`);

    if (this.tasks.has('preview')) {
      // The preview being computed uses the latest selection when it ends.
      checkGridSyntax(adapters);
      this.selection = { adapters, lambda };
      return;
    }
    if (this.blockKernels === null) throw new Error('no block kernels yet: call preview(spec) first');
    const event = subsetPreview(this.blockKernels, adapters, lambda);
    this.selection = { adapters, lambda };
    this.post({ kind: 'events', events: [event] });
  }

  async start(spec: ExperimentSpec): Promise<void> {
    this.requireSession();
    const checked = this.checkSpec(spec);
    if (isActive(this.state)) {
      throw new Error(`a run is already ${this.state}; stop or reset it before starting another`);
    }
    this.beginRun(checked, 'run');
  }

  async pause(): Promise<void> {
    this.requireSession();
    if (this.state === 'running') {
      // No new step starts from here on; the paused state goes out once a step in progress has posted its events.
      this.clearStepTimer();
      this.state = 'paused';
      await this.withRun(async () => {
        if (this.state === 'paused') this.setState('paused');
      });
    } else if (this.state === 'preparing') {
      this.afterPrepare = 'pause';
    }
  }

  async resume(): Promise<void> {
    this.requireSession();
    if (this.state === 'paused') {
      this.setState('running');
      this.scheduleStep();
    } else if (this.state === 'preparing') {
      this.afterPrepare = 'run';
    }
  }

  async stepOnce(spec: ExperimentSpec): Promise<void> {
    this.requireSession();
    switch (this.state) {
      case 'preparing':
        this.afterPrepare = 'pause';
        return;
      case 'running':
      case 'paused':
        this.clearStepTimer();
        this.state = 'paused';
        await this.withRun(async () => {
          if (this.state !== 'paused') return;
          await this.advanceOnce();
          if (this.state === 'paused') this.setState('paused');
        });
        return;
      default:
        this.beginRun(this.checkSpec(spec), 'pause');
    }
  }

  async stop(): Promise<void> {
    this.requireSession();
    if (this.state === 'running' || this.state === 'paused') {
      this.clearStepTimer();
      await this.withRun(async () => {
        if (this.state === 'running' || this.state === 'paused') await this.finishRun('stopped');
      });
    } else if (this.state === 'preparing') {
      await this.cancelTask('prepare');
    }
  }

  async reset(): Promise<void> {
    this.requireSession();
    await this.cancelTask('prepare');
    this.clearStepTimer();
    await this.withRun(async () => {
      this.disposeRun();
      this.afterPrepare = 'run';
      this.setState('idle', 0);
    });
  }

  async setLive(settings: LiveSettings): Promise<void> {
    this.requireSession();
    const run = this.run;
    if (run === null || (this.state !== 'running' && this.state !== 'paused')) {
      throw new Error(`no running or paused run to change (the run is ${this.state}); lr and λ apply from the next start`);
    }
    run.setLive(settings);
    this.post({ kind: 'live', settings: run.live, step: run.step });
  }

  async runSweep(spec: ExperimentSpec, subsets: string[]): Promise<void> {
    const session = this.requireSession();
    const checked = this.checkSpec(spec);
    if (!Array.isArray(subsets) || subsets.length < 2 || !subsets.every((subset) => typeof subset === 'string')) {
      throw new Error(`a sweep needs at least 2 adapter grids, got ${JSON.stringify(subsets)}`);
    }
    subsets.forEach(checkGridSyntax);

    await this.cancelTask('sweep');
    this.runTask('sweep', async (signal) => {
      const total = subsets.length;
      let finished = 0;
      this.post({ kind: 'progress', task: 'sweep', done: 0, total, label: 'block kernels of the subsets at θ₀' });

      for await (const event of runSweep(checked, session.inputs, subsets, { signal })) {
        // A subset that finishes as the cancel arrives is still yielded; it is dropped.
        if (signal.aborted) continue;
        // The union run's config event would reset the UI's run data, and a sweep error is not a run error.
        if (event.type === 'config') continue;
        if (event.type === 'error') throw new Error(event.message);

        this.post({ kind: 'events', events: [event] });
        if (event.type === 'sweep') {
          finished += 1;
          this.post({ kind: 'progress', task: 'sweep', done: finished, total, label: `fine-tuned ${event.adapters}` });
        }
      }
      if (signal.aborted) throw new CancelledError('the sweep');
    });
  }

  async measureJacobianChange(spec: ExperimentSpec, radii: number[], directions: number): Promise<void> {
    const session = this.requireSession();
    const checked = this.checkSpec(spec);
    if (!Array.isArray(radii) || radii.length === 0 || !radii.every((radius) => Number.isFinite(radius) && radius >= 0)) {
      throw new Error(`invalid radii ${JSON.stringify(radii)}; expected a non-empty list of finite values ≥ 0`);
    }
    if (!Number.isInteger(directions) || directions < 1 || directions > MAX_JACOBIAN_CHANGE_DIRECTIONS) {
      throw new Error(`invalid directions ${directions}; expected an integer from 1 to ${MAX_JACOBIAN_CHANGE_DIRECTIONS}`);
    }
    await this.cancelTask('jacobianChange');

    // The measurement copies θ and builds its own probe tensors, so the run
    // may step on, finish or be reset while it goes on.
    const { measuredSpec, theta, step, distance } = await this.withRun(async () => {
      const source = this.run;
      return {
        measuredSpec: source?.spec ?? checked,
        theta: source === null ? null : source.theta.map((tensor) => tensor.clone()),
        step: source?.step ?? 0,
        distance: source === null ? 0 : await source.distanceAsync(),
      };
    });

    this.runTask('jacobianChange', async (signal) => {
      const probeRun = FineTuneRun.create({ ...measuredSpec, linearized: false }, session.inputs);
      try {
        const points = await jacobianChangeAsync(
          probeRun.predict,
          theta ?? probeRun.theta,
          probeRun.probe,
          probeRun.numLabels,
          { radii, directions, seed: measuredSpec.seed },
          {
            signal,
            onProgress: (done, total) =>
              this.post({ kind: 'progress', task: 'jacobianChange', done, total, label: 'Jacobians at θ + r·v' }),
          },
        );
        this.post({ kind: 'events', events: [{ type: 'jacobianChange', step, points, distance }] });
      } finally {
        probeRun.dispose();
        if (theta !== null) tf.dispose(theta);
      }
    });
  }

  async cancel(task: TaskKind): Promise<void> {
    this.requireSession();
    if (!TASK_KINDS.includes(task)) throw new Error(`unknown task "${String(task)}"; expected one of ${TASK_KINDS.join(', ')}`);
    this.tasks.get(task)?.controller.abort();
  }

  async simulateDeviceLoss(): Promise<void> {
    this.requireSession();
    this.environment.destroyGpuDevice();
  }

  /**
   * Cancels every task, waits until they have freed their tensors, disposes
   * the run and drops the cached block kernels. Tests call it between cases;
   * the worker itself ends by termination.
   */
  async dispose(): Promise<void> {
    for (const task of this.tasks.values()) task.controller.abort();
    await Promise.all([...this.tasks.values()].map((task) => task.finished));
    this.clearStepTimer();
    await this.withRun(async () => this.disposeRun());
    this.blockKernels = null;
    this.session?.outbox.dispose();
  }

  async exportAdapters(): Promise<Uint8Array> {
    this.requireSession();
    return this.withRun(async () => {
      const run = this.run;
      if (run === null) throw new Error(`no run to export (the run is ${this.state}); start a run, then export its adapters`);

      // One download of the flat θ, split by the layout's offsets.
      const flat = flattenTheta(run.theta);
      let values: Float32Array;
      try {
        values = (await flat.data()) as Float32Array;
      } finally {
        flat.dispose();
      }
      const tensors = run.layout.entries.map((entry) => values.slice(entry.offset, entry.offset + entry.size));
      return encodeAdapterFile(run.layout, tensors, { spec: run.spec, step: run.step, backend: tf.getBackend() });
    });
  }

  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    const { numTensors, numBytes } = tf.memory();
    return { numTensors, numBytes };
  }

  // The run.

  /** Builds a run in the background with 'prepare' progress, then runs it or pauses after step 0. */
  private beginRun(spec: ExperimentSpec, then: 'run' | 'pause'): void {
    const session = this.requireSession();
    this.clearStepTimer();
    this.afterPrepare = then;
    this.setState('preparing', 0);

    this.runTask('prepare', async (signal) => {
      await this.withRun(async () => this.disposeRun());
      let run: FineTuneRun;
      try {
        run = await FineTuneRun.createAsync(spec, session.inputs, {
          signal,
          onProgress: (done, total) =>
            this.post({ kind: 'progress', task: 'prepare', done, total, label: 'linearizing: Jacobian of the train and eval sets' }),
        });
        if (signal.aborted) {
          run.dispose();
          throw new CancelledError('preparing the run');
        }
      } catch (error) {
        if (error instanceof CancelledError) this.setState('idle', 0, 'preparing the run was cancelled');
        else this.setState('error', 0, firstLine(error));
        throw error;
      }

      await this.withRun(async () => {
        this.run = run;
        this.lastEvalStep = 0;
        try {
          this.post({ kind: 'events', events: [run.configEvent, ...(await run.startAsync())] });
        } catch (error) {
          this.failRun(firstLine(error));
          throw error;
        }

        if (run.finished) await this.finishRun('done');
        else if (this.afterPrepare === 'run') {
          this.setState('running', 0);
          this.scheduleStep();
        } else {
          this.setState('paused', 0);
        }
      });
    });
  }

  /**
   * Runs `work` after every run operation queued before it. Steps, finishing,
   * disposal and θ snapshots await tensor reads, so without this queue a
   * reset could dispose the run in the middle of a step.
   */
  private withRun<T>(work: () => Promise<T>): Promise<T> {
    const result = this.runLock.then(work);
    this.runLock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private scheduleStep(): void {
    if (this.stepTimer !== null) return;
    this.stepTimer = setTimeout(() => {
      this.stepTimer = null;
      void this.withRun(async () => {
        if (this.state !== 'running') return;
        await this.advanceOnce();
        if (this.state === 'running') this.scheduleStep();
      });
    }, 0);
  }

  private clearStepTimer(): void {
    if (this.stepTimer !== null) clearTimeout(this.stepTimer);
    this.stepTimer = null;
  }

  /** Runs one step and posts its events; ends the run when it is finished or fails. Call it inside withRun. */
  private async advanceOnce(): Promise<void> {
    const run = this.run;
    if (run === null) return;
    try {
      const events = await run.advanceAsync();
      for (const event of events) {
        if (event.type === 'eval') this.lastEvalStep = event.step;
      }
      this.post({ kind: 'events', events });
    } catch (error) {
      // DivergenceError, or any failure of a step.
      this.failRun(firstLine(error));
      return;
    }
    if (run.finished) await this.finishRun('done');
  }

  /** Evaluates the last step if needed, posts the done event and keeps the run for analyses until reset. Call it inside withRun. */
  private async finishRun(final: 'done' | 'stopped'): Promise<void> {
    const run = this.run;
    if (run === null) return;
    const events: LabEvent[] = [];
    try {
      if (this.lastEvalStep !== run.step) events.push(...(await run.evaluateAsync()));
    } catch (error) {
      this.failRun(firstLine(error));
      return;
    }
    const metrics = run.metrics;
    if (metrics === null) {
      this.failRun('the run ended without an evaluation');
      return;
    }
    events.push({
      type: 'done',
      steps: run.step,
      ...metrics.real,
      ...(metrics.linear === undefined ? {} : { linear: metrics.linear }),
    });
    this.post({ kind: 'events', events });
    this.setState(final, run.step);
  }

  /** Posts an error event, frees the run and moves to state 'error'. Call it inside withRun. */
  private failRun(message: string): void {
    const step = this.run?.step ?? 0;
    console.error(`lab worker: the run failed at step ${step}: ${message}`);
    this.clearStepTimer();
    this.post({ kind: 'events', events: [{ type: 'error', message }] });
    this.disposeRun();
    this.setState('error', step, message);
  }

  private disposeRun(): void {
    this.run?.dispose();
    this.run = null;
    this.lastEvalStep = 0;
  }

  private handleDeviceLoss(report: BackendReport, message: string): void {
    console.error(`lab worker: the ${report.backend} device was lost: ${message}`);
    this.clearStepTimer();
    this.post({ kind: 'deviceLost', backend: report.backend, message });
  }

  // Tasks and messages.

  /**
   * Runs `body` as the task `kind` and posts its taskEnd message: cancelled
   * when it throws after its signal was aborted, failed for any other error.
   */
  private runTask(kind: TaskKind, body: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    const finished = (async () => {
      try {
        await body(controller.signal);
        this.post({ kind: 'taskEnd', task: kind, outcome: 'finished' });
      } catch (error) {
        if (error instanceof CancelledError || controller.signal.aborted) {
          this.post({ kind: 'taskEnd', task: kind, outcome: 'cancelled' });
        } else {
          const message = firstLine(error);
          console.error(`lab worker: ${kind} failed: ${message}`);
          this.post({ kind: 'taskEnd', task: kind, outcome: 'failed', message });
        }
      } finally {
        if (this.tasks.get(kind)?.controller === controller) this.tasks.delete(kind);
      }
    })();
    this.tasks.set(kind, { controller, finished });
  }

  /** Cancels a task and waits until it has freed its tensors. */
  private async cancelTask(kind: TaskKind): Promise<void> {
    const task = this.tasks.get(kind);
    if (task === undefined) return;
    task.controller.abort();
    await task.finished;
  }

  private postPreview(kernels: BlockKernels): void {
    let event: PreviewEvent;
    try {
      event = subsetPreview(kernels, this.selection.adapters, this.selection.lambda);
    } catch (error) {
      this.post({ kind: 'error', message: firstLine(error) });
      return;
    }
    this.post({ kind: 'events', events: [event] });
  }

  private setState(state: RunState, step = this.run?.step ?? 0, message?: string): void {
    this.state = state;
    this.post(message === undefined ? { kind: 'state', state, step } : { kind: 'state', state, step, message });
  }

  private post(message: WorkerMessage): void {
    this.session?.outbox.push(message);
  }

  private requireSession(): Session {
    if (this.session === null) throw new Error('the worker is not initialized; call init first');
    return this.session;
  }

  /** Validates a spec from the UI thread and checks that it names the loaded model. */
  private checkSpec(spec: ExperimentSpec): ExperimentSpec {
    const result = validateSpec(spec);
    if (!result.ok) throw new Error(`invalid spec: ${result.errors.map(formatSpecIssue).join('; ')}`);
    const { modelName } = this.requireSession();
    if (result.spec.model !== modelName) {
      throw new Error(`spec.model is "${result.spec.model}" but this worker loaded "${modelName}"; start a worker for that model`);
    }
    return result.spec;
  }
}

function isActive(state: RunState): boolean {
  return state === 'preparing' || state === 'running' || state === 'paused';
}

/** Throws unless `adapters` is a valid grid or a grid of "-" groups only (the empty subset). */
function checkGridSyntax(adapters: string): void {
  if (typeof adapters !== 'string') throw new Error(`adapters: expected a grid string, got ${JSON.stringify(adapters)}`);
  if (adapters.split('.').every((group) => group === '-')) return;
  const result = tryParseAdapterGrid(adapters);
  if (!result.ok) throw new Error(`adapters: ${result.problem}`);
}

/** Sends a batch to the UI thread's listener; a Comlink proxy returns a promise, whose rejection is logged. */
function deliver(listener: WorkerListener, messages: WorkerMessage[]): void {
  const report = (error: unknown): void => {
    console.error(`lab worker: the listener failed on a batch of ${messages.length} messages: ${firstLine(error)}`);
  };
  try {
    void Promise.resolve(listener(messages) as unknown).catch(report);
  } catch (error) {
    report(error);
  }
}
