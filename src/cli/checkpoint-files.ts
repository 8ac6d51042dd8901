/** Reads and writes checkpoint folders on disk. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core/checkpoint/checkpoint.ts';

export const CONFIG_FILE = 'config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** Returns the folder of a named model under public/models, relative to the working directory. */
export function modelDir(name: string): string {
  return path.resolve('public', 'models', name);
}

export function loadCheckpoint(dir: string): Checkpoint {
  if (!existsSync(dir)) throw new CheckpointError(`checkpoint folder not found: ${dir}`);
  const read = (file: string): Buffer => {
    const filePath = path.join(dir, file);
    if (!existsSync(filePath)) throw new CheckpointError(`${file} not found in ${dir}`);
    return readFileSync(filePath);
  };
  const weights = read(WEIGHTS_FILE);
  return decodeCheckpoint({
    config: read(CONFIG_FILE).toString('utf8'),
    tokenizer: read(TOKENIZER_FILE).toString('utf8'),
    weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
  });
}

export async function saveCheckpoint(dir: string, checkpoint: Checkpoint, metadata: Record<string, string> = {}): Promise<void> {
  const files = await encodeCheckpoint(checkpoint, metadata);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, CONFIG_FILE), files.config);
  writeFileSync(path.join(dir, TOKENIZER_FILE), files.tokenizer);
  writeFileSync(path.join(dir, WEIGHTS_FILE), files.weights);
}
