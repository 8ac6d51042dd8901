import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  TINY_CONFIG,
  TOY_TASK,
  TOY_TEXTS,
  createTinyParams,
  createToyBatch,
  maxAbsDifference,
  seededNormal,
  toyLabelIds,
} from './fixtures.ts';
import { encodeExamples } from '../../src/core/finetune/encode.ts';
import {
  ConfigError,
  checkConfig,
  configFromJson,
  configToJson,
  countParameters,
  type GPTConfig,
} from '../../src/core/model/config.ts';
import { hiddenStates, lmLogits, verbalizerLogits } from '../../src/core/model/gpt.ts';
import { gelu, layerNorm } from '../../src/core/model/layers.ts';
import { matMul } from '../../src/core/model/matmul.ts';
import { MODULES } from '../../src/core/model/modules.ts';
import { disposeParams, initParams, paramTensors, paramsFromList, type GPTParams, type LayerNormParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';

const tokenizer = CharTokenizer.ascii();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Encodes one text as a [1, T] int32 tensor. */
function idsOf(text: string): tf.Tensor2D {
  const ids = tokenizer.encode(text);
  return tf.tensor2d(ids, [1, ids.length], 'int32');
}

/** Returns the sample standard deviation of a tensor's entries. */
function stdOf(tensors: tf.Tensor[]): number {
  const values = tensors.flatMap((tensor) => Array.from(tensor.dataSync()));
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1));
}

describe('GPT forward pass', () => {
  let params: GPTParams;

  beforeAll(() => {
    params = createTinyParams(1);
  });

  it('returns hidden states [B, T, C]', () => {
    const ids = tf.zeros([3, 7], 'int32') as tf.Tensor2D;
    expect(tf.tidy(() => hiddenStates(params, ids)).shape).toEqual([3, 7, TINY_CONFIG.nEmbd]);
  });

  it('returns LM logits [B, T, V]', () => {
    const ids = tf.zeros([3, 7], 'int32') as tf.Tensor2D;
    expect(tf.tidy(() => lmLogits(params, ids)).shape).toEqual([3, 7, TINY_CONFIG.vocabSize]);
  });

  it('returns verbalizer logits [B, C]', () => {
    const batch = createToyBatch(tokenizer);
    const labelIds = toyLabelIds(tokenizer);
    const f = tf.tidy(() => verbalizerLogits(params, batch.ids, batch.answerMask, labelIds));
    expect(f.shape).toEqual([TOY_TEXTS.length, TOY_TASK.labelTokens.length]);
  });

  it('accepts the full context', () => {
    const ids = tf.zeros([1, TINY_CONFIG.nPositions], 'int32') as tf.Tensor2D;
    expect(tf.tidy(() => lmLogits(params, ids)).shape[1]).toBe(TINY_CONFIG.nPositions);
  });

  it('rejects inputs longer than the context', () => {
    const ids = tf.zeros([1, TINY_CONFIG.nPositions + 1], 'int32') as tf.Tensor2D;
    expect(() => lmLogits(params, ids)).toThrow("the input has 25 tokens but the model's context is 24");
  });

  it('is causal', () => {
    const changeAt = 6;
    const original = 'The jury said so.';
    const changed = `${original.slice(0, changeAt)}X${original.slice(changeAt + 1)}`;
    const [a, b] = tf.tidy(() => [lmLogits(params, idsOf(original)), lmLogits(params, idsOf(changed))]) as [
      tf.Tensor3D,
      tf.Tensor3D,
    ];
    const T = original.length;
    const V = TINY_CONFIG.vocabSize;

    const before = maxAbsDifference(a.slice([0, 0, 0], [1, changeAt, V]), b.slice([0, 0, 0], [1, changeAt, V]));
    expect(before).toBeLessThan(1e-6);
    // The check above could pass trivially if the change did nothing at all.
    const after = maxAbsDifference(a.slice([0, changeAt, 0], [1, T - changeAt, V]), b.slice([0, changeAt, 0], [1, T - changeAt, V]));
    expect(after).toBeGreaterThan(1e-4);
  });

  it('reads verbalizer logits from the LM logits', () => {
    const examples = TOY_TEXTS.map((text, i) => ({ text, label: i % 2, source: 'test' }));
    const encoded = encodeExamples(tokenizer, TOY_TASK, examples, TINY_CONFIG.nPositions);
    const batch = createToyBatch(tokenizer);
    const labelIds = TOY_TASK.labelTokens.map((token) => tokenizer.tokenId(token) as number);

    const f = tf.tidy(() => verbalizerLogits(params, batch.ids, batch.answerMask, tf.tensor1d(labelIds, 'int32')));
    const logits = tf.tidy(() => lmLogits(params, batch.ids));
    const fRows = f.arraySync();
    const logitRows = logits.arraySync();

    for (let i = 0; i < encoded.count; i++) {
      const position = encoded.answerPositions[i] as number;
      for (const [c, labelId] of labelIds.entries()) {
        const expected = logitRows[i]?.[position]?.[labelId] as number;
        expect(fRows[i]?.[c]).toBeCloseTo(expected, 5);
      }
    }
  });

  it('gives padded rows their unpadded outputs', () => {
    // Right padding sits after the answer position, so causality keeps it out of f.
    const batch = createToyBatch(tokenizer);
    const labelIds = toyLabelIds(tokenizer);
    const shortest = TOY_TEXTS.indexOf('ok');
    const alone = encodeExamples(tokenizer, TOY_TASK, [{ text: 'ok', label: 0, source: 'test' }], TINY_CONFIG.nPositions);
    expect(alone.length).toBeLessThan(batch.ids.shape[1]);

    const padded = tf.tidy(() => verbalizerLogits(params, batch.ids, batch.answerMask, labelIds).slice([shortest, 0], [1, 2]));
    const unpadded = tf.tidy(() => {
      const ids = tf.tensor2d(alone.ids, [1, alone.length], 'int32');
      const mask = tf.oneHot(tf.tensor1d(alone.answerPositions, 'int32'), alone.length).toFloat() as tf.Tensor2D;
      return verbalizerLogits(params, ids, mask, labelIds);
    });
    expect(maxAbsDifference(padded, unpadded)).toBeLessThan(1e-6);
  });
});

describe('matMul', () => {
  const cases: { name: string; aShape: number[]; bShape: number[]; transposeA: boolean; transposeB: boolean }[] = [
    { name: 'a·b', aShape: [3, 4], bShape: [4, 5], transposeA: false, transposeB: false },
    { name: 'aᵀ·b', aShape: [4, 3], bShape: [4, 5], transposeA: true, transposeB: false },
    { name: 'a·bᵀ', aShape: [3, 4], bShape: [5, 4], transposeA: false, transposeB: true },
    { name: 'aᵀ·bᵀ', aShape: [4, 3], bShape: [5, 4], transposeA: true, transposeB: true },
    { name: 'batched a·bᵀ', aShape: [2, 3, 3, 4], bShape: [2, 3, 5, 4], transposeA: false, transposeB: true },
    { name: 'batched aᵀ·b', aShape: [2, 4, 3], bShape: [2, 4, 5], transposeA: true, transposeB: false },
  ];

  for (const { name, aShape, bShape, transposeA, transposeB } of cases) {
    describe(name, () => {
      let a: tf.Tensor;
      let b: tf.Tensor;
      let expected: tf.Tensor;
      let weights: tf.Tensor;

      beforeAll(() => {
        a = seededNormal(aShape, 1, 11);
        b = seededNormal(bShape, 1, 12);
        expected = tf.matMul(a, b, transposeA, transposeB);
        // Weighting the output makes dy non-uniform, so a wrong transpose in the backward pass shows.
        weights = seededNormal(expected.shape, 1, 13);
      });

      const weightedSum =
        (op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
        (x: tf.Tensor, y: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(op(x, y), weights));

      it('matches tf.matMul values', () => {
        const actual = matMul(a, b, transposeA, transposeB);
        expect(actual.shape).toEqual(expected.shape);
        expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
      });

      it('matches tf.matMul gradients', () => {
        const ours = tf.grads(weightedSum((x, y) => matMul(x, y, transposeA, transposeB)))([a, b]);
        const reference = tf.grads(weightedSum((x, y) => tf.matMul(x, y, transposeA, transposeB)))([a, b]);
        expect(ours[0]?.shape).toEqual(aShape);
        expect(ours[1]?.shape).toEqual(bShape);
        expect(maxAbsDifference(ours[0] as tf.Tensor, reference[0] as tf.Tensor)).toBeLessThan(1e-5);
        expect(maxAbsDifference(ours[1] as tf.Tensor, reference[1] as tf.Tensor)).toBeLessThan(1e-5);
      });
    });
  }
});

describe('gelu', () => {
  it('matches the tanh closed form', () => {
    const points = [-3, -1, -0.5, 0, 0.5, 1, 2, 3];
    const actual = tf.tidy(() => gelu(tf.tensor1d(points)).arraySync() as number[]);
    points.forEach((x, i) => {
      const expected = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      expect(Math.abs((actual[i] as number) - expected)).toBeLessThan(1e-6);
    });
  });

  it('matches published gelu_new values', () => {
    const actual = tf.tidy(() => gelu(tf.tensor1d([1, -1, 2])).arraySync() as number[]);
    expect(actual[0]).toBeCloseTo(0.841192, 6);
    expect(actual[1]).toBeCloseTo(-0.158808, 6);
    expect(actual[2]).toBeCloseTo(1.954598, 6);
  });
});

describe('layerNorm', () => {
  let x: tf.Tensor;
  let identity: LayerNormParams;

  beforeAll(() => {
    x = tf.add(tf.mul(seededNormal([4, 16], 1, 21), 5), 3); // rows with mean near 3 and std near 5
    identity = { weight: tf.ones([16]), bias: tf.zeros([16]) };
  });

  it('normalizes each row to mean 0', () => {
    const { mean } = tf.moments(layerNorm(x, identity, 1e-5), -1);
    expect(Math.max(...Array.from(tf.abs(mean).dataSync()))).toBeLessThan(1e-5);
  });

  it('normalizes each row to variance 1', () => {
    const { variance } = tf.moments(layerNorm(x, identity, 1e-5), -1);
    for (const value of variance.dataSync()) expect(Math.abs(value - 1)).toBeLessThan(1e-4);
  });

  it('applies gain and bias after normalizing', () => {
    const affine = { weight: seededNormal([16], 1, 22) as tf.Tensor1D, bias: seededNormal([16], 1, 23) as tf.Tensor1D };
    const expected = tf.add(tf.mul(layerNorm(x, identity, 1e-5), affine.weight), affine.bias);
    expect(maxAbsDifference(layerNorm(x, affine, 1e-5), expected)).toBeLessThan(1e-5);
  });
});

describe('initParams', () => {
  it('repeats for a seed', () => {
    const a = createTinyParams(5);
    const b = createTinyParams(5);
    expect(maxAbsDifference(a.wte, b.wte)).toBe(0);
    expect(maxAbsDifference(a.h[1]?.modules['mlp.c_fc'].weight as tf.Tensor, b.h[1]?.modules['mlp.c_fc'].weight as tf.Tensor)).toBe(0);
    disposeParams(a);
    disposeParams(b);
  });

  it('differs between seeds', () => {
    const a = createTinyParams(5);
    const b = createTinyParams(6);
    expect(maxAbsDifference(a.wte, b.wte)).toBeGreaterThan(1e-3);
    disposeParams(a);
    disposeParams(b);
  });

  it('uses GPT-2 standard deviations', () => {
    const params = createTinyParams(7);
    const residual = params.h.flatMap((block) => [block.modules['attn.c_proj'].weight, block.modules['mlp.c_proj'].weight]);
    const other = params.h.flatMap((block) => [block.modules['attn.q'].weight, block.modules['mlp.c_fc'].weight]);
    expect(stdOf([params.wte])).toBeCloseTo(0.02, 2);
    expect(Math.abs(stdOf([params.wpe]) / 0.01 - 1)).toBeLessThan(0.15);
    expect(Math.abs(stdOf(other) / 0.02 - 1)).toBeLessThan(0.1);
    // 0.02 / √(2 · nLayer) with two layers.
    expect(Math.abs(stdOf(residual) / 0.01 - 1)).toBeLessThan(0.1);
    disposeParams(params);
  });

  it('starts LayerNorms and biases at identity', () => {
    const params = createTinyParams(7);
    const block = params.h[0];
    expect(Array.from(block?.ln_1.weight.dataSync() ?? [])).toEqual(Array<number>(16).fill(1));
    expect(Array.from(block?.ln_2.bias.dataSync() ?? [])).toEqual(Array<number>(16).fill(0));
    expect(Array.from(params.ln_f.weight.dataSync())).toEqual(Array<number>(16).fill(1));
    for (const module of MODULES) {
      expect(Math.max(...Array.from(block?.modules[module].bias.dataSync() ?? [1]))).toBe(0);
    }
    disposeParams(params);
  });
});

describe('params lists', () => {
  it('count the config parameters', () => {
    const params = createTinyParams(1);
    const total = paramTensors(params).reduce((sum, tensor) => sum + tensor.size, 0);
    expect(total).toBe(countParameters(TINY_CONFIG));
    disposeParams(params);
  });

  it('rebuild params in paramTensors order', () => {
    const params = createTinyParams(1);
    const rebuilt = paramsFromList(params, paramTensors(params));
    expect(paramTensors(rebuilt)).toEqual(paramTensors(params));
    expect(rebuilt.h[1]?.modules['mlp.c_proj'].weight).toBe(params.h[1]?.modules['mlp.c_proj'].weight);
    disposeParams(params);
  });

  it('reject a list of the wrong length', () => {
    const params = createTinyParams(1);
    const tensors = paramTensors(params);
    expect(() => paramsFromList(params, tensors.slice(0, -1))).toThrow('paramsFromList: expected more than');
    expect(() => paramsFromList(params, [...tensors, params.wte])).toThrow(
      `paramsFromList: got ${tensors.length + 1} tensors, used ${tensors.length}`,
    );
    disposeParams(params);
  });
});

describe('config', () => {
  it('round-trips through config.json', () => {
    const json = JSON.parse(JSON.stringify(configToJson(TINY_CONFIG))) as unknown;
    expect(configFromJson(json)).toEqual(TINY_CONFIG);
  });

  it('writes Hugging Face GPT-2 keys', () => {
    const json = configToJson(TINY_CONFIG);
    expect(json['model_type']).toBe('gpt2');
    expect(json['n_embd']).toBe(16);
    expect(json['n_ctx']).toBe(24);
    expect(json['activation_function']).toBe('gelu_new');
  });

  it('counts a known size', () => {
    // Per block: 2 LayerNorms (64), c_attn (816), attn.c_proj (272), mlp.c_fc (1088), mlp.c_proj (1040).
    expect(countParameters(TINY_CONFIG)).toBe(97 * 16 + 24 * 16 + 2 * 3280 + 32);
  });

  const rejections: { name: string; patch: Record<string, unknown>; message: string }[] = [
    { name: 'a non-GPT-2 model type', patch: { model_type: 'bert' }, message: 'config.json: model_type is "bert", expected "gpt2"' },
    { name: 'a fractional n_embd', patch: { n_embd: 16.5 }, message: 'config.json: n_embd is 16.5, expected an integer' },
    { name: 'a missing n_layer', patch: { n_layer: undefined }, message: 'config.json: n_layer is undefined, expected an integer' },
    {
      name: 'another activation',
      patch: { activation_function: 'relu' },
      message: 'config.json: activation_function is "relu", only "gelu_new" is supported',
    },
    { name: 'heads that do not divide n_embd', patch: { n_head: 3 }, message: 'config: n_embd (16) is not divisible by n_head (3)' },
    { name: 'zero layers', patch: { n_layer: 0 }, message: 'config: n_layer is 0, expected an integer from 1 to 48' },
  ];

  for (const { name, patch, message } of rejections) {
    it(`rejects ${name}`, () => {
      const json = { ...configToJson(TINY_CONFIG), ...patch };
      expect(() => configFromJson(json)).toThrow(ConfigError);
      expect(() => configFromJson(json)).toThrow(message);
    });
  }

  it('rejects a non-positive epsilon', () => {
    const config: GPTConfig = { ...TINY_CONFIG, layerNormEpsilon: 0 };
    expect(() => checkConfig(config)).toThrow('config: layer_norm_epsilon is 0, expected a number in (0, 1)');
  });

  it('initializes from a checked config', () => {
    const params = initParams(checkConfig({ ...TINY_CONFIG }), 3);
    expect(params.wpe.shape).toEqual([24, 16]);
    disposeParams(params);
  });
});
