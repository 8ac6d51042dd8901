/**
 * The experiment runner: builds a fine-tuning run from a spec and a
 * checkpoint, trains the real model and (optionally) its linearization side
 * by side, and emits the typed event stream. The CLI and the browser worker
 * host this same code.
 */
import * as tf from '@tensorflow/tfjs';

import type { Checkpoint } from './checkpoint/checkpoint.ts';
import { buildTask, TASKS, type TaskData, type TaskSources } from './data/tasks.ts';
import type { ConfigEvent, DivergenceEvent, EvalEvent, LabEvent, Metrics, NtkEvent, StepEvent } from './events.ts';
import { createBatchSampler, type BatchSampler } from './finetune/batches.ts';
import { divergenceOnSet, parameterDistance } from './finetune/divergence.ts';
import {
  disposeBatch,
  encodeExamples,
  gatherBatch,
  labelTokenIds,
  rowRange,
  toBatchTensors,
  type BatchTensors,
} from './finetune/encode.ts';
import { metricsOf, metricsOfAsync, Trainer, type PredictFn, type StepResult, type TrainerOptions } from './finetune/trainer.ts';
import { checkAdapterGridLayers, parseAdapterGrid, type AdapterGrid } from './model/adapters.ts';
import { countParameters } from './model/config.ts';
import { verbalizerLogits } from './model/gpt.ts';
import { applyTheta, createThetaLayout, flattenTheta, initTheta, type AdapterOptions, type ThetaLayout } from './model/lora.ts';
import { jacobian, jacobianAsync } from './ntk/jacobian.ts';
import { ntkFromJacobians, type Kernel, type NtkResult } from './ntk/kernel.ts';
import { disposeLinearization, linearize, linearPredict, type Linearization } from './ntk/linearize.ts';
import { summarizeNtk } from './ntk/summary.ts';
import { distanceBound } from './ntk/theory.ts';
import { theoryEvent, type TheoryEventInput } from './ntk/theory-event.ts';
import { deriveSeed } from './random.ts';
import {
  divergenceOnSetAsync,
  ntkFromJacobiansAsync,
  parameterDistanceAsync,
  theoryEventAsync,
} from './read-async.ts';
import type { ExperimentSpec } from './spec.ts';
import { throwIfCancelled, type TaskControl } from './task-control.ts';

export interface RunnerInputs {
  checkpoint: Checkpoint;
  sources: TaskSources;
  /** The tfjs backend in use, as tf.getBackend() reports it. */
  backend: string;
}

/** Rows per forward pass when evaluating a whole split. */
const EVAL_CHUNK = 64;

export class DivergenceError extends Error {}

/** Settings that a run takes between steps. */
export interface LiveSettings {
  lr: number;
  lambda: number;
}

/** A split as full tensors and as evaluation chunks. */
interface SplitTensors {
  all: BatchTensors;
  chunks: BatchTensors[];
}

function splitTensors(all: BatchTensors): SplitTensors {
  const count = all.labels.shape[0];
  const chunks: BatchTensors[] = [];
  for (let start = 0; start < count; start += EVAL_CHUNK) {
    chunks.push(gatherBatch(all, rowRange(start, Math.min(count, start + EVAL_CHUNK))));
  }
  return { all, chunks };
}

function disposeSplit(split: SplitTensors): void {
  disposeBatch(split.all);
  split.chunks.forEach(disposeBatch);
}

/** The linearized model's state: its trainer, f(θ₀) and J(θ₀) per split, and flat θ₀. */
interface LinearSide {
  trainer: Trainer;
  train: Linearization;
  eval: Linearization;
  theta0Flat: tf.Tensor1D;
}

interface RunParts {
  spec: ExperimentSpec;
  configEvent: ConfigEvent;
  layout: ThetaLayout;
  task: TaskData;
  numLabels: number;
  predict: PredictFn;
  real: Trainer;
  linear: LinearSide | null;
  train: SplitTensors;
  evaluation: SplitTensors;
  /** The first probeSize training examples. */
  probe: BatchTensors;
  sampler: BatchSampler;
  /** Tensors owned by the run that nothing else disposes. */
  owned: tf.Tensor[];
}

/** Predictions of both models on both splits, for one evaluation. */
interface SplitOutputs {
  fTrain: tf.Tensor2D;
  fEval: tf.Tensor2D;
  linear: { fTrain: tf.Tensor2D; fEval: tf.Tensor2D } | null;
}

function disposeOutputs(outputs: SplitOutputs): void {
  tf.dispose([outputs.fTrain, outputs.fEval]);
  if (outputs.linear !== null) tf.dispose([outputs.linear.fTrain, outputs.linear.fEval]);
}

/** The measured fields of a divergence event; the distance bound is added from the live λ. */
type DivergenceMeasurements = Omit<DivergenceEvent, 'type' | 'step' | 'distanceBound'>;

/** Everything a run needs except the linearized model, plus θ₀ and the anchor until both trainers have copied them. */
interface RunSetup {
  parts: Omit<RunParts, 'linear'>;
  theta0: tf.Tensor[];
  /** The anchor tensors: theta0 itself for anchor 'init', zeros of its shapes for 'zero'. */
  anchor: tf.Tensor[];
  trainerOptions: TrainerOptions;
}

/** Builds the task, θ₀, the real model's trainer and the split tensors. Throws an Error with a one-line message on bad input. */
/** Returns the adapter options of a spec: its parsed grid, mode, rank, scaling and init. */
export function adapterOptionsFromSpec(spec: ExperimentSpec, grid: AdapterGrid = parseAdapterGrid(spec.adapters)): AdapterOptions {
  return { grid, mode: spec.mode, r: spec.r, loraAlpha: spec.loraAlpha, rslora: spec.rslora, init: spec.init };
}

function setUpRun(spec: ExperimentSpec, inputs: RunnerInputs): RunSetup {
  const { checkpoint } = inputs;
  const { config, tokenizer } = checkpoint;

  const grid = parseAdapterGrid(spec.adapters);
  checkAdapterGridLayers(grid, config.nLayer);
  const definition = TASKS[spec.task];
  const task = buildTask(spec.task, inputs.sources, {
    seed: spec.seed,
    trainSize: spec.trainSize,
    evalSize: spec.evalSize,
    maxChars: config.nPositions - definition.promptSuffix.length,
  });
  const numLabels = definition.labels.length;

  const adapterOptions = adapterOptionsFromSpec(spec, grid);
  const layout = createThetaLayout(config, adapterOptions);

  const trainEncoded = encodeExamples(tokenizer, definition, task.train, config.nPositions);
  const evalEncoded = encodeExamples(tokenizer, definition, task.eval, config.nPositions);
  const labelIds = tf.tensor1d(labelTokenIds(tokenizer, definition), 'int32');
  const base = checkpoint.params;
  const predict: PredictFn = (theta, batch) =>
    verbalizerLogits(applyTheta(base, layout, theta), batch.ids, batch.answerMask, labelIds);

  const theta0 = initTheta(base, layout, adapterOptions, deriveSeed(spec.seed, 'lora-init'));
  const anchor = spec.anchor === 'init' ? theta0 : theta0.map((tensor) => tf.zerosLike(tensor));
  const trainerOptions: TrainerOptions = {
    loss: spec.loss,
    optimizer: spec.optimizer,
    lr: spec.lr,
    lambda: spec.lambda,
    selective: spec.selective,
  };
  const real = new Trainer(predict, theta0, anchor, trainerOptions);

  const train = splitTensors(toBatchTensors(trainEncoded, 'train'));
  const evaluation = splitTensors(toBatchTensors(evalEncoded, 'eval'));
  const probeSize = Math.min(spec.probeSize, task.train.length);
  const probe = gatherBatch(train.all, rowRange(0, probeSize));

  const batchSize = spec.optimizer === 'gd' ? task.train.length : Math.min(spec.batchSize, task.train.length);
  const sampler = createBatchSampler(task.train.length, batchSize, deriveSeed(spec.seed, 'batches'));

  const labelCounts = definition.labels.map((_, label) => task.eval.filter((example) => example.label === label).length);
  const configEvent: ConfigEvent = {
    type: 'config',
    spec,
    backend: inputs.backend,
    task: {
      name: definition.name,
      labels: definition.labels,
      labelTokens: definition.labelTokens,
      promptSuffix: definition.promptSuffix,
      trainSize: task.train.length,
      evalSize: task.eval.length,
      majorityRate: Math.max(...labelCounts) / task.eval.length,
      length: trainEncoded.length,
    },
    parameters: {
      model: countParameters(config),
      trainable: layout.size,
      blocks: layout.blocks.map(({ layer, module, size }) => ({ layer, module, size })),
    },
    batchSize,
    loraScale: layout.scale,
    probeSize,
  };

  return {
    parts: {
      spec,
      configEvent,
      layout,
      task,
      numLabels,
      predict,
      real,
      train,
      evaluation,
      probe,
      sampler,
      owned: [labelIds],
    },
    theta0,
    anchor,
    trainerOptions,
  };
}

/** Computes f(θ₀) and J(θ₀) on a batch like `linearize`, with the Jacobian chunked over macrotasks. */
async function linearizeAsync(
  predict: PredictFn,
  theta0: readonly tf.Tensor[],
  batch: BatchTensors,
  numLabels: number,
  control: TaskControl,
): Promise<Linearization> {
  const f0 = tf.tidy(() => predict(theta0, batch));
  try {
    const J = await jacobianAsync(predict, theta0, batch, numLabels, control);
    return { f0, J };
  } catch (error) {
    f0.dispose();
    throw error;
  }
}

/**
 * Builds the linearized model's trainer on precomputed linearizations of the
 * train and eval splits. Its θ is one flat vector in layout order, so that
 * each optimizer and regularizer operation is one kernel rather than one per
 * θ tensor.
 */
function linearSide(setup: RunSetup, train: Linearization, evaluation: Linearization): LinearSide {
  const theta0Flat = flattenTheta(setup.theta0);
  const anchorFlat = setup.anchor === setup.theta0 ? theta0Flat : flattenTheta(setup.anchor);
  const linearPredictFn: PredictFn = (theta, batch) => {
    const split = batch.split === 'eval' ? evaluation : train;
    return linearPredict(split, theta, theta0Flat, batch.rowIndex);
  };
  const trainer = new Trainer(linearPredictFn, [theta0Flat], [anchorFlat], setup.trainerOptions);
  if (anchorFlat !== theta0Flat) anchorFlat.dispose();
  return { trainer, train, eval: evaluation, theta0Flat };
}

/** Returns ‖θ − θ_lin‖ against the linearized model's flat θ, read asynchronously. */
async function thetaGapAsync(realTheta: readonly tf.Tensor[], linearTheta: readonly tf.Tensor[]): Promise<number> {
  const realFlat = flattenTheta(realTheta);
  try {
    return await parameterDistanceAsync([realFlat], linearTheta);
  } finally {
    realFlat.dispose();
  }
}

/** Frees θ₀ and a zero anchor, which the trainers have copied. */
function releaseInitialTheta(setup: RunSetup): void {
  tf.dispose(setup.theta0);
  if (setup.anchor !== setup.theta0) tf.dispose(setup.anchor);
}

/** Frees the tensors of a run's parts other than the linearized model. */
function disposeRunParts(parts: Omit<RunParts, 'linear'>): void {
  parts.real.dispose();
  disposeSplit(parts.train);
  disposeSplit(parts.evaluation);
  disposeBatch(parts.probe);
  tf.dispose(parts.owned);
}

/** A fine-tuning run that advances one step at a time, so a host can pause or step it. */
export class FineTuneRun {
  step = 0;
  /** R_data(θ₀) on the train split, for the distance bound. */
  private initialTrainLoss: number | null = null;
  /** K₀ on the probe set, for the kernel drift. */
  private referenceKernel: Kernel | null = null;
  private lastMetrics: { real: { train: Metrics; eval: Metrics }; linear?: { train: Metrics; eval: Metrics } } | null = null;
  /** The learning rate and λ in use: the spec's until setLive changes them. */
  private liveSettings: LiveSettings;

  private constructor(private readonly parts: RunParts) {
    this.liveSettings = { lr: parts.spec.lr, lambda: parts.spec.lambda };
  }

  /** Builds the task, θ, the trainers and the linearization. Throws an Error with a one-line message on bad input. */
  static create(spec: ExperimentSpec, inputs: RunnerInputs): FineTuneRun {
    const setup = setUpRun(spec, inputs);
    const { predict, numLabels, train, evaluation } = setup.parts;
    const built: Linearization[] = [];
    try {
      let linear: LinearSide | null = null;
      if (spec.linearized) {
        built.push(linearize(predict, setup.theta0, train.all, numLabels));
        built.push(linearize(predict, setup.theta0, evaluation.all, numLabels));
        linear = linearSide(setup, built[0] as Linearization, built[1] as Linearization);
      }
      return new FineTuneRun({ ...setup.parts, linear });
    } catch (error) {
      built.forEach(disposeLinearization);
      disposeRunParts(setup.parts);
      throw error;
    } finally {
      releaseInitialTheta(setup);
    }
  }

  /**
   * Builds the same run as `create`, but computes the linearization (the
   * Jacobian over the whole train and eval sets) one chunk per macrotask.
   * Progress counts the examples of both sets; without the linearized model
   * nothing is reported. On cancellation it frees every tensor it made and
   * throws a CancelledError.
   */
  static async createAsync(spec: ExperimentSpec, inputs: RunnerInputs, control: TaskControl = {}): Promise<FineTuneRun> {
    const setup = setUpRun(spec, inputs);
    const { predict, numLabels, train, evaluation } = setup.parts;
    const built: Linearization[] = [];
    try {
      let linear: LinearSide | null = null;
      if (spec.linearized) {
        const trainRows = train.all.labels.shape[0];
        const total = trainRows + evaluation.all.labels.shape[0];
        control.onProgress?.(0, total);
        built.push(
          await linearizeAsync(predict, setup.theta0, train.all, numLabels, {
            signal: control.signal,
            onProgress: (done) => control.onProgress?.(done, total),
          }),
        );
        built.push(
          await linearizeAsync(predict, setup.theta0, evaluation.all, numLabels, {
            signal: control.signal,
            onProgress: (done) => control.onProgress?.(trainRows + done, total),
          }),
        );
        throwIfCancelled(control.signal, 'preparing the run');
        linear = linearSide(setup, built[0] as Linearization, built[1] as Linearization);
      }
      return new FineTuneRun({ ...setup.parts, linear });
    } catch (error) {
      built.forEach(disposeLinearization);
      disposeRunParts(setup.parts);
      throw error;
    } finally {
      releaseInitialTheta(setup);
    }
  }

  get spec(): ExperimentSpec {
    return this.parts.spec;
  }

  get configEvent(): ConfigEvent {
    return this.parts.configEvent;
  }

  get layout(): ThetaLayout {
    return this.parts.layout;
  }

  get task(): TaskData {
    return this.parts.task;
  }

  get predict(): PredictFn {
    return this.parts.predict;
  }

  /** The first probeSize training examples, as a batch. */
  get probe(): BatchTensors {
    return this.parts.probe;
  }

  /** The evaluation split, as one batch. */
  get evalBatch(): BatchTensors {
    return this.parts.evaluation.all;
  }

  get numLabels(): number {
    return this.parts.numLabels;
  }

  get finished(): boolean {
    return this.step >= this.parts.spec.steps;
  }

  get theta(): readonly tf.Tensor[] {
    return this.parts.real.theta;
  }

  /** The linearized model's θ as one flat vector in layout order, or null without the linearized model. */
  get linearTheta(): readonly tf.Tensor[] | null {
    return this.parts.linear?.trainer.theta ?? null;
  }

  /** Returns ‖θ − θ₀‖ of the real model now, with θ₀ the anchor, read asynchronously. */
  distanceAsync(): Promise<number> {
    return this.parts.real.distanceToAnchorAsync();
  }

  /** The learning rate and λ that the next step uses. */
  get live(): LiveSettings {
    return { ...this.liveSettings };
  }

  /**
   * Changes the learning rate and λ of both models from the next step on.
   * The divergence events' distance bound and the NTK events' λ statistics
   * use the new λ. The bound √(2 R_data(θ₀)/λ) is derived for a λ held fixed
   * from θ₀, so after a change it is a reference line, not a guarantee.
   * The theory event emitted at step 0 keeps the spec's lr and λ.
   * Throws a RangeError, and changes nothing, for lr ≤ 0 or λ < 0.
   */
  setLive(settings: LiveSettings): void {
    const { real, linear } = this.parts;
    real.setHyperparameters(settings);
    linear?.trainer.setHyperparameters(settings);
    this.liveSettings = { lr: settings.lr, lambda: settings.lambda };
  }

  /** The final metrics of the last evaluation. */
  get metrics(): FineTuneRun['lastMetrics'] {
    return this.lastMetrics;
  }

  /** Returns the events of step 0: the NTK at θ₀, the closed-form theory where it applies, evaluation and divergence. */
  start(): LabEvent[] {
    const events: LabEvent[] = [this.ntk()];
    const theoryInput = this.theoryInput();
    if (theoryInput !== null) events.push(theoryEvent(theoryInput));
    events.push(...this.evaluate());
    return events;
  }

  /**
   * Returns the same events as `start`, reading tensors asynchronously.
   * The worker uses the async methods, because synchronous reads fail on
   * WebGPU there (see read-async.ts).
   */
  async startAsync(): Promise<LabEvent[]> {
    const events: LabEvent[] = [await this.ntkAsync()];
    const theoryInput = this.theoryInput();
    if (theoryInput !== null) events.push(await theoryEventAsync(theoryInput));
    events.push(...(await this.evaluateAsync()));
    return events;
  }

  /** Runs one optimizer step on both models with the same batch, then evaluates or recomputes the NTK when due. */
  advance(): LabEvent[] {
    const batch = this.nextBatch();
    const events: LabEvent[] = [];
    try {
      for (const [model, trainer] of this.trainers()) events.push(this.stepEvent(model, trainer, trainer.step(batch)));
    } finally {
      disposeBatch(batch);
    }
    this.step += 1;

    if (this.evaluationDue) events.push(...this.evaluate());
    if (this.ntkDue) events.push(this.ntk());
    return events;
  }

  /** Runs the same step as `advance`, reading tensors asynchronously. */
  async advanceAsync(): Promise<LabEvent[]> {
    const batch = this.nextBatch();
    const events: LabEvent[] = [];
    try {
      for (const [model, trainer] of this.trainers()) {
        events.push(this.stepEvent(model, trainer, await trainer.stepAsync(batch)));
      }
    } finally {
      disposeBatch(batch);
    }
    this.step += 1;

    if (this.evaluationDue) events.push(...(await this.evaluateAsync()));
    if (this.ntkDue) events.push(await this.ntkAsync());
    return events;
  }

  /** Evaluates both models on both splits and, with the linearized model, their divergence. */
  evaluate(): LabEvent[] {
    const { spec, train, evaluation, real, linear } = this.parts;
    const outputs = this.predictOutputs();
    try {
      const metrics = (f: tf.Tensor2D, labels: tf.Tensor1D): Metrics => metricsOf(f, labels, spec.loss);
      const realMetrics = { train: metrics(outputs.fTrain, train.all.labels), eval: metrics(outputs.fEval, evaluation.all.labels) };
      if (linear === null || outputs.linear === null) return this.recordEvaluation(realMetrics, null);

      const linearMetrics = {
        train: metrics(outputs.linear.fTrain, train.all.labels),
        eval: metrics(outputs.linear.fEval, evaluation.all.labels),
      };
      const probeSlices = this.probeSlices(outputs);
      try {
        const measured: DivergenceMeasurements = {
          probe: divergenceOnSet(...probeSlices),
          eval: divergenceOnSet(outputs.fEval, outputs.linear.fEval, linear.eval.f0),
          thetaGap: tf.tidy(() => parameterDistance([flattenTheta(real.theta)], linear.trainer.theta)),
          distance: real.distanceToAnchor(),
          distanceLinear: linear.trainer.distanceToAnchor(),
        };
        return this.recordEvaluation(realMetrics, { metrics: linearMetrics, measured });
      } finally {
        tf.dispose(probeSlices);
      }
    } finally {
      disposeOutputs(outputs);
    }
  }

  /** Returns the same events as `evaluate`, reading tensors asynchronously. */
  async evaluateAsync(): Promise<LabEvent[]> {
    const { spec, train, evaluation, real, linear } = this.parts;
    const outputs = this.predictOutputs();
    try {
      const metrics = (f: tf.Tensor2D, labels: tf.Tensor1D): Promise<Metrics> => metricsOfAsync(f, labels, spec.loss);
      const realMetrics = {
        train: await metrics(outputs.fTrain, train.all.labels),
        eval: await metrics(outputs.fEval, evaluation.all.labels),
      };
      if (linear === null || outputs.linear === null) return this.recordEvaluation(realMetrics, null);

      const linearMetrics = {
        train: await metrics(outputs.linear.fTrain, train.all.labels),
        eval: await metrics(outputs.linear.fEval, evaluation.all.labels),
      };
      const probeSlices = this.probeSlices(outputs);
      try {
        const measured: DivergenceMeasurements = {
          probe: await divergenceOnSetAsync(...probeSlices),
          eval: await divergenceOnSetAsync(outputs.fEval, outputs.linear.fEval, linear.eval.f0),
          thetaGap: await thetaGapAsync(real.theta, linear.trainer.theta),
          distance: await real.distanceToAnchorAsync(),
          distanceLinear: await linear.trainer.distanceToAnchorAsync(),
        };
        return this.recordEvaluation(realMetrics, { metrics: linearMetrics, measured });
      } finally {
        tf.dispose(probeSlices);
      }
    } finally {
      disposeOutputs(outputs);
    }
  }

  /** Recomputes the NTK at the real model's current θ on the probe set. */
  ntk(): NtkEvent {
    const { predict, real, probe, numLabels, layout } = this.parts;
    const J = this.step0ProbeJacobian() ?? jacobian(predict, real.theta, probe, numLabels);
    const result = ntkFromJacobians(layout, J, numLabels);
    J.dispose();
    return this.summarize(result);
  }

  /** Returns the same event as `ntk`, reading tensors asynchronously. */
  async ntkAsync(): Promise<NtkEvent> {
    const { predict, real, probe, numLabels, layout } = this.parts;
    const J = this.step0ProbeJacobian() ?? (await jacobianAsync(predict, real.theta, probe, numLabels));
    try {
      return this.summarize(await ntkFromJacobiansAsync(layout, J, numLabels));
    } finally {
      J.dispose();
    }
  }

  private get evaluationDue(): boolean {
    return this.step % this.parts.spec.evalInterval === 0 || this.finished;
  }

  private get ntkDue(): boolean {
    const { ntkInterval } = this.parts.spec;
    return ntkInterval > 0 && (this.step % ntkInterval === 0 || this.finished);
  }

  private nextBatch(): BatchTensors {
    const { train, sampler } = this.parts;
    return gatherBatch(train.all, sampler.next());
  }

  private trainers(): [StepEvent['model'], Trainer][] {
    const { real, linear } = this.parts;
    return linear === null ? [['real', real]] : [['real', real], ['linear', linear.trainer]];
  }

  /** Turns a step result into its event; throws a DivergenceError when the loss or the distance is not finite. */
  private stepEvent(model: StepEvent['model'], trainer: Trainer, result: StepResult): StepEvent {
    if (![result.loss, result.objective, result.distance].every(Number.isFinite)) {
      throw new DivergenceError(
        `training diverged at step ${this.step + 1}: the ${model} model's loss is ${result.loss} and ` +
          `‖θ − θ₀‖ is ${result.distance}; lower the learning rate (lr is ${trainer.options.lr}, ` +
          `and with λ = ${trainer.options.lambda} plain GD needs lr·λ < 2)`,
      );
    }
    return { type: 'step', model, step: this.step + 1, ...result };
  }

  /** Predicts both models on both splits. The caller disposes the outputs. */
  private predictOutputs(): SplitOutputs {
    const { real, linear, train, evaluation } = this.parts;
    return {
      fTrain: real.predictAll(train.chunks),
      fEval: real.predictAll(evaluation.chunks),
      linear:
        linear === null
          ? null
          : { fTrain: linear.trainer.predictAll(train.chunks), fEval: linear.trainer.predictAll(evaluation.chunks) },
    };
  }

  /** Returns f, f_lin and f(θ₀) on the probe rows, the first rows of the train split. The caller disposes them. */
  private probeSlices(outputs: SplitOutputs): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
    const { probe, linear } = this.parts;
    const probeRows = probe.labels.shape[0];
    const slice = (f: tf.Tensor2D): tf.Tensor2D => f.slice([0, 0], [probeRows, -1]);
    return [slice(outputs.fTrain), slice((outputs.linear as NonNullable<SplitOutputs['linear']>).fTrain), slice((linear as LinearSide).train.f0)];
  }

  /** Stores the metrics (and R_data(θ₀) at the first evaluation) and returns the eval and divergence events. */
  private recordEvaluation(
    realMetrics: { train: Metrics; eval: Metrics },
    linear: { metrics: { train: Metrics; eval: Metrics }; measured: DivergenceMeasurements } | null,
  ): LabEvent[] {
    const step = this.step;
    const evalEvent = (model: EvalEvent['model'], split: EvalEvent['split'], metrics: Metrics): EvalEvent => ({
      type: 'eval',
      model,
      step,
      split,
      ...metrics,
    });

    if (this.initialTrainLoss === null) this.initialTrainLoss = realMetrics.train.loss;
    const events: LabEvent[] = [evalEvent('real', 'train', realMetrics.train), evalEvent('real', 'eval', realMetrics.eval)];
    this.lastMetrics = { real: realMetrics };
    if (linear === null) return events;

    events.push(evalEvent('linear', 'train', linear.metrics.train), evalEvent('linear', 'eval', linear.metrics.eval));
    this.lastMetrics.linear = linear.metrics;
    const divergence: DivergenceEvent = {
      type: 'divergence',
      step,
      ...linear.measured,
      distanceBound: distanceBound(this.initialTrainLoss, this.liveSettings.lambda),
    };
    events.push(divergence);
    return events;
  }

  /** At step 0 with the linearized model, returns the probe rows of J(θ₀), which the linearization already holds. */
  private step0ProbeJacobian(): tf.Tensor2D | null {
    const { linear, probe, numLabels } = this.parts;
    if (this.step !== 0 || linear === null) return null;
    const probeRows = probe.labels.shape[0];
    return linear.train.J.slice([0, 0], [probeRows * numLabels, -1]) as tf.Tensor2D;
  }

  /** Turns a kernel into the ntk event; the first kernel becomes K₀ for the drift. */
  private summarize(result: NtkResult): NtkEvent {
    if (this.referenceKernel === null) this.referenceKernel = result.full;
    return summarizeNtk(result, this.parts.layout, {
      step: this.step,
      lambda: this.liveSettings.lambda,
      reference: this.referenceKernel,
    });
  }

  /**
   * Returns the input of the closed-form GD prediction, which applies to
   * squared loss, full-batch GD and the anchor at θ's initial value, or null
   * when it does not apply.
   */
  private theoryInput(): TheoryEventInput | null {
    const { spec, linear, train, evaluation, numLabels } = this.parts;
    if (linear === null || spec.loss !== 'mse' || spec.optimizer !== 'gd' || spec.anchor !== 'init') return null;
    const evalSteps: number[] = [];
    for (let t = 0; t < spec.steps; t += spec.evalInterval) evalSteps.push(t);
    evalSteps.push(spec.steps);
    return {
      train: linear.train,
      eval: linear.eval,
      trainLabels: train.all.labels,
      evalLabels: evaluation.all.labels,
      numLabels,
      lambda: spec.lambda,
      eta: spec.lr,
      steps: evalSteps,
    };
  }

  dispose(): void {
    const { linear } = this.parts;
    if (linear !== null) {
      linear.trainer.dispose();
      disposeLinearization(linear.train);
      disposeLinearization(linear.eval);
      linear.theta0Flat.dispose();
    }
    disposeRunParts(this.parts);
  }
}

/**
 * Runs a whole experiment and yields its events: config, the step-0 events,
 * then step, eval, divergence and ntk events, and done. Any failure ends the
 * stream with one error event. `shouldStop` is polled between steps.
 */
export async function* runExperiment(
  spec: ExperimentSpec,
  inputs: RunnerInputs,
  shouldStop: () => boolean = () => false,
): AsyncGenerator<LabEvent> {
  let run: FineTuneRun | null = null;
  try {
    run = FineTuneRun.create(spec, inputs);
    yield run.configEvent;
    yield* run.start();

    let lastEvalStep = 0;
    while (!run.finished && !shouldStop()) {
      for (const event of run.advance()) {
        if (event.type === 'eval') lastEvalStep = event.step;
        yield event;
      }
      await tf.nextFrame();
    }
    if (lastEvalStep !== run.step) yield* run.evaluate();

    const metrics = run.metrics;
    if (metrics === null) throw new Error('the run ended without an evaluation');
    yield { type: 'done', steps: run.step, ...metrics.real, ...(metrics.linear === undefined ? {} : { linear: metrics.linear }) };
  } catch (error) {
    yield { type: 'error', message: error instanceof Error ? error.message : String(error) };
  } finally {
    run?.dispose();
  }
}
