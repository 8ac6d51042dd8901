/**
 * The repeats of each backend's workloads, and the loop that runs one
 * backend's workloads interleaved with the PyTorch peer.
 */
import os from 'node:os';

import type { PeerProcess, PeerWorkload } from './bench-peer.ts';
import { interleave, summarizeSeries, type TimingSeries } from './bench-timing.ts';

/** The timed workloads; the peer runs the same ones under the same names. */
export type Workload = PeerWorkload;

export interface Repeats {
  repeats: number;
  warmup: number;
  /** The lab time after which no further repeat of the workload starts (see interleave). */
  budgetMs: number;
}

/**
 * The lab time one workload may take on one backend before the bench stops
 * repeating it: a WebGPU step on SwiftShader took 90 s here under load.
 */
const WORKLOAD_BUDGET_MS = 120_000;

export interface BackendPlan {
  environment: 'node' | 'chromium';
  backend: string;
  steps: Repeats;
  ntk: Repeats;
  /** Whether to time the float64 eigendecomposition and the spectrum summary, which run in plain JavaScript on every backend. */
  spectrum: boolean;
}

export interface PlanOptions {
  /** Timed repeats of each step workload on the fast backends. */
  repeats: number;
  /** Timed repeats of the NTK on the fast backends. */
  ntkRepeats: number;
}

/**
 * Backends that take 10 s or more per step on a 2-core machine without a GPU
 * (tfjs cpu in Node, WebGPU and WebGL on SwiftShader) run a fifth of the step
 * repeats (at least 2) and one NTK. That keeps the whole bench within about 15 minutes.
 */
const SLOW_BACKENDS = new Set(['node cpu', 'chromium webgpu', 'chromium webgl']);

export function backendPlan(environment: BackendPlan['environment'], backend: string, options: PlanOptions, spectrum: boolean): BackendPlan {
  const slow = SLOW_BACKENDS.has(`${environment} ${backend}`);
  return {
    environment,
    backend,
    steps: slow
      ? { repeats: Math.max(2, Math.round(options.repeats / 5)), warmup: 1, budgetMs: WORKLOAD_BUDGET_MS }
      : { repeats: options.repeats, warmup: 2, budgetMs: WORKLOAD_BUDGET_MS },
    ntk: slow ? { repeats: 1, warmup: 0, budgetMs: WORKLOAD_BUDGET_MS } : { repeats: options.ntkRepeats, warmup: 1, budgetMs: WORKLOAD_BUDGET_MS },
    spectrum,
  };
}

/** Runs one workload once on the lab's side and returns its milliseconds. */
export type OursRunner = (workload: Workload) => Promise<number>;

/** Times every workload of a plan, each interleaved with the peer's same workload. */
export async function timePlan(
  plan: BackendPlan,
  ours: OursRunner,
  peer: PeerProcess | null,
  log: (line: string) => void,
): Promise<TimingSeries[]> {
  const workloads: [Workload, Repeats][] = [
    ['step', plan.steps],
    ['linearStep', plan.steps],
    ['ntk', plan.ntk],
  ];
  if (plan.spectrum) workloads.push(['eigen', plan.steps], ['spectrum', plan.steps]);

  const series: TimingSeries[] = [];
  for (const [workload, repeats] of workloads) {
    const loadBefore = os.loadavg()[0] as number;
    const peerRun = peer === null ? null : async (): Promise<number> => (await peer.time(workload, 1))[0] as number;
    const times = await interleave(() => ours(workload), peerRun, repeats);
    const summary = summarizeSeries({ environment: plan.environment, backend: plan.backend, workload, loadBefore }, times);
    const ratio = summary.ratio === null ? '' : `, PyTorch ${summary.peerMedian?.toFixed(1)} ms, ratio ${summary.ratio.toFixed(2)}`;
    log(`${plan.environment} ${plan.backend} ${workload}: ${summary.oursMedian.toFixed(1)} ms${ratio}`);
    series.push(summary);
  }
  return series;
}
