/**
 * One-hot rows in float32, with a float32 buffer on every backend.
 *
 * Two tfjs 4.22 kernels make each obvious form wrong on one backend. The
 * wasm OneHot kernel writes int32 values whatever dtype it is given, so
 * `tf.oneHot(…, 'float32')` reads as zeros there. And `tf.cast` from int32 to
 * float32 only relabels the int32 buffer on WebGPU. A kernel that copies the
 * values unchanged, such as Transpose in the backward pass of a product with
 * the one-hot, then fails to compile its shader. WebGPU drops the whole
 * command buffer, so every result computed in it is wrong, with no exception.
 * So wasm casts an int32 one-hot (its Cast kernel converts), and the other
 * backends ask OneHot for float32. A backend-neutral form, `tf.where` over `tf.equal`,
 * took 7 ms per [2048, 97] one-hot on wasm, 6% of the NTK's kernel time.
 */
import * as tf from '@tensorflow/tfjs';

/** Returns the one-hot rows of indices [N] (int32): [N, depth] in float32, 1 at (n, indices[n]) and 0 elsewhere. */
export function oneHotFloat(indices: tf.Tensor1D, depth: number): tf.Tensor2D {
  if (tf.getBackend() === 'wasm') {
    return tf.tidy(() => tf.cast(tf.oneHot(indices, depth), 'float32')) as tf.Tensor2D;
  }
  return tf.oneHot(indices, depth, 1, 0, 'float32') as tf.Tensor2D;
}
