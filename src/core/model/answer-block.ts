/**
 * The last transformer block, computed only at each example's answer
 * position.
 *
 * The verbalizer output f reads the final hidden state at one position per
 * example. Under the causal mask, that state depends on the last block's keys
 * and values at every position up to it, but on its query, attention output,
 * MLP and residual only at that position. So the last block runs its query,
 * attention, projection and MLP on one row per example. That is the same
 * function as the full block followed by the answer mask's selection.
 */
import * as tf from '@tensorflow/tfjs';

import { additiveMask, lowerTriangle } from './attention.ts';
import type { GPTConfig } from './config.ts';
import { layerNorm, linear } from './layers.ts';
import { mlp } from './mlp.ts';
import type { BlockParams, LayerNormParams } from './params.ts';

/** Selects the row of x [B, T, C] at each answer position of answerMask [B, T] (one-hot): [B, 1, C]. */
export function atAnswer(x: tf.Tensor3D, answerMask: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = answerMask.shape;
  return tf.sum(tf.mul(x, answerMask.reshape([B, T, 1])), 1, true) as tf.Tensor3D; // [B, 1, C]
}

/**
 * Computes the attention output at each answer position, [B, 1, C], from the
 * block's normalized input x [B, T, C]: one query per example, over the keys
 * at and before its answer position.
 */
function answerAttention(x: tf.Tensor3D, answerMask: tf.Tensor2D, params: BlockParams, nHead: number): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const headDim = C / nHead;

  const q = linear(atAnswer(x, answerMask), params.modules['attn.q']).reshape([B, 1, nHead, headDim]); // [B, 1, nHead, headDim]
  const k = linear(x, params.modules['attn.k']).reshape([B, T, nHead, headDim]); // [B, T, nHead, headDim]
  const v = linear(x, params.modules['attn.v']).reshape([B, T, nHead, headDim]); // [B, T, nHead, headDim]

  // Keys after the answer position are hidden: visible[b, t] = Σ_{t' ≥ t} answerMask[b, t'], which is 1 for t at or
  // before the answer position. It is a product with the lower triangle, not tf.cumsum(…, reverse), because tfjs
  // 4.22's WebGPU backend reuses a reverse cumsum shader compiled for one length at another, with wrong values.
  const visible = tf.matMul(answerMask, lowerTriangle(T)); // [B, T]
  const mask = additiveMask(visible).reshape([B, 1, T]); // [B, 1, T]

  const scores = tf.mul(tf.sum(tf.mul(q, k), 3), 1 / Math.sqrt(headDim)); // [B, T, nHead]
  const weights = tf.softmax(tf.add(scores.transpose([0, 2, 1]), mask)); // [B, nHead, T]
  const byKey = weights.transpose([0, 2, 1]).reshape([B, T, nHead, 1]); // [B, T, nHead, 1]
  const heads = tf.sum(tf.mul(byKey, v), 1); // [B, nHead, headDim]

  const merged = heads.reshape([B, 1, C]); // [B, 1, C]
  return linear(merged, params.modules['attn.c_proj']) as tf.Tensor3D;
}

/** Computes the block's output at each answer position, [B, 1, C], from its input x [B, T, C]. */
export function answerBlock(x: tf.Tensor3D, answerMask: tf.Tensor2D, params: BlockParams, config: GPTConfig): tf.Tensor3D {
  const norm = (t: tf.Tensor3D, ln: LayerNormParams): tf.Tensor3D => layerNorm(t, ln, config.layerNormEpsilon) as tf.Tensor3D;

  let h = tf.add(atAnswer(x, answerMask), answerAttention(norm(x, params.ln_1), answerMask, params, config.nHead)) as tf.Tensor3D;
  h = tf.add(h, mlp(norm(h, params.ln_2), params));
  return h; // [B, 1, C]
}
