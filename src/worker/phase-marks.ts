/**
 * Performance-timeline marks for the worker's start-up, named "lab:<phase>",
 * so that a profiler or a bench script can split the time to the first
 * spectrum into backend start, loading, task setup, Jacobian, kernels and
 * eigendecompositions. Read them in the worker with
 * performance.getEntriesByType('mark'); their times count from the worker's
 * performance.timeOrigin.
 */

/** The prefix of every mark the worker makes. */
export const PHASE_MARK_PREFIX = 'lab:';

/** Adds the mark "lab:<phase>" to the performance timeline. */
export function markPhase(phase: string): void {
  performance.mark(`${PHASE_MARK_PREFIX}${phase}`);
}
