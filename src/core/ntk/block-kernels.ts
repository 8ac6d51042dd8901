/**
 * The block kernels K_b = J_b·J_bᵀ of a Jacobian's column blocks, computed
 * on the tfjs backend and read back with a single asynchronous download.
 *
 * One download in place of one per block matters on GPU backends, where
 * each read waits for the queue. Each product is a plain matMul after an
 * explicit transpose, because tfjs 4.22's wasm backend runs matMul with
 * transposeB about 10× slower (see model/matmul.ts).
 */
import * as tf from '@tensorflow/tfjs';

import type { Kernel } from './kernel.ts';
import type { ThetaLayout } from '../model/lora.ts';

/** Returns each layout block's kernel J_b·J_bᵀ, in layout order, from J [rows·C, P]. */
export async function blockKernelsOneRead(layout: ThetaLayout, J: tf.Tensor2D, c: number): Promise<Kernel[]> {
  const size = J.shape[0];
  const rows = size / c;
  const blockCount = layout.blocks.length;
  if (blockCount === 0) return [];

  const stacked = tf.tidy(() => {
    const products = layout.blocks.map((block) => {
      const Jb = J.slice([0, block.offset], [-1, block.size]); // [rows·C, size_b]
      return tf.matMul(Jb, tf.transpose(Jb)); // [rows·C, rows·C]
    });
    return tf.stack(products); // [blocks, rows·C, rows·C]
  });

  let values: Float32Array;
  try {
    values = (await stacked.data()) as Float32Array;
  } finally {
    stacked.dispose();
  }

  const blockLength = size * size;
  return layout.blocks.map((_, index) => ({
    rows,
    cols: rows,
    c,
    values: Float64Array.from(values.subarray(index * blockLength, (index + 1) * blockLength)),
  }));
}
