/**
 * The GPT-2-style decoder: token and position embeddings, a stack of
 * blocks, a final LayerNorm and an LM head tied to the token embedding.
 */
import * as tf from '@tensorflow/tfjs';

import { matMul } from './matmul.ts';

import { answerBlock } from './answer-block.ts';
import { block } from './block.ts';
import { layerNorm } from './layers.ts';
import { oneHotFloat } from './one-hot.ts';
import type { BlockParams, GPTParams } from './params.ts';

/** Embeds ids [B, T] (int32): token plus position embeddings, [B, T, C]. */
function embed(params: GPTParams, ids: tf.Tensor2D): tf.Tensor3D {
  const { config } = params;
  const [B, T] = ids.shape;
  if (T > config.nPositions) {
    throw new Error(`the input has ${T} tokens but the model's context is ${config.nPositions}`);
  }

  // A one-hot matmul rather than tf.gather: gather's gradient needs
  // UnsortedSegmentSum, which the wasm backend of tfjs 4.22 lacks.
  const oneHot = oneHotFloat(ids.reshape([B * T]), config.vocabSize); // [B*T, V]
  const tokenEmbeddings = matMul(oneHot, params.wte).reshape([B, T, config.nEmbd]); // [B, T, C]
  const positionEmbeddings = params.wpe.slice([0, 0], [T, config.nEmbd]); // [T, C]
  return tf.add(tokenEmbeddings, positionEmbeddings) as tf.Tensor3D; // [B, T, C]
}

/** ids: [B, T] int32 → final hidden states [B, T, C], after ln_f. */
export function hiddenStates(params: GPTParams, ids: tf.Tensor2D): tf.Tensor3D {
  let x = embed(params, ids); // [B, T, C]

  for (const blockParams of params.h) {
    x = block(x, blockParams, params.config);
  }

  return layerNorm(x, params.ln_f, params.config.layerNormEpsilon) as tf.Tensor3D;
}

/** ids: [B, T] → next-token logits [B, T, vocabSize]. */
export function lmLogits(params: GPTParams, ids: tf.Tensor2D): tf.Tensor3D {
  const h = hiddenStates(params, ids); // [B, T, C]
  const [B, T, C] = h.shape;
  const logits = matMul(h.reshape([B * T, C]), params.wte, false, true); // [B*T, V]
  return logits.reshape([B, T, params.config.vocabSize]); // [B, T, V]
}

/**
 * Computes the final hidden state after ln_f at each answer position, [B, C],
 * from ids [B, T] (int32) and answerMask [B, T] (one-hot). The last block runs
 * at the answer positions only (see answer-block.ts).
 */
export function answerHiddenStates(params: GPTParams, ids: tf.Tensor2D, answerMask: tf.Tensor2D): tf.Tensor2D {
  const [B] = ids.shape;
  const C = params.config.nEmbd;
  let x = embed(params, ids); // [B, T, C]

  const last = params.h.length - 1;
  for (const blockParams of params.h.slice(0, last)) {
    x = block(x, blockParams, params.config);
  }
  const atAnswer = answerBlock(x, answerMask, params.h[last] as BlockParams, params.config); // [B, 1, C]

  return layerNorm(atAnswer.reshape([B, C]), params.ln_f, params.config.layerNormEpsilon) as tf.Tensor2D; // [B, C]
}

/**
 * The verbalizer output f(x) ∈ ℝ^C: the next-token logits of the label tokens
 * at each example's answer position.
 *
 * ids: [B, T] int32; answerMask: [B, T] one-hot at the answer position;
 * labelIds: the C label token ids. Returns [B, C].
 */
export function verbalizerLogits(
  params: GPTParams,
  ids: tf.Tensor2D,
  answerMask: tf.Tensor2D,
  labelIds: tf.Tensor1D,
): tf.Tensor2D {
  const answerHidden = answerHiddenStates(params, ids, answerMask); // [B, C]
  const labelSelector = oneHotFloat(labelIds, params.config.vocabSize); // [numLabels, V]
  const labelEmbeddings = matMul(labelSelector, params.wte); // [numLabels, C]
  return matMul(answerHidden, labelEmbeddings, false, true) as tf.Tensor2D; // [B, numLabels]
}
