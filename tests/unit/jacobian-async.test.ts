import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createProblem, maxAbsDifference, toFloat64, type Problem } from './ntk-fixtures.ts';
import { jacobian, jacobianAsync } from '../../src/core/ntk/jacobian.ts';
import { jacobianChange, jacobianChangeAsync } from '../../src/core/ntk/jacobian-change.ts';
import { CancelledError, yieldToEventLoop } from '../../src/core/task-control.ts';

let problem: Problem;

beforeAll(async () => {
  await tf.setBackend('cpu');
  // LoRA at init on a random-weight model is enough to compare the two code paths value for value.
  problem = createProblem({ grid: 'qv.o' });
});

afterAll(() => {
  problem.dispose();
});

describe('jacobianAsync', () => {
  it('equals the synchronous Jacobian', async () => {
    const expected = jacobian(problem.predict, problem.theta0, problem.batch, problem.numLabels);
    const actual = await jacobianAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels);

    expect(actual.shape).toEqual(expected.shape);
    expect(maxAbsDifference(toFloat64(actual), toFloat64(expected))).toBe(0);
    tf.dispose([actual, expected]);
  });

  it('reports examples done per chunk', async () => {
    const reports: [number, number][] = [];
    const J = await jacobianAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, {
      onProgress: (done, total) => reports.push([done, total]),
    }, 4);
    J.dispose();

    // 6 examples in chunks of 4.
    expect(reports).toEqual([
      [4, 6],
      [6, 6],
    ]);
  });

  it('lets other tasks run between chunks', async () => {
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 0);
    const seenBetweenChunks: boolean[] = [];
    const J = await jacobianAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, {
      onProgress: () => seenBetweenChunks.push(timerRan),
    }, 2);
    J.dispose();

    // The timer was queued before the call, so it runs at the first yield, after chunk 1.
    expect(seenBetweenChunks).toEqual([false, true, true]);
  });

  it('throws CancelledError without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const pending = jacobianAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, {
      signal: controller.signal,
      onProgress: (done) => {
        if (done === 2) controller.abort();
      },
    }, 2);

    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops before the first chunk when already cancelled', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    controller.abort();
    let reported = 0;
    const pending = jacobianAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, {
      signal: controller.signal,
      onProgress: () => {
        reported += 1;
      },
    });

    await expect(pending).rejects.toThrow('the Jacobian was cancelled');
    expect(reported).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('jacobianChangeAsync', () => {
  const options = { radii: [1e-3, 1e-1], directions: 2, seed: 5 };

  it('equals the synchronous curve', async () => {
    const expected = jacobianChange(problem.predict, problem.theta0, problem.batch, problem.numLabels, options);
    const actual = await jacobianChangeAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, options);

    expect(actual).toEqual(expected);
  });

  it('counts examples over every Jacobian', async () => {
    const reports: [number, number][] = [];
    await jacobianChangeAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, options, {
      onProgress: (done, total) => reports.push([done, total]),
    });

    // J(θ₀) and 2 radii × 2 directions: 5 Jacobians of 6 examples, one chunk each.
    expect(reports).toEqual([6, 12, 18, 24, 30].map((done) => [done, 30]));
  });

  it('throws CancelledError without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const pending = jacobianChangeAsync(problem.predict, problem.theta0, problem.batch, problem.numLabels, options, {
      signal: controller.signal,
      onProgress: (done) => {
        if (done === 12) controller.abort();
      },
    });

    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('yieldToEventLoop', () => {
  it('runs timers queued before it', async () => {
    const order: string[] = [];
    setTimeout(() => order.push('timer'), 0);
    await yieldToEventLoop();
    order.push('after yield');

    expect(order).toEqual(['timer', 'after yield']);
  });
});
