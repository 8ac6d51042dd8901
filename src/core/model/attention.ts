/** Causal multi-head self-attention. */
import * as tf from '@tensorflow/tfjs';

import { matMul } from './matmul.ts';

import { linear } from './layers.ts';
import type { BlockParams } from './params.ts';

const NEG_INF = -1e9;

/** Returns a [T, T] additive mask: 0 on and below the diagonal, -1e9 above it. */
function causalMask(T: number): tf.Tensor2D {
  return tf.tidy(() => {
    const lower = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
    return tf.mul(tf.sub(1, lower), NEG_INF) as tf.Tensor2D;
  });
}

/** x: [B, T, C] → [B, T, C] */
export function causalSelfAttention(x: tf.Tensor3D, block: BlockParams, nHead: number): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const headDim = C / nHead;

  const splitHeads = (t: tf.Tensor): tf.Tensor4D =>
    t
      .reshape([B, T, nHead, headDim]) // [B, T, nHead, headDim]
      .transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, nHead, T, headDim]

  const q = splitHeads(linear(x, block.modules['attn.q']));
  const k = splitHeads(linear(x, block.modules['attn.k']));
  const v = splitHeads(linear(x, block.modules['attn.v']));

  const scores = tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(headDim)); // [B, nHead, T, T]
  const mask = causalMask(T);
  const weights = tf.softmax(tf.add(scores, mask)); // [B, nHead, T, T]
  mask.dispose();

  const heads = matMul(weights, v); // [B, nHead, T, headDim]
  const merged = heads
    .transpose([0, 2, 1, 3]) // [B, T, nHead, headDim]
    .reshape([B, T, C]); // [B, T, C]

  return linear(merged, block.modules['attn.c_proj']) as tf.Tensor3D;
}
