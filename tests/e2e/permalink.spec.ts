/**
 * Permalinks and presentation mode in Debian's Chromium: a copied link
 * reopens the lab with the same settings and the same run, malformed links
 * open safely with a message, and presentation mode follows the key P and
 * the link. Screenshots go to /tmp/permalink-shots.
 */
import { expect, test, type Page } from '@playwright/test';

import { DEFAULT_SPEC, SPEC_FIELDS, type SpecKey } from '../../src/core/spec.ts';

const SHOTS = '/tmp/permalink-shots';

/** A run small enough for software WebGPU: 2 steps on 8 examples, evaluated and analyzed at every step. */
const TINY = 'trainSize=8&evalSize=8&probeSize=4&batchSize=4&steps=2&evalInterval=1&ntkInterval=1';

interface PageWatch {
  errors: string[];
  dialogs: string[];
}

/** Records page errors and dismisses and records every dialog, such as an alert() a link might try to fire. */
function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], dialogs: [] };
  page.on('pageerror', (error) => watch.errors.push(error.message));
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return watch;
}

/** Returns the page's scheme, host and port, such as "http://127.0.0.1:5174". */
function origin(page: Page): string {
  return new URL(page.url()).origin;
}

async function waitForBackend(page: Page): Promise<void> {
  await expect(page.getByTestId('backend')).not.toHaveText(/starting/, { timeout: 90_000 });
}

/** Reads the value a spec field's control shows, as its string form. */
async function controlValue(page: Page, key: SpecKey): Promise<string> {
  if (key === 'lambda') return page.getByLabel('λ (penalty strength) value').inputValue();
  if (key === 'lr') return page.getByLabel('Learning rate η value').inputValue();
  if (key === 'adapters') return adapterCells(page);
  const field = page.getByTestId(`field-${key}`);
  switch (SPEC_FIELDS[key].kind) {
    case 'enum':
      return field.locator('select').inputValue();
    case 'boolean':
      return String(await field.locator('input').isChecked());
    default:
      return field.locator('input').inputValue();
  }
}

/** Lists the model grid's switched-on cells as "layer:module", sorted. */
async function adapterCells(page: Page): Promise<string> {
  const cells = await page
    .locator('[data-testid="model-grid"] button.cell[aria-pressed="true"]')
    .evaluateAll((buttons) => buttons.map((button) => `${(button as HTMLElement).dataset.layer}:${(button as HTMLElement).dataset.module}`));
  return cells.sort().join(' ');
}

const DEFAULT_ADAPTER_CELLS = [0, 1, 2, 3].flatMap((layer) => [`${layer}:attn.q`, `${layer}:attn.v`]).sort().join(' ');

/** Hovers the loss chart at each evaluated step and returns the tooltip's lines. */
async function lossTooltips(page: Page, steps: number): Promise<string[][]> {
  const chart = page.getByTestId('chart-loss');
  await chart.scrollIntoViewIfNeeded();
  const overlay = chart.locator('rect.hover-overlay');
  const box = await overlay.boundingBox();
  if (box === null) throw new Error('the loss chart has no hover overlay');

  const tooltips: string[][] = [];
  for (let step = 0; step <= steps; step++) {
    await page.mouse.move(box.x + (box.width * step) / steps, box.y + box.height / 2);
    const tooltip = chart.locator('.chart-tooltip');
    await expect(tooltip).toContainText(`step ${step}`);
    tooltips.push(await tooltip.locator('div').allTextContents());
  }
  return tooltips;
}

/** Saves the top of the page and the loss and Weyl charts, each at full resolution. */
async function saveScreenshots(page: Page, mode: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/${mode}-top.png` });
  for (const chart of ['loss', 'weyl']) await page.getByTestId(`chart-${chart}`).screenshot({ path: `${SHOTS}/${mode}-${chart}.png` });
}

async function runToEnd(page: Page): Promise<void> {
  await expect(page.getByTestId('run-start')).toBeEnabled({ timeout: 90_000 });
  await page.getByTestId('run-start').click();
  await expect(page.getByTestId('run-state')).toContainText('done', { timeout: 240_000 });
}

test.describe('permalink', () => {
  test('copied link restores settings and run', async ({ browser }) => {
    test.setTimeout(600_000);
    const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const first = await context.newPage();
    const firstWatch = watchPage(first);
    // backend=webgpu runs WebGPU even on this machine's software adapter, and the copied link carries it.
    await first.goto(`/?${TINY}&backend=webgpu`);
    await waitForBackend(first);
    await expect(first.getByTestId('backend')).toHaveText('webgpu');

    await first.getByLabel('λ (penalty strength) value').fill('0.05');
    await first.getByLabel('λ (penalty strength) value').press('Enter');
    await first.getByLabel('Learning rate η value').fill('0.02');
    await first.getByLabel('Learning rate η value').press('Enter');
    await first.getByTestId('field-task').locator('select').selectOption('afinn-valence');
    // Without the linearized model the run skips its Jacobian of the train and eval sets, the slowest part on software WebGPU.
    await first.getByTestId('field-linearized').locator('input').uncheck();
    await first.getByTestId('field-steps').locator('input').fill('3');
    await first.getByTestId('field-steps').locator('input').press('Enter');
    await first.locator('[data-testid="model-grid"] button.cell[data-layer="3"][data-module="attn.q"]').click();

    await first.getByTestId('copy-link').click();
    await expect(first.getByTestId('copy-link-status')).toHaveText('Link copied');
    const link = await first.evaluate(() => navigator.clipboard.readText());
    expect(link.startsWith(`${origin(first)}/?v=1&`), link).toBe(true);
    expect(link).toContain('task=afinn-valence');
    expect(link).toContain('linearized=false');
    expect(link).toContain('adapters=qv.qv.qv.v');
    expect(link).toContain('lambda=0.05');
    expect(link).toContain('lr=0.02');
    expect(link).toContain('steps=3');
    expect(link).toContain('backend=webgpu');
    await expect.poll(() => first.url()).toBe(link);

    // Every field has a control except the checkpoint name, which only a link sets.
    const keys = (Object.keys(SPEC_FIELDS) as SpecKey[]).filter((key) => key !== 'model');
    const firstValues = Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await controlValue(first, key)] as const)));
    expect(firstValues.lambda).toBe('0.05');
    expect(firstValues.task).toBe('afinn-valence');

    await runToEnd(first);
    const firstTooltips = await lossTooltips(first, 3);
    const firstBackend = await first.getByTestId('backend').textContent();
    expect(firstWatch.errors).toEqual([]);
    await first.close();

    const second = await context.newPage();
    const secondWatch = watchPage(second);
    await second.goto(link);
    await expect(second.getByTestId('link-problems')).toHaveCount(0);
    for (const key of keys) expect(await controlValue(second, key), key).toBe(firstValues[key]);
    await expect.poll(() => second.url()).toBe(link);

    await waitForBackend(second);
    expect(await second.getByTestId('backend').textContent()).toBe(firstBackend);
    await runToEnd(second);
    const secondTooltips = await lossTooltips(second, 3);
    expect(secondTooltips).toEqual(firstTooltips);
    expect(secondTooltips.flat().some((line) => /^real train: \d/.test(line))).toBe(true);
    expect(secondWatch.errors).toEqual([]);
    await context.close();
  });

  test('copy link falls back to a text field', async ({ page }) => {
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
    });
    await page.goto('/?lambda=0.5');

    await page.getByTestId('copy-link').click();

    const fallback = page.getByTestId('copy-link-fallback');
    await expect(fallback).toBeVisible();
    await expect(fallback).toHaveValue(`${origin(page)}/?v=1&lambda=0.5`);
    expect(await fallback.evaluate((input: HTMLInputElement) => (input.selectionEnd ?? 0) - (input.selectionStart ?? 0))).toBe(
      `${origin(page)}/?v=1&lambda=0.5`.length,
    );
  });

  // Each case: the query as sent, the field names its message must list, and the spec fields whose controls must show the default.
  const MALFORMED: [query: string, fields: string[], defaults: SpecKey[]][] = [
    ['%%%', ['"%%%"'], []],
    ['=&=', ['""'], []],
    ['steps=1e30', ['steps'], ['steps']],
    ['probeSize=99999999', ['probeSize'], ['probeSize']],
    ['batchSize=-5', ['batchSize'], ['batchSize']],
    ['lr=NaN', ['lr'], ['lr']],
    ['foo=1&lora_alpha=4', ['foo', 'lora_alpha'], ['loraAlpha']],
    ['v=0', ['v'], []],
    ['v=99&steps=-1', ['v', 'steps'], ['steps']],
    ['task=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', ['task'], ['task']],
    ['adapters=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E', ['adapters'], ['adapters']],
    ['%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E=1', ['"<img src=x onerror=alert(1)>"'], []],
    ['lesson=%3Cscript%3Ealert(1)%3C%2Fscript%3E&presentation=%3Cb%3E', ['presentation', 'lesson'], []],
  ];

  test('malformed links open safely with a message', async ({ page }) => {
    test.setTimeout(300_000);
    const watch = watchPage(page);

    for (const [query, fields, defaults] of MALFORMED) {
      await page.goto(`/?${query}`);

      await expect(page.getByRole('heading', { name: 'NTK fine-tuning lab' }), query).toBeVisible();
      const problems = page.getByTestId('link-problems');
      await expect(problems, query).toBeVisible();
      const listed = await problems.getByTestId('link-problem').evaluateAll((items) => items.map((item) => item.getAttribute('data-field')));
      expect(listed, query).toEqual(fields);
      for (const key of defaults) {
        const expected = key === 'adapters' ? DEFAULT_ADAPTER_CELLS : String(DEFAULT_SPEC[key]);
        expect(await controlValue(page, key), `${query}: ${key}`).toBe(expected);
      }

      // Script-like values show as text and never become elements or run.
      await expect(page.locator('img[src="x"]'), query).toHaveCount(0);
      await expect(page.locator('#root script'), query).toHaveCount(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), query).toBeUndefined();
      await expect(page.locator('html'), query).not.toHaveClass(/presentation/);
    }

    await page.goto('/?task=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E');
    await expect(page.getByTestId('link-problems')).toContainText('got "<img src=x onerror=alert(1)>"');
    await page.screenshot({ path: `${SHOTS}/malformed.png` });

    // The address bar drops what was rejected, so a reload opens cleanly.
    await expect.poll(() => page.url()).toBe(`${origin(page)}/?v=1`);
    expect(watch.errors).toEqual([]);
    expect(watch.dialogs).toEqual([]);
  });

  test('a newer link version keeps its valid fields', async ({ page }) => {
    await page.goto('/?v=99&lambda=0.5');

    await expect(page.getByTestId('link-problems')).toContainText('a newer lab made this link');
    expect(await controlValue(page, 'lambda')).toBe('0.5');
  });
});

test.describe('presentation mode', () => {
  test('key P and the link switch it', async ({ page }) => {
    test.setTimeout(400_000);
    const watch = watchPage(page);
    await page.setViewportSize({ width: 1600, height: 1000 });
    // On wasm the tiny run takes seconds; presentation mode does not depend on the backend.
    await page.goto(`/?${TINY}&failBackend=webgpu,webgl`);
    await waitForBackend(page);
    await expect(page.getByTestId('preview-stats')).toBeVisible({ timeout: 120_000 });
    await runToEnd(page);
    const html = page.locator('html');
    await expect(html).not.toHaveClass(/presentation/);
    const weylHeight = async (): Promise<string | null> => page.locator('[data-testid="chart-weyl"] svg[role="img"]').getAttribute('height');
    const normalHeight = await weylHeight();
    await saveScreenshots(page, 'normal');

    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('p');
    await expect(html).toHaveClass(/presentation/);
    await expect(page.getByTestId('presentation-toggle')).toHaveAttribute('aria-pressed', 'true');
    await expect.poll(() => page.url()).toContain('presentation=1');
    // The charts redraw with the larger font: the Weyl chart's layout is sized in font units.
    await expect.poll(weylHeight).not.toBe(normalHeight);
    const axisFont = await page.locator('[data-testid="chart-loss"] .axis text').first().evaluate((text) => getComputedStyle(text).fontSize);
    expect(axisFont).toBe('16px');
    await saveScreenshots(page, 'presentation');

    // P typed into a field is a letter, not the shortcut.
    await page.getByLabel('Learning rate η value').click();
    await page.keyboard.press('p');
    await expect(html).toHaveClass(/presentation/);
    await page.getByLabel('Learning rate η value').press('Escape');

    await page.getByTestId('presentation-toggle').click();
    await expect(html).not.toHaveClass(/presentation/);
    await expect.poll(() => page.url()).not.toContain('presentation');

    await page.goto('/?presentation=1');
    await expect(html).toHaveClass(/presentation/);
    await expect(page.getByTestId('presentation-toggle')).toHaveAttribute('aria-pressed', 'true');
    expect(watch.errors).toEqual([]);
  });
});
