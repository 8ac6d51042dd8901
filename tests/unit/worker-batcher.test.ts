import { describe, expect, it } from 'vitest';

import type { LabEvent } from '../../src/core/events.ts';
import { MessageBatcher, type BatchTimers } from '../../src/worker/message-batcher.ts';
import type { WorkerMessage } from '../../src/worker/protocol.ts';

/** Timers driven by hand: `advance` moves the clock and runs the timers that come due. */
class ManualTimers implements BatchTimers {
  private time = 0;
  private nextId = 1;
  private readonly scheduled = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.scheduled.set(id, { at: this.time + delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.scheduled.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.scheduled.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.scheduled.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }
}

function stepEvent(step: number): LabEvent {
  return { type: 'step', model: 'real', step, loss: 1, objective: 1, distance: 0, regularizerActive: true };
}

function setUp(): { batcher: MessageBatcher; timers: ManualTimers; sent: WorkerMessage[][] } {
  const timers = new ManualTimers();
  const sent: WorkerMessage[][] = [];
  const batcher = new MessageBatcher((messages) => sent.push(messages), 100, timers);
  return { batcher, timers, sent };
}

describe('MessageBatcher', () => {
  it('sends the first message in the next macrotask', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);

    expect(sent).toEqual([]);
    timers.advance(0);
    expect(sent).toEqual([[{ kind: 'events', events: [stepEvent(1)] }]]);
  });

  it('merges events within the interval', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);
    timers.advance(0);
    for (let step = 2; step <= 50; step++) {
      batcher.pushEvents([stepEvent(step)]);
      timers.advance(2);
    }
    timers.advance(100);

    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual([{ kind: 'events', events: Array.from({ length: 49 }, (_, i) => stepEvent(i + 2)) }]);
  });

  it('waits the interval after a batch', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);
    timers.advance(0);
    batcher.pushEvents([stepEvent(2)]);
    timers.advance(99);

    expect(sent).toHaveLength(1);
    timers.advance(1);
    expect(sent).toHaveLength(2);
  });

  it('sends state changes at once with what came before', () => {
    const { batcher, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);
    batcher.push({ kind: 'state', state: 'paused', step: 1 });

    expect(sent).toEqual([
      [
        { kind: 'events', events: [stepEvent(1)] },
        { kind: 'state', state: 'paused', step: 1 },
      ],
    ]);
  });

  for (const message of [
    { kind: 'error', message: 'failed' },
    { kind: 'taskEnd', task: 'preview', outcome: 'finished' },
    { kind: 'deviceLost', backend: 'webgpu', message: 'destroyed' },
  ] as WorkerMessage[]) {
    it(`sends ${message.kind} at once`, () => {
      const { batcher, sent } = setUp();
      batcher.push(message);

      expect(sent).toEqual([[message]]);
    });
  }

  it('keeps the latest progress per task', () => {
    const { batcher, timers, sent } = setUp();
    batcher.push({ kind: 'progress', task: 'preview', done: 1, total: 9, label: 'a' });
    batcher.push({ kind: 'progress', task: 'sweep', done: 1, total: 3, label: 'b' });
    batcher.push({ kind: 'progress', task: 'preview', done: 2, total: 9, label: 'c' });
    timers.advance(0);

    expect(sent).toEqual([
      [
        { kind: 'progress', task: 'preview', done: 2, total: 9, label: 'c' },
        { kind: 'progress', task: 'sweep', done: 1, total: 3, label: 'b' },
      ],
    ]);
  });

  it('keeps events apart around other messages', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);
    batcher.push({ kind: 'live', settings: { lr: 0.1, lambda: 0 }, step: 1 });
    batcher.pushEvents([stepEvent(2)]);
    timers.advance(0);

    expect(sent[0]?.map((message) => message.kind)).toEqual(['events', 'live', 'events']);
  });

  it('skips an empty event list', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([]);
    timers.advance(200);

    expect(sent).toEqual([]);
  });

  it('stops its timer on dispose', () => {
    const { batcher, timers, sent } = setUp();
    batcher.pushEvents([stepEvent(1)]);
    batcher.dispose();
    timers.advance(200);

    expect(sent).toEqual([]);
  });
});
