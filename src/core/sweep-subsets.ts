/**
 * The sweep's default layer subsets. This module imports nothing, so the
 * page can list the subsets without bundling tfjs, which the sweep itself
 * (sweep.ts) needs.
 */

/** Ten subsets of a 4-layer model: by depth, by module and all together. */
export const DEFAULT_SWEEP_SUBSETS: readonly string[] = [
  'qv.qv.qv.qv',
  'qv.-.-.-',
  '-.-.-.qv',
  'qv.qv.-.-',
  '-.-.qv.qv',
  'q.q.q.q',
  'v.v.v.v',
  'o.o.o.o',
  'fp.fp.fp.fp',
  'qkvofp.qkvofp.qkvofp.qkvofp',
];
