/**
 * The Node entry points as a user runs them: real processes, real files,
 * one clear line and a non-zero exit on bad input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { saveCheckpoint } from '../../src/cli/checkpoint-files.ts';
import { decodeCheckpoint } from '../../src/core/checkpoint/checkpoint.ts';
import { decodeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { initParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';

const TSX = path.resolve('node_modules/.bin/tsx');
const MODEL = `tmp-cli-test-${process.pid}`;
const MODEL_DIR = path.resolve('public/models', MODEL);
const BAD_MODEL = `tmp-cli-bad-${process.pid}`;
const BAD_DIR = path.resolve('public/models', BAD_MODEL);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Result {
  const result = spawnSync(TSX, [script, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const lab = (...args: string[]): Result => run('src/cli/lab.ts', args);

/** Returns the stderr lines, which must be one line and carry no stack trace. */
function expectOneLineError(result: Result): string {
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const tokenizer = CharTokenizer.ascii();
  const config = { vocabSize: tokenizer.size, nPositions: 64, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
  await saveCheckpoint(MODEL_DIR, { config, tokenizer, params: initParams(config, 7) });
});

afterAll(() => {
  rmSync(MODEL_DIR, { recursive: true, force: true });
  rmSync(BAD_DIR, { recursive: true, force: true });
});

describe('lab run', () => {
  test('streams config, eval, step and done events', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'lab-')), 'events.jsonl');
    const result = lab(
      'run',
      '--backend', 'cpu',
      '--set', `model=${MODEL}`,
      '--set', 'adapters=qv.qv',
      '--set', 'steps=3',
      '--set', 'trainSize=16',
      '--set', 'evalSize=16',
      '--set', 'evalInterval=2',
      '--out', out,
    );

    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; step?: number; model?: string });
    const stepsOf = (type: string, model: string): (number | undefined)[] =>
      events.filter((event) => event.type === type && event.model === model).map((event) => event.step);
    expect(events[0]?.type).toBe('config');
    expect(events.at(-1)?.type).toBe('done');
    expect(stepsOf('step', 'real')).toEqual([1, 2, 3]);
    expect(stepsOf('step', 'linear')).toEqual([1, 2, 3]);
    expect(stepsOf('eval', 'real')).toEqual([0, 0, 2, 2, 3, 3]);
    expect(stepsOf('eval', 'linear')).toEqual([0, 0, 2, 2, 3, 3]);
    expect(events.filter((event) => event.type === 'divergence').map((event) => event.step)).toEqual([0, 2, 3]);
    expect(readFileSync(out, 'utf8')).toBe(result.stdout);
  });

  test('--set without = is rejected', () => {
    const result = lab('run', '--set', 'steps');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/expected key=value/);
  });

  test('an unknown task is rejected', () => {
    const result = lab('run', '--set', 'task=brown-genre-9');
    expect(result.code).not.toBe(0);
    const line = expectOneLineError(result);
    expect(line).toMatch(/task: got "brown-genre-9"/);
    expect(line).toMatch(/brown-genre-2/);
  });

  test('out-of-range and unknown fields are all listed', () => {
    const result = lab('run', '--set', 'steps=-1', '--set', 'lr=abc', '--set', 'colour=red');
    expect(result.code).not.toBe(0);
    const line = expectOneLineError(result);
    expect(line).toMatch(/steps: got/);
    expect(line).toMatch(/lr: got/);
    expect(line).toMatch(/colour: unknown field/);
  });

  test('a spec file that is not JSON is rejected', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'lab-')), 'spec.json');
    writeFileSync(file, '{"steps": 3,');
    const result = lab('run', '--spec', file);
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/not valid JSON/);
  });

  test('a missing model folder is reported', () => {
    const result = lab('run', '--backend', 'cpu', '--set', 'model=no-such-model');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/checkpoint folder not found/);
  });

  test('truncated weights are reported', () => {
    mkdirSync(BAD_DIR, { recursive: true });
    for (const file of ['config.json', 'tokenizer.json']) writeFileSync(path.join(BAD_DIR, file), readFileSync(path.join(MODEL_DIR, file)));
    const weights = readFileSync(path.join(MODEL_DIR, 'model.safetensors'));
    writeFileSync(path.join(BAD_DIR, 'model.safetensors'), weights.subarray(0, weights.length - 100));

    const result = lab('run', '--backend', 'cpu', '--set', `model=${BAD_MODEL}`, '--set', 'adapters=qv.qv');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/model\.safetensors/);
  });

  test('corrupt weights are reported', () => {
    mkdirSync(BAD_DIR, { recursive: true });
    for (const file of ['config.json', 'tokenizer.json']) writeFileSync(path.join(BAD_DIR, file), readFileSync(path.join(MODEL_DIR, file)));
    const weights = Buffer.from(readFileSync(path.join(MODEL_DIR, 'model.safetensors')));
    weights.fill(0x7b, 8, 40);
    writeFileSync(path.join(BAD_DIR, 'model.safetensors'), weights);

    const result = lab('run', '--backend', 'cpu', '--set', `model=${BAD_MODEL}`, '--set', 'adapters=qv.qv');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/model\.safetensors/);
  });

  test('a config that does not match the weights is reported', () => {
    mkdirSync(BAD_DIR, { recursive: true });
    for (const file of ['tokenizer.json', 'model.safetensors']) writeFileSync(path.join(BAD_DIR, file), readFileSync(path.join(MODEL_DIR, file)));
    const config = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(BAD_DIR, 'config.json'), JSON.stringify({ ...config, n_embd: 32 }));

    const result = lab('run', '--backend', 'cpu', '--set', `model=${BAD_MODEL}`, '--set', 'adapters=qv.qv');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/shape .* but config\.json implies/);
  });

  test('an adapter grid deeper than the model is reported', () => {
    const result = lab('run', '--backend', 'cpu', '--set', `model=${MODEL}`, '--set', 'adapters=qv.qv.qv', '--set', 'steps=1');
    expect(result.code).not.toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; message?: string });
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe('error');
    expect(events[0]?.message).toMatch(/3 layers but the model has 2/);
  });
});

describe('lab ntk', () => {
  test('writes the kernel and the adapters', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-ntk-'));
    const out = path.join(dir, 'ntk.json');
    const adapters = path.join(dir, 'adapters.safetensors');
    const result = lab(
      'ntk',
      '--backend', 'cpu',
      '--set', `model=${MODEL}`,
      '--set', 'adapters=qv.-',
      '--set', 'trainSize=16',
      '--set', 'evalSize=16',
      '--set', 'probeSize=4',
      '--radii', '0.1',
      '--directions', '1',
      '--out', out,
      '--adapters-out', adapters,
    );

    expect(result.code).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      kernel: { n: number; c: number; values: number[] };
      probe: { tokenIds: number[][]; labels: number[] };
      f0: number[][];
      summary: { eigenvalues: number[]; blocks: unknown[] };
      jacobianChange: unknown[];
    };
    expect(report.kernel.n).toBe(4);
    expect(report.kernel.values).toHaveLength(8 * 8);
    expect(report.summary.eigenvalues).toHaveLength(8);
    expect(report.summary.blocks).toHaveLength(2);
    expect(report.probe.tokenIds).toHaveLength(4);
    expect(report.f0).toHaveLength(4);
    expect(report.jacobianChange).toHaveLength(1);

    const bytes = readFileSync(adapters);
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    expect(Object.keys(tensors).sort()).toEqual([
      'h.0.attn.q.lora_A.weight',
      'h.0.attn.q.lora_B.weight',
      'h.0.attn.v.lora_A.weight',
      'h.0.attn.v.lora_B.weight',
    ]);
    expect(metadata['lora_scale']).toBe('2');
  });

  test('invalid radii are one line', () => {
    const result = lab('ntk', '--radii', '0.1,-2');
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/--radii: got "-2"/);
  });
});

describe('lab sweep', () => {
  test('an invalid subset ends in an error event', () => {
    const result = lab('sweep', '--backend', 'cpu', '--set', `model=${MODEL}`, '--subsets', 'qv.-;xz.-');
    expect(result.code).not.toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; message?: string });
    expect(events.at(-1)?.type).toBe('error');
    expect(events.at(-1)?.message).toMatch(/invalid letter "x"/);
  });
});

describe('pretrain', () => {
  test('a few steps write a checkpoint that loads', () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'pretrain-'));
    const result = run('src/cli/pretrain.ts', [
      '--steps', '2',
      '--batch-size', '2',
      '--eval-every', '2',
      '--eval-windows', '2',
      '--sample-chars', '5',
      '--backend', 'wasm',
      '--out-dir', outDir,
    ]);

    expect(result.code).toBe(0);
    for (const file of ['model.safetensors', 'config.json', 'tokenizer.json', 'report.json', 'report.md', 'report.svg']) {
      expect(existsSync(path.join(outDir, file))).toBe(true);
    }
    const weights = readFileSync(path.join(outDir, 'model.safetensors'));
    const checkpoint = decodeCheckpoint({
      config: readFileSync(path.join(outDir, 'config.json'), 'utf8'),
      tokenizer: readFileSync(path.join(outDir, 'tokenizer.json'), 'utf8'),
      weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    });
    expect(checkpoint.config.nLayer).toBe(4);
    const report = JSON.parse(readFileSync(path.join(outDir, 'report.json'), 'utf8')) as { trainLoss: unknown[]; heldOut: unknown[] };
    expect(report.trainLoss).toHaveLength(2);
    expect(report.heldOut).toHaveLength(2);
    rmSync(outDir, { recursive: true, force: true });
  });

  test('an invalid option is one line', () => {
    const result = run('src/cli/pretrain.ts', ['--steps', 'many']);
    expect(result.code).not.toBe(0);
    expect(expectOneLineError(result)).toMatch(/--steps: got "many"/);
  });
});
