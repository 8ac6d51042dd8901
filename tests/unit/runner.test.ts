import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TINY_CONFIG, createTinyCheckpoint, tinySpec } from './fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../../src/core/data/tasks.ts';
import type { ConfigEvent, DoneEvent, EvalEvent, LabEvent, StepEvent } from '../../src/core/events.ts';
import { countParameters } from '../../src/core/model/config.ts';
import { FineTuneRun, runExperiment, type RunnerInputs } from '../../src/core/runner.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';

let sources: TaskSources;
let checkpoint: Checkpoint;

beforeAll(async () => {
  await tf.setBackend('cpu');
  sources = loadTaskSources();
  checkpoint = createTinyCheckpoint(1);
});

function inputs(): RunnerInputs {
  return { checkpoint, sources, backend: tf.getBackend() };
}

async function collect(
  spec: ExperimentSpec,
  runnerInputs: RunnerInputs = inputs(),
  shouldStop?: () => boolean,
): Promise<LabEvent[]> {
  const events: LabEvent[] = [];
  for await (const event of runExperiment(spec, runnerInputs, shouldStop)) events.push(event);
  return events;
}

/** Names each event by type, model, step and split, such as "eval 2 real train". */
function describeEvent(event: LabEvent): string {
  switch (event.type) {
    case 'step':
      return `step ${event.step} ${event.model}`;
    case 'eval':
      return `eval ${event.step} ${event.model} ${event.split}`;
    case 'ntk':
    case 'divergence':
      return `${event.type} ${event.step}`;
    case 'done':
      return `done ${event.steps}`;
    default:
      return event.type;
  }
}

function evalEvents(events: LabEvent[]): EvalEvent[] {
  return events.filter((event): event is EvalEvent => event.type === 'eval');
}

function stepEvents(events: LabEvent[]): StepEvent[] {
  return events.filter((event): event is StepEvent => event.type === 'step');
}

describe('runExperiment without the linearized model', () => {
  const spec = tinySpec({ linearized: false, steps: 5, evalInterval: 2 });
  let events: LabEvent[];
  let tensorsBefore: number;
  let tensorsAfter: number;

  beforeAll(async () => {
    tensorsBefore = tf.memory().numTensors;
    events = await collect(spec);
    tensorsAfter = tf.memory().numTensors;
  });

  it('emits events in order', () => {
    expect(events.map(describeEvent)).toEqual([
      'config',
      'ntk 0',
      'eval 0 real train',
      'eval 0 real eval',
      'step 1 real',
      'step 2 real',
      'eval 2 real train',
      'eval 2 real eval',
      'step 3 real',
      'step 4 real',
      'eval 4 real train',
      'eval 4 real eval',
      'step 5 real',
      'eval 5 real train',
      'eval 5 real eval',
      'done 5',
    ]);
  });

  it('describes the run in the config event', () => {
    const config = events[0] as ConfigEvent;
    expect(config.spec).toEqual(spec);
    expect(config.backend).toBe('cpu');
    expect(config.task.name).toBe('afinn-valence');
    expect(config.task.trainSize).toBe(16);
    expect(config.task.evalSize).toBe(16);
    expect(config.task.majorityRate).toBe(0.5);
    expect(config.parameters.model).toBe(countParameters(TINY_CONFIG));
    // q and v on two layers, each A [4, 16] and B [16, 4].
    expect(config.parameters.trainable).toBe(4 * 128);
    expect(config.parameters.blocks.map((block) => `${block.layer} ${block.module} ${block.size}`)).toEqual([
      '0 attn.q 128',
      '0 attn.v 128',
      '1 attn.q 128',
      '1 attn.v 128',
    ]);
    expect(config.batchSize).toBe(8);
    expect(config.loraScale).toBe(2);
    expect(config.probeSize).toBe(8);
  });

  it('reports the last evaluation when done', () => {
    const done = events.at(-1) as DoneEvent;
    const last = evalEvents(events).slice(-2);
    expect(done.train).toEqual({ loss: last[0]?.loss, accuracy: last[0]?.accuracy });
    expect(done.eval).toEqual({ loss: last[1]?.loss, accuracy: last[1]?.accuracy });
    expect(done.linear).toBeUndefined();
  });

  it('reports finite steps without a regularizer', () => {
    for (const step of stepEvents(events)) {
      expect(Number.isFinite(step.loss), `step ${step.step}`).toBe(true);
      expect(step.objective, `step ${step.step}`).toBe(step.loss);
      expect(step.distance, `step ${step.step}`).toBeGreaterThan(0);
      expect(step.regularizerActive, `step ${step.step}`).toBe(true);
    }
  });

  it('frees its tensors', () => {
    expect(tensorsAfter).toBe(tensorsBefore);
  });
});

describe('runExperiment with the linearized model', () => {
  // Squared loss, full-batch GD and the anchor at init add the closed-form theory event.
  const spec = tinySpec({ steps: 4, evalInterval: 2, ntkInterval: 3, loss: 'mse', optimizer: 'gd', lr: 0.5, lambda: 0.1 });
  let events: LabEvent[];

  beforeAll(async () => {
    events = await collect(spec);
  });

  it('emits events in order', () => {
    const evalsAt = (step: number): string[] => [
      `eval ${step} real train`,
      `eval ${step} real eval`,
      `eval ${step} linear train`,
      `eval ${step} linear eval`,
      `divergence ${step}`,
    ];
    expect(events.map(describeEvent)).toEqual([
      'config',
      'ntk 0',
      'theory',
      ...evalsAt(0),
      'step 1 real',
      'step 1 linear',
      'step 2 real',
      'step 2 linear',
      ...evalsAt(2),
      'step 3 real',
      'step 3 linear',
      'ntk 3',
      'step 4 real',
      'step 4 linear',
      ...evalsAt(4),
      'ntk 4',
      'done 4',
    ]);
  });

  it('uses the whole train set per GD step', () => {
    expect((events[0] as ConfigEvent).batchSize).toBe(16);
  });

  it('reports both models when done', () => {
    const done = events.at(-1) as DoneEvent;
    const last = evalEvents(events).slice(-4);
    expect(done.train).toEqual({ loss: last[0]?.loss, accuracy: last[0]?.accuracy });
    expect(done.linear?.train).toEqual({ loss: last[2]?.loss, accuracy: last[2]?.accuracy });
    expect(done.linear?.eval).toEqual({ loss: last[3]?.loss, accuracy: last[3]?.accuracy });
  });

  it('starts both models at the same outputs', () => {
    const [realTrain, realEval, linearTrain, linearEval] = evalEvents(events).slice(0, 4);
    expect(linearTrain?.loss).toBeCloseTo(realTrain?.loss as number, 5);
    expect(linearEval?.loss).toBeCloseTo(realEval?.loss as number, 5);
  });

  it('adds the regularizer to the objective', () => {
    const steps = stepEvents(events).filter((step) => step.step > 1);
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) expect(step.objective, `step ${step.step} ${step.model}`).toBeGreaterThan(step.loss);
  });
});

describe('runExperiment failures', () => {
  it('reports a grid with too many layers', async () => {
    const events = await collect(tinySpec({ adapters: 'qv.qv.qv' }));
    expect(events).toEqual([
      {
        type: 'error',
        message: 'adapters: the grid has 3 layers but the model has 2 layers; write one group per layer, such as "qv.qv"',
      },
    ]);
  });

  it('stops at divergence', async () => {
    // lr·λ = 100 > 2, so GD on the penalty alone multiplies ‖θ − θ₀‖ by |1 − lr·λ| = 99 per step until it overflows.
    const spec = tinySpec({ optimizer: 'sgd', loss: 'mse', lr: 10, lambda: 10, steps: 50, evalInterval: 10, linearized: false });
    const before = tf.memory().numTensors;
    const events = await collect(spec);

    const errors = events.filter((event) => event.type === 'error');
    expect(errors).toHaveLength(1);
    expect(events.at(-1)).toBe(errors[0]);
    expect(errors[0]?.type === 'error' ? errors[0].message : '').toContain('training diverged at step');
    expect(events.some((event) => event.type === 'done')).toBe(false);
    const lastStep = Math.max(...stepEvents(events).map((step) => step.step));
    expect(lastStep).toBeLessThan(50);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops when asked', async () => {
    let steps = 0;
    const events: LabEvent[] = [];
    const spec = tinySpec({ steps: 20, evalInterval: 5, linearized: false });
    for await (const event of runExperiment(spec, inputs(), () => steps >= 2)) {
      events.push(event);
      if (event.type === 'step') steps += 1;
    }
    expect(events.slice(-3).map(describeEvent)).toEqual(['eval 2 real train', 'eval 2 real eval', 'done 2']);
  });
});

describe('FineTuneRun', () => {
  it('throws for a grid with too many layers', () => {
    expect(() => FineTuneRun.create(tinySpec({ adapters: 'q.q.q' }), inputs())).toThrow('the grid has 3 layers but the model has 2 layers');
  });

  it('measures distance from a zero anchor', () => {
    const run = FineTuneRun.create(tinySpec({ anchor: 'zero', linearized: false }), inputs());
    const events = run.advance();
    const step = events.find((event): event is StepEvent => event.type === 'step');
    const norm = Math.sqrt(run.theta.reduce((sum, tensor) => sum + (tf.sum(tf.square(tensor)).dataSync()[0] as number), 0));
    expect(step?.distance).toBeCloseTo(norm, 4);
    run.dispose();
  });

  it('keeps the tensor count flat over 200 steps', () => {
    const spec = tinySpec({ trainSize: 8, evalSize: 8, batchSize: 4, steps: 200, evalInterval: 1000, optimizer: 'adam' });
    const start = tf.memory().numTensors;
    const run = FineTuneRun.create(spec, inputs());

    let afterStep10 = 0;
    for (let step = 1; step <= 200; step++) {
      run.advance();
      if (step === 10) afterStep10 = tf.memory().numTensors;
    }
    expect(run.finished).toBe(true);
    expect(tf.memory().numTensors).toBe(afterStep10);

    run.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('runExperiment on wasm', () => {
  let wasmCheckpoint: Checkpoint;

  beforeAll(async () => {
    await tf.setBackend('wasm');
    wasmCheckpoint = createTinyCheckpoint(1);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('repeats the same event stream', async () => {
    const spec = tinySpec({ steps: 6, evalInterval: 3, ntkInterval: 3 });
    const wasmInputs = { checkpoint: wasmCheckpoint, sources, backend: 'wasm' };
    const first = await collect(spec, wasmInputs);
    const second = await collect(spec, wasmInputs);

    expect(first.at(-1)?.type).toBe('done');
    expect(stepEvents(first)).toHaveLength(12);
    expect(second).toEqual(first);
  });

  it('changes with the seed', async () => {
    const wasmInputs = { checkpoint: wasmCheckpoint, sources, backend: 'wasm' };
    const first = await collect(tinySpec({ steps: 2, linearized: false, seed: 1 }), wasmInputs);
    const second = await collect(tinySpec({ steps: 2, linearized: false, seed: 2 }), wasmInputs);
    expect(stepEvents(second)).not.toEqual(stepEvents(first));
  });
});
