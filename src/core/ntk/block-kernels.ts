/**
 * The block kernels K_b = J_b·J_bᵀ of a Jacobian's column blocks, computed
 * on the tfjs backend and read back with concurrent asynchronous reads, in
 * place of one awaited read per block.
 *
 * On wasm each product is a plain matMul after an explicit transpose,
 * because tfjs 4.22's wasm backend runs matMul with transposeB about 10×
 * slower (see model/matmul.ts). Other backends use transposeB, which cost
 * less than the transpose on WebGL in Chromium 156 (SwiftShader).
 */
import * as tf from '@tensorflow/tfjs';

import type { Kernel } from './kernel.ts';
import type { ThetaLayout } from '../model/lora.ts';

/** Returns each layout block's kernel J_b·J_bᵀ, in layout order, from J [rows·C, P]. */
export async function blockKernelsConcurrentAsync(layout: ThetaLayout, J: tf.Tensor2D, c: number): Promise<Kernel[]> {
  const size = J.shape[0];
  const rows = size / c;

  const transposeFirst = tf.getBackend() === 'wasm';
  const products = tf.tidy(() =>
    layout.blocks.map((block) => {
      const Jb = J.slice([0, block.offset], [-1, block.size]); // [rows·C, size_b]
      return transposeFirst ? tf.matMul(Jb, tf.transpose(Jb)) : tf.matMul(Jb, Jb, false, true); // [rows·C, rows·C]
    }),
  );

  let values: Float32Array[];
  try {
    // Every read is requested before any is awaited, so that on a GPU backend the reads can overlap.
    values = (await Promise.all(products.map((product) => product.data()))) as Float32Array[];
  } finally {
    tf.dispose(products);
  }

  return values.map((blockValues) => ({ rows, cols: rows, c, values: Float64Array.from(blockValues) }));
}
