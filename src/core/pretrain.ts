/**
 * Next-character pretraining of θ₀: the loss, the learning-rate schedule,
 * window sampling, held-out bits per character and a unigram baseline.
 */
import * as tf from '@tensorflow/tfjs';

import { lmLogits } from './model/gpt.ts';
import { oneHotFloat } from './model/one-hot.ts';
import { paramTensors, paramsFromList, type GPTParams } from './model/params.ts';
import { createAdam } from './optim.ts';
import { randomInt, type Rng } from './random.ts';

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  /** Tokens each window predicts; a window contains contextLength + 1 tokens. */
  contextLength: number;
  peakLr: number;
  warmupSteps: number;
  /** The cosine schedule ends at peakLr · finalLrRatio. */
  finalLrRatio: number;
  weightDecay: number;
}

export const DEFAULT_PRETRAIN_OPTIONS: PretrainOptions = {
  steps: 2400,
  batchSize: 32,
  contextLength: 128,
  peakLr: 2e-3,
  warmupSteps: 100,
  finalLrRatio: 0.1,
  weightDecay: 0,
};

/** Linear warmup, then cosine decay to peakLr · finalLrRatio at the last step. */
export function learningRateAt(step: number, options: PretrainOptions): number {
  const { peakLr, warmupSteps, steps, finalLrRatio } = options;
  if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, steps - warmupSteps));
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  return peakLr * (finalLrRatio + (1 - finalLrRatio) * cosine);
}

/** Draws `count` random windows of `length` tokens; returns them row-major. */
export function sampleWindows(tokens: Int32Array, count: number, length: number, rng: Rng): Int32Array {
  if (tokens.length < length) throw new Error(`the text has ${tokens.length} tokens, fewer than one window of ${length}`);
  const out = new Int32Array(count * length);
  for (let i = 0; i < count; i++) {
    const start = randomInt(rng, tokens.length - length + 1);
    out.set(tokens.subarray(start, start + length), i * length);
  }
  return out;
}

/** Picks `count` evenly spaced windows, so that evaluation is the same on every run. */
export function evenlySpacedWindows(tokens: Int32Array, count: number, length: number): Int32Array {
  if (tokens.length < length) throw new Error(`the text has ${tokens.length} tokens, fewer than one window of ${length}`);
  const out = new Int32Array(count * length);
  const stride = count > 1 ? (tokens.length - length) / (count - 1) : 0;
  for (let i = 0; i < count; i++) {
    const start = Math.floor(i * stride);
    out.set(tokens.subarray(start, start + length), i * length);
  }
  return out;
}

/** windows: [B, T+1] → mean next-token cross-entropy in nats. */
export function lmLoss(params: GPTParams, windows: tf.Tensor2D): tf.Scalar {
  const [B, length] = windows.shape;
  const T = length - 1;
  const inputs = windows.slice([0, 0], [B, T]); // [B, T]
  const targets = windows.slice([0, 1], [B, T]).reshape([B * T]); // [B*T]

  const logits = lmLogits(params, inputs as tf.Tensor2D).reshape([B * T, params.config.vocabSize]); // [B*T, V]
  const logProbs = tf.logSoftmax(logits); // [B*T, V]
  const picked = tf.sum(tf.mul(logProbs, oneHotFloat(targets as tf.Tensor1D, params.config.vocabSize)), 1); // [B*T]
  return tf.neg(tf.mean(picked));
}

/** Returns the held-out cross-entropy in bits per character over the given windows, in chunks. */
export function bitsPerChar(params: GPTParams, windows: Int32Array, length: number, chunk = 16): number {
  const count = windows.length / length;
  let totalNats = 0;
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const loss = tf.tidy(() => {
      const batch = tf.tensor2d(windows.subarray(start * length, (start + rows) * length), [rows, length], 'int32');
      return lmLoss(params, batch);
    });
    totalNats += (loss.dataSync()[0] as number) * rows;
    loss.dispose();
  }
  return totalNats / count / Math.LN2;
}

/**
 * Returns the unigram baseline: the cross-entropy, in bits per character, of a
 * character distribution fitted to the training text (with add-one
 * smoothing) on the held-out text.
 */
export function unigramBitsPerChar(trainTokens: Int32Array, heldOutTokens: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const token of trainTokens) counts[token] = (counts[token] as number) + 1;
  const total = trainTokens.length + vocabSize;
  let bits = 0;
  for (const token of heldOutTokens) bits -= Math.log2((counts[token] as number) / total);
  return bits / heldOutTokens.length;
}

/** An Adam loop over the model's own weights. */
export interface Pretrainer {
  /** Runs one step on windows [B, T+1] and returns the batch loss in nats. */
  step(windows: Int32Array, lr: number): number;
  /** Returns the current weights; the next step() disposes them, so use them before stepping again. */
  params(): GPTParams;
  dispose(): void;
}

export function createPretrainer(initial: GPTParams, options: PretrainOptions): Pretrainer {
  const adam = createAdam({ weightDecay: options.weightDecay });
  let theta = paramTensors(initial).map((tensor) => tensor.clone());
  const length = options.contextLength + 1;

  return {
    step(windows, lr) {
      const rows = windows.length / length;
      const batch = tf.tensor2d(windows, [rows, length], 'int32');
      const { value, grads } = tf.tidy(() => {
        const loss = (...tensors: tf.Tensor[]): tf.Scalar => lmLoss(paramsFromList(initial, tensors), batch);
        return tf.valueAndGrads(loss)(theta);
      });
      const next = adam.step(theta, grads, lr);
      tf.dispose([...theta, ...grads, batch]);
      theta = next;
      const loss = value.dataSync()[0] as number;
      value.dispose();
      return loss;
    },
    params: () => paramsFromList(initial, theta),
    dispose() {
      tf.dispose(theta);
      adam.dispose();
    },
  };
}

/** Samples text after a prompt, one character at a time, at the given temperature. */
export function sampleText(
  params: GPTParams,
  encode: (text: string) => number[],
  decode: (ids: number[]) => string,
  prompt: string,
  length: number,
  rng: Rng,
  temperature = 0.8,
): string {
  const ids = encode(prompt);
  for (let i = 0; i < length; i++) {
    const context = ids.slice(-params.config.nPositions);
    const probs = tf.tidy(() => {
      const logits = lmLogits(params, tf.tensor2d(context, [1, context.length], 'int32')); // [1, T, V]
      const last = logits.slice([0, context.length - 1, 0], [1, 1, params.config.vocabSize]).reshape([-1]);
      return tf.softmax(tf.div(last, temperature));
    });
    const values = probs.dataSync();
    probs.dispose();
    let u = rng();
    let next = values.length - 1;
    for (let token = 0; token < values.length; token++) {
      u -= values[token] as number;
      if (u <= 0) {
        next = token;
        break;
      }
    }
    ids.push(next);
  }
  return decode(ids.slice(encode(prompt).length));
}
