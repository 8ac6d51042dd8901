/** One pre-LayerNorm transformer block. */
import * as tf from '@tensorflow/tfjs';

import { causalSelfAttention } from './attention.ts';
import type { GPTConfig } from './config.ts';
import { layerNorm } from './layers.ts';
import { mlp } from './mlp.ts';
import type { BlockParams } from './params.ts';

/** x: [B, T, C] → [B, T, C] */
export function block(x: tf.Tensor3D, params: BlockParams, config: GPTConfig): tf.Tensor3D {
  x = tf.add(x, causalSelfAttention(layerNorm(x, params.ln_1, config.layerNormEpsilon) as tf.Tensor3D, params, config.nHead));
  x = tf.add(x, mlp(layerNorm(x, params.ln_2, config.layerNormEpsilon) as tf.Tensor3D, params));
  return x;
}
