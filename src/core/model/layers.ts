/** The small building blocks of the forward pass: affine maps, LayerNorm and GELU. */
import * as tf from '@tensorflow/tfjs';

import { matMul } from './matmul.ts';

import type { LayerNormParams, Linear } from './params.ts';

/** Applies y = x·W + b + scale·(x·Aᵀ)·Bᵀ over the last axis of x. */
export function linear(x: tf.Tensor, params: Linear): tf.Tensor {
  const inDim = params.weight.shape[0];
  const outDim = params.weight.shape[1];
  const leading = x.shape.slice(0, -1);

  const x2d = x.reshape([-1, inDim]); // [rows, in]
  let y = tf.add(matMul(x2d, params.weight), params.bias); // [rows, out]

  if (params.lora !== undefined) {
    const { A, B, scale } = params.lora;
    const down = matMul(x2d, A, false, true); // [rows, r]
    const up = matMul(down, B, false, true); // [rows, out]
    y = tf.add(y, tf.mul(up, scale));
  }

  return y.reshape([...leading, outDim]);
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
