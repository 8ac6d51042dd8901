/**
 * Checkpoints: `model.safetensors` with Hugging Face GPT-2 tensor names,
 * `config.json` and `tokenizer.json`. This module converts between those
 * files' contents and the model's params, and checks that they agree.
 */
import * as tf from '@tensorflow/tfjs';

import { decodeSafetensors, encodeSafetensors, SafetensorsError, type SafetensorsTensor } from './safetensors.ts';
import { checkConfig, configFromJson, configToJson, ConfigError, type GPTConfig } from '../model/config.ts';
import { MODULES, type ModuleName } from '../model/modules.ts';
import type { BlockParams, GPTParams, LayerNormParams, Linear } from '../model/params.ts';
import { CharTokenizer, TokenizerError } from '../model/tokenizer.ts';

export interface Checkpoint {
  config: GPTConfig;
  tokenizer: CharTokenizer;
  params: GPTParams;
}

/** The three files of a checkpoint: two JSON texts and the safetensors bytes. */
export interface CheckpointFiles {
  config: string;
  tokenizer: string;
  weights: Uint8Array;
}

export class CheckpointError extends Error {}

/** Returns every tensor name and shape that a config's checkpoint must contain. */
export function expectedTensorShapes(config: GPTConfig): Map<string, number[]> {
  const d = config.nEmbd;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [config.vocabSize, d]],
    ['wpe.weight', [config.nPositions, d]],
    ['ln_f.weight', [d]],
    ['ln_f.bias', [d]],
  ]);
  for (let i = 0; i < config.nLayer; i++) {
    const prefix = `h.${i}`;
    shapes.set(`${prefix}.ln_1.weight`, [d]);
    shapes.set(`${prefix}.ln_1.bias`, [d]);
    shapes.set(`${prefix}.attn.c_attn.weight`, [d, 3 * d]);
    shapes.set(`${prefix}.attn.c_attn.bias`, [3 * d]);
    shapes.set(`${prefix}.attn.c_proj.weight`, [d, d]);
    shapes.set(`${prefix}.attn.c_proj.bias`, [d]);
    shapes.set(`${prefix}.ln_2.weight`, [d]);
    shapes.set(`${prefix}.ln_2.bias`, [d]);
    shapes.set(`${prefix}.mlp.c_fc.weight`, [d, 4 * d]);
    shapes.set(`${prefix}.mlp.c_fc.bias`, [4 * d]);
    shapes.set(`${prefix}.mlp.c_proj.weight`, [4 * d, d]);
    shapes.set(`${prefix}.mlp.c_proj.bias`, [d]);
  }
  return shapes;
}

/** Checks names and shapes against the config, and builds the params. */
export function paramsFromTensors(config: GPTConfig, tensors: Record<string, SafetensorsTensor>): GPTParams {
  const expected = expectedTensorShapes(config);

  for (const name of Object.keys(tensors)) {
    if (!expected.has(name)) {
      throw new CheckpointError(`model.safetensors: unexpected tensor "${name}" for a ${config.nLayer}-layer config`);
    }
  }
  for (const [name, shape] of expected) {
    const tensor = tensors[name];
    if (tensor === undefined) throw new CheckpointError(`model.safetensors: missing tensor "${name}"`);
    if (tensor.dtype !== 'F32') {
      throw new CheckpointError(`model.safetensors: tensor "${name}" has dtype ${tensor.dtype}, expected F32`);
    }
    if (tensor.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(
        `model.safetensors: tensor "${name}" has shape [${tensor.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`,
      );
    }
    for (const value of tensor.data) {
      if (!Number.isFinite(value)) throw new CheckpointError(`model.safetensors: tensor "${name}" contains NaN or Infinity`);
    }
  }

  const read = (name: string): SafetensorsTensor => tensors[name] as SafetensorsTensor;
  const vector = (name: string): tf.Tensor1D => tf.tensor1d(read(name).data as Float32Array);
  const matrix = (name: string): tf.Tensor2D => {
    const tensor = read(name);
    return tf.tensor2d(tensor.data as Float32Array, tensor.shape as [number, number]);
  };
  const layerNorm = (name: string): LayerNormParams => ({ weight: vector(`${name}.weight`), bias: vector(`${name}.bias`) });

  const h: BlockParams[] = [];
  for (let i = 0; i < config.nLayer; i++) {
    const prefix = `h.${i}`;
    const modules = {} as Record<ModuleName, Linear>;

    const cAttnWeight = matrix(`${prefix}.attn.c_attn.weight`); // [d, 3d]
    const cAttnBias = vector(`${prefix}.attn.c_attn.bias`); // [3d]
    const [qWeight, kWeight, vWeight] = tf.split(cAttnWeight, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // 3 × [d, d]
    const [qBias, kBias, vBias] = tf.split(cAttnBias, 3, 0) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D]; // 3 × [d]
    tf.dispose([cAttnWeight, cAttnBias]);

    modules['attn.q'] = { weight: qWeight, bias: qBias };
    modules['attn.k'] = { weight: kWeight, bias: kBias };
    modules['attn.v'] = { weight: vWeight, bias: vBias };
    for (const module of ['attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const) {
      modules[module] = { weight: matrix(`${prefix}.${module}.weight`), bias: vector(`${prefix}.${module}.bias`) };
    }
    h.push({ ln_1: layerNorm(`${prefix}.ln_1`), ln_2: layerNorm(`${prefix}.ln_2`), modules });
  }

  return {
    config,
    wte: matrix('wte.weight'),
    wpe: matrix('wpe.weight'),
    h,
    ln_f: layerNorm('ln_f'),
  };
}

/** Reads the params back into Hugging Face GPT-2 named tensors, joining q, k and v into c_attn. */
export async function paramsToTensors(params: GPTParams): Promise<Record<string, SafetensorsTensor>> {
  const out: Record<string, SafetensorsTensor> = {};
  const put = async (name: string, tensor: tf.Tensor): Promise<void> => {
    out[name] = { dtype: 'F32', shape: [...tensor.shape], data: (await tensor.data()) as Float32Array };
  };

  await put('wte.weight', params.wte);
  await put('wpe.weight', params.wpe);
  await put('ln_f.weight', params.ln_f.weight);
  await put('ln_f.bias', params.ln_f.bias);
  for (const [i, block] of params.h.entries()) {
    const prefix = `h.${i}`;
    const { modules } = block;
    await put(`${prefix}.ln_1.weight`, block.ln_1.weight);
    await put(`${prefix}.ln_1.bias`, block.ln_1.bias);
    await put(`${prefix}.ln_2.weight`, block.ln_2.weight);
    await put(`${prefix}.ln_2.bias`, block.ln_2.bias);

    const cAttnWeight = tf.concat([modules['attn.q'].weight, modules['attn.k'].weight, modules['attn.v'].weight], 1); // [d, 3d]
    const cAttnBias = tf.concat([modules['attn.q'].bias, modules['attn.k'].bias, modules['attn.v'].bias], 0); // [3d]
    await put(`${prefix}.attn.c_attn.weight`, cAttnWeight);
    await put(`${prefix}.attn.c_attn.bias`, cAttnBias);
    tf.dispose([cAttnWeight, cAttnBias]);

    for (const module of MODULES.slice(3)) {
      await put(`${prefix}.${module}.weight`, modules[module].weight);
      await put(`${prefix}.${module}.bias`, modules[module].bias);
    }
  }
  return out;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CheckpointError(`${file}: invalid JSON (${(error as Error).message})`);
  }
}

/**
 * Decodes and checks the three files. Every failure is a CheckpointError
 * whose message names the file and the problem.
 */
export function decodeCheckpoint(files: CheckpointFiles): Checkpoint {
  let config: GPTConfig;
  let tokenizer: CharTokenizer;
  let tensors: Record<string, SafetensorsTensor>;
  try {
    config = configFromJson(parseJson(files.config, 'config.json'));
    tokenizer = CharTokenizer.fromJson(parseJson(files.tokenizer, 'tokenizer.json'));
    tensors = decodeSafetensors(files.weights).tensors;
  } catch (error) {
    if (error instanceof SafetensorsError) throw new CheckpointError(`model.safetensors: ${error.message}`);
    if (error instanceof ConfigError || error instanceof TokenizerError) {
      // Name the file: checkConfig and CharTokenizer prefix their messages with "config:" and "tokenizer:".
      throw new CheckpointError(error.message.replace(/^config:/, 'config.json:').replace(/^tokenizer:/, 'tokenizer.json:'));
    }
    throw error;
  }
  if (tokenizer.size !== config.vocabSize) {
    throw new CheckpointError(
      `tokenizer.json has ${tokenizer.size} tokens but config.json sets vocab_size to ${config.vocabSize}`,
    );
  }
  return { config, tokenizer, params: paramsFromTensors(config, tensors) };
}

/** Encodes a checkpoint as its three files. */
export async function encodeCheckpoint(
  checkpoint: Checkpoint,
  metadata: Record<string, string> = {},
): Promise<CheckpointFiles> {
  checkConfig(checkpoint.config);
  const tensors = await paramsToTensors(checkpoint.params);
  return {
    config: `${JSON.stringify(configToJson(checkpoint.config), null, 2)}\n`,
    tokenizer: `${JSON.stringify(checkpoint.tokenizer.toJson())}\n`,
    weights: encodeSafetensors(tensors, { format: 'pt', ...metadata }),
  };
}
