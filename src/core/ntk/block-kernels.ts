/**
 * The block kernels K_b = J₁_b·J₂_bᵀ of two Jacobians' column blocks (J₂
 * defaults to J₁), computed on the tfjs backend and read back with
 * concurrent asynchronous reads, in place of one awaited read per block.
 *
 * On wasm each product is a plain matMul after an explicit transpose,
 * because tfjs 4.22's wasm backend runs matMul with transposeB about 10×
 * slower (see model/matmul.ts). Other backends use transposeB, which cost
 * less than the transpose on WebGL in Chromium 156 (SwiftShader).
 */
import * as tf from '@tensorflow/tfjs';

import type { Kernel } from './kernel.ts';
import type { ThetaLayout } from '../model/lora.ts';

/** Returns each layout block's kernel in layout order, as blockKernels in kernel.ts does, from J₁ [rows·C, P] and J₂ [cols·C, P]. */
export async function blockKernelsAsync(layout: ThetaLayout, J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): Promise<Kernel[]> {
  const rows = J1.shape[0] / c;
  const cols = J2.shape[0] / c;

  const transposeFirst = tf.getBackend() === 'wasm';
  const products = tf.tidy(() =>
    layout.blocks.map((block) => {
      const left = J1.slice([0, block.offset], [-1, block.size]); // [rows·C, size_b]
      const right = J2.slice([0, block.offset], [-1, block.size]); // [cols·C, size_b]
      return transposeFirst ? tf.matMul(left, tf.transpose(right)) : tf.matMul(left, right, false, true); // [rows·C, cols·C]
    }),
  );

  let values: Float32Array[];
  try {
    // Every read is requested before any is awaited, so that on a GPU backend the reads can overlap.
    values = (await Promise.all(products.map((product) => product.data()))) as Float32Array[];
  } finally {
    tf.dispose(products);
  }

  return values.map((blockValues) => ({ rows, cols, c, values: Float64Array.from(blockValues) }));
}
