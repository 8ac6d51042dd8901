/**
 * Coalesces worker messages into batches, so that a fast run sends a few
 * postMessage calls per second instead of one per event. A batch goes out at
 * most every `intervalMs`, except that state changes, errors, task ends and
 * device loss go out at once, together with everything queued before them.
 */
import type { LabEvent } from '../core/events.ts';
import type { WorkerMessage } from './protocol.ts';

/** Timer functions, replaceable in tests. */
export interface BatchTimers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

const SYSTEM_TIMERS: BatchTimers = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/** The message kinds that are sent without waiting for the interval. */
const URGENT_KINDS: ReadonlySet<WorkerMessage['kind']> = new Set(['state', 'error', 'taskEnd', 'deviceLost']);

export const DEFAULT_BATCH_INTERVAL_MS = 100;

export class MessageBatcher {
  private pending: WorkerMessage[] = [];
  private timer: unknown = null;
  private lastSent = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly send: (messages: WorkerMessage[]) => void,
    private readonly intervalMs = DEFAULT_BATCH_INTERVAL_MS,
    private readonly timers: BatchTimers = SYSTEM_TIMERS,
  ) {}

  /**
   * Queues a message. Consecutive `events` messages merge into one, and a
   * newer `progress` message of a task replaces the queued one.
   */
  push(message: WorkerMessage): void {
    const last = this.pending[this.pending.length - 1];
    if (message.kind === 'events' && last?.kind === 'events') {
      this.pending[this.pending.length - 1] = { kind: 'events', events: [...last.events, ...message.events] };
    } else if (message.kind === 'progress') {
      const queued = this.pending.findIndex((entry) => entry.kind === 'progress' && entry.task === message.task);
      if (queued >= 0) this.pending[queued] = message;
      else this.pending.push(message);
    } else {
      this.pending.push(message);
    }

    if (URGENT_KINDS.has(message.kind)) this.flush();
    else this.schedule();
  }

  /** Queues lab events; an empty list queues nothing. */
  pushEvents(events: readonly LabEvent[]): void {
    if (events.length > 0) this.push({ kind: 'events', events: [...events] });
  }

  /** Sends everything queued now. */
  flush(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;

    const batch = this.pending;
    this.pending = [];
    this.lastSent = this.timers.now();
    this.send(batch);
  }

  /** Drops the timer; queued messages are sent by the next flush, if any. */
  dispose(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sends the batch `intervalMs` after the last one, or in the next macrotask when that time has passed. */
  private schedule(): void {
    if (this.timer !== null) return;
    const delay = Math.max(0, this.lastSent + this.intervalMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, delay);
  }
}
