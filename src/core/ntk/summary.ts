/** Turns a kernel and its blocks into the `ntk` event: spectra, statistics and drift. */
import type { Kernel, NtkResult } from './kernel.ts';
import { symmetricEigenvalues } from './eigenvalues.ts';
import { relativeFrobeniusDistance, spectrumStats, tracedKernel } from './spectrum.ts';
import type { NtkEvent } from '../events.ts';
import type { ThetaLayout } from '../model/lora.ts';

/** Returns a square kernel's eigenvalues, descending and clipped at 0. */
export function kernelEigenvalues(kernel: Kernel): Float64Array {
  return symmetricEigenvalues(kernel.values, kernel.rows * kernel.c);
}

/** Summarizes the NTK on the probe set at one step; `reference` is K₀ for the drift. */
export function summarizeNtk(
  result: NtkResult,
  layout: ThetaLayout,
  options: { step: number; lambda: number; reference: Kernel },
): NtkEvent {
  const { full } = result;
  const n = full.rows;
  const c = full.c;
  const statsOptions = { N: n, lambda: options.lambda };

  const eigenvalues = kernelEigenvalues(full);
  const traced = symmetricEigenvalues(tracedKernel(full.values, n, c), n);
  const blocks = result.blocks.map((block, i) => {
    const blockEigenvalues = kernelEigenvalues(block);
    const { layer, module } = layout.blocks[i] as ThetaLayout['blocks'][number];
    return {
      layer,
      module,
      eigenvalues: Array.from(blockEigenvalues),
      muMax: blockEigenvalues[0] ?? 0,
      trace: traceOf(block),
    };
  });

  return {
    type: 'ntk',
    step: options.step,
    n,
    c,
    lambda: options.lambda,
    eigenvalues: Array.from(eigenvalues),
    traced: Array.from(traced),
    stats: spectrumStats(eigenvalues, statsOptions),
    tracedStats: spectrumStats(traced, statsOptions),
    blocks,
    drift: relativeFrobeniusDistance(full.values, options.reference.values),
  };
}

function traceOf(kernel: Kernel): number {
  const size = kernel.rows * kernel.c;
  let total = 0;
  for (let i = 0; i < size; i++) total += kernel.values[i * size + i] as number;
  return total;
}
