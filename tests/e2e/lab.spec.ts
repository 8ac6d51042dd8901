/**
 * The lab page end to end, in Debian's Chromium with WebGPU on SwiftShader.
 * Runs are tiny (8 train and 8 eval examples, a probe of 4) because the
 * software WebGPU adapter takes seconds per step, and each test reuses its
 * page for several checks because the NTK preview alone takes 10–30 s.
 */
import { expect, test, type Page } from '@playwright/test';

const TINY = 'trainSize=8&evalSize=8&probeSize=4&batchSize=4&evalInterval=2&ntkInterval=2';

/**
 * Training tests skip WebGPU on purpose: on SwiftShader, software WebGPU,
 * one step of the real and the linearized model takes tens of seconds,
 * while WebGL takes about a second and WASM a fraction of one.
 */
const ON_WEBGL = 'backend=webgl';
const ON_WASM = 'failBackend=webgpu,webgl';
/** WebGPU, even where its adapter is a software renderer, which the lab skips by default. */
const ON_WEBGPU = 'backend=webgpu';

/** Run charts that must fill while training streams. */
const RUN_CHARTS = ['loss', 'accuracy', 'spectrum', 'spectrum-heatmap', 'divergence', 'distance', 'drift'];

/**
 * Returns the size of a chart's data marks: the count of circles, cells and
 * bars plus the total length of the series paths' `d` attributes, which
 * grows as a line gains points.
 */
async function markSize(page: Page, chart: string): Promise<number> {
  return page.locator(`[data-testid="chart-${chart}"] .chart-body svg`).evaluateAll((svgs) => {
    let size = 0;
    for (const svg of svgs) {
      size += svg.querySelectorAll('circle, rect.cell, rect.bar').length;
      for (const path of svg.querySelectorAll('path[class*="series"]')) size += (path.getAttribute('d') ?? '').length;
    }
    return size;
  });
}

/** Opens the lab with a query and waits for the worker's backend and the NTK preview at θ₀. */
async function openLab(page: Page, query: string): Promise<void> {
  await page.goto(`/?${query}`);
  await expect(page.getByTestId('backend')).not.toHaveText(/starting/, { timeout: 60_000 });
  await expect(page.getByTestId('preview-stats')).toBeVisible({ timeout: 120_000 });
}

async function stepCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('run-step-count').textContent());
}

function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

test.describe('lab page', () => {
  test.setTimeout(300_000);

  test('WebGPU preview and layer toggles', async ({ page }) => {
    const errors = collectPageErrors(page);
    await openLab(page, `${TINY}&${ON_WEBGPU}`);

    await expect(page.getByTestId('backend')).toHaveText('webgpu');
    const before = await page.getByTestId('preview-mu-max').textContent();
    expect(Number(before)).toBeGreaterThan(0);

    await page.locator('[data-testid="model-grid"] [data-layer="3"][data-module="attn.q"]').click();
    await expect(page.getByTestId('preview-mu-max')).not.toHaveText(before ?? '', { timeout: 30_000 });
    await page.locator('[data-testid="model-grid"] [data-layer="3"][data-module="attn.q"]').click();
    await expect(page.getByTestId('preview-mu-max')).toHaveText(before ?? '', { timeout: 30_000 });
    await expect(page.getByTestId('notice-error')).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('pause, resume and step once', async ({ page }) => {
    const errors = collectPageErrors(page);
    await openLab(page, `${TINY}&steps=40&${ON_WEBGL}`);

    // With no run, Step once builds one and pauses at step 0; each later click runs one step.
    await page.getByTestId('run-step').click();
    await expect(page.getByTestId('run-state')).toContainText('paused', { timeout: 150_000 });
    expect(await stepCount(page)).toBe(0);
    await page.getByTestId('run-step').click();
    await expect.poll(() => stepCount(page), { timeout: 60_000 }).toBe(1);
    await page.getByTestId('run-step').click();
    await expect.poll(() => stepCount(page), { timeout: 60_000 }).toBe(2);

    await page.getByTestId('run-resume').click();
    await expect.poll(() => stepCount(page), { timeout: 150_000 }).toBeGreaterThan(2);
    await page.getByTestId('run-pause').click();
    await expect(page.getByTestId('run-state')).toContainText('paused', { timeout: 30_000 });
    const paused = await stepCount(page);
    await page.waitForTimeout(3000);
    expect(await stepCount(page)).toBe(paused);

    await page.getByTestId('run-stop').click();
    await expect(page.getByTestId('run-state')).toContainText(/stopped|done/, { timeout: 30_000 });
    await expect(page.getByTestId('notice-error')).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('run streams data into each chart', async ({ page }) => {
    const errors = collectPageErrors(page);
    await openLab(page, `${TINY}&steps=30&${ON_WASM}`);
    expect(await markSize(page, 'weyl')).toBeGreaterThan(0);

    await page.getByTestId('run-start').click();
    await expect.poll(() => stepCount(page), { timeout: 150_000 }).toBeGreaterThanOrEqual(2);
    const early = new Map(await Promise.all(RUN_CHARTS.map(async (chart) => [chart, await markSize(page, chart)] as const)));

    await expect(page.getByTestId('run-state')).toContainText('done', { timeout: 180_000 });
    for (const chart of RUN_CHARTS) {
      const late = await markSize(page, chart);
      expect(late, `marks of chart ${chart}`).toBeGreaterThan(0);
      // The spectrum chart shows θ₀ against the latest kernel, so its marks move rather than multiply.
      if (chart === 'spectrum') expect(late, 'change of chart spectrum').not.toBe(early.get(chart));
      else expect(late, `growth of chart ${chart}`).toBeGreaterThan(early.get(chart) ?? 0);
    }
    await expect(page.getByTestId('chart-spectrum')).toContainText('step 30');

    await page.getByTestId('measure-jacobian-change').click();
    await expect.poll(() => markSize(page, 'jacobian-change'), { timeout: 150_000 }).toBeGreaterThan(0);

    await page.getByTestId('run-sweep').click();
    await expect(page.getByTestId('progress-sweep')).toBeVisible();
    await expect.poll(() => page.locator('[data-testid="chart-sweep"] circle').count(), { timeout: 240_000 }).toBeGreaterThanOrEqual(2);
    await page.getByTestId('cancel-sweep').click();
    await expect(page.getByTestId('progress-sweep')).toHaveCount(0, { timeout: 60_000 });

    await expect(page.getByTestId('notice-error')).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('forced WebGPU failure falls back with a notice', async ({ page }) => {
    await openLab(page, `${TINY}&failBackend=webgpu`);

    // WebGL where the GPU is real; on a software renderer the lab skips WebGL too and runs WASM.
    await expect(page.getByTestId('backend')).toHaveText(/^(webgl|wasm)$/);
    await expect(page.getByTestId('notice-warning').filter({ hasText: 'WebGPU is not used' })).toBeVisible();
    await expect(page.getByTestId('notice-warning')).toContainText('simulated failure');
  });

  test('software GPUs give way to WASM by default', async ({ page }) => {
    await openLab(page, TINY);
    // The page's own adapter shows whether this machine's WebGPU is a software renderer; null when it has no WebGPU.
    const software = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; vendor?: string; description?: string } } | null> } }).gpu;
      const info = (await gpu?.requestAdapter())?.info;
      if (info === undefined) return null;
      return info.isFallbackAdapter === true || /swiftshader/i.test(`${info.vendor ?? ''} ${info.description ?? ''}`);
    });
    await page.getByTestId('backend-details').locator('summary').click();

    if (software === true) {
      await expect(page.getByTestId('backend')).toHaveText('wasm');
      await expect(page.getByTestId('backend-skipped')).toContainText('webgpu not used: software renderer');
      await expect(page.getByTestId('backend-skipped')).toContainText('backend=webgpu');
    } else if (software === false) {
      await expect(page.getByTestId('backend')).toHaveText('webgpu');
    } else {
      await expect(page.getByTestId('backend')).toHaveText(/^(webgl|wasm|cpu)$/);
    }
  });

  test('lost WebGPU device continues on another backend', async ({ page }) => {
    await openLab(page, `${TINY}&${ON_WEBGPU}`);
    await expect(page.getByTestId('backend')).toHaveText('webgpu');

    await page.getByTestId('backend-details').locator('summary').click();
    await page.getByTestId('simulate-device-loss').click();

    await expect(page.getByTestId('backend')).toHaveText('webgl', { timeout: 60_000 });
    await expect(page.getByTestId('notice-warning').filter({ hasText: 'now runs on webgl' })).toBeVisible();
    await expect(page.getByTestId('preview-stats')).toBeVisible({ timeout: 120_000 });
  });
});
