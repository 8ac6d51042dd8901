/**
 * The lab worker in Chromium: backend choice (WebGPU on SwiftShader with the
 * launch flags in playwright.config.ts), a tiny run's event stream, the NTK
 * preview, pause/resume/step, and the fallbacks after a simulated backend
 * failure and a lost WebGPU device. The test imports src/worker/client.ts
 * from the Vite dev server into an empty harness page, so no product page
 * is involved. It prints the time of each phase.
 *
 * WebGPU here is SwiftShader, a software renderer that compiles each new
 * shader in seconds, so the WebGPU run is the smallest that emits every event
 * kind. The full tiny spec, with the linearized model and an NTK every step,
 * runs on WebGL.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';

import { importUntilStable } from './module-warm-up.ts';
import type { LabEvent, PreviewEvent } from '../../src/core/events.ts';
import type { ExperimentSpec } from '../../src/core/spec.ts';
import type { LabClient, LabClientOptions } from '../../src/worker/client.ts';
import type { BackendReport, ClientNotice, RunState, WorkerMessage } from '../../src/worker/protocol.ts';

const HARNESS = '/tests/e2e/harness/worker.html';

/** What the harness page keeps on window between page.evaluate calls. */
interface LabCheck {
  client: LabClient;
  /** Every message with its arrival time (performance.now()). */
  received: { at: number; message: WorkerMessage }[];
  notices: ClientNotice[];
}

declare global {
  interface Window {
    labCheck?: LabCheck;
  }
}

/** This machine's WebGPU and WebGL run on SwiftShader, which the client skips unless software renderers are allowed. */
const ON_SOFTWARE_GPU: LabClientOptions = { allowSoftware: true };

const TINY_SPEC: Partial<ExperimentSpec> = {
  task: 'brown-genre-2',
  trainSize: 8,
  evalSize: 8,
  probeSize: 4,
  steps: 3,
  batchSize: 4,
  evalInterval: 1,
  ntkInterval: 1,
};

/**
 * The tiny spec without the linearized model, with the NTK at step 0 only
 * and evaluations at steps 0 and 3, to keep SwiftShader's shader compiles few.
 */
const WEBGPU_SPEC: Partial<ExperimentSpec> = { ...TINY_SPEC, linearized: false, ntkInterval: 0, evalInterval: 3 };

/** The modules that the client and the worker load, imported once before a test's page starts a client. */
const WORKER_MODULES = ['/src/worker/client.ts', '/src/worker/lab-host.ts', '/src/worker/backend.ts'];

/** Opens the harness, starts a LabClient in it and returns its backend report and the init time. */
async function openClient(page: Page, options: LabClientOptions = {}): Promise<{ report: BackendReport; ms: number }> {
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') console.log(`[page ${message.type()}] ${message.text()}`);
  });
  page.on('worker', (worker) => {
    worker.on('console', (message) => {
      if (message.type() === 'error') console.log(`[worker error] ${message.text()}`);
    });
  });
  await page.goto(HARNESS);

  return page.evaluate(async (clientOptions) => {
    const moduleUrl = '/src/worker/client.ts';
    const { LabClient } = (await import(/* @vite-ignore */ moduleUrl)) as typeof import('../../src/worker/client.ts');
    const client = new LabClient(clientOptions);
    const check: LabCheck = { client, received: [], notices: [] };
    client.subscribe(
      (messages) => {
        const at = performance.now();
        for (const message of messages) check.received.push({ at, message });
      },
      (notice) => check.notices.push(notice),
    );
    window.labCheck = check;

    const started = performance.now();
    const report = await client.init();
    return { report, ms: performance.now() - started };
  }, options);
}

/** Builds a full spec in the page from the defaults and `overrides`. */
async function fullSpec(page: Page, overrides: Partial<ExperimentSpec>): Promise<ExperimentSpec> {
  return page.evaluate(async (fields) => {
    const moduleUrl = '/src/core/spec.ts';
    const { validateSpec } = (await import(/* @vite-ignore */ moduleUrl)) as typeof import('../../src/core/spec.ts');
    const result = validateSpec(fields);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    return result.spec;
  }, overrides);
}

/** Returns the index of the next message, so a later wait can look only at newer ones. */
function mark(page: Page): Promise<number> {
  return page.evaluate(() => window.labCheck?.received.length ?? 0);
}

/** Waits for a state message at or after `from` and returns its arrival time. */
async function waitForState(page: Page, state: RunState, from: number, timeout = 540_000): Promise<number> {
  const handle = await page.waitForFunction(
    ({ wanted, start }) => {
      const found = window.labCheck?.received.slice(start).find((entry) => entry.message.kind === 'state' && entry.message.state === wanted);
      return found?.at ?? false;
    },
    { wanted: state, start: from },
    { timeout, polling: 50 },
  );
  return (await handle.jsonValue()) as number;
}

/** Waits for a taskEnd message of `task` at or after `from` and returns it with its arrival time. */
async function waitForTaskEnd(page: Page, task: string, from: number, timeout = 240_000): Promise<{ at: number; outcome: string; message?: string }> {
  const handle = await page.waitForFunction(
    ({ wanted, start }) => {
      const found = window.labCheck?.received.slice(start).find((entry) => entry.message.kind === 'taskEnd' && entry.message.task === wanted);
      if (found === undefined || found.message.kind !== 'taskEnd') return false;
      return { at: found.at, outcome: found.message.outcome, message: found.message.message };
    },
    { wanted: task, start: from },
    { timeout, polling: 50 },
  );
  return (await handle.jsonValue()) as { at: number; outcome: string; message?: string };
}

/** Returns the events received at or after `from`. */
function eventsSince(page: Page, from: number): Promise<LabEvent[]> {
  return page.evaluate(
    (start) => (window.labCheck?.received ?? []).slice(start).flatMap(({ message }) => (message.kind === 'events' ? message.events : [])),
    from,
  );
}

function now(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** Records the time of a phase and prints it at once, so that a later failure keeps it. */
function record(timings: Record<string, number>, phase: string, ms: number): void {
  timings[phase] = Math.round(ms);
  console.log(`timing ${phase}: ${Math.round(ms)} ms`);
}

/**
 * Steps a run with stepOnce from idle: step 0, then two single steps, then
 * resumes to the end. Records the preparation (up to step 0), the first step
 * (which compiles the step's shaders) and the second step.
 */
async function stepThroughRun(page: Page, spec: ExperimentSpec, timings: Record<string, number>, prefix: string): Promise<LabEvent[]> {
  await page.evaluate(() => window.labCheck?.client.reset());
  const first = await mark(page);

  let started = await now(page);
  await page.evaluate((runSpec) => window.labCheck?.client.stepOnce(runSpec), spec);
  record(timings, `${prefix}prepareToStep0Ms`, (await waitForState(page, 'paused', first)) - started);
  expect((await eventsSince(page, first)).some((event) => event.type === 'step')).toBe(false);

  for (const [phase, step] of [['firstStepMs', 1], ['secondStepMs', 2]] as const) {
    const from = await mark(page);
    started = await now(page);
    await page.evaluate((runSpec) => window.labCheck?.client.stepOnce(runSpec), spec);
    record(timings, `${prefix}${phase}`, (await waitForState(page, 'paused', from)) - started);
    const stepped = (await eventsSince(page, from)).filter((event) => event.type === 'step');
    expect(stepped.map((event) => (event.type === 'step' ? event.step : 0))).toContain(step);
  }

  const from = await mark(page);
  started = await now(page);
  await page.evaluate(() => window.labCheck?.client.resume());
  record(timings, `${prefix}remainingStepsMs`, (await waitForState(page, 'done', from)) - started);
  return eventsSince(page, first);
}

/** Checks that a run emitted every kind of event it should, with finite losses and accuracies in [0, 1]. */
function checkRunEvents(events: LabEvent[], kinds: string[]): void {
  const types = new Set(events.map((event) => event.type));
  for (const kind of kinds) expect(types, kind).toContain(kind);
  expect(types).not.toContain('error');

  for (const event of events) {
    if (event.type === 'step') expect(Number.isFinite(event.loss) && event.loss > 0, `step ${event.step} loss ${event.loss}`).toBe(true);
    if (event.type === 'eval') {
      expect(event.accuracy, `eval ${event.step} accuracy`).toBeGreaterThanOrEqual(0);
      expect(event.accuracy, `eval ${event.step} accuracy`).toBeLessThanOrEqual(1);
    }
  }
  const ntk = events.find((event) => event.type === 'ntk');
  expect(ntk?.type === 'ntk' ? ntk.stats.muMax : 0, 'μ_max at θ₀').toBeGreaterThan(0);
}

/** Computes a preview, re-sums another subset and returns both events with their times. */
async function previewTwoSubsets(page: Page, spec: ExperimentSpec, timings: Record<string, number>, prefix: string): Promise<[PreviewEvent, PreviewEvent]> {
  let from = await mark(page);
  let started = await now(page);
  await page.evaluate((previewSpec) => window.labCheck?.client.preview(previewSpec), spec);
  const end = await waitForTaskEnd(page, 'preview', from, 540_000);
  expect(end.outcome, end.message).toBe('finished');
  record(timings, `${prefix}previewProbe${spec.probeSize}Ms`, end.at - started);
  const first = (await eventsSince(page, from)).find((event): event is PreviewEvent => event.type === 'preview');

  from = await mark(page);
  started = await now(page);
  await page.evaluate(() => window.labCheck?.client.selectAdapters('-.-.-.qkvofp', 0));
  await page.waitForFunction((start) => window.labCheck?.received.slice(start).some((entry) => entry.message.kind === 'events'), from, {
    timeout: 60_000,
  });
  record(timings, `${prefix}selectAdaptersProbe${spec.probeSize}Ms`, (await now(page)) - started);
  const second = (await eventsSince(page, from)).find((event): event is PreviewEvent => event.type === 'preview');

  expect(first).toBeDefined();
  expect(second).toBeDefined();
  return [first as PreviewEvent, second as PreviewEvent];
}

/** Resets the run and compares the worker's tensor count with a fresh worker's count after init. */
async function checkBaselineAfterReset(page: Page, browser: Browser, options: LabClientOptions): Promise<void> {
  await page.evaluate(() => window.labCheck?.client.reset());
  const afterReset = await page.evaluate(() => window.labCheck?.client.memory());

  const other = await browser.newPage();
  await openClient(other, options);
  const baseline = await other.evaluate(() => window.labCheck?.client.memory());
  await other.evaluate(() => window.labCheck?.client.terminate());
  await other.close();

  expect(afterReset?.numTensors).toBe(baseline?.numTensors);
}

test.describe('lab worker on WebGPU', () => {
  test.describe.configure({ mode: 'serial' });
  test.setTimeout(600_000);

  let page: Page;
  const timings: Record<string, number> = {};

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await importUntilStable(page, HARNESS, WORKER_MODULES);
  });

  test.afterAll(async () => {
    console.log(`worker timings on webgpu: ${JSON.stringify(timings)}`);
    await page.evaluate(() => window.labCheck?.client.terminate());
    await page.close();
  });

  test('picks webgpu', async () => {
    const { report, ms } = await openClient(page, ON_SOFTWARE_GPU);
    record(timings, 'initMs', ms);

    expect(report.backend).toBe('webgpu');
    expect(report.skipped).toEqual([]);
    expect(report.adapter).toContain('swiftshader');
  });

  test('steps a tiny run', async () => {
    const events = await stepThroughRun(page, await fullSpec(page, WEBGPU_SPEC), timings, '');

    checkRunEvents(events, ['config', 'ntk', 'step', 'eval', 'done']);
    expect(events.at(-1)).toMatchObject({ type: 'done', steps: 3 });
  });

  test('previews subsets from cached block kernels', async () => {
    const [first, second] = await previewTwoSubsets(page, await fullSpec(page, { ...TINY_SPEC, adapters: 'qv.qv.qv.qv' }), timings, '');

    expect(first.adapters).toBe('qv.qv.qv.qv');
    expect(second.adapters).toBe('-.-.-.qkvofp');
    expect(first.blocks).toHaveLength(24);
    expect(first.eigenvalues).toHaveLength(8);
    expect(first.stats?.muMax ?? 0).toBeGreaterThan(0);
    expect(second.eigenvalues).not.toEqual(first.eigenvalues);
    expect(second.stats?.muMax ?? 0).toBeLessThanOrEqual(second.weyl.upper * (1 + 1e-6));
  });

  test('returns to the post-init tensor count after reset', async ({ browser }) => {
    await checkBaselineAfterReset(page, browser, ON_SOFTWARE_GPU);
  });

  test('restarts on another backend after a device loss', async () => {
    const from = await mark(page);
    await page.evaluate(() => window.labCheck?.client.simulateDeviceLoss());
    const notice = await page.waitForFunction(
      () => window.labCheck?.notices.find((entry) => entry.kind === 'restarted') ?? false,
      undefined,
      { timeout: 120_000 },
    );
    const restarted = (await notice.jsonValue()) as ClientNotice;
    const lost = await page.evaluate((start) => window.labCheck?.received.slice(start).find((entry) => entry.message.kind === 'deviceLost')?.message, from);
    const report = await page.evaluate(() => window.labCheck?.client.backend);
    const memory = await page.evaluate(() => window.labCheck?.client.memory());

    expect(lost).toMatchObject({ kind: 'deviceLost', backend: 'webgpu' });
    expect(restarted).toMatchObject({ kind: 'restarted', from: 'webgpu', to: 'webgl' });
    expect(restarted.kind === 'restarted' ? restarted.reason : '').toContain('the webgpu device was lost');
    expect(report?.backend).toBe('webgl');
    expect(report?.skipped[0]?.backend).toBe('webgpu');
    expect(report?.skipped[0]?.reason).toContain('excluded after the webgpu device was lost');
    expect(memory?.numTensors).toBeGreaterThan(0);
  });
});

test.describe('lab worker on WebGL after a simulated WebGPU failure', () => {
  test.describe.configure({ mode: 'serial' });
  test.setTimeout(300_000);

  const options: LabClientOptions = { ...ON_SOFTWARE_GPU, simulateFailure: ['webgpu'] };
  let page: Page;
  const timings: Record<string, number> = {};

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await importUntilStable(page, HARNESS, WORKER_MODULES);
  });

  test.afterAll(async () => {
    console.log(`worker timings on webgl: ${JSON.stringify(timings)}`);
    await page.evaluate(() => window.labCheck?.client.terminate());
    await page.close();
  });

  test('falls back to webgl with a reason', async () => {
    const { report, ms } = await openClient(page, options);
    record(timings, 'initMs', ms);

    expect(report.backend).toBe('webgl');
    expect(report.skipped).toEqual([{ backend: 'webgpu', reason: 'simulated failure' }]);
  });

  test('streams the tiny spec', async () => {
    const spec = await fullSpec(page, TINY_SPEC);
    const from = await mark(page);
    const started = await now(page);
    await page.evaluate((runSpec) => window.labCheck?.client.start(runSpec), spec);
    record(timings, 'tinyRunMs', (await waitForState(page, 'done', from)) - started);
    const events = await eventsSince(page, from);

    checkRunEvents(events, ['config', 'ntk', 'step', 'eval', 'divergence', 'done']);
    expect(events.filter((event) => event.type === 'ntk').map((event) => (event.type === 'ntk' ? event.step : -1))).toEqual([0, 1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ type: 'done', steps: 3, linear: expect.any(Object) });
  });

  test('pauses, steps and resumes', async () => {
    const spec = await fullSpec(page, { ...TINY_SPEC, steps: 200, evalInterval: 50, ntkInterval: 0 });
    await page.evaluate(() => window.labCheck?.client.reset());

    // stepOnce from idle builds the run and pauses after step 0.
    let from = await mark(page);
    await page.evaluate((runSpec) => window.labCheck?.client.stepOnce(runSpec), spec);
    await waitForState(page, 'paused', from);

    from = await mark(page);
    await page.evaluate(() => window.labCheck?.client.resume());
    await page.waitForFunction(
      (start) => window.labCheck?.received.slice(start).some((entry) => entry.message.kind === 'events' && entry.message.events.some((event) => event.type === 'step')),
      from,
      { timeout: 120_000 },
    );
    await page.evaluate(() => window.labCheck?.client.pause());
    await waitForState(page, 'paused', from);
    const count = async (): Promise<number> => (await eventsSince(page, from)).filter((event) => event.type === 'step').length;
    const atPause = await count();
    await page.waitForTimeout(1500);
    expect(await count()).toBe(atPause);

    // One step while paused: one real and one linearized step event.
    const stepFrom = await mark(page);
    await page.evaluate((runSpec) => window.labCheck?.client.stepOnce(runSpec), spec);
    await waitForState(page, 'paused', stepFrom);
    expect((await eventsSince(page, stepFrom)).filter((event) => event.type === 'step')).toHaveLength(2);

    // Resume runs on; stop ends the run with the metrics so far.
    const resumeFrom = await mark(page);
    await page.evaluate(() => window.labCheck?.client.resume());
    await page.waitForFunction(
      (start) => window.labCheck?.received.slice(start).some((entry) => entry.message.kind === 'events' && entry.message.events.some((event) => event.type === 'step')),
      resumeFrom,
      { timeout: 120_000 },
    );
    const stopFrom = await mark(page);
    await page.evaluate(() => window.labCheck?.client.stop());
    await waitForState(page, 'stopped', stopFrom);
    const done = (await eventsSince(page, stopFrom)).find((event) => event.type === 'done');
    expect(done?.type === 'done' ? done.steps : 0).toBeGreaterThan(atPause / 2);
    expect(done?.type === 'done' ? done.steps : 200).toBeLessThan(200);
  });

  test('previews 4 and 16 probe examples', async () => {
    for (const probeSize of [4, 16]) {
      const spec = await fullSpec(page, { ...TINY_SPEC, trainSize: 16, probeSize });
      const [first, second] = await previewTwoSubsets(page, spec, timings, '');

      expect(first.eigenvalues).toHaveLength(2 * probeSize);
      expect(second.eigenvalues).not.toEqual(first.eigenvalues);
    }
  });

  test('runs a sweep without its config event', async () => {
    const spec = await fullSpec(page, { ...TINY_SPEC, steps: 2, linearized: false, ntkInterval: 0 });
    const from = await mark(page);
    const started = await now(page);
    await page.evaluate((sweepSpec) => window.labCheck?.client.runSweep(sweepSpec, ['qv.-.-.-', '-.-.-.qv']), spec);
    const end = await waitForTaskEnd(page, 'sweep', from);
    record(timings, 'sweepTwoSubsetsMs', end.at - started);
    const types = (await eventsSince(page, from)).map((event) => event.type);

    expect(end.outcome, end.message).toBe('finished');
    expect(types).toEqual(['sweep', 'sweep', 'sweepSummary']);
  });

  test('measures the Jacobian change', async () => {
    const spec = await fullSpec(page, TINY_SPEC);
    const from = await mark(page);
    const started = await now(page);
    await page.evaluate((measureSpec) => window.labCheck?.client.measureJacobianChange(measureSpec, [0.1, 1], 1), spec);
    const end = await waitForTaskEnd(page, 'jacobianChange', from);
    record(timings, 'jacobianChangeTwoRadiiMs', end.at - started);
    const event = (await eventsSince(page, from)).find((entry) => entry.type === 'jacobianChange');

    expect(end.outcome, end.message).toBe('finished');
    expect(event?.type === 'jacobianChange' ? event.points.map((point) => point.radius) : []).toEqual([0.1, 1]);
    const points = event?.type === 'jacobianChange' ? event.points : [];
    expect(points[1]?.mean ?? 0).toBeGreaterThan(points[0]?.mean ?? Infinity);
  });

  test('returns to the post-init tensor count after reset', async ({ browser }) => {
    await checkBaselineAfterReset(page, browser, options);
  });
});
