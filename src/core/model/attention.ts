/** Causal multi-head self-attention. */
import * as tf from '@tensorflow/tfjs';

import { matMul } from './matmul.ts';

import { depthwiseAttention } from './attention-depthwise.ts';
import { linear } from './layers.ts';
import type { BlockParams } from './params.ts';

const NEG_INF = -1e9;

/** Returns the [T, T] lower triangle of ones: 1 on and below the diagonal, 0 above it. */
export function lowerTriangle(T: number): tf.Tensor2D {
  return tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
}

/** Turns a 0/1 visibility tensor into an additive attention mask: 0 where visible, -1e9 where hidden. */
export function additiveMask(visible: tf.Tensor): tf.Tensor {
  return tf.mul(tf.sub(1, visible), NEG_INF);
}

/** Returns a [T, T] additive mask: 0 on and below the diagonal, -1e9 above it. */
function causalMask(T: number): tf.Tensor2D {
  return tf.tidy(() => additiveMask(lowerTriangle(T)) as tf.Tensor2D);
}

/** q, k, v: [B, T, nHead, headDim] → softmax(q·kᵀ/√headDim + mask)·v per head, [B, T, nHead, headDim]. */
function batchedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const headDim = q.shape[3];
  const byHead = (t: tf.Tensor4D): tf.Tensor4D => t.transpose([0, 2, 1, 3]); // [B, nHead, T, headDim]

  const scores = tf.mul(matMul(byHead(q), byHead(k), false, true), 1 / Math.sqrt(headDim)); // [B, nHead, T, T]
  const weights = tf.softmax(tf.add(scores, mask)); // [B, nHead, T, T]
  const heads = matMul(weights, byHead(v)); // [B, nHead, T, headDim]
  return heads.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, T, nHead, headDim]
}

/**
 * x: [B, T, C] → [B, T, C]. On the wasm backend the per-head products run as
 * depthwise convolutions (see attention-depthwise.ts) because its batched
 * matmul is several times slower. Other backends use batched matmuls.
 */
export function causalSelfAttention(x: tf.Tensor3D, block: BlockParams, nHead: number): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const headDim = C / nHead;
  const splitHeads = (t: tf.Tensor): tf.Tensor4D => t.reshape([B, T, nHead, headDim]); // [B, T, nHead, headDim]

  const q = splitHeads(linear(x, block.modules['attn.q']));
  const k = splitHeads(linear(x, block.modules['attn.k']));
  const v = splitHeads(linear(x, block.modules['attn.v']));

  const mask = causalMask(T);
  const attend = tf.getBackend() === 'wasm' ? depthwiseAttention : batchedAttention;
  const heads = attend(q, k, v, mask); // [B, T, nHead, headDim]
  mask.dispose();

  const merged = heads.reshape([B, T, C]); // [B, T, C]
  return linear(merged, block.modules['attn.c_proj']) as tf.Tensor3D;
}
