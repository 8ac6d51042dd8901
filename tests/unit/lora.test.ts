import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  TINY_CONFIG,
  adapterOptions,
  createTinyParams,
  createToyBatch,
  maxAbs,
  maxAbsDifference,
  seededNormal,
  toyLabelIds,
} from './fixtures.ts';
import type { BatchTensors } from '../../src/core/finetune/encode.ts';
import { lmLogits, verbalizerLogits } from '../../src/core/model/gpt.ts';
import {
  applyTheta,
  createThetaLayout,
  flattenTheta,
  initTheta,
  loraScale,
  unflattenTheta,
  type AdapterOptions,
  type ThetaEntry,
  type ThetaLayout,
} from '../../src/core/model/lora.ts';
import { matMul } from '../../src/core/model/matmul.ts';
import type { GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';

const tokenizer = CharTokenizer.ascii();

let base: GPTParams;
let batch: BatchTensors;
let labelIds: tf.Tensor1D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  base = createTinyParams(1);
  batch = createToyBatch(tokenizer);
  labelIds = toyLabelIds(tokenizer);
});

/** Computes the verbalizer outputs f [B, C] and the LM logits [B, T, V] of params on the toy batch. */
function outputsOf(params: GPTParams): { f: tf.Tensor2D; logits: tf.Tensor3D } {
  return tf.tidy(() => ({
    f: verbalizerLogits(params, batch.ids, batch.answerMask, labelIds),
    logits: lmLogits(params, batch.ids),
  }));
}

/** Lists each entry's name, shape, offset and size, the fields that fix θ's order. */
function entryLayout(layout: ThetaLayout): Pick<ThetaEntry, 'name' | 'shape' | 'offset' | 'size'>[] {
  return layout.entries.map(({ name, shape, offset, size }) => ({ name, shape, offset, size }));
}

describe('LoRA at init', () => {
  const variants: { name: string; options: Partial<AdapterOptions> }[] = [
    { name: 'kaiming', options: { init: 'kaiming' } },
    { name: 'gaussian', options: { init: 'gaussian' } },
    { name: 'rslora', options: { rslora: true, r: 8, loraAlpha: 16 } },
  ];

  for (const { name, options } of variants) {
    describe(name, () => {
      let baseOutputs: { f: tf.Tensor2D; logits: tf.Tensor3D };
      let loraOutputs: { f: tf.Tensor2D; logits: tf.Tensor3D };

      beforeAll(() => {
        const adapter = adapterOptions('qkvofp.qkvofp', options);
        const layout = createThetaLayout(TINY_CONFIG, adapter);
        const theta = initTheta(base, layout, adapter, 42);
        baseOutputs = outputsOf(base);
        loraOutputs = outputsOf(applyTheta(base, layout, theta));
      });

      it('keeps the verbalizer outputs', () => {
        expect(maxAbsDifference(loraOutputs.f, baseOutputs.f)).toBeLessThan(1e-6);
      });

      it('keeps the LM logits', () => {
        expect(maxAbsDifference(loraOutputs.logits, baseOutputs.logits)).toBeLessThan(1e-6);
      });
    });
  }
});

describe('createThetaLayout', () => {
  // With r = 4 and d = 16, attention factors are A [4, 16] and B [16, 4].
  // mlp.c_fc has B [64, 4] and mlp.c_proj has A [4, 64].
  it('orders LoRA factors for "qv.o"', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('qv.o'));
    expect(entryLayout(layout)).toEqual([
      { name: 'h.0.attn.q.lora_A.weight', shape: [4, 16], offset: 0, size: 64 },
      { name: 'h.0.attn.q.lora_B.weight', shape: [16, 4], offset: 64, size: 64 },
      { name: 'h.0.attn.v.lora_A.weight', shape: [4, 16], offset: 128, size: 64 },
      { name: 'h.0.attn.v.lora_B.weight', shape: [16, 4], offset: 192, size: 64 },
      { name: 'h.1.attn.c_proj.lora_A.weight', shape: [4, 16], offset: 256, size: 64 },
      { name: 'h.1.attn.c_proj.lora_B.weight', shape: [16, 4], offset: 320, size: 64 },
    ]);
    expect(layout.blocks).toEqual([
      { layer: 0, module: 'attn.q', offset: 0, size: 128 },
      { layer: 0, module: 'attn.v', offset: 128, size: 128 },
      { layer: 1, module: 'attn.c_proj', offset: 256, size: 128 },
    ]);
    expect(layout.size).toBe(384);
  });

  it('orders LoRA factors for "-.fp"', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('-.fp'));
    expect(entryLayout(layout)).toEqual([
      { name: 'h.1.mlp.c_fc.lora_A.weight', shape: [4, 16], offset: 0, size: 64 },
      { name: 'h.1.mlp.c_fc.lora_B.weight', shape: [64, 4], offset: 64, size: 256 },
      { name: 'h.1.mlp.c_proj.lora_A.weight', shape: [4, 64], offset: 320, size: 256 },
      { name: 'h.1.mlp.c_proj.lora_B.weight', shape: [16, 4], offset: 576, size: 64 },
    ]);
    expect(layout.blocks).toEqual([
      { layer: 1, module: 'mlp.c_fc', offset: 0, size: 320 },
      { layer: 1, module: 'mlp.c_proj', offset: 320, size: 320 },
    ]);
    expect(layout.size).toBe(640);
  });

  it('orders full weights for "qv.o"', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('qv.o', { mode: 'full' }));
    expect(entryLayout(layout)).toEqual([
      { name: 'h.0.attn.q.weight', shape: [16, 16], offset: 0, size: 256 },
      { name: 'h.0.attn.q.bias', shape: [16], offset: 256, size: 16 },
      { name: 'h.0.attn.v.weight', shape: [16, 16], offset: 272, size: 256 },
      { name: 'h.0.attn.v.bias', shape: [16], offset: 528, size: 16 },
      { name: 'h.1.attn.c_proj.weight', shape: [16, 16], offset: 544, size: 256 },
      { name: 'h.1.attn.c_proj.bias', shape: [16], offset: 800, size: 16 },
    ]);
    expect(layout.size).toBe(816);
  });

  it('orders full weights for "-.fp"', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('-.fp', { mode: 'full' }));
    expect(entryLayout(layout)).toEqual([
      { name: 'h.1.mlp.c_fc.weight', shape: [16, 64], offset: 0, size: 1024 },
      { name: 'h.1.mlp.c_fc.bias', shape: [64], offset: 1024, size: 64 },
      { name: 'h.1.mlp.c_proj.weight', shape: [64, 16], offset: 1088, size: 1024 },
      { name: 'h.1.mlp.c_proj.bias', shape: [16], offset: 2112, size: 16 },
    ]);
    expect(layout.blocks).toEqual([
      { layer: 1, module: 'mlp.c_fc', offset: 0, size: 1088 },
      { layer: 1, module: 'mlp.c_proj', offset: 1088, size: 1040 },
    ]);
    expect(layout.size).toBe(2128);
  });

  it('tags entries with layer, module and part', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('-.fp'));
    expect(layout.entries.map(({ layer, module, part }) => `${layer} ${module} ${part}`)).toEqual([
      '1 mlp.c_fc lora_A',
      '1 mlp.c_fc lora_B',
      '1 mlp.c_proj lora_A',
      '1 mlp.c_proj lora_B',
    ]);
  });

  it('rejects a layer the model lacks', () => {
    expect(() => createThetaLayout(TINY_CONFIG, adapterOptions('q.q.q'))).toThrow(
      'adapters: layer 2 does not exist; the model has 2 layers',
    );
  });
});

describe('loraScale', () => {
  it('is α/r', () => {
    expect(loraScale(8, 4, false)).toBe(2);
    expect(loraScale(16, 64, false)).toBe(0.25);
  });

  it('is α/√r with rsLoRA', () => {
    expect(loraScale(8, 4, true)).toBe(4);
    expect(loraScale(16, 64, true)).toBe(2);
  });

  it('sets the layout scale', () => {
    expect(createThetaLayout(TINY_CONFIG, adapterOptions('q.-', { r: 4, loraAlpha: 8 })).scale).toBe(2);
    expect(createThetaLayout(TINY_CONFIG, adapterOptions('q.-', { r: 4, loraAlpha: 8, rslora: true })).scale).toBe(4);
    expect(createThetaLayout(TINY_CONFIG, adapterOptions('q.-', { mode: 'full' })).scale).toBe(1);
  });

  it('reaches the attached adapters', () => {
    const options = adapterOptions('q.-', { r: 4, loraAlpha: 8, rslora: true });
    const layout = createThetaLayout(TINY_CONFIG, options);
    const params = applyTheta(base, layout, initTheta(base, layout, options, 1));
    expect(params.h[0]?.modules['attn.q'].lora?.scale).toBe(4);
  });
});

describe('initTheta', () => {
  it('draws Kaiming-uniform A within ±1/√in', () => {
    const options = adapterOptions('qkvofp.qkvofp');
    const layout = createThetaLayout(TINY_CONFIG, options);
    const theta = initTheta(base, layout, options, 3);
    layout.entries.forEach((entry, i) => {
      if (entry.part !== 'lora_A') return;
      const bound = 1 / Math.sqrt(entry.shape[1] as number);
      const largest = maxAbs(theta[i] as tf.Tensor);
      expect(largest, entry.name).toBeLessThanOrEqual(bound);
      // A draw that fills the range shows the bound is not far too small.
      expect(largest, entry.name).toBeGreaterThan(0.8 * bound);
    });
  });

  it('sets every B to exactly zero', () => {
    for (const init of ['kaiming', 'gaussian'] as const) {
      const options = adapterOptions('qkvofp.qkvofp', { init });
      const layout = createThetaLayout(TINY_CONFIG, options);
      const theta = initTheta(base, layout, options, 3);
      layout.entries.forEach((entry, i) => {
        if (entry.part === 'lora_B') expect(maxAbs(theta[i] as tf.Tensor), `${init} ${entry.name}`).toBe(0);
      });
    }
  });

  it('draws gaussian A with standard deviation 1/r', () => {
    const options = adapterOptions('qkvofp.qkvofp', { init: 'gaussian', r: 4 });
    const layout = createThetaLayout(TINY_CONFIG, options);
    const theta = initTheta(base, layout, options, 3);
    const values = layout.entries.flatMap((entry, i) => (entry.part === 'lora_A' ? Array.from((theta[i] as tf.Tensor).dataSync()) : []));
    const std = Math.sqrt(values.reduce((sum, value) => sum + value * value, 0) / values.length);
    // 1152 draws estimate the standard deviation within about 2%.
    expect(Math.abs(std / 0.25 - 1)).toBeLessThan(0.1);
  });

  it('repeats for a seed', () => {
    const options = adapterOptions('qv.qv');
    const layout = createThetaLayout(TINY_CONFIG, options);
    const a = flattenTheta(initTheta(base, layout, options, 9));
    const b = flattenTheta(initTheta(base, layout, options, 9));
    const c = flattenTheta(initTheta(base, layout, options, 10));
    expect(maxAbsDifference(a, b)).toBe(0);
    expect(maxAbsDifference(a, c)).toBeGreaterThan(1e-3);
  });

  it('copies the base weights in full mode', () => {
    const options = adapterOptions('qv.fp', { mode: 'full' });
    const layout = createThetaLayout(TINY_CONFIG, options);
    const theta = initTheta(base, layout, options, 3);
    layout.entries.forEach((entry, i) => {
      const linear = base.h[entry.layer]?.modules[entry.module];
      const source = entry.part === 'weight' ? linear?.weight : linear?.bias;
      expect(theta[i], entry.name).not.toBe(source);
      expect(maxAbsDifference(theta[i] as tf.Tensor, source as tf.Tensor), entry.name).toBe(0);
    });
  });
});

describe('flattenTheta', () => {
  it('places each tensor at its layout offset', () => {
    const options = adapterOptions('qv.fp');
    const layout = createThetaLayout(TINY_CONFIG, options);
    const theta = initTheta(base, layout, options, 5);
    const flat = flattenTheta(theta);
    expect(flat.shape).toEqual([layout.size]);
    const values = flat.dataSync();
    layout.entries.forEach((entry, i) => {
      const slice = Array.from(values.subarray(entry.offset, entry.offset + entry.size));
      expect(slice, entry.name).toEqual(Array.from((theta[i] as tf.Tensor).dataSync()));
    });
  });

  it('round-trips through unflattenTheta', () => {
    const options = adapterOptions('qv.fp', { mode: 'full' });
    const layout = createThetaLayout(TINY_CONFIG, options);
    const theta = initTheta(base, layout, options, 5);
    const restored = unflattenTheta(layout, flattenTheta(theta));
    expect(restored).toHaveLength(theta.length);
    restored.forEach((tensor, i) => {
      expect(tensor.shape).toEqual((theta[i] as tf.Tensor).shape);
      expect(maxAbsDifference(tensor, theta[i] as tf.Tensor)).toBe(0);
    });
  });

  it('rejects a vector of the wrong size', () => {
    const layout = createThetaLayout(TINY_CONFIG, adapterOptions('q.-'));
    expect(() => unflattenTheta(layout, tf.zeros([layout.size + 1]) as tf.Tensor1D)).toThrow(
      'unflattenTheta: the vector has 129 entries, the layout 128',
    );
  });
});

describe('applyTheta', () => {
  it('leaves the base params unchanged', () => {
    const options = adapterOptions('qv.qv');
    const layout = createThetaLayout(TINY_CONFIG, options);
    const adapted = applyTheta(base, layout, initTheta(base, layout, options, 1));
    expect(adapted.h[0]?.modules['attn.q'].lora).toBeDefined();
    expect(base.h[0]?.modules['attn.q'].lora).toBeUndefined();
    expect(adapted.h[0]?.modules['attn.k'].lora).toBeUndefined();
  });

  it('reproduces the base outputs in full mode', () => {
    const options = adapterOptions('qkvofp.qkvofp', { mode: 'full' });
    const layout = createThetaLayout(TINY_CONFIG, options);
    const expected = outputsOf(base);
    const actual = outputsOf(applyTheta(base, layout, initTheta(base, layout, options, 1)));
    expect(maxAbsDifference(actual.f, expected.f)).toBeLessThan(1e-6);
    expect(maxAbsDifference(actual.logits, expected.logits)).toBeLessThan(1e-6);
  });

  it('matches a LoRA update merged into W', () => {
    const grid = 'qv.fp';
    const loraOptions = adapterOptions(grid);
    const loraLayout = createThetaLayout(TINY_CONFIG, loraOptions);
    const loraTheta = initTheta(base, loraLayout, loraOptions, 7).map((tensor, i) =>
      loraLayout.entries[i]?.part === 'lora_B' ? seededNormal(tensor.shape, 0.1, 100 + i) : tensor,
    );

    // In the Conv1D layout y = x·W, so ΔW = scale·B·A ([out, in]) enters as its transpose.
    const fullOptions = adapterOptions(grid, { mode: 'full' });
    const fullLayout = createThetaLayout(TINY_CONFIG, fullOptions);
    const fullTheta = fullLayout.entries.map((entry, i) => {
      const linear = base.h[entry.layer]?.modules[entry.module];
      if (entry.part === 'bias') return linear?.bias as tf.Tensor;
      const blockIndex = fullLayout.blocks.findIndex((block) => block.layer === entry.layer && block.module === entry.module);
      const A = loraTheta[2 * blockIndex] as tf.Tensor;
      const B = loraTheta[2 * blockIndex + 1] as tf.Tensor;
      expect(loraLayout.entries[2 * blockIndex]?.name, `entry ${i}`).toBe(`h.${entry.layer}.${entry.module}.lora_A.weight`);
      return tf.add(linear?.weight as tf.Tensor, tf.mul(tf.transpose(matMul(B, A)), loraLayout.scale));
    });

    const lora = outputsOf(applyTheta(base, loraLayout, loraTheta));
    const merged = outputsOf(applyTheta(base, fullLayout, fullTheta));
    const unchanged = outputsOf(base);
    expect(maxAbsDifference(lora.f, merged.f)).toBeLessThan(1e-5);
    expect(maxAbsDifference(lora.logits, merged.logits)).toBeLessThan(1e-5);
    // The update must really move the outputs, or the comparison above proves nothing.
    expect(maxAbsDifference(lora.logits, unchanged.logits)).toBeGreaterThan(1e-3);
  });
});
