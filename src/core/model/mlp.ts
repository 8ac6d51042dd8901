/** The position-wise feed-forward network at 4× width. */
import * as tf from '@tensorflow/tfjs';

import { gelu, linear } from './layers.ts';
import type { BlockParams } from './params.ts';

/** x: [B, T, C] → [B, T, C] */
export function mlp(x: tf.Tensor3D, block: BlockParams): tf.Tensor3D {
  const hidden = gelu(linear(x, block.modules['mlp.c_fc'])); // [B, T, 4C]
  return linear(hidden, block.modules['mlp.c_proj']) as tf.Tensor3D;
}
