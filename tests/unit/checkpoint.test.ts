import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { TINY_CONFIG, createTinyCheckpoint, maxAbsDifference } from './fixtures.ts';
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  expectedTensorShapes,
  type Checkpoint,
  type CheckpointFiles,
} from '../../src/core/checkpoint/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { configToJson } from '../../src/core/model/config.ts';
import { lmLogits } from '../../src/core/model/gpt.ts';
import { paramTensors } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';

let checkpoint: Checkpoint;
let files: CheckpointFiles;

beforeAll(async () => {
  await tf.setBackend('cpu');
  checkpoint = createTinyCheckpoint(4);
  files = await encodeCheckpoint(checkpoint, { source: 'test' });
});

/** Returns the CheckpointError that decoding `changes` applied to the good files throws, or fails the test. */
function decodeError(changes: Partial<CheckpointFiles>): CheckpointError {
  try {
    decodeCheckpoint({ ...files, ...changes });
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError, but the checkpoint decoded');
}

/** Re-encodes the checkpoint's tensors after `edit` changes them. */
function editedWeights(edit: (tensors: ReturnType<typeof decodeSafetensors>['tensors']) => void): Uint8Array {
  const { tensors } = decodeSafetensors(files.weights);
  edit(tensors);
  return encodeSafetensors(tensors, { format: 'pt' });
}

describe('checkpoint round trip', () => {
  it('restores every tensor exactly', () => {
    const decoded = decodeCheckpoint(files);
    const original = paramTensors(checkpoint.params);
    const restored = paramTensors(decoded.params);
    expect(restored).toHaveLength(original.length);
    restored.forEach((tensor, i) => {
      expect(tensor.shape, `tensor ${i}`).toEqual((original[i] as tf.Tensor).shape);
      expect(maxAbsDifference(tensor, original[i] as tf.Tensor), `tensor ${i}`).toBe(0);
    });
  });

  it('restores config and tokenizer', () => {
    const decoded = decodeCheckpoint(files);
    expect(decoded.config).toEqual(TINY_CONFIG);
    expect(decoded.tokenizer.vocab).toEqual(checkpoint.tokenizer.vocab);
  });

  it('gives identical outputs', () => {
    const decoded = decodeCheckpoint(files);
    const ids = tf.tensor2d([checkpoint.tokenizer.encode('The jury said.\nGenre: ')], undefined, 'int32');
    expect(maxAbsDifference(lmLogits(decoded.params, ids), lmLogits(checkpoint.params, ids))).toBe(0);
  });

  it('writes parseable JSON files', () => {
    expect(JSON.parse(files.config)).toEqual(JSON.parse(JSON.stringify(configToJson(TINY_CONFIG))));
    expect(JSON.parse(files.tokenizer)).toEqual(checkpoint.tokenizer.toJson());
  });

  it('stores metadata and the pt format', () => {
    const { metadata } = decodeSafetensors(files.weights);
    expect(metadata).toMatchObject({ format: 'pt', source: 'test' });
  });
});

describe('checkpoint layout', () => {
  it('uses Hugging Face GPT-2 names and shapes', () => {
    const { tensors } = decodeSafetensors(files.weights);
    const expected = expectedTensorShapes(TINY_CONFIG);
    expect(Object.keys(tensors).sort()).toEqual([...expected.keys()].sort());
    for (const [name, shape] of expected) expect(tensors[name]?.shape, name).toEqual(shape);
  });

  it('stores c_attn as [d, 3d] with q, k, v', () => {
    const { tensors } = decodeSafetensors(files.weights);
    const d = TINY_CONFIG.nEmbd;
    for (const [layer, block] of checkpoint.params.h.entries()) {
      const weight = tensors[`h.${layer}.attn.c_attn.weight`];
      const bias = tensors[`h.${layer}.attn.c_attn.bias`];
      expect(weight?.shape).toEqual([d, 3 * d]);
      expect(bias?.shape).toEqual([3 * d]);

      const q = block.modules['attn.q'].weight.arraySync() as number[][];
      const k = block.modules['attn.k'].weight.arraySync() as number[][];
      const v = block.modules['attn.v'].weight.arraySync() as number[][];
      const rows = Array.from({ length: d }, (_, row) => Array.from(weight?.data.subarray(row * 3 * d, (row + 1) * 3 * d) ?? []));
      expect(rows.map((row) => row.slice(0, d)), `h.${layer} q`).toEqual(q);
      expect(rows.map((row) => row.slice(d, 2 * d)), `h.${layer} k`).toEqual(k);
      expect(rows.map((row) => row.slice(2 * d)), `h.${layer} v`).toEqual(v);
    }
  });

  it('splits c_attn bias into q, k, v', () => {
    const d = TINY_CONFIG.nEmbd;
    const weights = editedWeights((tensors) => {
      const bias = tensors['h.1.attn.c_attn.bias'];
      if (bias !== undefined) bias.data = Float32Array.from({ length: 3 * d }, (_, i) => i);
    });
    const decoded = decodeCheckpoint({ ...files, weights });
    const modules = decoded.params.h[1]?.modules;
    expect(Array.from(modules?.['attn.q'].bias.dataSync() ?? [])).toEqual(Array.from({ length: d }, (_, i) => i));
    expect(Array.from(modules?.['attn.k'].bias.dataSync() ?? [])).toEqual(Array.from({ length: d }, (_, i) => d + i));
    expect(Array.from(modules?.['attn.v'].bias.dataSync() ?? [])).toEqual(Array.from({ length: d }, (_, i) => 2 * d + i));
  });
});

describe('decodeCheckpoint errors', () => {
  /** Checks the error contract: one line that names the file at fault. */
  function expectOneLineNaming(error: CheckpointError, file: string): void {
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(file);
  }

  it('rejects truncated safetensors bytes', () => {
    const error = decodeError({ weights: files.weights.slice(0, files.weights.length - 10) });
    expectOneLineNaming(error, 'model.safetensors');
    expect(error.message.startsWith('model.safetensors: Truncated safetensors file')).toBe(true);
  });

  it('rejects bytes shorter than the length field', () => {
    const error = decodeError({ weights: files.weights.slice(0, 5) });
    expectOneLineNaming(error, 'model.safetensors');
    expect(error.message.startsWith('model.safetensors: Truncated safetensors file')).toBe(true);
  });

  it('rejects a corrupt header', () => {
    const weights = files.weights.slice();
    weights[8] = 0x5b; // "[" in place of the header's opening "{"
    weights[9] = 0x21; // "!"
    const error = decodeError({ weights });
    expectOneLineNaming(error, 'model.safetensors');
    expect(error.message.startsWith('model.safetensors: Invalid safetensors header: not valid JSON')).toBe(true);
  });

  it('rejects an n_embd that does not match the weights', () => {
    const config = JSON.stringify({ ...configToJson(TINY_CONFIG), n_embd: 32 });
    const error = decodeError({ config });
    expectOneLineNaming(error, 'model.safetensors');
    expect(error.message).toBe('model.safetensors: tensor "wte.weight" has shape [97, 16] but config.json implies [97, 32]');
  });

  it('rejects a missing tensor', () => {
    const weights = editedWeights((tensors) => {
      delete tensors['h.1.mlp.c_fc.bias'];
    });
    const error = decodeError({ weights });
    expectOneLineNaming(error, 'model.safetensors');
    expect(error.message).toBe('model.safetensors: missing tensor "h.1.mlp.c_fc.bias"');
  });

  it('rejects an unexpected tensor', () => {
    const weights = editedWeights((tensors) => {
      tensors['h.2.ln_1.weight'] = { dtype: 'F32', shape: [16], data: new Float32Array(16) };
    });
    const error = decodeError({ weights });
    expect(error.message).toBe('model.safetensors: unexpected tensor "h.2.ln_1.weight" for a 2-layer config');
  });

  it('rejects NaN weights', () => {
    const weights = editedWeights((tensors) => {
      const tensor = tensors['ln_f.bias'];
      if (tensor !== undefined) tensor.data[3] = Number.NaN;
    });
    const error = decodeError({ weights });
    expect(error.message).toBe('model.safetensors: tensor "ln_f.bias" contains NaN or Infinity');
  });

  it('rejects a tokenizer of the wrong size', () => {
    const tokenizer = JSON.stringify(new CharTokenizer(checkpoint.tokenizer.vocab.slice(0, 50)).toJson());
    const error = decodeError({ tokenizer });
    expectOneLineNaming(error, 'tokenizer.json');
    expect(error.message).toBe('tokenizer.json has 50 tokens but config.json sets vocab_size to 97');
  });

  it('rejects invalid JSON in the config', () => {
    const error = decodeError({ config: '{"model_type": "gpt2",' });
    expectOneLineNaming(error, 'config.json');
    expect(error.message.startsWith('config.json: invalid JSON (')).toBe(true);
  });

  it('rejects invalid JSON in the tokenizer', () => {
    const error = decodeError({ tokenizer: 'char' });
    expectOneLineNaming(error, 'tokenizer.json');
    expect(error.message.startsWith('tokenizer.json: invalid JSON (')).toBe(true);
  });

  it('rejects a config of another model type', () => {
    const error = decodeError({ config: JSON.stringify({ ...configToJson(TINY_CONFIG), model_type: 'llama' }) });
    expect(error.message).toBe('config.json: model_type is "llama", expected "gpt2"');
  });
});
