/**
 * The NTK preview before training: the kernel K_b at θ₀ of every
 * (layer, module) block of the model on the probe set, computed once from one
 * Jacobian, and the spectrum of any subset K_S = Σ_{b∈S} K_b summed from them.
 *
 * The sum is exact, not an approximation, because a block's Jacobian at θ₀
 * does not depend on which other blocks are adapted. In LoRA mode every B
 * starts at 0, so the other blocks leave the forward pass at θ₀ unchanged. In
 * full mode θ₀ is the pretrained weights themselves. Each block's initial
 * values come from a seed derived from its own name (see initTheta), so the
 * block has the same θ₀ in every subset.
 */
import { blockKernelsAsync } from './block-kernels.ts';
import { jacobianAsync } from './jacobian.ts';
import type { Kernel } from './kernel.ts';
import { BLOCK_KERNEL_FIELDS } from './preview-key.ts';
import { symmetricEigenvalues } from './eigenvalues.ts';
import { addMatrices, spectrumStats, weylBounds } from './spectrum.ts';
import type { PreviewEvent } from '../events.ts';
import { checkAdapterGridLayers, listAdapterBlocks, parseAdapterGrid, type AdapterGrid } from '../model/adapters.ts';
import { MODULE_LETTERS, MODULES, type ModuleName } from '../model/modules.ts';
import { FineTuneRun, type RunnerInputs } from '../runner.ts';
import type { ExperimentSpec } from '../spec.ts';
import { throwIfCancelled, yieldToEventLoop, type TaskControl } from '../task-control.ts';

/** The kernel of one (layer, module) block on the probe set at θ₀. */
export interface BlockKernel {
  layer: number;
  module: ModuleName;
  /** J_b·J_bᵀ, (n·c) × (n·c), row-major, rows ordered i·c + a. */
  values: Float64Array;
  /** Eigenvalues of `values`, descending, clipped at 0. */
  eigenvalues: Float64Array;
  trace: number;
}

/** Every block's kernel at θ₀, in layer-then-module order. */
export interface BlockKernels {
  /** The spec fields that determined these kernels, from blockKernelKey. */
  key: string;
  nLayer: number;
  /** Probe examples. */
  n: number;
  /** Logits per example. */
  c: number;
  blocks: BlockKernel[];
}

/** Returns a string that is equal for two specs exactly when their block kernels are equal. */
export function blockKernelKey(spec: ExperimentSpec): string {
  return JSON.stringify(BLOCK_KERNEL_FIELDS.map((field) => spec[field]));
}

/** Returns the grid that adapts every module on each of nLayer layers, such as "qkvofp.qkvofp". */
export function allBlocksGrid(nLayer: number): string {
  const everyModule = MODULES.map((module) => MODULE_LETTERS[module]).join('');
  return Array<string>(nLayer).fill(everyModule).join('.');
}

/** The steps of computeBlockKernels, in order, as its onPhase callback names them when each one ends. */
export type BlockKernelPhase = 'setup' | 'jacobian' | 'kernels' | 'eigen';

/** Progress, cancellation and an optional callback at the end of each step. */
export interface BlockKernelControl extends TaskControl {
  onPhase?: (phase: BlockKernelPhase) => void;
}

/**
 * Computes the kernel of every block of the model at θ₀ on the spec's probe
 * set. Progress counts the probe examples of the Jacobian, then one unit per
 * block eigendecomposition. On cancellation it frees every tensor it made and
 * throws a CancelledError.
 */
export async function computeBlockKernels(
  spec: ExperimentSpec,
  inputs: RunnerInputs,
  control: BlockKernelControl = {},
): Promise<BlockKernels> {
  const nLayer = inputs.checkpoint.config.nLayer;
  const run = FineTuneRun.create({ ...spec, adapters: allBlocksGrid(nLayer), linearized: false }, inputs);
  control.onPhase?.('setup');
  try {
    const n = run.probe.labels.shape[0];
    const c = run.numLabels;
    const blockCount = run.layout.blocks.length;
    const total = n + blockCount;

    const J = await jacobianAsync(run.predict, run.theta, run.probe, c, {
      signal: control.signal,
      onProgress: (done) => control.onProgress?.(done, total),
    }); // [n·c, P]
    control.onPhase?.('jacobian');
    let kernels: Kernel[];
    try {
      kernels = await blockKernelsAsync(run.layout, J, c);
    } finally {
      J.dispose();
    }
    control.onPhase?.('kernels');

    const blocks: BlockKernel[] = [];
    for (const [index, kernel] of kernels.entries()) {
      throwIfCancelled(control.signal, 'the block kernels');
      const { layer, module } = run.layout.blocks[index] as (typeof run.layout.blocks)[number];
      blocks.push({
        layer,
        module,
        values: kernel.values,
        eigenvalues: symmetricEigenvalues(kernel.values, n * c),
        trace: matrixTrace(kernel.values, n * c),
      });
      control.onProgress?.(n + index + 1, total);
      await yieldToEventLoop();
    }
    control.onPhase?.('eigen');
    return { key: blockKernelKey(spec), nLayer, n, c, blocks };
  } finally {
    run.dispose();
  }
}

/**
 * Returns the indices into blockKernels.blocks of the blocks that `adapters`
 * enables. A grid of "-" groups only, such as "-.-.-.-", is the empty subset.
 * Throws for an invalid grid or one whose layer count differs from the model's.
 */
export function subsetMembers(kernels: BlockKernels, adapters: string): number[] {
  const groups = adapters.split('.');
  const grid: AdapterGrid = groups.every((group) => group === '-') ? groups.map(() => []) : parseAdapterGrid(adapters);
  checkAdapterGridLayers(grid, kernels.nLayer);

  return listAdapterBlocks(grid).map(({ layer, module }) => {
    const index = kernels.blocks.findIndex((block) => block.layer === layer && block.module === module);
    if (index < 0) throw new Error(`the block kernels have no block for layer ${layer} ${module}`);
    return index;
  });
}

/** Returns K_S = Σ_{b∈S} K_b for the blocks that `adapters` enables, or null for the empty subset. */
export function subsetKernel(kernels: BlockKernels, adapters: string): Float64Array | null {
  const members = subsetMembers(kernels, adapters);
  if (members.length === 0) return null;
  return addMatrices(members.map((member) => (kernels.blocks[member] as BlockKernel).values));
}

/** Sums the subset's block kernels and returns its spectrum, statistics and Weyl bounds as a preview event. */
export function subsetPreview(kernels: BlockKernels, adapters: string, lambda: number): PreviewEvent {
  const { n, c } = kernels;
  const members = subsetMembers(kernels, adapters);
  const blockEigenvalues = kernels.blocks.map((block) => block.eigenvalues);

  let eigenvalues: Float64Array = new Float64Array(0);
  if (members.length > 0) {
    const kernel = addMatrices(members.map((member) => (kernels.blocks[member] as BlockKernel).values));
    eigenvalues = symmetricEigenvalues(kernel, n * c);
  }

  return {
    type: 'preview',
    adapters,
    n,
    c,
    lambda,
    blocks: kernels.blocks.map((block) => ({
      layer: block.layer,
      module: block.module,
      muMax: block.eigenvalues[0] ?? 0,
      trace: block.trace,
      eigenvalues: Array.from(block.eigenvalues),
    })),
    eigenvalues: Array.from(eigenvalues),
    stats: members.length === 0 ? null : spectrumStats(eigenvalues, { N: n, lambda }),
    weyl: weylBounds(blockEigenvalues, members),
  };
}

function matrixTrace(values: Float64Array, size: number): number {
  let total = 0;
  for (let i = 0; i < size; i++) total += values[i * size + i] as number;
  return total;
}
