import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createServedFiles, INIT_OPTIONS, serveFile, type ServedFile } from './host-fixtures.ts';
import { LabHost, type HostEnvironment } from '../../src/worker/lab-host.ts';
import type { BackendReport, WorkerMessage } from '../../src/worker/protocol.ts';

let files: Map<string, ServedFile>;
const hosts: LabHost[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  files = await createServedFiles();
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.dispose()));
});

/** Creates a host whose backend starts only when `startBackend` is called, and a list of the URLs it fetched before that. */
function createGatedHost(): { host: LabHost; fetchedBeforeBackend: string[]; startBackend: (outcome: 'ok' | 'fail') => void } {
  const fetchedBeforeBackend: string[] = [];
  let backendStarted = false;
  let settle: (outcome: 'ok' | 'fail') => void = () => undefined;
  const gate = new Promise<'ok' | 'fail'>((resolve) => {
    settle = resolve;
  });

  const environment: HostEnvironment = {
    selectBackend: async (): Promise<BackendReport> => {
      const outcome = await gate;
      backendStarted = true;
      if (outcome === 'fail') throw new Error('no tfjs backend could start');
      await tf.setBackend('cpu');
      return { backend: 'cpu', skipped: [] };
    },
    fetch: async (url) => {
      if (!backendStarted) fetchedBeforeBackend.push(url);
      return serveFile(files, url);
    },
    watchDeviceLoss: () => undefined,
    destroyGpuDevice: () => {
      throw new Error('no GPU device on the cpu backend');
    },
  };
  const host = new LabHost(environment);
  hosts.push(host);
  return { host, fetchedBeforeBackend, startBackend: settle };
}

/** Resolves after a few macrotasks, so that pending fetches can start. */
async function drainTasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

describe('LabHost.init loading', () => {
  it('fetches files while the backend starts', async () => {
    const { host, fetchedBeforeBackend, startBackend } = createGatedHost();
    const messages: WorkerMessage[] = [];
    const init = host.init(INIT_OPTIONS, (batch) => {
      messages.push(...batch);
    });

    await drainTasks();
    startBackend('ok');
    const report = await init;

    expect(report.backend).toBe('cpu');
    expect(fetchedBeforeBackend.sort()).toEqual([...files.keys()].sort());
  });

  it('counts load progress in order', async () => {
    const { host, startBackend } = createGatedHost();
    const messages: WorkerMessage[] = [];
    const init = host.init(INIT_OPTIONS, (batch) => {
      messages.push(...batch);
    });
    startBackend('ok');
    await init;
    await host.dispose();

    const progress = messages.filter((message) => message.kind === 'progress' && message.task === 'load');
    const done = progress.map((message) => (message.kind === 'progress' ? message.done : -1));
    // The batcher keeps only the latest progress of a task per batch, so some counts may be missing.
    expect(done.at(-1)).toBe(5);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(progress.every((message) => message.kind === 'progress' && message.total === 5)).toBe(true);
  });

  it('reports the backend failure, not the downloads', async () => {
    const { host, startBackend } = createGatedHost();
    const init = host.init(INIT_OPTIONS, () => undefined);
    await drainTasks();
    startBackend('fail');

    await expect(init).rejects.toThrow('no tfjs backend could start');
  });
});
