import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createServedFiles, DATA_URL, INIT_OPTIONS, MODEL_URL, serveFile, type ServedFile } from './host-fixtures.ts';
import { tinySpec } from './ntk-fixtures.ts';
import type { LabEvent, PreviewEvent } from '../../src/core/events.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import { selectBackend } from '../../src/worker/backend-order.ts';
import { LabHost, type HostEnvironment } from '../../src/worker/lab-host.ts';
import type { RunState, WorkerMessage } from '../../src/worker/protocol.ts';

/** The served files: the tiny test checkpoint and the committed task data. */
let files: Map<string, ServedFile>;
/** Every host a test created, disposed after the test so that no run or task spills into the next one. */
const hosts: LabHost[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  files = await createServedFiles();
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.dispose()));
});

/** Creates a host on the cpu backend that reads `served`, and a function that fires its device-loss watch. */
function createHost(served = files): { host: LabHost; loseDevice: (message: string) => void } {
  let onLost: (message: string) => void = () => undefined;
  const environment: HostEnvironment = {
    selectBackend: (options) =>
      selectBackend(options, async (backend) => {
        if (backend !== 'cpu') return { ok: false, reason: 'not available in Node' };
        await tf.setBackend('cpu');
        return { ok: true };
      }),
    fetch: async (url) => serveFile(served, url),
    watchDeviceLoss: (callback) => {
      onLost = callback;
    },
    destroyGpuDevice: () => {
      throw new Error('simulateDeviceLoss needs the webgpu backend, but this worker runs cpu');
    },
  };
  const host = new LabHost(environment);
  hosts.push(host);
  return { host, loseDevice: (message) => onLost(message) };
}

/** Records every batch the host sends. */
class Inbox {
  readonly batches: WorkerMessage[][] = [];
  /** performance.now() at each batch. */
  readonly times: number[] = [];
  readonly listener = (messages: WorkerMessage[]): void => {
    this.batches.push(messages);
    this.times.push(performance.now());
  };

  get messages(): WorkerMessage[] {
    return this.batches.flat();
  }

  get events(): LabEvent[] {
    return this.messages.flatMap((message) => (message.kind === 'events' ? message.events : []));
  }

  get states(): RunState[] {
    return this.messages.flatMap((message) => (message.kind === 'state' ? [message.state] : []));
  }

  clear(): void {
    this.batches.length = 0;
    this.times.length = 0;
  }

  /** Resolves once a message matches, or rejects after `timeoutMs`. */
  async waitFor(predicate: (message: WorkerMessage) => boolean, timeoutMs = 60_000): Promise<WorkerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.kind))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  waitForState(state: RunState): Promise<WorkerMessage> {
    return this.waitFor((message) => message.kind === 'state' && message.state === state);
  }

  waitForTaskEnd(task: string): Promise<WorkerMessage> {
    return this.waitFor((message) => message.kind === 'taskEnd' && message.task === task);
  }
}

function spec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return tinySpec({ model: 'tiny', steps: 3, evalInterval: 1, ntkInterval: 1, linearized: true, ...overrides });
}

async function initializedHost(): Promise<{ host: LabHost; inbox: Inbox; baseline: number; loseDevice: (message: string) => void }> {
  const { host, loseDevice } = createHost();
  const inbox = new Inbox();
  await host.init(INIT_OPTIONS, inbox.listener);
  const baseline = (await host.memory()).numTensors;
  return { host, inbox, baseline, loseDevice };
}

describe('LabHost.init', () => {
  it('reports the backend and its skipped ones', async () => {
    const { host } = createHost();
    const inbox = new Inbox();
    const report = await host.init(INIT_OPTIONS, inbox.listener);

    expect(report.backend).toBe('cpu');
    expect(report.skipped.map((entry) => `${entry.backend}: ${entry.reason}`)).toEqual([
      'webgpu: not available in Node',
      'webgl: not available in Node',
      'wasm: not available in Node',
    ]);
  });

  it('reports load progress and its end', async () => {
    const { host } = createHost();
    const inbox = new Inbox();
    await host.init(INIT_OPTIONS, inbox.listener);
    await inbox.waitForTaskEnd('load');

    expect(inbox.messages.some((message) => message.kind === 'progress' && message.task === 'load')).toBe(true);
    expect(inbox.messages.at(-1)).toEqual({ kind: 'taskEnd', task: 'load', outcome: 'finished' });
  });

  it('rejects a second init', async () => {
    const { host } = await initializedHost();

    await expect(host.init(INIT_OPTIONS, () => undefined)).rejects.toThrow('the worker is already initialized');
  });

  it('rejects a missing checkpoint', async () => {
    const { host } = createHost();

    await expect(host.init({ ...INIT_OPTIONS, modelUrl: '/models/missing/' }, () => undefined)).rejects.toThrow(
      /^failed to load \/models\/missing\/(config|tokenizer)\.json: HTTP 404 Not Found$/,
    );
  });

  it('rejects an HTML page in place of a file', async () => {
    const served = new Map(files);
    served.set(DATA_URL, { body: '<!doctype html>', type: 'text/html' });
    const { host } = createHost(served);

    await expect(host.init(INIT_OPTIONS, () => undefined)).rejects.toThrow(
      'failed to load /data/task-sources.json: the server returned an HTML page, so the file is probably missing',
    );
  });

  it('rejects malformed weights without leaking tensors', async () => {
    const served = new Map(files);
    served.set(`${MODEL_URL}model.safetensors`, { body: new Uint8Array([1, 2, 3]), type: 'application/octet-stream' });
    const { host } = createHost(served);
    const before = tf.memory().numTensors;

    await expect(host.init(INIT_OPTIONS, () => undefined)).rejects.toThrow(/^model\.safetensors: /);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects calls before init', async () => {
    const { host } = createHost();

    await expect(host.start(spec())).rejects.toThrow('the worker is not initialized; call init first');
  });
});

describe('LabHost run', () => {
  it('streams a run to done', async () => {
    const { host, inbox } = await initializedHost();
    await host.start(spec());
    await inbox.waitForState('done');
    const types = inbox.events.map((event) => event.type);

    expect(inbox.states).toEqual(['preparing', 'running', 'done']);
    expect(types[0]).toBe('config');
    expect(types.filter((type) => type === 'step')).toHaveLength(6);
    expect(types.filter((type) => type === 'ntk')).toHaveLength(4);
    expect(types.filter((type) => type === 'divergence')).toHaveLength(4);
    expect(types.at(-1)).toBe('done');
    expect(inbox.events.at(-1)).toMatchObject({ type: 'done', steps: 3 });
  });

  it('sends batches at most every 100 ms', async () => {
    const { host, inbox } = await initializedHost();
    await host.start(spec({ steps: 40, ntkInterval: 0, evalInterval: 40, linearized: false }));
    await inbox.waitForState('done');
    const urgent = new Set(['state', 'error', 'taskEnd', 'deviceLost']);
    const gaps = inbox.batches.flatMap((batch, i) =>
      i === 0 || batch.some((message) => urgent.has(message.kind)) ? [] : [(inbox.times[i] as number) - (inbox.times[i - 1] as number)],
    );

    expect(gaps.length).toBeGreaterThan(0);
    // Timers may fire up to a millisecond early.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(99);
  });

  it('reports prepare progress', async () => {
    const { host, inbox } = await initializedHost();
    await host.start(spec());
    await inbox.waitForTaskEnd('prepare');
    const progress = inbox.messages.filter((message) => message.kind === 'progress' && message.task === 'prepare');

    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ done: 32, total: 32 });
  });

  it('returns to the baseline after reset', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.start(spec());
    await inbox.waitForState('done');
    await host.reset();

    expect((await host.memory()).numTensors).toBe(baseline);
    expect(inbox.states.at(-1)).toBe('idle');
  });

  it('rejects a second start while running', async () => {
    const { host, inbox } = await initializedHost();
    await host.start(spec({ steps: 200 }));

    await expect(host.start(spec())).rejects.toThrow('a run is already preparing; stop or reset it before starting another');
    await host.reset();
    expect(inbox.states.at(-1)).toBe('idle');
  });

  it('steps once from idle and pauses', async () => {
    const { host, inbox } = await initializedHost();
    await host.stepOnce(spec());
    await inbox.waitForState('paused');

    expect(inbox.events.map((event) => event.type)).not.toContain('step');
    expect(inbox.events[0]?.type).toBe('config');

    inbox.clear();
    await host.stepOnce(spec());
    await inbox.waitForState('paused');
    const steps = inbox.events.filter((event) => event.type === 'step');

    expect(steps.map((event) => (event.type === 'step' ? `${event.model} ${event.step}` : ''))).toEqual(['real 1', 'linear 1']);
    expect(inbox.messages.at(-1)).toEqual({ kind: 'state', state: 'paused', step: 1 });
  });

  it('pauses, resumes and stops', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.start(spec({ steps: 500, ntkInterval: 0, evalInterval: 50, linearized: false }));
    await inbox.waitFor((message) => message.kind === 'events' && message.events.some((event) => event.type === 'step'));

    await host.pause();
    await inbox.waitForState('paused');
    const stepsAtPause = inbox.events.filter((event) => event.type === 'step').length;
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(inbox.events.filter((event) => event.type === 'step').length).toBe(stepsAtPause);

    await host.resume();
    await inbox.waitFor((message) => message.kind === 'events' && message.events.some((event) => event.type === 'step' && event.step > stepsAtPause));
    await host.stop();
    await inbox.waitForState('stopped');
    const done = inbox.events.at(-1);

    expect(done?.type).toBe('done');
    expect(done?.type === 'done' ? done.steps : 0).toBeGreaterThan(stepsAtPause);
    expect(done?.type === 'done' ? done.steps : 500).toBeLessThan(500);
    expect(inbox.events.at(-2)).toMatchObject({ type: 'eval', split: 'eval', step: done?.type === 'done' ? done.steps : -1 });

    await host.reset();
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('turns divergence into an error state', async () => {
    const { host, inbox, baseline } = await initializedHost();
    // lr·λ = 100 > 2, so the penalty alone multiplies ‖θ − θ₀‖ by 99 per step until it overflows.
    await host.start(spec({ optimizer: 'sgd', loss: 'mse', lr: 10, lambda: 10, steps: 50, evalInterval: 10, ntkInterval: 0, linearized: false }));
    const state = await inbox.waitForState('error');

    expect(state.kind === 'state' ? state.message : '').toContain('training diverged at step');
    expect(inbox.events.at(-1)?.type).toBe('error');
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('reports a spec the model cannot run as a failed prepare', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.start(spec({ adapters: 'q.q.q' }));
    const end = await inbox.waitForTaskEnd('prepare');

    expect(end).toMatchObject({ outcome: 'failed', message: expect.stringContaining('the model has 2 layers') });
    expect(inbox.states).toEqual(['preparing', 'error']);
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('cancels preparing', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.start(spec({ trainSize: 64, evalSize: 64 }));
    await host.cancel('prepare');
    const end = await inbox.waitForTaskEnd('prepare');

    expect(end).toMatchObject({ outcome: 'cancelled' });
    expect(inbox.states.at(-1)).toBe('idle');
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('rejects a spec for another model', async () => {
    const { host } = await initializedHost();

    await expect(host.start(spec({ model: 'brown-gpt' }))).rejects.toThrow('spec.model is "brown-gpt" but this worker loaded "tiny"');
  });

  it('rejects an invalid spec', async () => {
    const { host } = await initializedHost();

    await expect(host.start({ ...spec(), lr: -1 })).rejects.toThrow('invalid spec: lr: got -1');
  });
});

describe('LabHost.setLive', () => {
  it('changes a paused run', async () => {
    const { host, inbox } = await initializedHost();
    await host.stepOnce(spec());
    await inbox.waitForState('paused');
    await host.setLive({ lr: 0.5, lambda: 2 });
    const live = await inbox.waitFor((message) => message.kind === 'live');

    expect(live).toEqual({ kind: 'live', settings: { lr: 0.5, lambda: 2 }, step: 0 });
  });

  it('rejects without a run', async () => {
    const { host } = await initializedHost();

    await expect(host.setLive({ lr: 0.5, lambda: 2 })).rejects.toThrow('no running or paused run to change (the run is idle)');
  });

  it('rejects an invalid learning rate', async () => {
    const { host, inbox } = await initializedHost();
    await host.stepOnce(spec());
    await inbox.waitForState('paused');

    await expect(host.setLive({ lr: -1, lambda: 2 })).rejects.toThrow('invalid learning rate -1');
  });
});

describe('LabHost preview', () => {
  const previewSpec = spec({ probeSize: 4, adapters: 'qv.o' });

  function previews(inbox: Inbox): PreviewEvent[] {
    return inbox.events.filter((event): event is PreviewEvent => event.type === 'preview');
  }

  it('previews the spec and re-sums other subsets', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.preview(previewSpec);
    await inbox.waitForTaskEnd('preview');
    await host.selectAdapters('-.p', 0.5);
    await inbox.waitFor(() => previews(inbox).length === 2);
    const [first, second] = previews(inbox) as [PreviewEvent, PreviewEvent];

    expect(first.adapters).toBe('qv.o');
    expect(second.adapters).toBe('-.p');
    expect(second.lambda).toBe(0.5);
    expect(first.blocks).toHaveLength(12);
    expect(second.eigenvalues).not.toEqual(first.eigenvalues);
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('reuses cached block kernels', async () => {
    const { host, inbox } = await initializedHost();
    await host.preview(previewSpec);
    await inbox.waitForTaskEnd('preview');
    inbox.clear();
    await host.preview({ ...previewSpec, lambda: 1, adapters: 'q.q' });
    await inbox.waitFor(() => previews(inbox).length === 1);

    expect(inbox.messages.some((message) => message.kind === 'progress')).toBe(false);
    expect(previews(inbox)[0]?.adapters).toBe('q.q');
  });

  it('uses the latest selection made while computing', async () => {
    const { host, inbox } = await initializedHost();
    await host.preview(previewSpec);
    await host.selectAdapters('k.-', 0.25);
    await inbox.waitForTaskEnd('preview');
    await inbox.waitFor(() => previews(inbox).length === 1);

    expect(previews(inbox)[0]).toMatchObject({ adapters: 'k.-', lambda: 0.25 });
  });

  it('rejects a selection before any preview', async () => {
    const { host } = await initializedHost();

    await expect(host.selectAdapters('q.-', 0)).rejects.toThrow('no block kernels yet: call preview(spec) first');
  });

  it('rejects an invalid selection', async () => {
    const { host, inbox } = await initializedHost();
    await host.preview(previewSpec);
    await inbox.waitForTaskEnd('preview');

    await expect(host.selectAdapters('q.q.q', 0)).rejects.toThrow('the grid has 3 layers but the model has 2 layers');
  });

  it('cancels without leaking tensors', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.preview(spec({ probeSize: 16 }));
    await host.cancel('preview');
    const end = await inbox.waitForTaskEnd('preview');

    expect(end).toMatchObject({ outcome: 'cancelled' });
    expect(previews(inbox)).toEqual([]);
    expect((await host.memory()).numTensors).toBe(baseline);
  });
});

describe('LabHost analyses', () => {
  it('runs a sweep without its config event', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.runSweep(spec({ steps: 2, linearized: false }), ['qv.-', '-.o']);
    const end = await inbox.waitForTaskEnd('sweep');
    const types = inbox.events.map((event) => event.type);
    const progress = inbox.messages.filter((message) => message.kind === 'progress' && message.task === 'sweep');

    expect(end).toMatchObject({ outcome: 'finished' });
    expect(types).toEqual(['sweep', 'sweep', 'sweepSummary']);
    expect(progress.at(-1)).toMatchObject({ done: 2, total: 2 });
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('rejects a sweep of one subset', async () => {
    const { host } = await initializedHost();

    await expect(host.runSweep(spec(), ['qv.-'])).rejects.toThrow('a sweep needs at least 2 adapter grids');
  });

  it('measures the Jacobian change at θ₀', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.measureJacobianChange(spec(), [0.01, 1], 2);
    await inbox.waitForTaskEnd('jacobianChange');
    const event = inbox.events.find((entry) => entry.type === 'jacobianChange');

    expect(event).toMatchObject({ type: 'jacobianChange', step: 0, distance: 0 });
    expect(event?.type === 'jacobianChange' ? event.points.map((point) => point.radius) : []).toEqual([0.01, 1]);
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('measures the Jacobian change at the run’s θ', async () => {
    const { host, inbox, baseline } = await initializedHost();
    await host.start(spec({ lr: 0.05 }));
    await inbox.waitForState('done');
    await host.measureJacobianChange(spec(), [0.1], 1);
    await inbox.waitForTaskEnd('jacobianChange');
    const event = inbox.events.find((entry) => entry.type === 'jacobianChange');

    expect(event).toMatchObject({ type: 'jacobianChange', step: 3 });
    expect(event?.type === 'jacobianChange' ? event.distance : 0).toBeGreaterThan(0);
    await host.reset();
    expect((await host.memory()).numTensors).toBe(baseline);
  });

  it('rejects invalid radii', async () => {
    const { host } = await initializedHost();

    await expect(host.measureJacobianChange(spec(), [], 2)).rejects.toThrow('invalid radii []');
  });
});

describe('LabHost devices', () => {
  it('rejects a simulated device loss off WebGPU', async () => {
    const { host } = await initializedHost();

    await expect(host.simulateDeviceLoss()).rejects.toThrow('simulateDeviceLoss needs the webgpu backend, but this worker runs cpu');
  });

  it('reports a lost device and stops stepping', async () => {
    const { host, inbox, loseDevice } = await initializedHost();
    await host.start(spec({ steps: 500, ntkInterval: 0, evalInterval: 100, linearized: false }));
    await inbox.waitForState('running');
    loseDevice('destroyed');
    const lost = await inbox.waitFor((message) => message.kind === 'deviceLost');
    const stepsAtLoss = inbox.events.filter((event) => event.type === 'step').length;
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(lost).toEqual({ kind: 'deviceLost', backend: 'cpu', message: 'destroyed' });
    expect(inbox.events.filter((event) => event.type === 'step').length).toBe(stepsAtLoss);
    await host.reset();
  });
});
