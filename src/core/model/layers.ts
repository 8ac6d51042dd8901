/** The small building blocks of the forward pass: affine maps, LayerNorm and GELU. */
import * as tf from '@tensorflow/tfjs';

import { matMul, matMulConstant } from './matmul.ts';

import type { LayerNormParams, Linear } from './params.ts';

/**
 * Applies y = x·W + b + scale·(x·Aᵀ)·Bᵀ over the last axis of x.
 *
 * When the weight is [B, in, out] or the LoRA factors are [B, r, in] and
 * [B, out, r], each example of x [B, T, in] uses its own copy. The
 * per-example Jacobian differentiates through such copies.
 */
export function linear(x: tf.Tensor, params: Linear): tf.Tensor {
  const perExample = params.weight.rank === 3 || params.lora?.A.rank === 3;
  if (perExample) return perExampleLinear(x as tf.Tensor3D, params);

  const inDim = params.weight.shape[0] as number;
  const outDim = params.weight.shape[1] as number;
  const leading = x.shape.slice(0, -1);

  const x2d = x.reshape([-1, inDim]); // [rows, in]
  const product = params.frozen === true ? matMulConstant(x2d, params.weight) : matMul(x2d, params.weight); // [rows, out]
  let y = tf.add(product, params.bias);

  if (params.lora !== undefined) {
    const { A, B, scale } = params.lora;
    const down = matMul(x2d, A, false, true); // [rows, r]
    const up = matMul(down, B, false, true); // [rows, out]
    y = tf.add(y, tf.mul(up, scale));
  }

  return y.reshape([...leading, outDim]);
}

/** x: [B, T, in] → [B, T, out], with per-example weights or LoRA factors. */
function perExampleLinear(x: tf.Tensor3D, params: Linear): tf.Tensor3D {
  const [B, T] = x.shape;

  let y: tf.Tensor;
  if (params.weight.rank === 3) {
    const bias = params.bias.reshape([B, 1, -1]); // [B, 1, out]
    y = tf.add(matMul(x, params.weight), bias); // [B, T, out]
  } else {
    const outDim = params.weight.shape[1] as number;
    y = tf.add(matMul(x.reshape([B * T, -1]), params.weight), params.bias).reshape([B, T, outDim]); // [B, T, out]
  }

  if (params.lora !== undefined) {
    const { A, B: loraB, scale } = params.lora;
    const down = matMul(x, A, false, true); // [B, T, r]
    const up = matMul(down, loraB, false, true); // [B, T, out]
    y = tf.add(y, tf.mul(up, scale));
  }

  return y as tf.Tensor3D;
}

/** Normalizes over the last axis with a learned gain and bias. */
export function layerNorm(x: tf.Tensor, params: LayerNormParams, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normalized = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normalized, params.weight), params.bias);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU with GPT-2's tanh approximation ("gelu_new"). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(GELU_C, tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}
