import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { TINY_CONFIG, createTinyParams } from './fixtures.ts';
import { lmLogits } from '../../src/core/model/gpt.ts';
import { paramTensors, type GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';
import {
  DEFAULT_PRETRAIN_OPTIONS,
  bitsPerChar,
  createPretrainer,
  evenlySpacedWindows,
  learningRateAt,
  lmLoss,
  sampleText,
  sampleWindows,
  unigramBitsPerChar,
  type PretrainOptions,
} from '../../src/core/pretrain.ts';
import { createRng } from '../../src/core/random.ts';

const tokenizer = CharTokenizer.ascii();
const TEXT = 'The Fulton County Grand Jury said Friday an investigation of recent primary elections produced no evidence.\n';

let params: GPTParams;

beforeAll(async () => {
  await tf.setBackend('cpu');
  params = createTinyParams(2);
});

describe('learningRateAt', () => {
  const options: PretrainOptions = { ...DEFAULT_PRETRAIN_OPTIONS, steps: 100, warmupSteps: 10, peakLr: 1e-3, finalLrRatio: 0.1 };

  it('warms up linearly from peak/warmup', () => {
    expect(learningRateAt(0, options)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(4, options)).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(9, options)).toBeCloseTo(1e-3, 12);
  });

  it('starts the cosine at the peak', () => {
    expect(learningRateAt(10, options)).toBeCloseTo(1e-3, 12);
  });

  it('passes the midpoint halfway down', () => {
    // Halfway through the decay the cosine factor is ½: peak·(0.1 + 0.9·½).
    expect(learningRateAt(55, options)).toBeCloseTo(5.5e-4, 12);
  });

  it('ends at peak·finalLrRatio', () => {
    expect(learningRateAt(100, options)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(500, options)).toBeCloseTo(1e-4, 12);
  });

  it('decreases after warmup', () => {
    for (let step = 10; step < 100; step++) {
      expect(learningRateAt(step + 1, options), `step ${step}`).toBeLessThan(learningRateAt(step, options));
    }
  });

  it('starts at the peak without warmup', () => {
    expect(learningRateAt(0, { ...options, warmupSteps: 0 })).toBeCloseTo(1e-3, 12);
  });
});

describe('unigramBitsPerChar', () => {
  it('matches a hand example', () => {
    // Add-one counts over 3 tokens from train [0, 0, 1] are [3, 2, 1] of 6,
    // so held-out [0, 2] costs (log₂(6/3) + log₂(6/1)) / 2 bits per character.
    const bits = unigramBitsPerChar(Int32Array.from([0, 0, 1]), Int32Array.from([0, 2]), 3);
    expect(bits).toBeCloseTo((1 + Math.log2(6)) / 2, 12);
  });

  it('is log₂ V for an empty train text', () => {
    expect(unigramBitsPerChar(new Int32Array(0), Int32Array.from([1, 2, 3]), 8)).toBeCloseTo(3, 12);
  });
});

describe('windows', () => {
  const tokens = Int32Array.from({ length: 50 }, (_, i) => i);

  it('samples contiguous windows', () => {
    const windows = sampleWindows(tokens, 4, 10, createRng(3));
    expect(windows).toHaveLength(40);
    for (let row = 0; row < 4; row++) {
      const start = windows[row * 10] as number;
      expect(Array.from(windows.subarray(row * 10, row * 10 + 10)), `row ${row}`).toEqual(
        Array.from({ length: 10 }, (_, i) => start + i),
      );
      expect(start + 10, `row ${row}`).toBeLessThanOrEqual(50);
    }
  });

  it('repeats samples for a seed', () => {
    expect(sampleWindows(tokens, 4, 10, createRng(3))).toEqual(sampleWindows(tokens, 4, 10, createRng(3)));
  });

  it('spaces evaluation windows from start to end', () => {
    const windows = evenlySpacedWindows(tokens, 3, 10);
    expect(Array.from(windows.subarray(0, 10))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(windows[10]).toBe(20);
    expect(Array.from(windows.subarray(20))).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
  });

  it('rejects a text shorter than a window', () => {
    expect(() => sampleWindows(tokens, 1, 51, createRng(1))).toThrow('the text has 50 tokens, fewer than one window of 51');
    expect(() => evenlySpacedWindows(tokens, 1, 51)).toThrow('the text has 50 tokens, fewer than one window of 51');
  });
});

describe('lmLoss', () => {
  it('starts near ln V', () => {
    // GPT-2 init gives logits near 0, so the next-character distribution is near uniform.
    const windows = tf.tensor2d([tokenizer.encode(TEXT.slice(0, 17))], undefined, 'int32');
    const loss = tf.tidy(() => lmLoss(params, windows).dataSync()[0] as number);
    expect(Math.abs(loss - Math.log(TINY_CONFIG.vocabSize))).toBeLessThan(0.05);
  });

  it('predicts each next token', () => {
    const ids = tokenizer.encode(TEXT.slice(0, 9));
    const windows = tf.tensor2d([ids], undefined, 'int32');
    const logits = tf.tidy(() => lmLogits(params, tf.tensor2d([ids.slice(0, -1)], undefined, 'int32')).arraySync()[0] as number[][]);

    // Mean over positions t of −log softmax(logits_t)[ids[t + 1]], in float64.
    let total = 0;
    logits.forEach((row, t) => {
      const max = Math.max(...row);
      const logSumExp = max + Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0));
      total += logSumExp - (row[ids[t + 1] as number] as number);
    });
    const loss = tf.tidy(() => lmLoss(params, windows).dataSync()[0] as number);
    expect(loss).toBeCloseTo(total / logits.length, 5);
  });
});

describe('bitsPerChar', () => {
  it('weights chunks by their rows', () => {
    const tokens = Int32Array.from(tokenizer.encode(TEXT));
    const windows = evenlySpacedWindows(tokens, 3, 12);
    const whole = tf.tidy(() => lmLoss(params, tf.tensor2d(windows, [3, 12], 'int32')).dataSync()[0] as number);
    expect(bitsPerChar(params, windows, 12, 2)).toBeCloseTo(whole / Math.LN2, 5);
    expect(bitsPerChar(params, windows, 12, 1)).toBeCloseTo(whole / Math.LN2, 5);
  });
});

describe('createPretrainer', () => {
  const options: PretrainOptions = { ...DEFAULT_PRETRAIN_OPTIONS, steps: 6, batchSize: 2, contextLength: 16, warmupSteps: 0 };

  it('lowers the loss on a repeated batch', () => {
    const tokens = Int32Array.from(tokenizer.encode(TEXT));
    const windows = evenlySpacedWindows(tokens, 2, 17);
    const pretrainer = createPretrainer(params, options);
    const losses = Array.from({ length: 6 }, () => pretrainer.step(windows, 1e-2));
    pretrainer.dispose();

    expect(losses[0]).toBeGreaterThan(4);
    expect(losses[5]).toBeLessThan((losses[0] as number) - 0.5);
  });

  it('leaves the initial params unchanged', () => {
    const before = params.wte.dataSync().slice();
    const pretrainer = createPretrainer(params, options);
    pretrainer.step(evenlySpacedWindows(Int32Array.from(tokenizer.encode(TEXT)), 2, 17), 1e-2);
    const trained = pretrainer.params();

    expect(Array.from(params.wte.dataSync())).toEqual(Array.from(before));
    expect(trained.wte).not.toBe(params.wte);
    expect(Array.from(trained.wte.dataSync())).not.toEqual(Array.from(before));
    pretrainer.dispose();
  });

  it('frees its tensors', () => {
    const windows = evenlySpacedWindows(Int32Array.from(tokenizer.encode(TEXT)), 2, 17);
    const start = tf.memory().numTensors;
    const pretrainer = createPretrainer(params, options);
    pretrainer.step(windows, 1e-3);
    const afterFirst = tf.memory().numTensors;
    pretrainer.step(windows, 1e-3);
    pretrainer.step(windows, 1e-3);
    expect(tf.memory().numTensors).toBe(afterFirst);

    pretrainer.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('returns params in the template layout', () => {
    const pretrainer = createPretrainer(params, options);
    const trained = pretrainer.params();
    expect(paramTensors(trained).map((tensor) => tensor.shape)).toEqual(paramTensors(params).map((tensor) => tensor.shape));
    pretrainer.dispose();
  });
});

describe('sampleText', () => {
  it('generates the requested length', () => {
    const text = sampleText(params, (t) => tokenizer.encode(t), (ids) => tokenizer.decode(ids), 'The ', 5, createRng(1));
    expect([...text]).toHaveLength(5);
  });

  it('repeats for a seed', () => {
    const generate = (seed: number): string =>
      sampleText(params, (t) => tokenizer.encode(t), (ids) => tokenizer.decode(ids), 'The ', 5, createRng(seed));
    expect(generate(4)).toBe(generate(4));
  });

  it('keeps the tensor count', () => {
    const start = tf.memory().numTensors;
    sampleText(params, (t) => tokenizer.encode(t), (ids) => tokenizer.decode(ids), 'The ', 3, createRng(1));
    expect(tf.memory().numTensors).toBe(start);
  });
});
