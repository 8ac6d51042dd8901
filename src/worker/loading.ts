/**
 * Loads the checkpoint and the task data over HTTP, with one-line errors
 * that name the URL and what was wrong.
 */
import { decodeCheckpoint, type Checkpoint } from '../core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../core/data/tasks.ts';
import { firstLine } from './backend-order.ts';
import { parseTaskSourcesFile } from './task-sources.ts';

export type FetchFn = (url: string) => Promise<Response>;

export interface LoadedData {
  checkpoint: Checkpoint;
  sources: TaskSources;
}

/** The files init loads, in order, for progress messages. */
export const LOAD_STEPS = ['config.json', 'tokenizer.json', 'model.safetensors', 'task data'] as const;

/** Joins a folder URL and a file name, with exactly one "/" between them. */
export function fileUrl(folderUrl: string, file: string): string {
  return `${folderUrl.replace(/\/+$/, '')}/${file}`;
}

/** Returns the last path segment of a folder URL, such as "brown-gpt" for "/models/brown-gpt/". */
export function folderName(folderUrl: string): string {
  return folderUrl.replace(/\/+$/, '').split('/').pop() ?? '';
}

async function fetchOk(fetchFn: FetchFn, url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (error) {
    throw new Error(`failed to fetch ${url}: ${firstLine(error)}`);
  }
  if (!response.ok) throw new Error(`failed to load ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  // A dev server returns its index.html page with status 200 for a missing file.
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
    throw new Error(`failed to load ${url}: the server returned an HTML page, so the file is probably missing`);
  }
  return response;
}

/** The four files as fetched, not yet decoded. */
export interface LabFiles {
  config: string;
  tokenizer: string;
  weights: Uint8Array;
  dataText: string;
}

/**
 * Fetches the three checkpoint files and the task data in parallel, calling
 * `onFile` as each one arrives. Throws an Error with a one-line message for a
 * failed request. It allocates no tensors, so it may run while a tfjs backend
 * starts.
 */
export async function fetchLabFiles(
  fetchFn: FetchFn,
  urls: { modelUrl: string; dataUrl: string },
  onFile: (file: (typeof LOAD_STEPS)[number]) => void,
): Promise<LabFiles> {
  const track = async <T>(file: (typeof LOAD_STEPS)[number], read: Promise<T>): Promise<T> => {
    const value = await read;
    onFile(file);
    return value;
  };

  const [config, tokenizer, weights, dataText] = await Promise.all([
    track('config.json', fetchOk(fetchFn, fileUrl(urls.modelUrl, 'config.json')).then((response) => response.text())),
    track('tokenizer.json', fetchOk(fetchFn, fileUrl(urls.modelUrl, 'tokenizer.json')).then((response) => response.text())),
    track(
      'model.safetensors',
      fetchOk(fetchFn, fileUrl(urls.modelUrl, 'model.safetensors')).then(async (response) => new Uint8Array(await response.arrayBuffer())),
    ),
    track('task data', fetchOk(fetchFn, urls.dataUrl).then((response) => response.text())),
  ]);
  return { config, tokenizer, weights, dataText };
}

/**
 * Decodes the fetched files into the checkpoint, whose weights become tensors
 * on the current tfjs backend, and the task sources. Throws an Error with a
 * one-line message for a malformed file.
 */
export function decodeLabFiles(files: LabFiles, dataUrl: string): LoadedData {
  let json: unknown;
  try {
    json = JSON.parse(files.dataText) as unknown;
  } catch (error) {
    throw new Error(`${dataUrl}: invalid JSON (${firstLine(error)})`);
  }
  const sources = parseTaskSourcesFile(json);
  // Decoded last, because it is the only step that allocates tensors.
  const checkpoint = decodeCheckpoint({ config: files.config, tokenizer: files.tokenizer, weights: files.weights });
  return { checkpoint, sources };
}

/**
 * Fetches the three checkpoint files and the task data, reporting each
 * finished file, then decodes them. Throws an Error with a one-line message
 * for a failed request or a malformed file.
 */
export async function loadLabData(
  fetchFn: FetchFn,
  urls: { modelUrl: string; dataUrl: string },
  onFile: (done: number, file: string) => void,
): Promise<LoadedData> {
  let done = 0;
  const files = await fetchLabFiles(fetchFn, urls, (file) => {
    done += 1;
    onFile(done, file);
  });
  return decodeLabFiles(files, urls.dataUrl);
}
