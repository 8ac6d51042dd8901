/**
 * The committed checkpoint: it loads, matches its config, and has learned
 * English (held-out bits per character well below the unigram baseline).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, test } from 'vitest';

import { loadBrownCorpus } from '../../src/cli/brown-files.ts';
import { loadCheckpoint, modelDir } from '../../src/cli/checkpoint-files.ts';
import type { PretrainReport } from '../../src/cli/pretrain-report.ts';
import { type Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import { pretrainingText, splitTexts } from '../../src/core/data/brown.ts';
import { countParameters } from '../../src/core/model/config.ts';
import { bitsPerChar, evenlySpacedWindows, unigramBitsPerChar } from '../../src/core/pretrain.ts';
import { DEFAULT_SPEC } from '../../src/core/spec.ts';

const DIR = modelDir(DEFAULT_SPEC.model);
let checkpoint: Checkpoint;
let report: PretrainReport;

beforeAll(async () => {
  await tf.setBackend('wasm');
  checkpoint = loadCheckpoint(DIR);
  report = JSON.parse(readFileSync(path.join(DIR, 'report.json'), 'utf8')) as PretrainReport;
});

describe('committed checkpoint', () => {
  test('has the documented size', () => {
    expect(checkpoint.config.nLayer).toBe(4);
    expect(checkpoint.config.nEmbd).toBe(64);
    expect(checkpoint.config.nPositions).toBe(128);
    expect(countParameters(checkpoint.config)).toBe(214_464);
  });

  test('report shows the full run', () => {
    expect(report.trainLoss).toHaveLength(report.options.steps);
    const last = report.heldOut.at(-1);
    expect(last?.step).toBe(report.options.steps);
  });

  test('beats the unigram baseline on held-out text', () => {
    const corpus = loadBrownCorpus();
    const split = splitTexts(corpus);
    const encode = (text: string): Int32Array => Int32Array.from(checkpoint.tokenizer.encode(text));
    const heldOut = encode(pretrainingText(corpus, split.heldOut));
    const pretrain = encode(pretrainingText(corpus, split.pretrain));
    const windowLength = checkpoint.config.nPositions + 1;

    const unigram = unigramBitsPerChar(pretrain, heldOut, checkpoint.tokenizer.size);
    const model = bitsPerChar(checkpoint.params, evenlySpacedWindows(heldOut, 8, windowLength), windowLength);

    expect(unigram).toBeGreaterThan(4);
    expect(model).toBeLessThan(unigram - 1.5);
  });
});
