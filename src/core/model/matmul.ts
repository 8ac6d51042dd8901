/**
 * Matrix multiplication with explicit transposes, forward and backward.
 *
 * The tfjs 4.22 wasm backend runs `tf.matMul` with transposeA or transposeB
 * about 10× slower than a `tf.transpose` followed by a plain product
 * (63 ms against 6 ms for [4096, 64]ᵀ·[4096, 256] in Node 20). The built-in
 * MatMul gradient uses exactly those transposed products, so this op gives
 * both directions the fast form.
 */
import * as tf from '@tensorflow/tfjs';

/** Swaps the last two axes: [..., m, n] → [..., n, m]. */
function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const rank = x.rank;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return tf.transpose(x, perm);
}

const plainMatMul = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(dy, swapLastAxes(savedB)), tf.matMul(swapLastAxes(savedA), dy)];
    },
  };
});

/**
 * Multiplies a·b with b a constant: the backward pass computes only
 * dy·bᵀ, not the gradient of b, which tf.customGrad would otherwise compute
 * eagerly for every input. No gradient flows to b, so pass only a tensor
 * that is not differentiated, such as a frozen weight.
 */
export function matMulConstant(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x] = inputs as [tf.Tensor];
    return {
      value: tf.matMul(x, b),
      gradFunc: (dy: tf.Tensor) => tf.matMul(dy, swapLastAxes(b)),
    };
  });
  return (product as (a: tf.Tensor) => tf.Tensor)(a);
}

/**
 * Multiplies a·b over the last two axes; a and b must have equal batch axes
 * (no broadcasting).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const left = transposeA ? swapLastAxes(a) : a;
  const right = transposeB ? swapLastAxes(b) : b;
  return (plainMatMul as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(left, right);
}
