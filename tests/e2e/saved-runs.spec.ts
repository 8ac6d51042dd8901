/**
 * Saved runs in IndexedDB: a finished run is saved on its own, imported run
 * records are saved too, and everything survives a reload with renames and
 * deletions. Compare overlays saved runs on the run charts, and a λ sweep
 * runs its values one after another. Storage failures give messages.
 * Screenshots go to /tmp/saved-runs-shots.
 */
import { mkdirSync, readFileSync } from 'node:fs';

import { expect, test, type Page } from '@playwright/test';

import type { LabEvent } from '../../src/core/events.ts';
import { createRunRecord, formatRunRecord } from '../../src/ui/export/run-record.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN } from '../../src/ui/run-data.ts';
import { parseEventLines } from './fixtures/run-events.ts';

const SHOTS = '/tmp/saved-runs-shots';
// Tiny runs on the wasm backend: in the test Chromium, WebGPU and WebGL run on SwiftShader (software), several times slower.
const TINY = 'trainSize=8&evalSize=8&probeSize=4&batchSize=4&steps=2&evalInterval=1&ntkInterval=1&failBackend=webgpu,webgl';

/** Builds a run record file from a recorded run of the fixtures. */
function recordFile(fixture: string, name: string): { name: string; mimeType: string; buffer: Buffer } {
  const events = parseEventLines(readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), 'utf8'));
  const run = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, events as LabEvent[]).run;
  const record = createRunRecord(run, {
    spec: run.config!.spec,
    backend: 'wasm',
    startedAt: new Date('2026-12-04T10:00:00Z'),
    endedAt: new Date('2026-12-04T10:02:00Z'),
  });
  return { name, mimeType: 'application/json', buffer: Buffer.from(formatRunRecord(record)) };
}

async function openLab(page: Page, query = TINY): Promise<void> {
  await page.setViewportSize({ width: 1400, height: 1100 });
  await page.goto(`/?${query}`);
  await expect(page.getByTestId('backend')).not.toHaveText(/starting/, { timeout: 60_000 });
}

function savedNames(page: Page): Promise<string[]> {
  return page.getByTestId('saved-run-name').allTextContents();
}

function row(page: Page, name: string) {
  return page.getByTestId('saved-run').filter({ has: page.getByTestId('saved-run-name').getByText(name, { exact: true }) });
}

async function importRecord(page: Page, file: ReturnType<typeof recordFile>): Promise<void> {
  await page.getByTestId('load-record').setInputFiles(file);
  await expect(page.getByTestId('saved-message')).toHaveText(/Loaded and saved/);
}

test.describe('saved runs', () => {
  test.setTimeout(300_000);

  test('saved runs survive a reload', async ({ page }) => {
    mkdirSync(SHOTS, { recursive: true });
    await openLab(page);
    await page.getByTestId('run-start').click();
    await expect(page.getByTestId('run-state')).toContainText('done', { timeout: 180_000 });

    // The finished run is saved on its own, with its final eval accuracy.
    await expect(page.getByTestId('saved-run')).toHaveCount(1, { timeout: 10_000 });
    const accuracy = await page.getByTestId('saved-run-accuracy').first().textContent();
    expect(accuracy).toMatch(/^\d+\.\d%$/);

    await importRecord(page, recordFile('run-mse-gd.jsonl', 'mse-gd.json'));
    await importRecord(page, recordFile('run-ce-adam.jsonl', 'ce-adam.json'));
    await expect(page.getByTestId('saved-run')).toHaveCount(3);

    // While it is renamed, the row shows an input in place of its name, so the row is found by its id.
    const renamed = page.locator(`[data-run-id="${await row(page, 'mse-gd').getAttribute('data-run-id')}"]`);
    await renamed.getByTestId('rename-run').click();
    await renamed.getByTestId('rename-input').fill('squared loss, GD');
    await renamed.getByTestId('rename-save').click();
    await expect(page.getByTestId('saved-run-name').getByText('squared loss, GD', { exact: true })).toBeVisible();

    await row(page, 'ce-adam').getByTestId('delete-run').click();
    await row(page, 'ce-adam').getByTestId('confirm-delete').click();
    await expect(page.getByTestId('saved-run')).toHaveCount(2);
    await page.getByTestId('saved-panel').screenshot({ path: `${SHOTS}/saved-panel.png` });

    const before = (await savedNames(page)).sort();
    await page.reload();
    await expect(page.getByTestId('saved-run')).toHaveCount(2, { timeout: 30_000 });
    expect((await savedNames(page)).sort()).toEqual(before);
    expect(before).toContain('squared loss, GD');
    expect(before).not.toContain('ce-adam');

    // A saved run shows in the charts after the reload, without training.
    await row(page, 'squared loss, GD').getByTestId('show-run').click();
    await expect(page.getByTestId('shown-run-name')).toHaveText('squared loss, GD');
    await expect(page.locator('[data-testid="chart-loss"] path.series-theory-train')).toHaveCount(1);
    await page.getByTestId('show-live-run').click();
    await expect(page.getByTestId('shown-run')).toHaveCount(0);
  });

  test('compare overlays ticked runs', async ({ page }) => {
    mkdirSync(SHOTS, { recursive: true });
    await openLab(page);
    await importRecord(page, recordFile('run-mse-gd.jsonl', 'squared loss, GD.json'));
    await importRecord(page, recordFile('run-ce-adam.jsonl', 'cross-entropy, Adam.json'));
    await page.getByTestId('show-live-run').click();

    for (const name of ['squared loss, GD', 'cross-entropy, Adam']) await row(page, name).getByRole('checkbox').check();
    await page.getByTestId('compare-runs').click();

    for (const chart of ['loss', 'accuracy']) {
      await expect(page.locator(`[data-testid="chart-${chart}"] path[class*="series-overlay-"]`)).toHaveCount(4);
    }
    await expect(page.locator('[data-testid="chart-divergence"] path[class*="series-overlay-"]')).toHaveCount(8);
    await expect(page.locator('[data-testid="chart-distance"] path[class*="series-overlay-"]')).toHaveCount(2);
    for (const chart of ['loss', 'accuracy', 'divergence', 'distance']) {
      const legend = page.locator(`[data-testid="chart-${chart}"] .chart-legend`);
      await expect(legend.getByText('squared loss, GD', { exact: true })).toBeVisible();
      await expect(legend.getByText('cross-entropy, Adam', { exact: true })).toBeVisible();
    }
    await page.locator('section[aria-label="Training charts"]').evaluate((charts) => window.scrollTo(0, charts.getBoundingClientRect().top + window.scrollY - 80));
    await page.screenshot({ path: `${SHOTS}/compare-overlay.png` });

    // Without a live run, clearing the comparison leaves the charts empty.
    await page.getByTestId('clear-comparison').click();
    await expect(page.getByTestId('chart-loss').locator('.chart-empty')).toBeVisible();
    await expect(page.getByTestId('clear-comparison')).toHaveCount(0);
  });

  test('lambda sweep runs each value after the last', async ({ page }) => {
    mkdirSync(SHOTS, { recursive: true });
    // 60 steps per run, so that the third run is still going when the test cancels it.
    await openLab(page, TINY.replace('steps=2', 'steps=60').replace('evalInterval=1', 'evalInterval=5').replace('ntkInterval=1', 'ntkInterval=0'));
    await expect(page.getByTestId('run-lambda-sweep')).toBeEnabled({ timeout: 60_000 });
    await page.getByTestId('lambda-list').fill('0, 0.5, 5');
    await page.getByTestId('run-lambda-sweep').click();

    await expect(page.getByTestId('lambda-sweep-progress')).toContainText('Run 1 of 3: λ = 0');
    await expect(page.getByTestId('lambda-sweep-progress')).toContainText('Run 2 of 3: λ = 0.5', { timeout: 180_000 });
    // The first run was done and saved before the second started.
    await expect(row(page, 'λ = 0')).toHaveCount(1);
    await expect(row(page, 'λ = 0').getByTestId('saved-run-accuracy')).toHaveText(/^\d+\.\d%$/);
    await page.getByTestId('saved-panel').screenshot({ path: `${SHOTS}/lambda-sweep-progress.png` });

    await expect(page.getByTestId('lambda-sweep-progress')).toContainText('Run 3 of 3: λ = 5', { timeout: 180_000 });
    await page.getByTestId('cancel-lambda-sweep').click();
    await expect(page.getByTestId('lambda-sweep-progress')).toHaveCount(0, { timeout: 60_000 });
    await expect(page.getByTestId('saved-message')).toHaveText(/The λ sweep stopped after [23] of 3 runs: it was cancelled\./);
    await expect(row(page, 'λ = 0.5')).toHaveCount(1);
    await expect(row(page, 'λ = 0.5').getByTestId('saved-run-accuracy')).toHaveText(/^\d+\.\d%$/);
    await expect(page.locator('[data-testid="chart-loss"] path.series-overlay-1-train')).toHaveCount(1);
    await expect(page.locator('[data-testid="chart-loss"] .chart-legend').getByText('λ = 0.5', { exact: true })).toBeVisible();
    await page.locator('section[aria-label="Training charts"]').screenshot({ path: `${SHOTS}/lambda-sweep-overlay.png` });
  });

  test('refused IndexedDB gives a message', async ({ page }) => {
    await page.addInitScript(() => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      };
    });
    await openLab(page);

    await expect(page.getByTestId('saved-unavailable')).toHaveText(/^Saved runs are unavailable: the browser refused IndexedDB \(SecurityError/);
    // Loading a record still shows it, and the message states that it is not saved.
    await page.getByTestId('load-record').setInputFiles(recordFile('run-ce-adam.jsonl', 'ce-adam.json'));
    await expect(page.getByTestId('shown-run-name')).toHaveText('ce-adam');
    await expect(page.getByTestId('saved-message')).toHaveText(/^Showing ce-adam\.json, but it is not saved: Saved runs are unavailable/);
  });

  test('corrupt saved record gives a message', async ({ page }) => {
    await openLab(page);
    await importRecord(page, recordFile('run-ce-adam.jsonl', 'intact.json'));
    await importRecord(page, recordFile('run-mse-gd.jsonl', 'damaged.json'));
    await page.getByTestId('show-live-run').click();
    const id = await row(page, 'damaged').getAttribute('data-run-id');

    await page.evaluate(async (runId) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('ntk-lab-saved-runs', 1);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      await new Promise<void>((resolve, reject) => {
        const transaction = db.transaction('records', 'readwrite');
        transaction.objectStore('records').put({ id: runId, record: { format: 'ntk-lab-run', version: 1, spec: {}, events: [{ type: 'step' }] } });
        transaction.oncomplete = () => resolve();
        transaction.onerror = () => reject(transaction.error);
      });
      db.close();
    }, id);

    await row(page, 'damaged').getByTestId('show-run').click();
    await expect(page.getByTestId('saved-message')).toHaveText(/^Saved run “damaged” is corrupt and cannot be shown: /);
    await expect(page.getByTestId('shown-run')).toHaveCount(0);
    await row(page, 'intact').getByTestId('show-run').click();
    await expect(page.getByTestId('shown-run-name')).toHaveText('intact');
    await expect(page.getByTestId('saved-run')).toHaveCount(2);
  });
});
