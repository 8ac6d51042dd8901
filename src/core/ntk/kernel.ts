/**
 * The empirical NTK K[(i,a),(j,b)] = Σ_p ∂f_a(xᵢ)/∂θ_p · ∂f_b(xⱼ)/∂θ_p,
 * assembled from explicit Jacobians, with one block per adapted
 * (layer, module): K = Σ_b J_b J_bᵀ. Rows and columns are ordered i·C + a.
 */
import * as tf from '@tensorflow/tfjs';

import { jacobian } from './jacobian.ts';
import type { BatchTensors } from '../finetune/encode.ts';
import type { PredictFn } from '../finetune/trainer.ts';
import type { ThetaLayout } from '../model/lora.ts';

/** A kernel between `rows` and `cols` examples, each with C logits. */
export interface Kernel {
  rows: number;
  cols: number;
  c: number;
  /** (rows·C) × (cols·C), row-major, float64. */
  values: Float64Array;
}

export interface NtkResult {
  /** The full kernel on the examples. */
  full: Kernel;
  /** One kernel per layout block, in layout order; they sum to `full`. */
  blocks: Kernel[];
}

function toKernel(values: tf.Tensor2D, rows: number, cols: number, c: number): Kernel {
  return { rows, cols, c, values: Float64Array.from(values.dataSync()) };
}

/** Returns J₁·J₂ᵀ as a kernel; J₂ defaults to J₁. */
export function kernelFromJacobians(J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): Kernel {
  const product = tf.tidy(() => tf.matMul(J1, J2, false, true) as tf.Tensor2D); // [rows·C, cols·C]
  const kernel = toKernel(product, J1.shape[0] / c, J2.shape[0] / c, c);
  product.dispose();
  return kernel;
}

/** Splits J's columns by layout block and returns each block's kernel J_b·J_bᵀ (or J₁_b·J₂_bᵀ). */
export function blockKernels(layout: ThetaLayout, J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): Kernel[] {
  return layout.blocks.map((block) => {
    const [left, right] = tf.tidy(() => [
      J1.slice([0, block.offset], [-1, block.size]) as tf.Tensor2D, // [rows·C, size_b]
      J2.slice([0, block.offset], [-1, block.size]) as tf.Tensor2D, // [cols·C, size_b]
    ]);
    const kernel = kernelFromJacobians(left as tf.Tensor2D, c, right as tf.Tensor2D);
    tf.dispose([left, right]);
    return kernel;
  });
}

/** Returns the kernel and its blocks from Jacobians already computed. */
export function ntkFromJacobians(layout: ThetaLayout, J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): NtkResult {
  return { full: kernelFromJacobians(J1, c, J2), blocks: blockKernels(layout, J1, c, J2) };
}

/**
 * Computes the empirical NTK of f at θ on a batch (train–train), or between
 * `batch` rows and `other` columns (e.g. eval–train), in the functional
 * style of neural-tangents' `empirical_ntk_fn`.
 */
export function empiricalNtk(
  predict: PredictFn,
  theta: readonly tf.Tensor[],
  batch: BatchTensors,
  options: { layout: ThetaLayout; numLabels: number; other?: BatchTensors },
): NtkResult {
  const { layout, numLabels, other } = options;
  const J1 = jacobian(predict, theta, batch, numLabels);
  const J2 = other === undefined ? J1 : jacobian(predict, theta, other, numLabels);
  const result = ntkFromJacobians(layout, J1, numLabels, J2);
  tf.dispose(other === undefined ? [J1] : [J1, J2]);
  return result;
}
