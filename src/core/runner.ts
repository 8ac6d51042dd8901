/**
 * The experiment runner: builds a fine-tuning run from a spec and a
 * checkpoint, and emits the typed event stream. The CLI and the browser
 * worker host this same code.
 */
import * as tf from '@tensorflow/tfjs';

import type { Checkpoint } from './checkpoint/checkpoint.ts';
import { buildTask, TASKS, type TaskData, type TaskSources } from './data/tasks.ts';
import type { ConfigEvent, EvalEvent, LabEvent, StepEvent } from './events.ts';
import { createBatchSampler, type BatchSampler } from './finetune/batches.ts';
import { disposeBatch, encodeExamples, gatherBatch, labelTokenIds, toBatchTensors, type BatchTensors } from './finetune/encode.ts';
import { Trainer } from './finetune/trainer.ts';
import { checkAdapterGridLayers, parseAdapterGrid } from './model/adapters.ts';
import { countParameters } from './model/config.ts';
import { verbalizerLogits } from './model/gpt.ts';
import { applyTheta, createThetaLayout, initTheta, type AdapterOptions, type ThetaLayout } from './model/lora.ts';
import { deriveSeed } from './random.ts';
import type { ExperimentSpec } from './spec.ts';

export interface RunnerInputs {
  checkpoint: Checkpoint;
  sources: TaskSources;
  /** The tfjs backend in use, as tf.getBackend() reports it. */
  backend: string;
}

/** Rows per forward pass when evaluating a whole split. */
const EVAL_CHUNK = 64;

export class DivergenceError extends Error {}

/** A split as full tensors and as evaluation chunks. */
interface SplitTensors {
  all: BatchTensors;
  chunks: BatchTensors[];
}

function splitTensors(all: BatchTensors): SplitTensors {
  const count = all.labels.shape[0];
  const chunks: BatchTensors[] = [];
  for (let start = 0; start < count; start += EVAL_CHUNK) {
    const indices = Int32Array.from({ length: Math.min(EVAL_CHUNK, count - start) }, (_, i) => start + i);
    chunks.push(gatherBatch(all, indices));
  }
  return { all, chunks };
}

function disposeSplit(split: SplitTensors): void {
  disposeBatch(split.all);
  split.chunks.forEach(disposeBatch);
}

/** A fine-tuning run that advances one step at a time, so a host can pause or step it. */
export class FineTuneRun {
  step = 0;

  private constructor(
    readonly spec: ExperimentSpec,
    readonly configEvent: ConfigEvent,
    readonly layout: ThetaLayout,
    readonly task: TaskData,
    private readonly trainer: Trainer,
    private readonly train: SplitTensors,
    private readonly evaluation: SplitTensors,
    private readonly sampler: BatchSampler,
    private readonly labelIds: tf.Tensor1D,
  ) {}

  /** Builds the task, θ and the trainer. Throws an Error with a one-line message on bad input. */
  static create(spec: ExperimentSpec, inputs: RunnerInputs): FineTuneRun {
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

    const labelIds = labelTokenIds(tokenizer, definition);
    const adapterOptions: AdapterOptions = {
      grid,
      mode: spec.mode,
      r: spec.r,
      loraAlpha: spec.loraAlpha,
      rslora: spec.rslora,
      init: spec.init,
    };
    const layout = createThetaLayout(config, adapterOptions);

    const trainEncoded = encodeExamples(tokenizer, definition, task.train, config.nPositions);
    const evalEncoded = encodeExamples(tokenizer, definition, task.eval, config.nPositions);
    const labelIdTensor = tf.tensor1d(labelIds, 'int32');
    const base = checkpoint.params;
    const predict = (theta: readonly tf.Tensor[], batch: BatchTensors): tf.Tensor2D =>
      verbalizerLogits(applyTheta(base, layout, theta), batch.ids, batch.answerMask, labelIdTensor);

    const theta0 = initTheta(base, layout, adapterOptions, deriveSeed(spec.seed, 'lora-init'));
    const anchor = spec.anchor === 'init' ? theta0 : theta0.map((tensor) => tf.zerosLike(tensor));
    const trainer = new Trainer(predict, theta0, anchor, {
      loss: spec.loss,
      optimizer: spec.optimizer,
      lr: spec.lr,
      lambda: spec.lambda,
      selective: spec.selective,
    });
    tf.dispose(theta0);
    if (spec.anchor === 'zero') tf.dispose(anchor);

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
    };

    return new FineTuneRun(
      spec,
      configEvent,
      layout,
      task,
      trainer,
      splitTensors(toBatchTensors(trainEncoded, 'train')),
      splitTensors(toBatchTensors(evalEncoded, 'eval')),
      sampler,
      labelIdTensor,
    );
  }

  get finished(): boolean {
    return this.step >= this.spec.steps;
  }

  get theta(): readonly tf.Tensor[] {
    return this.trainer.theta;
  }

  /** Evaluates the current θ on both splits. */
  evaluate(): EvalEvent[] {
    return [
      { type: 'eval', step: this.step, split: 'train', ...this.trainer.evaluate(this.train.chunks) },
      { type: 'eval', step: this.step, split: 'eval', ...this.trainer.evaluate(this.evaluation.chunks) },
    ];
  }

  /** Runs one optimizer step, then evaluates when the eval interval or the last step comes. */
  advance(): LabEvent[] {
    const batch = gatherBatch(this.train.all, this.sampler.next());
    const result = this.trainer.step(batch);
    disposeBatch(batch);
    this.step += 1;

    if (![result.loss, result.objective, result.distance].every(Number.isFinite)) {
      throw new DivergenceError(
        `training diverged at step ${this.step}: the loss is ${result.loss} and ‖θ − θ₀‖ is ${result.distance}; ` +
          `lower the learning rate (lr is ${this.trainer.options.lr})`,
      );
    }
    const stepEvent: StepEvent = { type: 'step', step: this.step, ...result };
    const events: LabEvent[] = [stepEvent];
    if (this.step % this.spec.evalInterval === 0 || this.finished) events.push(...this.evaluate());
    return events;
  }

  dispose(): void {
    this.trainer.dispose();
    disposeSplit(this.train);
    disposeSplit(this.evaluation);
    this.labelIds.dispose();
  }
}

/**
 * Runs a whole experiment and yields its events: config, eval at step 0,
 * then step and eval events, and done. Any failure ends the stream with one
 * error event. `shouldStop` is polled between steps.
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

    let last = run.evaluate();
    yield* last;
    while (!run.finished && !shouldStop()) {
      const events = run.advance();
      for (const event of events) {
        if (event.type === 'eval') last = events.filter((entry): entry is EvalEvent => entry.type === 'eval');
        yield event;
      }
      await tf.nextFrame();
    }
    if (last[0]?.step !== run.step) {
      last = run.evaluate();
      yield* last;
    }

    const byName = (split: 'train' | 'eval') => {
      const event = last.find((entry) => entry.split === split) as EvalEvent;
      return { loss: event.loss, accuracy: event.accuracy };
    };
    yield { type: 'done', steps: run.step, train: byName('train'), eval: byName('eval') };
  } catch (error) {
    yield { type: 'error', message: error instanceof Error ? error.message : String(error) };
  } finally {
    run?.dispose();
  }
}
