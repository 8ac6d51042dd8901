/**
 * The files a LabHost fetches in unit tests: the tiny test checkpoint and the
 * committed task data, served from a map keyed by URL.
 */
import { readFileSync } from 'node:fs';

import { createTestCheckpoint } from './ntk-fixtures.ts';
import { encodeCheckpoint } from '../../src/core/checkpoint/checkpoint.ts';
import { disposeParams } from '../../src/core/model/params.ts';
import type { InitOptions } from '../../src/worker/protocol.ts';

export const MODEL_URL = '/models/tiny/';
export const DATA_URL = '/data/task-sources.json';
export const INIT_OPTIONS: InitOptions = { exclude: [], simulateFailure: [], modelUrl: MODEL_URL, dataUrl: DATA_URL };

/** A served file: its body and its content type. */
export type ServedFile = { body: string | Uint8Array<ArrayBuffer>; type: string };

/** Encodes the tiny test checkpoint and reads the task data; call it after the tfjs backend is set. */
export async function createServedFiles(): Promise<Map<string, ServedFile>> {
  const checkpoint = createTestCheckpoint();
  const encoded = await encodeCheckpoint(checkpoint);
  disposeParams(checkpoint.params);

  return new Map([
    [`${MODEL_URL}config.json`, { body: encoded.config, type: 'application/json' }],
    [`${MODEL_URL}tokenizer.json`, { body: encoded.tokenizer, type: 'application/json' }],
    [`${MODEL_URL}model.safetensors`, { body: new Uint8Array(encoded.weights), type: 'application/octet-stream' }],
    [DATA_URL, { body: readFileSync('public/data/task-sources.json', 'utf8'), type: 'application/json' }],
  ]);
}

/** Returns the response to a fetch of `url` from the served files: the file, or a 404 for a file not in them. */
export function serveFile(files: ReadonlyMap<string, ServedFile>, url: string): Response {
  const file = files.get(url);
  if (file === undefined) return new Response('missing', { status: 404, statusText: 'Not Found' });
  return new Response(file.body, { status: 200, headers: { 'content-type': file.type } });
}
