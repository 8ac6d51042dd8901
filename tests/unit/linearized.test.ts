import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createProblem,
  createTestCheckpoint,
  euclideanNorm,
  fitSlope,
  listNorm,
  maxAbsDifference,
  moveAlong,
  randomDirection,
  tinySpec,
  toFloat64,
  type Problem,
} from './ntk-fixtures.ts';
import { loadTaskSources } from '../../src/cli/sources.ts';
import type { DivergenceEvent, EvalEvent, LabEvent, NtkEvent, TheoryEvent } from '../../src/core/events.ts';
import { flattenTheta } from '../../src/core/model/lora.ts';
import { disposeLinearization, linearize, linearPredict } from '../../src/core/ntk/linearize.ts';
import { runExperiment, type RunnerInputs } from '../../src/core/runner.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';

let lora: Problem;
let full: Problem;
/** A LoRA point with B ≠ 0, used as the expansion point θ₀ in some tests. */
let loraMoved: tf.Tensor[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  lora = createProblem({ grid: 'qv.o' });
  full = createProblem({ grid: 'v.f', mode: 'full' });
  const shift = randomDirection(lora.theta0, listNorm(lora.theta0), 3);
  loraMoved = moveAlong(lora.theta0, shift, 1);
  tf.dispose(shift);
});

afterAll(() => {
  tf.dispose(loraMoved);
  lora.dispose();
  full.dispose();
});

const expansionPoints: [string, () => Problem, () => readonly tf.Tensor[]][] = [
  ['LoRA at B = 0', () => lora, () => lora.theta0],
  ['LoRA with B ≠ 0', () => lora, () => loraMoved],
  ['full mode', () => full, () => full.theta0],
];

describe('linearPredict', () => {
  it.each(expansionPoints)('equals f at θ₀, %s', (_, problem, point) => {
    const { predict, batch, numLabels } = problem();
    const linearization = linearize(predict, point(), batch, numLabels);
    const theta0Flat = flattenTheta(point());
    const f = predict(point(), batch);
    const fLin = linearPredict(linearization, point(), theta0Flat);

    expect(fLin.shape).toEqual(f.shape);
    expect(maxAbsDifference(toFloat64(fLin), toFloat64(f))).toBeLessThanOrEqual(1e-6);
    tf.dispose([theta0Flat, f, fLin]);
    disposeLinearization(linearization);
  });

  it('gathers the requested rows', () => {
    const { predict, batch, numLabels } = lora;
    const linearization = linearize(predict, loraMoved, batch, numLabels);
    const theta0Flat = flattenTheta(loraMoved);
    const direction = randomDirection(loraMoved, 0.1 * listNorm(loraMoved), 9);
    const theta = moveAlong(loraMoved, direction, 1);
    const rows = [4, 1, 1];
    const indices = tf.tensor1d(rows, 'int32');

    const all = linearPredict(linearization, theta, theta0Flat).arraySync();
    const picked = linearPredict(linearization, theta, theta0Flat, indices);
    const expected = rows.map((row) => all[row] as number[]);

    expect(picked.shape).toEqual([rows.length, numLabels]);
    expect(maxAbsDifference(picked.dataSync(), expected.flat())).toBeLessThanOrEqual(1e-7);
    // The move must change f_lin, or the comparison above would only see f(θ₀).
    expect(maxAbsDifference(all.flat(), linearization.f0.dataSync())).toBeGreaterThan(1e-4);
    tf.dispose([theta0Flat, ...direction, ...theta, indices, picked]);
    disposeLinearization(linearization);
  });

  // The remainder f − f_lin is O(ε²). Steps are relative to ‖θ₀‖ because the
  // direction has norm ‖θ₀‖. At ε = 0.01 the remainder is about 4e-6, still
  // 100 times the float32 rounding error of f (|f| ≈ 0.07). At ε = 0.3 the
  // cubic term does not yet bend the slope.
  const epsilons = [0.3, 0.1, 0.03, 0.01];

  it.each(expansionPoints)('remainder shrinks as ε², %s', (_, problem, point) => {
    const { predict, batch, numLabels } = problem();
    const linearization = linearize(predict, point(), batch, numLabels);
    const theta0Flat = flattenTheta(point());
    const direction = randomDirection(point(), listNorm(problem().theta0), 5);

    const remainders = epsilons.map((epsilon) => {
      const theta = moveAlong(point(), direction, epsilon);
      const gap = tf.tidy(() => tf.sub(predict(theta, batch), linearPredict(linearization, theta, theta0Flat)));
      const size = euclideanNorm(toFloat64(gap));
      tf.dispose([...theta, gap]);
      return size;
    });
    const slope = fitSlope(epsilons.map(Math.log), remainders.map(Math.log));

    expect(slope).toBeGreaterThanOrEqual(1.8);
    expect(slope).toBeLessThanOrEqual(2.2);
    tf.dispose([theta0Flat, ...direction]);
    disposeLinearization(linearization);
  });

  it('keeps the tensor count flat', () => {
    const { predict, batch, numLabels } = lora;
    const before = tf.memory().numTensors;

    for (let call = 0; call < 2; call++) {
      const linearization = linearize(predict, lora.theta0, batch, numLabels);
      const theta0Flat = flattenTheta(lora.theta0);
      linearPredict(linearization, loraMoved, theta0Flat).dispose();
      theta0Flat.dispose();
      disposeLinearization(linearization);
    }

    expect(tf.memory().numTensors).toBe(before);
  });
});

// Squared loss and full-batch GD, where the closed form applies. On the probe
// set μ₁/N ≈ 0.02 at θ₀ (η_max ≈ 29 with λ = 0.05), so lr 5 stays well below
// η_max and still moves the loss within 10 steps.
const STEPS = 10;
const theorySpec = (lambda: number): ExperimentSpec =>
  tinySpec({ loss: 'mse', optimizer: 'gd', lr: 5, lambda, steps: STEPS, evalInterval: 2, ntkInterval: 5 });

let inputs: RunnerInputs | null = null;
const streams = new Map<number, Promise<LabEvent[]>>();

/** Collects every event of the squared-loss GD experiment with this λ, running it once per file. */
function eventsFor(lambda: number): Promise<LabEvent[]> {
  const cached = streams.get(lambda);
  if (cached !== undefined) return cached;

  inputs ??= { checkpoint: createTestCheckpoint(), sources: loadTaskSources(), backend: 'cpu' };
  const runnerInputs = inputs;
  const collected = (async () => {
    const events: LabEvent[] = [];
    for await (const event of runExperiment(theorySpec(lambda), runnerInputs)) events.push(event);
    return events;
  })();
  streams.set(lambda, collected);
  return collected;
}

function ofType<T extends LabEvent['type']>(events: readonly LabEvent[], type: T): Extract<LabEvent, { type: T }>[] {
  return events.filter((event): event is Extract<LabEvent, { type: T }> => event.type === type);
}

describe('runExperiment with squared loss and GD', () => {
  describe.each([0.05, 0])('with λ = %s', (lambda) => {
    let stream: LabEvent[] = [];
    const events = (): LabEvent[] => stream;

    beforeAll(async () => {
      stream = await eventsFor(lambda);
    });

    it('ends without an error', () => {
      expect(ofType(events(), 'error')).toEqual([]);
      expect(events().at(-1)?.type).toBe('done');
    });

    it('emits theory at eval steps', () => {
      const theories = ofType(events(), 'theory');

      expect(theories).toHaveLength(1);
      expect(theories[0]?.steps).toEqual([0, 2, 4, 6, 8, 10]);
    });

    it.each(['train', 'eval'] as const)('linear run matches closed form, %s', (split) => {
      const theory = ofType(events(), 'theory')[0] as TheoryEvent;
      const linear = ofType(events(), 'eval').filter((event) => event.model === 'linear' && event.split === split);

      theory.steps.forEach((step, k) => {
        const measured = linear.find((event) => event.step === step) as EvalEvent;
        const predicted = theory[split][k] as { loss: number; accuracy: number };
        expect(measured, `step ${step}`).toBeDefined();
        expect(Math.abs(measured.loss - predicted.loss) / predicted.loss, `loss at step ${step}`).toBeLessThanOrEqual(1e-4);
        expect(measured.accuracy, `accuracy at step ${step}`).toBe(predicted.accuracy);
      });
    });

    it('moves loss beyond the tolerance', () => {
      const theory = ofType(events(), 'theory')[0] as TheoryEvent;
      const first = theory.train[0]?.loss as number;
      const last = theory.train.at(-1)?.loss as number;

      expect(last).toBeLessThan(0.9 * first);
    });
  });
});

describe('runner event stream', () => {
  const lambda = 0.05;
  let events: LabEvent[];
  let divergences: DivergenceEvent[];
  let ntks: NtkEvent[];

  beforeAll(async () => {
    events = await eventsFor(lambda);
    divergences = ofType(events, 'divergence');
    ntks = ofType(events, 'ntk');
  });

  it('opens with config, ntk and theory', () => {
    expect(events.slice(0, 3).map((event) => event.type)).toEqual(['config', 'ntk', 'theory']);
  });

  it('emits steps for both models', () => {
    const steps = ofType(events, 'step');

    expect(steps.filter((event) => event.model === 'real').map((event) => event.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(steps.filter((event) => event.model === 'linear').map((event) => event.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('emits divergence at every eval step', () => {
    expect(divergences.map((event) => event.step)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('has the divergence fields', () => {
    for (const event of divergences) {
      for (const set of [event.probe, event.eval]) {
        expect(Number.isFinite(set.rms), `rms at step ${event.step}`).toBe(true);
        expect(set.agreement, `agreement at step ${event.step}`).toBeGreaterThanOrEqual(0);
        expect(set.agreement, `agreement at step ${event.step}`).toBeLessThanOrEqual(1);
      }
      expect(Number.isFinite(event.thetaGap), `thetaGap at step ${event.step}`).toBe(true);
      expect(Number.isFinite(event.distance), `distance at step ${event.step}`).toBe(true);
      expect(Number.isFinite(event.distanceLinear), `distanceLinear at step ${event.step}`).toBe(true);
      expect(typeof event.distanceBound, `distanceBound at step ${event.step}`).toBe('number');
    }
  });

  it('has zero divergence at step 0', () => {
    const first = divergences[0] as DivergenceEvent;

    expect(first.probe.rms).toBe(0);
    expect(first.eval.rms).toBe(0);
    expect(first.probe.relativeRms).toBeNull();
    expect(first.eval.relativeRms).toBeNull();
    expect(first.probe.agreement).toBe(1);
    expect(first.eval.agreement).toBe(1);
    expect(first.thetaGap).toBe(0);
    expect(first.distance).toBe(0);
    expect(first.distanceLinear).toBe(0);
  });

  it('derives bound from initial loss', () => {
    const initial = ofType(events, 'eval').find((event) => event.model === 'real' && event.split === 'train' && event.step === 0);
    const bound = Math.sqrt((2 * (initial?.loss as number)) / lambda);

    for (const event of divergences) {
      expect(event.distanceBound, `step ${event.step}`).toBeCloseTo(bound, 10);
    }
  });

  it('separates the models after training', () => {
    const last = divergences.at(-1) as DivergenceEvent;

    expect(last.distance).toBeGreaterThan(0);
    expect(last.distanceLinear).toBeGreaterThan(0);
    expect(last.thetaGap).toBeGreaterThan(0);
    expect(last.probe.rms).toBeGreaterThan(0);
    expect(last.probe.relativeRms).toBeGreaterThan(0);
  });

  it('emits ntk at steps 0, 5 and 10', () => {
    expect(ntks.map((event) => event.step)).toEqual([0, 5, 10]);
  });

  it('has the ntk fields', () => {
    const config = ofType(events, 'config')[0];
    const n = config?.probeSize as number;
    const c = config?.task.labels.length as number;

    for (const event of ntks) {
      const label = `step ${event.step}`;
      expect(event.n, label).toBe(n);
      expect(event.c, label).toBe(c);
      expect(event.lambda, label).toBe(lambda);
      expect(event.eigenvalues, label).toHaveLength(n * c);
      expect(event.traced, label).toHaveLength(n);
      expect(event.stats.muMax, label).toBe(event.eigenvalues[0]);
      expect(event.stats.muMin, label).toBe(event.eigenvalues.at(-1));
      expect(event.tracedStats.muMax, label).toBe(event.traced[0]);
      expect(event.blocks.map(({ layer, module }) => ({ layer, module })), label).toEqual(
        config?.parameters.blocks.map(({ layer, module }) => ({ layer, module })),
      );
      for (const block of event.blocks) {
        expect(block.eigenvalues, `${label} ${block.layer}:${block.module}`).toHaveLength(n * c);
        expect(block.muMax, `${label} ${block.layer}:${block.module}`).toBe(block.eigenvalues[0]);
      }
    }
  });

  it('orders ntk eigenvalues descending and non-negative', () => {
    for (const event of ntks) {
      for (const spectrum of [event.eigenvalues, event.traced]) {
        spectrum.forEach((mu, k) => {
          expect(mu, `step ${event.step}, index ${k}`).toBeGreaterThanOrEqual(0);
          if (k > 0) expect(mu, `step ${event.step}, index ${k}`).toBeLessThanOrEqual(spectrum[k - 1] as number);
        });
      }
    }
  });

  it('sums block traces to the kernel trace', () => {
    for (const event of ntks) {
      const blockTraces = event.blocks.reduce((total, block) => total + block.trace, 0);
      expect(Math.abs(blockTraces - event.stats.trace) / event.stats.trace, `step ${event.step}`).toBeLessThan(1e-5);
    }
  });

  it('has zero drift at step 0', () => {
    expect(ntks[0]?.drift).toBe(0);
  });

  it('has positive drift after training', () => {
    for (const event of ntks.slice(1)) {
      expect(event.drift, `step ${event.step}`).toBeGreaterThan(0);
    }
  });

  it('has finite ntk statistics', () => {
    for (const event of ntks) {
      for (const [name, value] of Object.entries(event.stats)) {
        expect(Number.isFinite(value), `${name} at step ${event.step}`).toBe(true);
      }
    }
  });
});
