/**
 * Progress and cancellation for long computations (Jacobians, the
 * linearization, Jacobian-change curves), so that a host such as the browser
 * worker can show progress and stop them between chunks.
 */

/** The part of AbortSignal that the computations read; an AbortSignal fits it. */
export interface CancelSignal {
  readonly aborted: boolean;
}

export interface TaskControl {
  /** Called after each finished unit of work with the units done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between units of work; once aborted, the computation frees its tensors and throws a CancelledError. */
  signal?: CancelSignal;
}

/** Thrown by a computation that stopped because its signal was aborted. */
export class CancelledError extends Error {
  constructor(what: string) {
    super(`${what} was cancelled`);
    this.name = 'CancelledError';
  }
}

/** Throws a CancelledError naming `what` when the signal is aborted. */
export function throwIfCancelled(signal: CancelSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new CancelledError(what);
}

type SetTimeout = (callback: () => void, delayMs: number) => unknown;

/**
 * Resolves after a 0 ms timeout: a macrotask, so that messages queued for the
 * host (pause, cancel) are handled before the computation goes on. Browsers,
 * workers and Node all define setTimeout, but the core code is typed without
 * DOM or Node globals, so it is looked up on globalThis. Where it is missing
 * the promise resolves as a microtask, which does not let messages in.
 */
export function yieldToEventLoop(): Promise<void> {
  const setTimeoutFn = (globalThis as { setTimeout?: SetTimeout }).setTimeout;
  if (setTimeoutFn === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    setTimeoutFn(resolve, 0);
  });
}
