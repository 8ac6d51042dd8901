/**
 * Times the app from navigation start to the first drawn spectrum in headless
 * Chromium, with the lab worker's phase marks, over interleaved rounds of
 * backends, and prints each page load and the medians as JSON lines.
 *
 *   npx tsx bench/first-spectrum.ts --server preview --port 5192 --rounds 3 --backends wasm,webgl
 *
 * `--server preview` builds the app into a temporary folder and serves it
 * with `vite preview`; `--server dev` starts the Vite dev server. To compare
 * builds, pass `--dist DIR` once per folder that `vite build` wrote: each is
 * served with `vite preview` on the next port from --port, and the rounds
 * interleave them. Each page load gets a fresh browser context, so nothing is
 * cached between loads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from '@playwright/test';

import { appUrl, measureFirstSpectrum, type FirstSpectrum } from '../src/cli/bench-app.ts';
import { launchArgs, servePreview, startDevServer, startPreviewServer, stopVite, type ViteServer } from '../src/cli/bench-browser.ts';

/** The `?failBackend=` list that leaves each backend first in the worker's order. */
const FAIL_BEFORE: Record<string, string[]> = {
  webgpu: [],
  webgl: ['webgpu'],
  wasm: ['webgpu', 'webgl'],
};

function log(line: string): void {
  process.stderr.write(`first-spectrum: ${line}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Returns each phase's time since navigation start, plus the page's own points, by name. */
function pointsOf(result: FirstSpectrum): Map<string, number> {
  const points = new Map<string, number>([['domContentLoaded', result.domContentLoadedMs]]);
  for (const phase of result.phases) points.set(phase.name, phase.ms);
  if (result.firstSpectrumMs !== null) points.set('first spectrum', result.firstSpectrumMs);
  return points;
}

/** Starts the servers to measure, labelled by what they serve. */
async function startServers(server: string, dists: string[], port: number, outDir: string): Promise<[string, ViteServer][]> {
  if (dists.length > 0) {
    const servers: [string, ViteServer][] = [];
    for (const [index, dist] of dists.entries()) servers.push([dist, await servePreview(port + index, dist, log)]);
    return servers;
  }
  if (server === 'preview') return [['preview', await startPreviewServer(port, outDir, log)]];
  return [['dev', await startDevServer(port, log)]];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: 'preview' },
      dist: { type: 'string', multiple: true, default: [] },
      port: { type: 'string', default: '5192' },
      rounds: { type: 'string', default: '3' },
      backends: { type: 'string', default: 'wasm,webgl,webgpu' },
      'timeout-s': { type: 'string', default: '90' },
    },
  });
  const port = Number(values.port);
  const rounds = Number(values.rounds);
  const timeoutMs = Number(values['timeout-s']) * 1000;
  const backends = values.backends.split(',');
  for (const backend of backends) {
    if (!(backend in FAIL_BEFORE)) throw new Error(`--backends: unknown backend "${backend}"; expected some of ${Object.keys(FAIL_BEFORE).join(', ')}`);
  }
  if (values.server !== 'preview' && values.server !== 'dev') throw new Error(`--server: got "${values.server}", expected preview or dev`);

  const outDir = mkdtempSync(path.join(os.tmpdir(), 'first-spectrum-dist-'));
  let servers: [string, ViteServer][] = [];
  const { executablePath, args } = launchArgs();
  const browser = await chromium.launch({ executablePath, args, headless: true });
  try {
    servers = await startServers(values.server, values.dist, port, outDir);
    if (values.server === 'dev' && values.dist.length === 0) {
      // The first visit to a dev server transforms every module; it is not timed.
      const context = await browser.newContext();
      const origin = (servers[0] as [string, ViteServer])[1].origin;
      await measureFirstSpectrum(await context.newPage(), appUrl(origin, {}, FAIL_BEFORE.wasm as string[]), timeoutMs);
      await context.close();
    }

    const results = new Map<string, Map<string, number>[]>();
    for (let round = 0; round < rounds; round++) {
      for (const backend of backends) {
        for (const [label, server] of servers) {
          const context = await browser.newContext();
          try {
            const page = await context.newPage();
            const result = await measureFirstSpectrum(page, appUrl(server.origin, {}, FAIL_BEFORE[backend] as string[]), timeoutMs);
            process.stdout.write(`${JSON.stringify({ round, served: label, requested: backend, ...result })}\n`);
            const key = `${label} ${backend}`;
            results.set(key, [...(results.get(key) ?? []), pointsOf(result)]);
          } finally {
            await context.close();
          }
        }
      }
    }

    for (const [key, loads] of results) {
      const names = [...new Set(loads.flatMap((points) => [...points.keys()]))];
      const medians = names.map((name) => {
        const times = loads.map((points) => points.get(name)).filter((time): time is number => time !== undefined);
        return [name, Math.round(median(times)), times.length] as const;
      });
      medians.sort((a, b) => a[1] - b[1]);
      process.stdout.write(`${JSON.stringify({ measured: key, rounds, medianMs: medians })}\n`);
    }
  } finally {
    await browser.close();
    for (const [, server] of servers) await stopVite(server, log);
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`first-spectrum: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
