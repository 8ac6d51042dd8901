/**
 * Shared fixtures for the model and fine-tuning tests: a tiny random GPT,
 * its tokenizer, encoded batches and a few tensor comparisons.
 */
import * as tf from '@tensorflow/tfjs';

import type { Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import type { TaskDefinition } from '../../src/core/data/tasks.ts';
import { encodeExamples, toBatchTensors, type BatchTensors } from '../../src/core/finetune/encode.ts';
import { parseAdapterGrid } from '../../src/core/model/adapters.ts';
import type { GPTConfig } from '../../src/core/model/config.ts';
import type { AdapterOptions } from '../../src/core/model/lora.ts';
import { initParams, type GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';
import { DEFAULT_SPEC, type ExperimentSpec } from '../../src/core/spec.ts';

/** Two layers of width 16 and a context of 24 tokens: 8,528 weights. */
export const TINY_CONFIG: GPTConfig = {
  vocabSize: 97,
  nPositions: 24,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
};

export function createTinyParams(seed = 1): GPTParams {
  return initParams(TINY_CONFIG, seed);
}

/** Creates an in-memory checkpoint from random tiny weights and the ASCII tokenizer. */
export function createTinyCheckpoint(seed = 1): Checkpoint {
  return { config: TINY_CONFIG, tokenizer: CharTokenizer.ascii(), params: createTinyParams(seed) };
}

/** A two-class task definition for encoding hand-written examples. */
export const TOY_TASK: TaskDefinition = {
  name: 'afinn-valence',
  description: 'Hand-written test examples.',
  labels: ['negative', 'positive'],
  labelTokens: ['n', 'p'],
  promptSuffix: '\nA: ',
};

/** Short texts of different lengths, so that padding and answer positions vary. */
export const TOY_TEXTS: readonly string[] = ['good day', 'bad', 'a fine tale', 'awful rain', 'ok', 'dull talk'];

/** Encodes the first `count` TOY_TEXTS with labels 0, 1, 0, … as tensors, which the caller disposes. */
export function createToyBatch(tokenizer: CharTokenizer, count = TOY_TEXTS.length): BatchTensors {
  const examples = TOY_TEXTS.slice(0, count).map((text, i) => ({ text, label: i % 2, source: 'test' }));
  return toBatchTensors(encodeExamples(tokenizer, TOY_TASK, examples, TINY_CONFIG.nPositions));
}

/** Returns the label token ids of TOY_TASK as an int32 tensor. */
export function toyLabelIds(tokenizer: CharTokenizer): tf.Tensor1D {
  const ids = TOY_TASK.labelTokens.map((token) => tokenizer.tokenId(token) as number);
  return tf.tensor1d(ids, 'int32');
}

/** Returns LoRA options for a grid string, with r = 4 and α = 8 unless overridden. */
export function adapterOptions(grid: string, overrides: Partial<AdapterOptions> = {}): AdapterOptions {
  return {
    grid: parseAdapterGrid(grid),
    mode: 'lora',
    r: 4,
    loraAlpha: 8,
    rslora: false,
    init: 'kaiming',
    ...overrides,
  };
}

/** Returns a spec for the tiny model: AFINN valence, 16 + 16 examples, 5 steps, LoRA on q and v of both layers. */
export function tinySpec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return {
    ...DEFAULT_SPEC,
    task: 'afinn-valence',
    adapters: 'qv.qv',
    trainSize: 16,
    evalSize: 16,
    batchSize: 8,
    steps: 5,
    evalInterval: 5,
    probeSize: 8,
    ntkInterval: 0,
    ...overrides,
  };
}

/** Returns max |a − b| over two tensors of one shape. */
export function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`maxAbsDifference: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Returns max |x| over a tensor. */
export function maxAbs(x: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(x)).dataSync()[0] as number);
}

/** Fills a tensor of the given shape with seeded N(0, std²) values. */
export function seededNormal(shape: number[], std: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}
