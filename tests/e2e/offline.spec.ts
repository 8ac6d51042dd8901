/**
 * The production build works offline after one load: the test builds the
 * lab into a temporary folder, serves it with `vite preview`, loads it once
 * so the service worker precaches it, stops the server and reloads. The lab
 * must still start its backend and compute the NTK preview.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

const PORT = 5185;
const ORIGIN = `http://127.0.0.1:${PORT}`;
// Tiny runs on the wasm backend: in the test Chromium, WebGPU and WebGL run on SwiftShader (software), several times slower.
const TINY = 'trainSize=8&evalSize=8&probeSize=4&batchSize=4&steps=2&evalInterval=1&ntkInterval=1&failBackend=webgpu,webgl';
const VITE = join('node_modules', '.bin', 'vite');

/** Resolves once `url` returns a 2xx response, or rejects after `timeoutMs`. */
async function waitForServer(url: string, server: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`vite preview exited with code ${server.exitCode} before it answered`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`vite preview did not answer at ${url} within ${timeoutMs} ms`);
}

/** Ends the server by its PID and waits until it has exited. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.pid === undefined) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  process.kill(server.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGKILL');
}

test.describe('offline', () => {
  test.setTimeout(240_000);

  let outDir = '';
  let server: ChildProcess | null = null;

  test.beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'ntk-lab-offline-'));
    const build = spawnSync(VITE, ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { encoding: 'utf8', timeout: 180_000 });
    if (build.status !== 0) throw new Error(`vite build failed (status ${build.status}): ${build.stderr || build.stdout}`);
  });

  test.afterAll(async () => {
    if (server !== null) await stopServer(server);
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });

  test('lab reloads with the server stopped', async ({ page }) => {
    server = spawn(VITE, ['preview', '--outDir', outDir, '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], { stdio: 'ignore' });
    await waitForServer(ORIGIN, server, 30_000);

    await page.goto(`${ORIGIN}/?${TINY}`);
    await expect(page.getByTestId('backend')).not.toHaveText(/starting/, { timeout: 60_000 });
    // The service worker has precached every file once it is active and controls the page.
    await page.evaluate(async (timeoutMs) => {
      const controlled = (async () => {
        await navigator.serviceWorker.ready;
        if (navigator.serviceWorker.controller === null) {
          await new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }));
        }
      })();
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no service worker controls the page after ${timeoutMs} ms`)), timeoutMs));
      await Promise.race([controlled, timeout]);
    }, 30_000);
    const cached = await page.evaluate(async () => (await Promise.all((await caches.keys()).map(async (name) => (await (await caches.open(name)).keys()).map((request) => new URL(request.url).pathname)))).flat());
    expect(cached).toEqual(expect.arrayContaining(['/index.html', '/models/brown-gpt/model.safetensors', '/models/brown-gpt/config.json', '/data/task-sources.json']));

    await stopServer(server);
    server = null;
    const offline = await fetch(ORIGIN).then(
      () => 'answered',
      () => 'refused',
    );
    expect(offline, 'the preview server is stopped').toBe('refused');

    await page.reload();
    await expect(page.getByRole('heading', { name: 'NTK fine-tuning lab' })).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('backend')).toHaveText(/webgpu|webgl|wasm|cpu/, { timeout: 60_000 });
    await expect(page.getByTestId('preview-stats')).toBeVisible({ timeout: 120_000 });
    expect(Number(await page.getByTestId('preview-mu-max').textContent())).toBeGreaterThan(0);
    await expect(page.locator('[data-testid="chart-spectrum"] .chart-container svg circle, [data-testid="chart-spectrum"] .chart-container svg path').first()).toBeAttached();
    await expect(page.getByTestId('notice-error')).toHaveCount(0);
  });
});
