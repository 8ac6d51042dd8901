/**
 * The affine map of a module whose θ has one copy per example, for the
 * per-example Jacobian (src/core/ntk/jacobian.ts), which differentiates with
 * respect to each copy separately.
 *
 * The copies are equal, because the Jacobian tiles θ. So the values and the
 * gradient with respect to x come from copy 0 in 2D products, as in the
 * shared model, and only each copy's own gradient is a batched product over
 * examples. The wasm backend of tfjs 4.22 runs a batched product in a scalar
 * loop (see attention-depthwise.ts): with all four products batched, they
 * took 22% of the kernel time of the NTK preview's Jacobian.
 */
import * as tf from '@tensorflow/tfjs';

import { matMul, matMulConstant } from './matmul.ts';

import type { Linear } from './params.ts';

/**
 * Multiplies x [B, T, in] by equal copies w [B, in, out]: x·w₀, [B, T, out]. Copy b's gradient is x_bᵀ·dy_b.
 * NOTE: copies that differ would still give copy 0's values, and nothing checks it.
 */
function copiesProduct(x: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor3D {
  const [B, T, inDim] = x.shape;
  const outDim = w.shape[2];

  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, copies, save] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    const shared = copies.slice([0, 0, 0], [1, inDim, outDim]).reshape([inDim, outDim]); // [in, out]
    save([input, shared]);

    return {
      value: tf.matMul(input.reshape([B * T, inDim]), shared).reshape([B, T, outDim]), // [B*T, out] → [B, T, out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, savedShared] = saved as [tf.Tensor3D, tf.Tensor2D];
        const dInput = matMul(dy.reshape([B * T, outDim]), savedShared, false, true).reshape([B, T, inDim]); // [B, T, in]
        const dCopies = matMul(savedInput, dy, true, false); // [B, in, T]·[B, T, out] → [B, in, out]
        return [dInput, dCopies];
      },
    };
  });

  return (product as (x: tf.Tensor3D, w: tf.Tensor3D) => tf.Tensor3D)(x, w);
}

/** Swaps the last two axes of each copy: [B, m, n] → [B, n, m]. */
function transposeCopies(t: tf.Tensor): tf.Tensor3D {
  return t.transpose([0, 2, 1]) as tf.Tensor3D;
}

/**
 * Applies the module to x [B, T, in], giving [B, T, out], with the weight
 * [B, in, out] and bias [B, out], or the LoRA factors [B, r, in] and
 * [B, out, r], copied per example.
 */
export function perExampleLinear(x: tf.Tensor3D, params: Linear): tf.Tensor3D {
  const [B, T] = x.shape;

  let y: tf.Tensor;
  if (params.weight.rank === 3) {
    const bias = params.bias.reshape([B, 1, -1]); // [B, 1, out]
    y = tf.add(copiesProduct(x, params.weight as tf.Tensor3D), bias); // [B, T, out]
  } else {
    const outDim = params.weight.shape[1] as number;
    const x2d = x.reshape([B * T, -1]); // [B*T, in]
    const product = params.frozen === true ? matMulConstant(x2d, params.weight) : matMul(x2d, params.weight); // [B*T, out]
    y = tf.add(product, params.bias).reshape([B, T, outDim]); // [B, T, out]
  }

  if (params.lora !== undefined) {
    const { A, B: loraB, scale } = params.lora;
    const down = copiesProduct(x, transposeCopies(A)); // [B, T, r]
    const up = copiesProduct(down, transposeCopies(loraB)); // [B, T, out]
    y = tf.add(y, tf.mul(up, scale));
  }

  return y as tf.Tensor3D;
}
