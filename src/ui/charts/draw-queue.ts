/**
 * Spreads chart redraws over animation frames. One batch of run events can
 * change every run chart at once, and a full D3 redraw of all of them,
 * with the style and layout work that follows, is one long main-thread task.
 * The queue draws a chart at once while the current slice has budget left,
 * and defers the rest to the next animation frames, each with a fresh
 * budget. A chart queued twice draws once, with its latest render.
 */
import { createContext } from 'react';

/** The frame source, replaceable in tests. */
export interface FrameClock {
  requestFrame(callback: () => void): void;
  now(): number;
}

// NOTE: browsers pause requestAnimationFrame in hidden tabs, so deferred draws wait until the page is shown again.
const ANIMATION_FRAMES: FrameClock = {
  requestFrame: (callback) => {
    requestAnimationFrame(() => callback());
  },
  now: () => performance.now(),
};

/**
 * Milliseconds of drawing per slice. The draw that crosses the budget still
 * finishes, and the frame's style and layout work follows it, so the budget
 * is kept well under the Long Tasks API's 50 ms threshold.
 */
export const DEFAULT_SLICE_BUDGET_MS = 12;

export class DrawQueue {
  /** Draws waiting for a frame, by chart. A Map runs them in the order the charts were first queued. */
  private readonly pending = new Map<object, () => void>();
  /** When the current slice began, or null when no slice is open. */
  private sliceStart: number | null = null;
  private frameRequested = false;

  constructor(
    private readonly clock: FrameClock = ANIMATION_FRAMES,
    private readonly budgetMs = DEFAULT_SLICE_BUDGET_MS,
  ) {}

  /**
   * Draws `draw` now when the slice has budget left and no draw is waiting,
   * else queues it under `chart`. A chart already queued keeps its place
   * and draws with the newer `draw`, so a chart that redraws often is not starved.
   */
  schedule(chart: object, draw: () => void): void {
    if (this.pending.has(chart)) {
      this.pending.set(chart, draw);
      return;
    }
    if (this.pending.size === 0 && this.hasBudget()) {
      this.run(draw);
      return;
    }
    this.pending.set(chart, draw);
    this.requestFrame();
  }

  /** Drops a chart's queued draw, as when the chart unmounts. */
  cancel(chart: object): void {
    this.pending.delete(chart);
  }

  /** The number of draws waiting for a frame. */
  get size(): number {
    return this.pending.size;
  }

  private hasBudget(): boolean {
    if (this.sliceStart === null) {
      // The slice ends at the next frame, which starts a fresh one.
      this.sliceStart = this.clock.now();
      this.requestFrame();
    }
    return this.clock.now() - this.sliceStart < this.budgetMs;
  }

  private run(draw: () => void): void {
    try {
      draw();
    } catch (error) {
      // Reported like an uncaught error, so that one chart's failure does not stop the others from drawing.
      reportError(error);
    }
  }

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    this.clock.requestFrame(() => this.onFrame());
  }

  /** Starts a fresh slice and draws queued charts until its budget is spent, but always at least one. */
  private onFrame(): void {
    this.frameRequested = false;
    this.sliceStart = this.clock.now();
    let drawn = 0;
    for (const [chart, draw] of this.pending) {
      if (drawn > 0 && this.clock.now() - this.sliceStart >= this.budgetMs) break;
      this.pending.delete(chart);
      this.run(draw);
      drawn += 1;
    }
    if (this.pending.size > 0) this.requestFrame();
    else this.sliceStart = null;
  }
}

/** The page's draw queue. Without a provider, charts draw synchronously in their effects. */
export const DrawQueueContext = createContext<DrawQueue | null>(null);
