/**
 * The GPT-2-style model's hyperparameters, read from and written to a
 * Hugging Face style `config.json`.
 */
export interface GPTConfig {
  vocabSize: number;
  /** Context length: the largest number of tokens the model reads. */
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
}

/** The lab's default size: about 0.2M parameters, small enough for an NTK in a browser tab. */
export const DEFAULT_GPT_CONFIG: GPTConfig = {
  vocabSize: 97,
  nPositions: 128,
  nEmbd: 64,
  nLayer: 4,
  nHead: 4,
  layerNormEpsilon: 1e-5,
};

export class ConfigError extends Error {}

/** Upper bounds and config.json names of the integer sizes. */
const LIMITS: Readonly<Record<'vocabSize' | 'nPositions' | 'nEmbd' | 'nLayer' | 'nHead', { max: number; json: string }>> = {
  vocabSize: { max: 4096, json: 'vocab_size' },
  nPositions: { max: 2048, json: 'n_positions' },
  nEmbd: { max: 1024, json: 'n_embd' },
  nLayer: { max: 48, json: 'n_layer' },
  nHead: { max: 64, json: 'n_head' },
};

/** Checks sizes and divisibility, and returns the config unchanged. */
export function checkConfig(config: GPTConfig): GPTConfig {
  for (const [key, { max, json }] of Object.entries(LIMITS) as [keyof typeof LIMITS, { max: number; json: string }][]) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new ConfigError(`config: ${json} is ${String(value)}, expected an integer from 1 to ${max}`);
    }
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new ConfigError(`config: n_embd (${config.nEmbd}) is not divisible by n_head (${config.nHead})`);
  }
  if (!(config.layerNormEpsilon > 0 && config.layerNormEpsilon < 1)) {
    throw new ConfigError(`config: layer_norm_epsilon is ${config.layerNormEpsilon}, expected a number in (0, 1)`);
  }
  return config;
}

/** Parses a Hugging Face GPT-2 `config.json` object (snake_case keys). */
export function configFromJson(json: unknown): GPTConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('config.json: expected a JSON object');
  }
  const record = json as Record<string, unknown>;
  if (record['model_type'] !== 'gpt2') {
    throw new ConfigError(`config.json: model_type is ${JSON.stringify(record['model_type'])}, expected "gpt2"`);
  }
  const readInt = (key: string): number => {
    const value = record[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new ConfigError(`config.json: ${key} is ${JSON.stringify(value)}, expected an integer`);
    }
    return value;
  };
  const epsilon = record['layer_norm_epsilon'] ?? 1e-5;
  if (typeof epsilon !== 'number') {
    throw new ConfigError(`config.json: layer_norm_epsilon is ${JSON.stringify(epsilon)}, expected a number`);
  }
  const activation = record['activation_function'] ?? 'gelu_new';
  if (activation !== 'gelu_new') {
    throw new ConfigError(`config.json: activation_function is ${JSON.stringify(activation)}, only "gelu_new" is supported`);
  }
  return checkConfig({
    vocabSize: readInt('vocab_size'),
    nPositions: readInt('n_positions'),
    nEmbd: readInt('n_embd'),
    nLayer: readInt('n_layer'),
    nHead: readInt('n_head'),
    layerNormEpsilon: epsilon,
  });
}

/** Formats the config as a Hugging Face GPT-2 `config.json` object. */
export function configToJson(config: GPTConfig): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: config.layerNormEpsilon,
    tie_word_embeddings: true,
  };
}

/** Counts the parameters of a config: embeddings, blocks and the final LayerNorm (the LM head is tied to wte). */
export function countParameters(config: GPTConfig): number {
  const d = config.nEmbd;
  const block = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
  return config.vocabSize * d + config.nPositions * d + config.nLayer * block + 2 * d;
}
