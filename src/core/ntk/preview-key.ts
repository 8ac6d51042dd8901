/**
 * The spec fields that decide the NTK preview's block kernels at θ₀. This
 * module imports only a type, so the page can tell which settings change the
 * preview without bundling tfjs, which preview.ts needs.
 */
import type { SpecKey } from '../spec.ts';

/**
 * The spec fields that change the block kernels: the probe examples (task,
 * seed and all three sizes, because the eval share decides which Brown texts
 * feed the train split), the model, and θ₀ (mode, rank, scale, init).
 * λ and the adapter choice do not.
 */
export const BLOCK_KERNEL_FIELDS = [
  'task',
  'model',
  'mode',
  'r',
  'loraAlpha',
  'rslora',
  'init',
  'seed',
  'trainSize',
  'evalSize',
  'probeSize',
] as const satisfies readonly SpecKey[];
