/**
 * Interleaved A/B timing of the lab against the PyTorch peer, and the
 * statistics the report shows: medians, quartiles and ratios ours/PyTorch.
 */

/** Times one run of a workload and returns its milliseconds. */
export type TimedRun = () => Promise<number>;

export interface TimingSeries {
  /** The lab side's environment: "node" or "chromium". */
  environment: string;
  backend: string;
  workload: string;
  /** Milliseconds of each timed repeat, in run order. */
  ours: number[];
  /** The peer's milliseconds, each measured right before or after the same-index repeat of ours; empty without a peer. */
  peer: number[];
  oursMedian: number;
  peerMedian: number | null;
  /** median(ours) / median(peer). */
  ratio: number | null;
  /** The median of the per-repeat ratios ours[i]/peer[i], which cancels load that changes between pairs. */
  pairedRatio: number | null;
  /** min(ours)/min(peer): each side's least-disturbed repeat, since load from other processes only adds time. */
  minRatio: number | null;
  /** The [25th, 75th] percentiles of ours and of the peer. */
  oursQuartiles: [number, number];
  peerQuartiles: [number, number] | null;
  /** The 1-minute load average before the series. */
  loadBefore: number;
}

/** Returns the q-quantile (0 ≤ q ≤ 1) of values by linear interpolation. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const weight = position - lower;
  return (sorted[lower] as number) * (1 - weight) + (sorted[upper] as number) * weight;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * Runs `warmup` untimed pairs, then `repeats` timed pairs of the lab and the
 * peer. The order within a pair alternates (AB, BA, AB, …) so that neither
 * side always runs right after the other's cache and allocator traffic.
 * Once the lab's runs of this workload, warm-up included, have taken
 * `budgetMs`, no further repeat starts; at least one timed pair always runs.
 */
export async function interleave(
  ours: TimedRun,
  peer: TimedRun | null,
  options: { repeats: number; warmup: number; budgetMs?: number },
): Promise<{ ours: number[]; peer: number[] }> {
  const budgetMs = options.budgetMs ?? Infinity;
  let spentMs = 0;
  for (let i = 0; i < options.warmup && spentMs < budgetMs; i++) {
    spentMs += await ours();
    if (peer !== null) await peer();
  }

  const oursTimes: number[] = [];
  const peerTimes: number[] = [];
  for (let i = 0; i < options.repeats && (i === 0 || spentMs < budgetMs); i++) {
    if (peer !== null && i % 2 === 1) peerTimes.push(await peer());
    const time = await ours();
    oursTimes.push(time);
    spentMs += time;
    if (peer !== null && i % 2 === 0) peerTimes.push(await peer());
  }
  return { ours: oursTimes, peer: peerTimes };
}

export function summarizeSeries(
  labels: { environment: string; backend: string; workload: string; loadBefore: number },
  times: { ours: number[]; peer: number[] },
): TimingSeries {
  const hasPeer = times.peer.length > 0;
  const oursMedian = median(times.ours);
  const peerMedian = hasPeer ? median(times.peer) : null;
  const pairedRatios = hasPeer ? times.ours.map((value, i) => value / (times.peer[i] as number)) : [];
  return {
    ...labels,
    ours: times.ours,
    peer: times.peer,
    oursMedian,
    peerMedian,
    ratio: peerMedian === null ? null : oursMedian / peerMedian,
    pairedRatio: hasPeer ? median(pairedRatios) : null,
    minRatio: hasPeer ? Math.min(...times.ours) / Math.min(...times.peer) : null,
    oursQuartiles: [quantile(times.ours, 0.25), quantile(times.ours, 0.75)],
    peerQuartiles: hasPeer ? [quantile(times.peer, 0.25), quantile(times.peer, 0.75)] : null,
  };
}
