import { afterEach, describe, expect, it, vi } from 'vitest';

import { DrawQueue, type FrameClock } from '../../src/ui/charts/draw-queue.ts';

/** A clock moved by hand: draws advance it by their cost, and `frame` runs the requested frame callbacks. */
class ManualFrames implements FrameClock {
  time = 0;
  private callbacks: (() => void)[] = [];

  requestFrame(callback: () => void): void {
    this.callbacks.push(callback);
  }

  now(): number {
    return this.time;
  }

  get requested(): number {
    return this.callbacks.length;
  }

  frame(): void {
    this.time += 16;
    const due = this.callbacks;
    this.callbacks = [];
    for (const callback of due) callback();
  }
}

const BUDGET_MS = 12;

/** Returns a draw that logs its name and advances the clock by `costMs`. */
function drawOf(clock: ManualFrames, log: string[], name: string, costMs: number): () => void {
  return () => {
    log.push(name);
    clock.time += costMs;
  };
}

describe('DrawQueue', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('draws at once while the slice has budget', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    queue.schedule({}, drawOf(clock, log, 'loss', 5));
    queue.schedule({}, drawOf(clock, log, 'accuracy', 5));

    expect(log).toEqual(['loss', 'accuracy']);
    expect(queue.size).toBe(0);
  });

  it('defers draws past the budget to later frames', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    for (const name of ['loss', 'accuracy', 'spectrum', 'heatmap', 'distance']) queue.schedule({}, drawOf(clock, log, name, 8));
    expect(log).toEqual(['loss', 'accuracy']);
    expect(queue.size).toBe(3);

    clock.frame();
    expect(log).toEqual(['loss', 'accuracy', 'spectrum', 'heatmap']);
    expect(queue.size).toBe(1);

    clock.frame();
    expect(log).toEqual(['loss', 'accuracy', 'spectrum', 'heatmap', 'distance']);
    expect(queue.size).toBe(0);
  });

  it('draws one chart per frame when each is over budget', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    for (const name of ['a', 'b', 'c']) queue.schedule({}, drawOf(clock, log, name, 40));
    expect(log).toEqual(['a']);

    clock.frame();
    expect(log).toEqual(['a', 'b']);
    clock.frame();
    expect(log).toEqual(['a', 'b', 'c']);
    expect(clock.requested).toBe(0);
  });

  it('keeps the latest draw of a chart queued twice', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];
    const loss = {};
    const spectrum = {};

    queue.schedule({}, drawOf(clock, log, 'first', 20));
    queue.schedule(loss, drawOf(clock, log, 'loss old', 1));
    queue.schedule(spectrum, drawOf(clock, log, 'spectrum', 1));
    queue.schedule(loss, drawOf(clock, log, 'loss new', 1));
    clock.frame();

    // The chart keeps the queue position of its first request, so a chart that redraws often is not starved.
    expect(log).toEqual(['first', 'loss new', 'spectrum']);
  });

  it('drops the draw of a cancelled chart', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];
    const loss = {};

    queue.schedule({}, drawOf(clock, log, 'first', 20));
    queue.schedule(loss, drawOf(clock, log, 'loss', 1));
    queue.cancel(loss);
    clock.frame();

    expect(log).toEqual(['first']);
    expect(queue.size).toBe(0);
  });

  it('starts a fresh slice after a frame', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    queue.schedule({}, drawOf(clock, log, 'a', 20));
    queue.schedule({}, drawOf(clock, log, 'b', 1));
    expect(log).toEqual(['a']);
    clock.frame();
    expect(log).toEqual(['a', 'b']);

    // The frame emptied the queue, so the next request draws at once in a new slice.
    clock.frame();
    queue.schedule({}, drawOf(clock, log, 'c', 1));
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('waits behind queued draws even with budget left', () => {
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    queue.schedule({}, drawOf(clock, log, 'a', 20));
    queue.schedule({}, drawOf(clock, log, 'b', 1));
    clock.frame();
    queue.schedule({}, drawOf(clock, log, 'c', 20));
    queue.schedule({}, drawOf(clock, log, 'd', 1));
    queue.schedule({}, drawOf(clock, log, 'e', 1));

    expect(log).toEqual(['a', 'b', 'c']);
    clock.frame();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('reports a failing draw and draws the rest', () => {
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error));
    const clock = new ManualFrames();
    const queue = new DrawQueue(clock, BUDGET_MS);
    const log: string[] = [];

    queue.schedule({}, drawOf(clock, log, 'a', 20));
    queue.schedule({}, () => {
      throw new Error('no scale');
    });
    queue.schedule({}, drawOf(clock, log, 'c', 1));
    clock.frame();

    expect(log).toEqual(['a', 'c']);
    expect(reported).toHaveLength(1);
    expect((reported[0] as Error).message).toBe('no scale');
  });
});
