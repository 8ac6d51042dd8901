/**
 * The browser side of the bench: a Vite dev server on 127.0.0.1:5175 and
 * Debian's Chromium through Playwright, with the launch flags of
 * playwright.config.ts. Each backend runs bench/browser/step.html: each workload interleaved with
 * the peer, then the agreement check with PyTorch, each in a fresh page.
 * The app measurements are in bench-app.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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

/** The port given to the bench's own Vite server. */
export const BENCH_PORT = 5175;
export const BENCH_ORIGIN = `http://127.0.0.1:${BENCH_PORT}`;
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

interface ViteServer {
  child: ChildProcess;
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

/**
 * Starts `vite --host 127.0.0.1 --port 5175 --strictPort --bypass-lock` as a
 * child of this process. Vite 8 refuses a second dev server for the same
 * project unless --bypass-lock is given, and other dev servers may be up.
 */
async function startVite(log: (line: string) => void): Promise<ViteServer> {
  const viteBin = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  const child = spawn(process.execPath, [viteBin, '--host', '127.0.0.1', '--port', String(BENCH_PORT), '--strictPort', '--bypass-lock'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const server = { child, output: () => output };
  log(`started Vite on ${BENCH_ORIGIN} (pid ${child.pid ?? '?'})`);
  await waitForHttp(`${BENCH_ORIGIN}${STEP_PAGE}`, 60_000, server);
  return server;
}

/** Stops the Vite server by its PID: SIGTERM, then SIGKILL after 5 s. */
async function stopVite(server: ViteServer, log: (line: string) => void): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  log(`stopped Vite (pid ${child.pid ?? '?'})`);
}

function launchArgs(): { executablePath: string; args: string[] } {
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

/** Measures every browser backend and then the app, and stops the server and the browser it started. */
export async function runBrowserBench(options: BrowserOptions): Promise<BrowserResult> {
  const { log } = options;
  const server = await startVite(log);
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

    const app = options.app === null ? null : await measureApp(browser, BENCH_ORIGIN, options.app, log);
    return { chromiumVersion, launchArgs: args, backends, agreement, app };
  } finally {
    await browser?.close();
    await stopVite(server, log);
  }
}
