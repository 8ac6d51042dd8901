import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { createTestCheckpoint, maxAbsDifference, tinySpec } from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../../src/core/data/tasks.ts';
import type { DivergenceEvent, EvalEvent, LabEvent, NtkEvent } from '../../src/core/events.ts';
import { flattenTheta } from '../../src/core/model/lora.ts';
import { JACOBIAN_CHUNK } from '../../src/core/ntk/jacobian.ts';
import { FineTuneRun, type RunnerInputs } from '../../src/core/runner.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import { CancelledError } from '../../src/core/task-control.ts';

let checkpoint: Checkpoint;
let sources: TaskSources;

beforeAll(async () => {
  await tf.setBackend('cpu');
  checkpoint = createTestCheckpoint();
  sources = loadTaskSources();
});

function inputs(): RunnerInputs {
  return { checkpoint, sources, backend: 'cpu' };
}

/** Reads a list of tensors as one float64 vector. */
function flat(theta: readonly tf.Tensor[]): Float64Array {
  const vector = flattenTheta(theta);
  const values = Float64Array.from(vector.dataSync());
  vector.dispose();
  return values;
}

function ofType<T extends LabEvent['type']>(events: LabEvent[], type: T): Extract<LabEvent, { type: T }>[] {
  return events.filter((event): event is Extract<LabEvent, { type: T }> => event.type === type);
}

describe('FineTuneRun.createAsync', () => {
  const spec = tinySpec({ linearized: true, optimizer: 'gd', loss: 'mse', lambda: 0.1, lr: 0.05 });

  it('builds the same run as create', async () => {
    const syncRun = FineTuneRun.create(spec, inputs());
    const asyncRun = await FineTuneRun.createAsync(spec, inputs());
    const syncEvents = [syncRun.configEvent, ...syncRun.start(), ...syncRun.advance()];
    const asyncEvents = [asyncRun.configEvent, ...asyncRun.start(), ...asyncRun.advance()];
    syncRun.dispose();
    asyncRun.dispose();

    expect(asyncEvents).toEqual(syncEvents);
  });

  it('counts train and eval examples', async () => {
    const reports: [number, number][] = [];
    const run = await FineTuneRun.createAsync(spec, inputs(), { onProgress: (done, total) => reports.push([done, total]) });
    run.dispose();

    // 16 train and 16 eval examples, one Jacobian chunk of 16 each.
    expect(JACOBIAN_CHUNK).toBe(16);
    expect(reports).toEqual([0, 16, 32].map((done) => [done, 32]));
  });

  it('reports nothing without the linearized model', async () => {
    const reports: number[] = [];
    const run = await FineTuneRun.createAsync({ ...spec, linearized: false }, inputs(), { onProgress: (done) => reports.push(done) });
    run.dispose();

    expect(reports).toEqual([]);
  });

  // Before the first chunk, and between the train set's and the eval set's.
  for (const cancelAt of [0, 16]) {
    it(`throws CancelledError at ${cancelAt} without leaking tensors`, async () => {
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      const pending = FineTuneRun.createAsync(spec, inputs(), {
        signal: controller.signal,
        onProgress: (done) => {
          if (done === cancelAt) controller.abort();
        },
      });

      await expect(pending).rejects.toBeInstanceOf(CancelledError);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('frees its tensors on a spec error', async () => {
    const before = tf.memory().numTensors;

    await expect(FineTuneRun.createAsync({ ...spec, adapters: 'q.q.q' }, inputs())).rejects.toThrow(/model has 2 layers/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('FineTuneRun async reads', () => {
  const cases: [string, Partial<ExperimentSpec>][] = [
    ['GD with theory', { linearized: true, optimizer: 'gd', loss: 'mse', lambda: 0.1, lr: 0.05 }],
    ['Adam with the linearized model', { linearized: true, optimizer: 'adam', loss: 'ce', lambda: 0.01 }],
    ['SGD alone', { linearized: false, optimizer: 'sgd', loss: 'ce', batchSize: 4 }],
  ];

  for (const [name, overrides] of cases) {
    it(`match the synchronous events for ${name}`, async () => {
      const spec = tinySpec({ ...overrides, steps: 3, evalInterval: 1, ntkInterval: 1 });
      const syncRun = FineTuneRun.create(spec, inputs());
      const asyncRun = FineTuneRun.create(spec, inputs());
      const syncEvents = [...syncRun.start(), ...syncRun.advance(), ...syncRun.advance(), ...syncRun.advance()];
      const asyncEvents = [
        ...(await asyncRun.startAsync()),
        ...(await asyncRun.advanceAsync()),
        ...(await asyncRun.advanceAsync()),
        ...(await asyncRun.advanceAsync()),
      ];
      const distances = [syncRun.theta, asyncRun.theta].map((theta) => flat(theta));
      const asyncDistance = await asyncRun.distanceAsync();
      syncRun.dispose();
      asyncRun.dispose();

      expect(asyncEvents.map((event) => event.type)).toEqual(syncEvents.map((event) => event.type));
      expect(asyncEvents).toEqual(syncEvents);
      expect(distances[1]).toEqual(distances[0]);
      expect(asyncDistance).toBeGreaterThan(0);
    });
  }

  it('frees their tensors', async () => {
    const spec = tinySpec({ linearized: true, optimizer: 'gd', loss: 'mse', steps: 2, evalInterval: 1, ntkInterval: 1 });
    const before = tf.memory().numTensors;
    const run = await FineTuneRun.createAsync(spec, inputs());
    await run.startAsync();
    await run.advanceAsync();
    await run.evaluateAsync();
    await run.ntkAsync();
    await run.distanceAsync();
    run.dispose();

    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('FineTuneRun.setLive', () => {
  // Full-batch GD, so that every step sees the same batch and the update is
  // θ ← θ − lr·(∇R_data(θ) + λ(θ − θ₀)).
  const spec = tinySpec({ linearized: true, optimizer: 'gd', loss: 'mse', lambda: 0, lr: 0.05, steps: 5, evalInterval: 1 });
  const lr = 0.2;
  const lambda = 3;

  /** Takes one step, applies `settings` (if any), takes a second step, and returns θ and θ_lin after each. */
  function twoSteps(settings: { lr: number; lambda: number } | null): {
    theta0: Float64Array;
    theta1: Float64Array;
    theta2: Float64Array;
    linear1: Float64Array;
    linear2: Float64Array;
    events: LabEvent[];
  } {
    const run = FineTuneRun.create(spec, inputs());
    try {
      const theta0 = flat(run.theta);
      const events = run.start();
      events.push(...run.advance());
      const theta1 = flat(run.theta);
      const linear1 = flat(run.linearTheta ?? []);
      if (settings !== null) run.setLive(settings);
      events.push(...run.advance());
      return { theta0, theta1, theta2: flat(run.theta), linear1, linear2: flat(run.linearTheta ?? []), events };
    } finally {
      run.dispose();
    }
  }

  let unchanged: ReturnType<typeof twoSteps>;
  let newRate: ReturnType<typeof twoSteps>;
  let newRateAndLambda: ReturnType<typeof twoSteps>;

  beforeAll(() => {
    unchanged = twoSteps(null);
    newRate = twoSteps({ lr, lambda: 0 });
    newRateAndLambda = twoSteps({ lr, lambda });
  });

  it('leaves the first step alone', () => {
    expect(newRateAndLambda.theta1).toEqual(unchanged.theta1);
  });

  it('scales the next update by the new learning rate', () => {
    // Both runs stand at the same θ₁, so the data gradient g is the same:
    // (θ₁ − θ₂)/lr is g in both.
    const gradientOld = unchanged.theta1.map((value, i) => (value - (unchanged.theta2[i] as number)) / spec.lr);
    const gradientNew = newRate.theta1.map((value, i) => (value - (newRate.theta2[i] as number)) / lr);

    expect(maxAbsDifference(gradientNew, gradientOld)).toBeLessThan(1e-4 * Math.max(...gradientOld.map(Math.abs)));
  });

  for (const model of ['real', 'linear'] as const) {
    it(`adds the new λ's pull to the ${model} model's update`, () => {
      const [withLambda, withoutLambda, before] =
        model === 'real'
          ? [newRateAndLambda.theta2, newRate.theta2, newRate.theta1]
          : [newRateAndLambda.linear2, newRate.linear2, newRate.linear1];
      // θ₂(λ) − θ₂(0) = −lr·λ·(θ₁ − θ₀), with θ₀ the anchor.
      const expected = before.map((value, i) => -lr * lambda * (value - (newRate.theta0[i] as number)));
      const actual = withLambda.map((value, i) => value - (withoutLambda[i] as number));

      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0);
      expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-3 * Math.max(...expected.map(Math.abs)));
    });
  }

  it('bounds the distance with the new λ', () => {
    const initialLoss = (ofType(newRateAndLambda.events, 'eval') as EvalEvent[]).find(
      (event) => event.step === 0 && event.model === 'real' && event.split === 'train',
    )?.loss as number;
    const divergence = ofType(newRateAndLambda.events, 'divergence') as DivergenceEvent[];

    expect(divergence.map((event) => event.step)).toEqual([0, 1, 2]);
    expect(divergence[1]?.distanceBound).toBeNull();
    expect(divergence[2]?.distanceBound).toBeCloseTo(Math.sqrt((2 * initialLoss) / lambda), 10);
  });

  it('reports the new settings', () => {
    const run = FineTuneRun.create(spec, inputs());
    run.setLive({ lr, lambda });
    const live = run.live;
    run.dispose();

    expect(live).toEqual({ lr, lambda });
  });

  it('uses the new λ in NTK statistics', () => {
    const run = FineTuneRun.create({ ...spec, ntkInterval: 1 }, inputs());
    run.start();
    run.setLive({ lr, lambda });
    const ntk = ofType(run.advance(), 'ntk') as NtkEvent[];
    run.dispose();

    expect(ntk[0]?.lambda).toBe(lambda);
  });

  it('rejects invalid settings and changes nothing', () => {
    const run = FineTuneRun.create(spec, inputs());
    try {
      expect(() => run.setLive({ lr: 0, lambda: 1 })).toThrow('invalid learning rate 0');
      expect(() => run.setLive({ lr: 0.1, lambda: -1 })).toThrow('invalid lambda -1');
      expect(() => run.setLive({ lr: Number.NaN, lambda: 1 })).toThrow('invalid learning rate NaN');
      expect(run.live).toEqual({ lr: spec.lr, lambda: spec.lambda });
    } finally {
      run.dispose();
    }
  });
});
