import 'fake-indexeddb/auto';

import { readFileSync } from 'node:fs';

import { describe, expect, test } from 'vitest';

import type { ConfigEvent, LabEvent } from '../../src/core/events.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import { SavedRunsDb } from '../../src/ui/saved/db.ts';
import { parseLambdaList } from '../../src/ui/saved/lambda-sweep.ts';
import { createSavedStore, type SavedStore } from '../../src/ui/saved/saved-store.ts';
import { createLabStore, type LabPort, type LabStore } from '../../src/ui/store.ts';
import { ofType, parseEventLines } from '../e2e/fixtures/run-events.ts';

const RECORDED: LabEvent[] = parseEventLines(readFileSync(new URL('../e2e/fixtures/run-ce-adam.jsonl', import.meta.url), 'utf8'));

let databaseCount = 0;

/**
 * Returns a worker stand-in whose start() replays the recorded run with the
 * spec's λ as the worker's message batches, one batch per macrotask.
 */
function fakeWorker(store: () => LabStore): { port: LabPort; starts: number[]; activeAtStart: boolean[] } {
  const starts: number[] = [];
  const activeAtStart: boolean[] = [];
  const later = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));
  const idle = async (): Promise<void> => undefined;
  const port: LabPort = {
    preview: idle,
    selectAdapters: idle,
    async start(spec: ExperimentSpec) {
      starts.push(spec.lambda);
      activeAtStart.push(['preparing', 'running', 'paused'].includes(store().getState().runState));
      void (async () => {
        const receive = (messages: Parameters<ReturnType<LabStore['getState']>['receive']>[0]): void => store().getState().receive(messages);
        await later();
        receive([{ kind: 'state', state: 'preparing', step: 0 }]);
        await later();
        const config = { ...(ofType(RECORDED, 'config')[0] as ConfigEvent), spec };
        receive([{ kind: 'state', state: 'running', step: 0 }, { kind: 'events', events: [config, ...RECORDED.slice(1, 40)] }]);
        await later();
        receive([{ kind: 'events', events: RECORDED.slice(40) }, { kind: 'state', state: 'done', step: 150 }]);
      })();
    },
    pause: idle,
    resume: idle,
    stepOnce: idle,
    stop: idle,
    reset: idle,
    setLive: idle,
    runSweep: idle,
    measureJacobianChange: idle,
    cancel: idle,
    simulateDeviceLoss: idle,
    memory: async () => ({ numTensors: 0, numBytes: 0 }),
  };
  return { port, starts, activeAtStart };
}

async function setUp(): Promise<{ lab: LabStore; saved: SavedStore; worker: ReturnType<typeof fakeWorker>; disconnect: () => void }> {
  databaseCount += 1;
  const name = `saved-store-test-${databaseCount}`;
  const lab = createLabStore();
  const worker = fakeWorker(() => lab);
  lab.getState().attach(worker.port);
  const saved = createSavedStore(lab, () => SavedRunsDb.open(name));
  const disconnect = saved.getState().connect();
  await waitFor(() => saved.getState().loaded);
  return { lab, saved, worker, disconnect };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('saved runs store', () => {
  test('saves a run when it ends', async () => {
    const { lab, saved, disconnect } = await setUp();

    lab.getState().start();
    await waitFor(() => saved.getState().runs.length === 1);

    const [summary] = saved.getState().runs;
    expect(summary?.name).toBe('brown-genre-2, λ = 0, adam lr 0.01');
    expect(summary?.finalEvalAccuracy).toBe(lab.getState().run.done?.eval.accuracy);
    expect(saved.getState().liveEndedAt).not.toBeNull();
    disconnect();
  });

  test('saving on demand twice keeps one entry', async () => {
    const { lab, saved, disconnect } = await setUp();
    lab.getState().start();
    await waitFor(() => saved.getState().runs.length === 1);

    await saved.getState().saveLive('kept');
    await saved.getState().saveLive();

    expect(saved.getState().runs.map((run) => run.name)).toEqual(['kept']);
    disconnect();
  });

  test('lambda sweep runs one after another', async () => {
    const { lab, saved, worker, disconnect } = await setUp();

    await saved.getState().runLambdaSweep('0, 0.001; 0.1');

    expect(worker.starts).toEqual([0, 0.001, 0.1]);
    expect(worker.activeAtStart).toEqual([false, false, false]);
    expect(saved.getState().overlays.map((overlay) => overlay.name)).toEqual(['λ = 0', 'λ = 0.001', 'λ = 0.1']);
    expect(saved.getState().runs.map((run) => run.name).sort()).toEqual(['λ = 0', 'λ = 0.001', 'λ = 0.1']);
    expect(saved.getState().runs.map((run) => run.lambda).sort()).toEqual([0, 0.001, 0.1]);
    expect(saved.getState().sweep).toBeNull();
    expect(lab.getState().spec.lambda).toBe(0);
    expect(saved.getState().message?.text).toBe('λ sweep done: 3 runs saved and overlaid.');
    disconnect();
  });

  test('import shows and saves a record', async () => {
    const { lab, saved, disconnect } = await setUp();
    lab.getState().start();
    await waitFor(() => saved.getState().runs.length === 1);
    const text = JSON.stringify(saved.getState().currentRecord());

    await saved.getState().importRecord(text, 'folder/my-run.json');

    expect(saved.getState().shownRun?.name).toBe('my-run');
    expect(saved.getState().shownRun?.run.evals).toEqual(lab.getState().run.evals);
    expect(saved.getState().runs.map((run) => run.name)).toContain('my-run');
    disconnect();
  });

  test('bad import keeps the current state', async () => {
    const { saved, disconnect } = await setUp();
    await saved.getState().importRecord('{"format": "ntk-lab-run", "version": 7}', 'old.json');

    expect(saved.getState().shownRun).toBeNull();
    expect(saved.getState().runs).toEqual([]);
    expect(saved.getState().message).toEqual({ level: 'error', text: 'old.json: Unsupported run record version 7; this lab reads version 1.' });
    disconnect();
  });
});

describe('parseLambdaList', () => {
  test('reads commas and spaces', () => {
    expect(parseLambdaList('0, 0.001 0.01;0.1')).toEqual({ ok: true, lambdas: [0, 0.001, 0.01, 0.1] });
  });

  test.each([
    ['', /at least one λ value/],
    ['0, abc', /"abc" is not a number/],
    ['-1', /-1 is out of range; expected values from 0 to 1000/],
    ['0 1 2 3 4 5 6 7 8 9 10', /at most 10 λ values; got 11/],
  ])('rejects %j', (text, message) => {
    const result = parseLambdaList(text);

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});
