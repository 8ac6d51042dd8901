/** Per-kernel time of one run of a workload, from tf.profile. */
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
  /** The largest input shapes of the kernel's most expensive call, such as "[32,4,128,128]×[32,4,128,16]". */
  slowestCall: string;
}

export interface KernelProfile {
  workload: string;
  backend: string;
  /** Wall time of the profiled run, which includes the profiler's own bookkeeping. */
  wallMs: number;
  /** The sum over kernels, without tf.customGrad wrappers. */
  kernelMs: number;
  kernelCalls: number;
  kernels: KernelTime[];
}

/**
 * tf.customGrad records a kernel named "forward" whose time includes the
 * kernels it runs, so it is left out of the sums.
 */
const WRAPPER_KERNELS = new Set(['forward']);

/** Profiles one run of `work` and returns the `top` kernels by total time. */
export async function profileKernels(workload: string, work: () => Promise<unknown>, top = 12): Promise<KernelProfile> {
  const started = performance.now();
  const info = await tf.profile(async () => {
    await work();
    return [];
  });
  const wallMs = performance.now() - started;

  const byName = new Map<string, { ms: number; calls: number; slowestMs: number; slowestCall: string }>();
  for (const kernel of info.kernels) {
    if (WRAPPER_KERNELS.has(kernel.name)) continue;
    const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
    const entry = byName.get(kernel.name) ?? { ms: 0, calls: 0, slowestMs: -1, slowestCall: '' };
    entry.ms += ms;
    entry.calls += 1;
    if (ms > entry.slowestMs) {
      entry.slowestMs = ms;
      entry.slowestCall = kernel.inputShapes.map((shape) => `[${(shape ?? []).join(',')}]`).join('×');
    }
    byName.set(kernel.name, entry);
  }

  const kernels = [...byName.entries()]
    .map(([name, entry]) => ({ name, ms: entry.ms, calls: entry.calls, slowestCall: entry.slowestCall }))
    .sort((a, b) => b.ms - a.ms);
  return {
    workload,
    backend: tf.getBackend(),
    wallMs,
    kernelMs: kernels.reduce((total, kernel) => total + kernel.ms, 0),
    kernelCalls: kernels.reduce((total, kernel) => total + kernel.calls, 0),
    kernels: kernels.slice(0, top),
  };
}
