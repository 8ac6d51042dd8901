/**
 * The trainable parameters θ: LoRA factors or full module weights on the
 * chosen (layer, module) blocks, and the fixed order that flattens them.
 *
 * θ order: blocks by layer ascending, then in MODULES order
 * (attn.q, attn.k, attn.v, attn.c_proj, mlp.c_fc, mlp.c_proj). Within a
 * block, LoRA contributes lora_A [r, in] then lora_B [out, r]; full mode
 * contributes weight [in, out] (Conv1D layout) then bias [out]. Every
 * tensor is flattened row-major.
 */
import * as tf from '@tensorflow/tfjs';

import type { AdapterBlock, AdapterGrid } from './adapters.ts';
import { listAdapterBlocks } from './adapters.ts';
import { MODULES, type ModuleName } from './modules.ts';
import { moduleShape, type BlockParams, type GPTParams, type Linear } from './params.ts';
import { createRng, deriveSeed, randomNormal } from '../random.ts';

export type AdapterMode = 'lora' | 'full';
export type LoraInit = 'kaiming' | 'gaussian';

export interface AdapterOptions {
  grid: AdapterGrid;
  mode: AdapterMode;
  r: number;
  loraAlpha: number;
  rslora: boolean;
  init: LoraInit;
}

export type ThetaPart = 'lora_A' | 'lora_B' | 'weight' | 'bias';

/** One tensor of θ and where it sits in the flat vector. */
export interface ThetaEntry {
  /** e.g. "h.0.attn.q.lora_A.weight" or "h.2.mlp.c_fc.bias" */
  name: string;
  layer: number;
  module: ModuleName;
  part: ThetaPart;
  shape: number[];
  offset: number;
  size: number;
}

/** θ's blocks (one per adapted (layer, module)) and its tensors, in flattening order. */
export interface ThetaLayout {
  mode: AdapterMode;
  /** The LoRA scale α/r, or α/√r with rsLoRA; 1 in full mode. */
  scale: number;
  blocks: (AdapterBlock & { offset: number; size: number })[];
  entries: ThetaEntry[];
  size: number;
}

/** Returns α/r, or α/√r for rank-stabilized LoRA. */
export function loraScale(loraAlpha: number, r: number, rslora: boolean): number {
  return rslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
}

export function createThetaLayout(config: GPTParams['config'], options: AdapterOptions): ThetaLayout {
  const entries: ThetaEntry[] = [];
  const blocks: ThetaLayout['blocks'] = [];
  let offset = 0;

  for (const { layer, module } of listAdapterBlocks(options.grid)) {
    if (layer >= config.nLayer) {
      throw new Error(`adapters: layer ${layer} does not exist; the model has ${config.nLayer} layers`);
    }
    const [inDim, outDim] = moduleShape(config, module);
    const parts: [ThetaPart, number[]][] =
      options.mode === 'lora'
        ? [
            ['lora_A', [options.r, inDim]],
            ['lora_B', [outDim, options.r]],
          ]
        : [
            ['weight', [inDim, outDim]],
            ['bias', [outDim]],
          ];

    const blockOffset = offset;
    for (const [part, shape] of parts) {
      const size = shape.reduce((a, b) => a * b, 1);
      const suffix = part === 'lora_A' || part === 'lora_B' ? `${part}.weight` : part;
      entries.push({ name: `h.${layer}.${module}.${suffix}`, layer, module, part, shape, offset, size });
      offset += size;
    }
    blocks.push({ layer, module, offset: blockOffset, size: offset - blockOffset });
  }

  return {
    mode: options.mode,
    scale: options.mode === 'lora' ? loraScale(options.loraAlpha, options.r, options.rslora) : 1,
    blocks,
    entries,
    size: offset,
  };
}

/**
 * Returns θ's initial tensors. LoRA follows PEFT: B = 0, and A is
 * Kaiming-uniform with a = √5 (bound 1/√in) or, with init "gaussian",
 * normal with standard deviation 1/r as PEFT's `init_lora_weights="gaussian"`.
 * Full mode starts at the pretrained weights. Each tensor draws from its
 * own seed, derived from its name, so a block starts the same whichever
 * other blocks are adapted.
 */
export function initTheta(base: GPTParams, layout: ThetaLayout, options: AdapterOptions, seed: number): tf.Tensor[] {
  return layout.entries.map((entry) => {
    const rng = createRng(deriveSeed(seed, entry.name));
    const linear = base.h[entry.layer]?.modules[entry.module] as Linear;
    switch (entry.part) {
      case 'weight':
        return linear.weight.clone();
      case 'bias':
        return linear.bias.clone();
      case 'lora_B':
        return tf.zeros(entry.shape);
      case 'lora_A': {
        const values = new Float32Array(entry.size);
        const inDim = entry.shape[1] as number;
        if (options.init === 'kaiming') {
          const bound = 1 / Math.sqrt(inDim);
          for (let i = 0; i < values.length; i++) values[i] = (2 * rng() - 1) * bound;
        } else {
          const std = 1 / options.r;
          for (let i = 0; i < values.length; i++) values[i] = std * randomNormal(rng);
        }
        return tf.tensor(values, entry.shape);
      }
    }
  });
}

/**
 * Returns the params with θ substituted: adapters attached (LoRA) or weights
 * replaced (full). Every module weight that is not part of θ is marked
 * frozen, so its backward pass skips the weight gradient.
 */
export function applyTheta(base: GPTParams, layout: ThetaLayout, theta: readonly tf.Tensor[]): GPTParams {
  const h: BlockParams[] = base.h.map((block) => {
    const modules = {} as Record<ModuleName, Linear>;
    for (const module of MODULES) modules[module] = { ...block.modules[module], frozen: true };
    return { ...block, modules };
  });

  layout.entries.forEach((entry, i) => {
    const modules = (h[entry.layer] as BlockParams).modules;
    const linear = { ...modules[entry.module] };
    const tensor = theta[i] as tf.Tensor;
    switch (entry.part) {
      case 'weight':
        linear.weight = tensor;
        linear.frozen = false;
        break;
      case 'bias':
        linear.bias = tensor;
        linear.frozen = false;
        break;
      case 'lora_A':
        linear.lora = { A: tensor, B: linear.lora?.B ?? tensor, scale: layout.scale };
        break;
      case 'lora_B':
        if (linear.lora === undefined) throw new Error(`applyTheta: ${entry.name} comes before its lora_A`);
        linear.lora = { ...linear.lora, B: tensor };
        break;
    }
    modules[entry.module] = linear;
  });

  return { ...base, h };
}

/** Flattens θ into one vector in layout order. */
export function flattenTheta(theta: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => tf.concat(theta.map((tensor) => tensor.reshape([-1])), 0) as tf.Tensor1D);
}

/** Splits a flat vector back into θ's tensors. */
export function unflattenTheta(layout: ThetaLayout, vector: tf.Tensor1D): tf.Tensor[] {
  if (vector.shape[0] !== layout.size) {
    throw new Error(`unflattenTheta: the vector has ${vector.shape[0]} entries, the layout ${layout.size}`);
  }
  return layout.entries.map((entry) => tf.tidy(() => vector.slice([entry.offset], [entry.size]).reshape(entry.shape)));
}
