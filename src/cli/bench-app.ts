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

export interface AppPageResult {
  backend: string;
  /** Navigation start to the first spectrum mark in the DOM. */
  firstSpectrumMs: number;
  /** The spec fields of the run that differ from the defaults. */
  runSpec: Partial<ExperimentSpec>;
  runMs: number;
  /** Main-thread tasks of 50 ms or more (the Long Tasks API's threshold) while loading and during the run. */
  loadLongTasks: LongTask[];
  runLongTasks: LongTask[];
}

export interface AppMemoryResult {
  run: Omit<WorkerRunResult, 'samples'>;
  samples: MemorySample[];
  /** Tensor counts from the sample after `warmSteps` on: a flat count has max − min near 0 and no upward trend. */
  tensors: { warmSteps: number; min: number; max: number; first: number; last: number };
  /** The largest tf.memory().numBytes sampled between steps. */
  peakBytes: number;
}

export interface AppResult {
  page: AppPageResult | { error: string };
  memory: AppMemoryResult | { error: string };
}

export interface AppOptions {
  /** Steps of the long worker run that tracks tensors and memory. */
  steps: number;
}

/** Installed before the page's scripts: records long tasks and the moment the first spectrum mark appears. */
function installProbes(selector: string): void {
  const state = { longTasks: [] as { start: number; duration: number }[], firstSpectrum: null as number | null };
  (window as unknown as { benchProbes: typeof state }).benchProbes = state;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) state.longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
  const check = (): void => {
    if (state.firstSpectrum === null && document.querySelector(selector) !== null) state.firstSpectrum = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true });
}

interface Probes {
  longTasks: LongTask[];
  firstSpectrum: number | null;
}

async function readProbes(page: Page): Promise<Probes> {
  return page.evaluate(() => (window as unknown as { benchProbes: Probes }).benchProbes);
}

/** The short run of the app page: the default spec, cut to two NTK recomputations. */
const PAGE_RUN: Partial<ExperimentSpec> = { steps: 100 };

/** Spec fields as the page's URL query (the app reads its spec from there). */
function specQuery(fields: Partial<ExperimentSpec>): string {
  return new URLSearchParams(Object.entries(fields).map(([key, value]) => [key, String(value)])).toString();
}

async function measurePage(browser: Browser, origin: string, log: (line: string) => void): Promise<AppPageResult> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.addInitScript(installProbes, SPECTRUM_MARK);
    await page.goto(`${origin}/?${specQuery(PAGE_RUN)}`, { timeout: 120_000 });
    await page.waitForSelector(SPECTRUM_MARK, { state: 'attached', timeout: 180_000 });
    const backend = (await page.getByTestId('backend').textContent())?.trim() ?? 'unknown';
    const loaded = await readProbes(page);
    log(`app: first spectrum after ${loaded.firstSpectrum?.toFixed(0)} ms on ${backend}`);

    const runStart = await page.evaluate(() => performance.now());
    await page.getByTestId('run-start').click();
    await page.waitForFunction(
      () => /\bdone\b|\berror\b|\bstopped\b/.test(document.querySelector('[data-testid="run-state"]')?.textContent ?? ''),
      undefined,
      { timeout: 600_000, polling: 500 },
    );
    const runEnd = await page.evaluate(() => performance.now());
    const state = (await page.getByTestId('run-state').textContent()) ?? '';
    if (!/\bdone\b/.test(state)) throw new Error(`the app run ended as "${state.trim()}"`);
    const probes = await readProbes(page);
    log(`app: ${PAGE_RUN.steps} steps in ${((runEnd - runStart) / 1000).toFixed(1)} s`);

    return {
      backend,
      firstSpectrumMs: probes.firstSpectrum ?? Number.NaN,
      runSpec: PAGE_RUN,
      runMs: runEnd - runStart,
      loadLongTasks: probes.longTasks.filter((task) => task.start < runStart),
      runLongTasks: probes.longTasks.filter((task) => task.start >= runStart),
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
  return { ...DEFAULT_SPEC, steps, trainSize: 32, evalSize: 32, probeSize: 8, batchSize: 8, evalInterval: 100, ntkInterval: 250 };
}

const MEMORY_WARM_STEPS = 10;

async function measureMemory(browser: Browser, origin: string, steps: number, log: (line: string) => void): Promise<AppMemoryResult> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${origin}/bench/browser/app-run.html`, { waitUntil: 'networkidle', timeout: 120_000 });
    await page.waitForFunction(() => window.ntkBenchRun !== undefined, undefined, { timeout: 120_000 });
    const result = await page.evaluate(([fields, every]) => window.ntkBenchRun(fields, every), [memoryRunSpec(steps), 1000] as const);
    if (result.error !== undefined || result.finalState !== 'done') {
      throw new Error(`the worker run ended as ${result.finalState}: ${result.error ?? 'no error message'}`);
    }
    const { samples, ...run } = result;
    const warm = samples.filter((sample) => sample.step >= MEMORY_WARM_STEPS);
    const counts = (warm.length > 0 ? warm : samples).map((sample) => sample.numTensors);
    log(`app: worker run of ${result.steps} steps on ${result.backend.backend} in ${(result.runMs / 1000).toFixed(1)} s`);
    return {
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

/** Measures the app page, then the long worker run; a failure of one is recorded and does not stop the other. */
export async function measureApp(browser: Browser, origin: string, options: AppOptions, log: (line: string) => void): Promise<AppResult> {
  let page: AppResult['page'];
  try {
    page = await measurePage(browser, origin, log);
  } catch (error) {
    page = errorOf(error);
    log(`app page failed: ${page.error}`);
  }

  let memory: AppResult['memory'];
  try {
    memory = await measureMemory(browser, origin, options.steps, log);
  } catch (error) {
    memory = errorOf(error);
    log(`app worker run failed: ${memory.error}`);
  }
  return { page, memory };
}
