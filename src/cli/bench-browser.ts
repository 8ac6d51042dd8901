/**
 * The browser side of the bench: a Vite dev server on 127.0.0.1:5175, the
 * production build under `vite preview` on 127.0.0.1:5176 for the app pages,
 * and Debian's Chromium through Playwright, with the launch flags of
 * playwright.config.ts. Each backend runs bench/browser/step.html: each workload interleaved with
 * the peer, then the agreement check with PyTorch, each in a fresh page.
 * The app measurements are in bench-app.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';

import { chromium, type Browser, type Page } from '@playwright/test';

import playwrightConfig from '../../playwright.config.ts';
import type { BrowserBackendInfo, BrowserWorkload } from '../../bench/browser/step.ts';
import type { AgreementOutputs, BenchInputs, ThetaValues } from '../../bench/subject.ts';
import { measureApp, type AppResult } from './bench-app.ts';
import { compareWithPeer, type AgreementResult } from './bench-agreement.ts';
import { flatTheta } from './bench-node.ts';
import type { PeerProcess } from './bench-peer.ts';
import { backendPlan, timePlan, type PlanOptions } from './bench-plan.ts';
import type { TimingSeries } from './bench-timing.ts';

/** The port of the bench's Vite dev server, which serves the step pages and the worker run page. */
export const BENCH_PORT = 5175;
export const BENCH_ORIGIN = `http://127.0.0.1:${BENCH_PORT}`;
/** The port of the bench's `vite preview` server, which serves the production build for the app pages. */
export const BENCH_APP_PORT = 5176;
const STEP_PAGE = '/bench/browser/step.html';

export interface BrowserBackendResult {
  backend: string;
  info: BrowserBackendInfo | null;
  timings: TimingSeries[];
  /** tf.memory().numTensors in the page after the workloads were disposed. */
  tensorsAfter: number | null;
  /** The error that stopped the backend's measurement, if any. */
  error?: string;
}

export interface BrowserResult {
  chromiumVersion: string;
  launchArgs: string[];
  backends: BrowserBackendResult[];
  agreement: AgreementResult[];
  app: AppResult | null;
}

export interface BrowserOptions {
  backends: string[];
  inputs: BenchInputs;
  theta1: ThetaValues[];
  peer: PeerProcess;
  peerOutputs: AgreementOutputs;
  plan: PlanOptions;
  app: { steps: number } | null;
  log: (line: string) => void;
}

export interface ViteServer {
  child: ChildProcess;
  origin: string;
  output: () => string;
}

async function waitForHttp(url: string, timeoutMs: number, server: ViteServer): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      throw new Error(`the Vite server exited with code ${server.child.exitCode}: ${server.output()}`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the Vite server did not answer ${url} within ${timeoutMs / 1000} s: ${server.output()}`);
}

function viteBin(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
}

/** Runs `vite` with `args` as a child of this process and waits until `readyPath` on 127.0.0.1:`port` returns status 200. */
async function spawnVite(args: string[], port: number, readyPath: string, log: (line: string) => void): Promise<ViteServer> {
  const child = spawn(process.execPath, [viteBin(), ...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const origin = `http://127.0.0.1:${port}`;
  const server = { child, origin, output: () => output };
  log(`started vite ${args[0] ?? 'dev'} on ${origin} (pid ${child.pid ?? '?'})`);
  await waitForHttp(`${origin}${readyPath}`, 60_000, server);
  return server;
}

/**
 * Starts `vite --host 127.0.0.1 --port PORT --strictPort --bypass-lock`, the
 * dev server. Vite 8 refuses a second dev server for the same project unless
 * --bypass-lock is given, and other dev servers may be up.
 */
export async function startDevServer(port: number, log: (line: string) => void): Promise<ViteServer> {
  return spawnVite(['--bypass-lock'], port, STEP_PAGE, log);
}

/**
 * Builds the app for production into `outDir` (`vite build`, without the
 * type check of `npm run build`) and serves it with `vite preview`, as a
 * visitor of the deployed lab gets it. Like the dev server, the preview
 * server needs --bypass-lock when another one serves the same project.
 */
export async function startPreviewServer(port: number, outDir: string, log: (line: string) => void): Promise<ViteServer> {
  const started = Date.now();
  const build = spawnSync(process.execPath, [viteBin(), 'build', '--outDir', outDir, '--emptyOutDir'], { encoding: 'utf8' });
  if (build.status !== 0) {
    throw new Error(`vite build failed with code ${build.status}: ${(build.stderr || build.stdout).slice(-2000)}`);
  }
  log(`built the app into ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return servePreview(port, outDir, log);
}

/** Serves a folder that `vite build` wrote with `vite preview`. */
export async function servePreview(port: number, outDir: string, log: (line: string) => void): Promise<ViteServer> {
  return spawnVite(['preview', '--outDir', outDir, '--bypass-lock'], port, '/', log);
}

/** Stops a Vite server by its PID: SIGTERM, then SIGKILL after 5 s. */
export async function stopVite(server: ViteServer, log: (line: string) => void): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  log(`stopped Vite on ${server.origin} (pid ${child.pid ?? '?'})`);
}

export function launchArgs(): { executablePath: string; args: string[] } {
  const launch = playwrightConfig.use?.launchOptions;
  if (launch?.executablePath === undefined) throw new Error('playwright.config.ts sets no launchOptions.executablePath');
  return { executablePath: launch.executablePath, args: launch.args ?? [] };
}

/**
 * Opens the step page and waits for `window.ntkBench`. The first visit makes
 * Vite pre-bundle tfjs, which can reload the page once, so the page is
 * loaded until it stays up.
 */
async function openStepPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${BENCH_ORIGIN}${STEP_PAGE}`, { waitUntil: 'networkidle', timeout: 120_000 });
  await page.waitForFunction(() => window.ntkBench !== undefined, undefined, { timeout: 120_000 });
  return page;
}

/** Opens a fresh step page and sets the workloads up on a backend. */
async function setUpBackend(browser: Browser, backend: string, inputs: BenchInputs, pageErrors: string[]): Promise<{ page: Page; info: BrowserBackendInfo }> {
  const page = await openStepPage(browser);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const info = await page.evaluate(([name, benchInputs]) => window.ntkBench.setup(name, benchInputs), [backend, inputs] as const);
  if (info.backend !== backend) throw new Error(`tf.getBackend() is ${info.backend} after setBackend('${backend}')`);
  return { page, info };
}

/**
 * Times the workloads on one backend, then checks agreement in a second
 * fresh page, so that the check does not depend on what the timed repeats
 * left in the backend's buffer pools.
 */
async function benchBrowserBackend(browser: Browser, backend: string, options: BrowserOptions): Promise<{ result: BrowserBackendResult; agreement: AgreementResult | null }> {
  const { inputs, log } = options;
  const pageErrors: string[] = [];
  let info: BrowserBackendInfo | null = null;
  let timings: TimingSeries[] = [];
  let tensorsAfter: number | null = null;
  let agreement: AgreementResult | null = null;
  const pages: Page[] = [];
  try {
    const timed = await setUpBackend(browser, backend, inputs, pageErrors);
    pages.push(timed.page);
    info = timed.info;
    log(`chromium ${backend}: ${info.adapter ?? ''}${info.wasmSimd === undefined ? '' : `SIMD ${info.wasmSimd}, threads ${info.wasmThreads}`}`);
    const plan = backendPlan('chromium', backend, options.plan, backend === 'wasm');
    const run = (workload: BrowserWorkload): Promise<number> => timed.page.evaluate((name) => window.ntkBench.run(name), workload);
    timings = await timePlan(plan, run, options.peer, log);
    tensorsAfter = await timed.page.evaluate(() => window.ntkBench.dispose());
    await timed.page.close();

    log(`chromium ${backend}: agreement with PyTorch`);
    const checked = await setUpBackend(browser, backend, inputs, pageErrors);
    pages.push(checked.page);
    const plain = await checked.page.evaluate((theta1) => window.ntkBench.agreement(theta1), options.theta1);
    const ours: AgreementOutputs = {};
    for (const [name, values] of Object.entries(plain)) ours[name] = Float64Array.from(values);
    agreement = compareWithPeer(`chromium ${backend}`, ours, options.peerOutputs, {
      theta0: flatTheta(inputs.theta0),
      optimizer: inputs.spec.optimizer,
      lr: inputs.spec.lr,
    });
    return { result: { backend, info, timings, tensorsAfter }, agreement };
  } catch (error) {
    const message = `${error instanceof Error ? error.message.split('\n')[0] : String(error)}${pageErrors.length > 0 ? `; page errors: ${pageErrors.join('; ')}` : ''}`;
    log(`chromium ${backend} failed: ${message}`);
    return { result: { backend, info, timings, tensorsAfter, error: message }, agreement };
  } finally {
    for (const page of pages) if (!page.isClosed()) await page.close();
  }
}

/** Builds the app, serves it with `vite preview` on `ports.app`, measures it with the dev server on `ports.dev` and stops the preview server. */
async function measureAppOnBuild(
  browser: Browser,
  app: { steps: number },
  ports: { dev: number; app: number },
  log: (line: string) => void,
): Promise<AppResult> {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'ntk-bench-dist-'));
  try {
    const preview = await startPreviewServer(ports.app, outDir, log);
    try {
      return await measureApp(browser, { app: preview.origin, dev: `http://127.0.0.1:${ports.dev}` }, app, log);
    } finally {
      await stopVite(preview, log);
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * Measures only the app (`npm run bench -- --only app`): the app pages on the
 * production build and the worker run on the dev server.
 */
export async function runAppBench(
  app: { steps: number },
  ports: { dev: number; app: number },
  log: (line: string) => void,
): Promise<{ chromiumVersion: string; app: AppResult }> {
  const server = await startDevServer(ports.dev, log);
  let browser: Browser | null = null;
  try {
    const { executablePath, args } = launchArgs();
    browser = await chromium.launch({ executablePath, args, headless: true });
    return { chromiumVersion: browser.version(), app: await measureAppOnBuild(browser, app, ports, log) };
  } finally {
    await browser?.close();
    await stopVite(server, log);
  }
}

/**
 * Measures every browser backend on the dev server, then the app pages on
 * the production build and the worker run on the dev server, and stops the
 * servers and the browser it started.
 */
export async function runBrowserBench(options: BrowserOptions): Promise<BrowserResult> {
  const { log } = options;
  const server = await startDevServer(BENCH_PORT, log);
  let browser: Browser | null = null;
  try {
    const { executablePath, args } = launchArgs();
    browser = await chromium.launch({ executablePath, args, headless: true });
    const chromiumVersion = browser.version();
    log(`Chromium ${chromiumVersion}`);

    const backends: BrowserBackendResult[] = [];
    const agreement: AgreementResult[] = [];
    for (const backend of options.backends) {
      const { result, agreement: check } = await benchBrowserBackend(browser, backend, options);
      backends.push(result);
      if (check !== null) agreement.push(check);
    }

    const app = options.app === null ? null : await measureAppOnBuild(browser, options.app, { dev: BENCH_PORT, app: BENCH_APP_PORT }, log);
    return { chromiumVersion, launchArgs: args, backends, agreement, app };
  } finally {
    await browser?.close();
    await stopVite(server, log);
  }
}
