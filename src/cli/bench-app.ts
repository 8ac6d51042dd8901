/**
 * The app in headless Chromium: the time from navigation to the first drawn
 * NTK spectrum, the longest main-thread task while a run streams its charts,
 * and the lab worker's tensor count and tensor memory over a long run.
 */
import type { Browser, Page } from '@playwright/test';

import type { MemorySample, WorkerRunResult } from '../../bench/browser/app-run.ts';
import { DEFAULT_SPEC, type ExperimentSpec } from '../core/spec.ts';

/** The first spectrum's marks: drawn from the NTK preview at θ₀ that the page computes on load. */
const SPECTRUM_MARK = '[data-testid="chart-spectrum"] circle.mark';

export interface LongTask {
  /** Milliseconds since navigation start. */
  start: number;
  duration: number;
}

/** One way of opening the app: its label and the backends failed on purpose through `?failBackend=`. */
export interface AppVariant {
  label: string;
  failBackend: string[];
}

export interface AppRun {
  /** The spec fields of the run that differ from the defaults. */
  spec: Partial<ExperimentSpec>;
  runMs: number;
  /** Main-thread tasks of 50 ms or more (the Long Tasks API's threshold) during the run. */
  longTasks: LongTask[];
}

export interface AppPageResult {
  variant: string;
  backend: string;
  /** Navigation start to the first spectrum mark in the DOM, or null when none appeared within firstSpectrumTimeoutMs. */
  firstSpectrumMs: number | null;
  firstSpectrumTimeoutMs: number;
  /** The lab worker's phase marks up to the first spectrum, or up to the timeout; absent in results from before they existed. */
  phases?: PhaseMark[];
  /** Main-thread tasks of 50 ms or more while loading. */
  loadLongTasks: LongTask[];
  run: AppRun | { skipped: string };
}

export interface AppMemoryResult {
  /** The backends excluded from the worker's backend choice. */
  excluded: string[];
  run: Omit<WorkerRunResult, 'samples'>;
  samples: MemorySample[];
  /** Tensor counts from the sample after `warmSteps` on: a flat count has max − min near 0 and no upward trend. */
  tensors: { warmSteps: number; min: number; max: number; first: number; last: number };
  /** The largest tf.memory().numBytes sampled between steps. */
  peakBytes: number;
}

export interface AppResult {
  pages: (AppPageResult | { variant: string; error: string })[];
  memory: AppMemoryResult | { error: string };
}

export interface AppOptions {
  /** Steps of the long worker run that tracks tensors and memory. */
  steps: number;
}

/** Installed before the page's scripts: records main-thread tasks of 50 ms or more. */
function installProbes(): void {
  const state = { longTasks: [] as { start: number; duration: number }[] };
  (window as unknown as { benchProbes: typeof state }).benchProbes = state;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) state.longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
}

interface Probes {
  longTasks: LongTask[];
}

async function readProbes(page: Page): Promise<Probes> {
  return page.evaluate(() => (window as unknown as { benchProbes: Probes }).benchProbes);
}

/** The short run of the app page: the default spec, cut to 60 steps (two evaluations and one NTK recomputation). */
const PAGE_RUN: Partial<ExperimentSpec> = { steps: 60 };

/** The app as a visitor gets it, and on wasm, which the app reaches when WebGPU and WebGL fail. */
export const APP_VARIANTS: AppVariant[] = [
  { label: 'default backend order', failBackend: [] },
  { label: 'wasm (WebGPU and WebGL failed on purpose)', failBackend: ['webgpu', 'webgl'] },
];

const FIRST_SPECTRUM_TIMEOUT_MS = 60_000;
const PAGE_RUN_TIMEOUT_MS = 300_000;

/** Spec fields and page parameters as the page's URL query (the app reads its spec from there). */
function pageQuery(fields: Partial<ExperimentSpec>, failBackend: string[]): string {
  const pairs = Object.entries(fields).map(([key, value]) => [key, String(value)]);
  if (failBackend.length > 0) pairs.push(['failBackend', failBackend.join(',')]);
  return new URLSearchParams(pairs).toString();
}

/** A worker phase mark ("lab:<phase>", see src/worker/phase-marks.ts) in milliseconds since the page's navigation start. */
export interface PhaseMark {
  name: string;
  ms: number;
}

export interface FirstSpectrum {
  backend: string;
  /** Navigation start to the first spectrum mark in the DOM, or null when none appeared within the timeout. */
  firstSpectrumMs: number | null;
  /** Navigation start to the end of the page's DOMContentLoaded handlers. */
  domContentLoadedMs: number;
  /** The lab worker's phase marks, in time order; empty when the page started no worker that made any. */
  phases: PhaseMark[];
}

/**
 * Reads the "lab:" marks of every worker of the page and moves them onto the
 * page's clock, from each worker's performance.timeOrigin.
 */
async function readWorkerPhases(page: Page): Promise<PhaseMark[]> {
  const pageOrigin = await page.evaluate(() => performance.timeOrigin);
  const phases: PhaseMark[] = [];
  for (const worker of page.workers()) {
    const { origin, marks } = await worker.evaluate(() => ({
      origin: performance.timeOrigin,
      marks: performance
        .getEntriesByType('mark')
        .filter((entry) => entry.name.startsWith('lab:'))
        .map((entry) => ({ name: entry.name.slice('lab:'.length), startTime: entry.startTime })),
    }));
    for (const mark of marks) phases.push({ name: mark.name, ms: origin + mark.startTime - pageOrigin });
  }
  return phases.sort((a, b) => a.ms - b.ms);
}

/**
 * Opens the app in `page` and waits for the first spectrum mark, then reads
 * the worker's phase marks. The mark is polled every animation frame, and the
 * page's clock is read right after: an upper bound on the time to the first
 * spectrum, late by about one frame and one round trip.
 */
export async function measureFirstSpectrum(
  page: Page,
  url: string,
  timeoutMs: number = FIRST_SPECTRUM_TIMEOUT_MS,
): Promise<FirstSpectrum> {
  await page.goto(url, { timeout: 120_000 });
  const appeared = await page
    .waitForFunction((selector) => document.querySelector(selector) !== null, SPECTRUM_MARK, {
      timeout: timeoutMs,
      polling: 'raf',
    })
    .then(() => true)
    .catch(() => false);
  const firstSpectrumMs = appeared ? await page.evaluate(() => performance.now()) : null;
  const domContentLoadedMs = await page.evaluate(() => {
    const [navigation] = performance.getEntriesByType('navigation') as PerformanceNavigationTiming[];
    return navigation?.domContentLoadedEventEnd ?? Number.NaN;
  });
  const backend = (await page.getByTestId('backend').textContent())?.trim() ?? 'unknown';
  const phases = await readWorkerPhases(page).catch(() => []);
  return { backend, firstSpectrumMs, domContentLoadedMs, phases };
}

/** Returns the app's URL on `origin` with the spec fields and the backends to fail on purpose in its query. */
export function appUrl(origin: string, fields: Partial<ExperimentSpec>, failBackend: string[]): string {
  return `${origin}/?${pageQuery(fields, failBackend)}`;
}

async function measurePage(browser: Browser, origin: string, variant: AppVariant, log: (line: string) => void): Promise<AppPageResult> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.addInitScript(installProbes);
    const first = await measureFirstSpectrum(page, appUrl(origin, PAGE_RUN, variant.failBackend));
    const { backend, firstSpectrumMs } = first;
    const loaded = await readProbes(page);
    const base = { variant: variant.label, backend, firstSpectrumTimeoutMs: FIRST_SPECTRUM_TIMEOUT_MS, phases: first.phases };
    if (firstSpectrumMs === null) {
      log(`app (${variant.label}): no spectrum within ${FIRST_SPECTRUM_TIMEOUT_MS / 1000} s on ${backend}`);
      return { ...base, firstSpectrumMs: null, loadLongTasks: loaded.longTasks, run: { skipped: 'the first spectrum did not appear in time' } };
    }
    log(`app (${variant.label}): first spectrum after ${firstSpectrumMs.toFixed(0)} ms on ${backend}`);

    const runStart = await page.evaluate(() => performance.now());
    await page.getByTestId('run-start').click();
    await page.waitForFunction(
      () => /\bdone\b|\berror\b|\bstopped\b/.test(document.querySelector('[data-testid="run-state"]')?.textContent ?? ''),
      undefined,
      { timeout: PAGE_RUN_TIMEOUT_MS, polling: 500 },
    );
    const runEnd = await page.evaluate(() => performance.now());
    const state = (await page.getByTestId('run-state').textContent()) ?? '';
    if (!/\bdone\b/.test(state)) throw new Error(`the app run ended as "${state.trim()}"`);
    const probes = await readProbes(page);
    log(`app (${variant.label}): ${PAGE_RUN.steps} steps in ${((runEnd - runStart) / 1000).toFixed(1)} s`);

    return {
      ...base,
      firstSpectrumMs,
      loadLongTasks: probes.longTasks.filter((task) => task.start < runStart),
      run: { spec: PAGE_RUN, runMs: runEnd - runStart, longTasks: probes.longTasks.filter((task) => task.start >= runStart) },
    };
  } finally {
    await context.close();
  }
}

/**
 * Returns the long run's spec: the defaults with small splits and rare evaluations,
 * so that 1,000 steps of the real and the linearized model fit the bench's
 * time budget on software-rendered backends.
 */
function memoryRunSpec(steps: number): Partial<ExperimentSpec> {
  return { ...DEFAULT_SPEC, steps, trainSize: 16, evalSize: 16, probeSize: 8, batchSize: 4, evalInterval: 100, ntkInterval: 250 };
}

const MEMORY_WARM_STEPS = 10;

/** The maximum time of the worker run; past it the bench records a timeout and goes on. */
const MEMORY_RUN_TIMEOUT_MS = 480_000;

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, description: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${description} timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The long run goes to wasm: on WebGPU over SwiftShader repeated Jacobians
 * slow down without bound here, and WebGL takes about 10 s per step.
 */
const MEMORY_RUN_EXCLUDE = ['webgpu', 'webgl'] as const;

async function measureMemory(browser: Browser, origin: string, steps: number, log: (line: string) => void): Promise<AppMemoryResult> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${origin}/bench/browser/app-run.html`, { waitUntil: 'networkidle', timeout: 120_000 });
    await page.waitForFunction(() => window.ntkBenchRun !== undefined, undefined, { timeout: 120_000 });
    const excluded = [...MEMORY_RUN_EXCLUDE];
    const pending = page.evaluate(([fields, every, exclude]) => window.ntkBenchRun(fields, every, exclude), [memoryRunSpec(steps), 1000, excluded] as const);
    const result = await withTimeout(pending, MEMORY_RUN_TIMEOUT_MS, `the worker run of ${steps} steps`);
    if (result.error !== undefined || result.finalState !== 'done') {
      throw new Error(`the worker run ended as ${result.finalState}: ${result.error ?? 'no error message'}`);
    }
    const { samples, ...run } = result;
    const warm = samples.filter((sample) => sample.step >= MEMORY_WARM_STEPS);
    const counts = (warm.length > 0 ? warm : samples).map((sample) => sample.numTensors);
    log(`app: worker run of ${result.steps} steps on ${result.backend.backend} in ${(result.runMs / 1000).toFixed(1)} s`);
    return {
      excluded,
      run,
      samples,
      tensors: {
        warmSteps: MEMORY_WARM_STEPS,
        min: Math.min(...counts),
        max: Math.max(...counts),
        first: counts[0] ?? Number.NaN,
        last: counts[counts.length - 1] ?? Number.NaN,
      },
      peakBytes: Math.max(...samples.map((sample) => sample.numBytes)),
    };
  } finally {
    await context.close();
  }
}

function errorOf(error: unknown): { error: string } {
  return { error: error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error) };
}

/** The servers of the app measurements: the production build for the app pages, the dev server for the worker run page. */
export interface AppOrigins {
  app: string;
  dev: string;
}

/** Measures the app page in each variant, then the long worker run; a failure of one is recorded and does not stop the others. */
export async function measureApp(browser: Browser, origins: AppOrigins, options: AppOptions, log: (line: string) => void): Promise<AppResult> {
  const pages: AppResult['pages'] = [];
  for (const variant of APP_VARIANTS) {
    try {
      pages.push(await measurePage(browser, origins.app, variant, log));
    } catch (error) {
      const failure = { variant: variant.label, ...errorOf(error) };
      pages.push(failure);
      log(`app (${variant.label}) failed: ${failure.error}`);
    }
  }

  let memory: AppResult['memory'];
  try {
    memory = await measureMemory(browser, origins.dev, options.steps, log);
  } catch (error) {
    memory = errorOf(error);
    log(`app worker run failed: ${memory.error}`);
  }
  return { pages, memory };
}
