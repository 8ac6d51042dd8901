/**
 * Turns task examples into model inputs: token ids right-padded to a common
 * length, a one-hot mask at each answer position, and the labels.
 */
import * as tf from '@tensorflow/tfjs';

import type { Example, TaskDefinition } from '../data/tasks.ts';
import { oneHotFloat } from '../model/one-hot.ts';
import type { CharTokenizer } from '../model/tokenizer.ts';

export interface EncodedExamples {
  count: number;
  /** Common length T of every row. */
  length: number;
  /** [count, T] row-major, right-padded with the unknown token. */
  ids: Int32Array;
  /** The index of the last prompt character, whose next-token logits are read. */
  answerPositions: Int32Array;
  labels: Int32Array;
}

/** Returns the label token ids, checked to exist in the vocabulary. */
export function labelTokenIds(tokenizer: CharTokenizer, definition: TaskDefinition): number[] {
  return definition.labelTokens.map((token) => {
    const id = tokenizer.tokenId(token);
    if (id === undefined) {
      throw new Error(`task ${definition.name}: label token ${JSON.stringify(token)} is not in the tokenizer's vocabulary`);
    }
    return id;
  });
}

/**
 * Encodes `text + promptSuffix` for each example. A text too long for the
 * context keeps its start and loses its end, so the suffix always fits.
 */
export function encodeExamples(
  tokenizer: CharTokenizer,
  definition: TaskDefinition,
  examples: readonly Example[],
  contextLength: number,
): EncodedExamples {
  const suffix = tokenizer.encode(definition.promptSuffix);
  if (suffix.length >= contextLength) {
    throw new Error(`task ${definition.name}: the prompt suffix does not fit in a context of ${contextLength} tokens`);
  }
  const rows = examples.map((example) => [...tokenizer.encode(example.text).slice(0, contextLength - suffix.length), ...suffix]);
  const length = Math.max(1, ...rows.map((row) => row.length));

  const ids = new Int32Array(examples.length * length).fill(tokenizer.unkId);
  const answerPositions = new Int32Array(examples.length);
  const labels = new Int32Array(examples.length);
  rows.forEach((row, i) => {
    ids.set(row, i * length);
    answerPositions[i] = row.length - 1;
    labels[i] = (examples[i] as Example).label;
  });
  return { count: examples.length, length, ids, answerPositions, labels };
}

/**
 * A batch as tensors: ids [B, T] int32, answerMask [B, T] float32,
 * labels [B] int32, and each row's index in its split, so that the
 * linearized model can look up its precomputed Jacobian rows.
 */
export interface BatchTensors {
  split: string;
  ids: tf.Tensor2D;
  answerMask: tf.Tensor2D;
  labels: tf.Tensor1D;
  rowIndex: tf.Tensor1D;
}

export function toBatchTensors(encoded: EncodedExamples, split = 'examples'): BatchTensors {
  const { count, length } = encoded;
  return tf.tidy(() => ({
    split,
    ids: tf.tensor2d(encoded.ids, [count, length], 'int32'),
    answerMask: oneHotFloat(tf.tensor1d(encoded.answerPositions, 'int32'), length),
    labels: tf.tensor1d(encoded.labels, 'int32'),
    rowIndex: tf.range(0, count, 1, 'int32') as tf.Tensor1D,
  }));
}

/** Returns the row indices start, start + 1, …, end − 1. */
export function rowRange(start: number, end: number): Int32Array {
  return Int32Array.from({ length: end - start }, (_, i) => start + i);
}

/** Selects rows of a batch by index. */
export function gatherBatch(batch: BatchTensors, indices: Int32Array): BatchTensors {
  return tf.tidy(() => {
    const index = tf.tensor1d(indices, 'int32');
    return {
      split: batch.split,
      ids: tf.gather(batch.ids, index) as tf.Tensor2D,
      answerMask: tf.gather(batch.answerMask, index) as tf.Tensor2D,
      labels: tf.gather(batch.labels, index) as tf.Tensor1D,
      rowIndex: tf.gather(batch.rowIndex, index) as tf.Tensor1D,
    };
  });
}

export function disposeBatch(batch: BatchTensors): void {
  tf.dispose([batch.ids, batch.answerMask, batch.labels, batch.rowIndex]);
}
