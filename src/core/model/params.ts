/**
 * The model's weights as tfjs tensors, grouped the way the forward pass reads
 * them. `c_attn` is split into q, k and v so that each can carry its own
 * adapter; checkpoint.ts converts to and from Hugging Face GPT-2 names.
 */
import * as tf from '@tensorflow/tfjs';

import type { GPTConfig } from './config.ts';
import { MODULES, type ModuleName } from './modules.ts';
import { createRng, randomNormal } from '../random.ts';

/**
 * A LoRA adapter: ΔW = scale · B·A in PyTorch's [out, in] layout. A leading
 * batch axis gives each example its own factors (see `linear`).
 */
export interface LoraAdapter {
  /** [r, in], or [B, r, in] per example */
  A: tf.Tensor;
  /** [out, r], or [B, out, r] per example */
  B: tf.Tensor;
  scale: number;
}

/** An affine map in Conv1D layout, y = x·W + b (+ LoRA). */
export interface Linear {
  /** [in, out], or [B, in, out] per example */
  weight: tf.Tensor;
  /** [out], or [B, out] per example */
  bias: tf.Tensor;
  lora?: LoraAdapter;
  /**
   * True when weight and bias are constants that no gradient is taken of,
   * as applyTheta marks every weight outside θ. `linear` then skips the
   * weight gradient xᵀ·dy in the backward pass.
   */
  frozen?: boolean;
}

export interface LayerNormParams {
  /** [nEmbd] */
  weight: tf.Tensor1D;
  /** [nEmbd] */
  bias: tf.Tensor1D;
}

export interface BlockParams {
  ln_1: LayerNormParams;
  ln_2: LayerNormParams;
  modules: Record<ModuleName, Linear>;
}

export interface GPTParams {
  config: GPTConfig;
  /** [vocabSize, nEmbd], also the tied LM head */
  wte: tf.Tensor2D;
  /** [nPositions, nEmbd] */
  wpe: tf.Tensor2D;
  h: BlockParams[];
  ln_f: LayerNormParams;
}

/** Returns [in, out] of one module for a config. */
export function moduleShape(config: GPTConfig, module: ModuleName): [number, number] {
  const d = config.nEmbd;
  switch (module) {
    case 'attn.q':
    case 'attn.k':
    case 'attn.v':
    case 'attn.c_proj':
      return [d, d];
    case 'mlp.c_fc':
      return [d, 4 * d];
    case 'mlp.c_proj':
      return [4 * d, d];
  }
}

/** Lists every tensor of the params, for disposal and counting. */
export function paramTensors(params: GPTParams): tf.Tensor[] {
  const out: tf.Tensor[] = [params.wte, params.wpe, params.ln_f.weight, params.ln_f.bias];
  for (const block of params.h) {
    out.push(block.ln_1.weight, block.ln_1.bias, block.ln_2.weight, block.ln_2.bias);
    for (const module of MODULES) {
      const linear = block.modules[module];
      out.push(linear.weight, linear.bias);
    }
  }
  return out;
}

export function disposeParams(params: GPTParams): void {
  tf.dispose(paramTensors(params));
}

/**
 * Initializes weights as GPT-2 does: N(0, 0.02) for matrices, N(0, 0.01) for
 * position embeddings, and residual projections scaled by 1/√(2·nLayer).
 */
export function initParams(config: GPTConfig, seed: number): GPTParams {
  const rng = createRng(seed);
  const normal = (shape: [number, number], std: number): tf.Tensor2D => {
    const values = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < values.length; i++) values[i] = std * randomNormal(rng);
    return tf.tensor2d(values, shape);
  };
  const layerNorm = (): LayerNormParams => ({ weight: tf.ones([config.nEmbd]), bias: tf.zeros([config.nEmbd]) });
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayer);

  const h: BlockParams[] = [];
  for (let layer = 0; layer < config.nLayer; layer++) {
    const modules = {} as Record<ModuleName, Linear>;
    for (const module of MODULES) {
      const shape = moduleShape(config, module);
      const std = module === 'attn.c_proj' || module === 'mlp.c_proj' ? residualStd : 0.02;
      modules[module] = { weight: normal(shape, std), bias: tf.zeros([shape[1]]) };
    }
    h.push({ ln_1: layerNorm(), ln_2: layerNorm(), modules });
  }

  return {
    config,
    wte: normal([config.vocabSize, config.nEmbd], 0.02),
    wpe: normal([config.nPositions, config.nEmbd], 0.01),
    h,
    ln_f: layerNorm(),
  };
}

/** Rebuilds params from tensors listed in paramTensors' order. */
export function paramsFromList(template: GPTParams, tensors: readonly tf.Tensor[]): GPTParams {
  let index = 0;
  const next = <T extends tf.Tensor>(): T => {
    const tensor = tensors[index++];
    if (tensor === undefined) throw new Error(`paramsFromList: expected more than ${index - 1} tensors`);
    return tensor as T;
  };
  const layerNorm = (): LayerNormParams => ({ weight: next<tf.Tensor1D>(), bias: next<tf.Tensor1D>() });

  const wte = next<tf.Tensor2D>();
  const wpe = next<tf.Tensor2D>();
  const ln_f = layerNorm();
  const h = template.h.map((): BlockParams => {
    const ln_1 = layerNorm();
    const ln_2 = layerNorm();
    const modules = {} as Record<ModuleName, Linear>;
    for (const module of MODULES) modules[module] = { weight: next<tf.Tensor2D>(), bias: next<tf.Tensor1D>() };
    return { ln_1, ln_2, modules };
  });
  if (index !== tensors.length) throw new Error(`paramsFromList: got ${tensors.length} tensors, used ${index}`);

  return { config: template.config, wte, wpe, h, ln_f };
}
