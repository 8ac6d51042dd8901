import { expect, test, type Page } from '@playwright/test';

import { formatValue } from '../../src/ui/charts/frame.ts';
import { ntkEvents } from './fixtures/analysis-events.ts';
import type { HarnessState } from './harness/charts-b.tsx';

const HARNESS = '/tests/e2e/harness/charts-b.html';
const NTK = ntkEvents();
// Outside test-results/, which every Playwright run clears.
const SCREENSHOTS = 'tmp/charts-b-screenshots';

async function openHarness(page: Page, query = ''): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.setViewportSize({ width: 1280, height: 1800 });
  await page.goto(`${HARNESS}${query}`);
  await expect(page.getByTestId('model-grid')).toBeVisible();
  return errors;
}

async function setState(page: Page, next: Partial<HarnessState>): Promise<void> {
  await page.evaluate((state) => window.chartsB.set(state), next);
}

async function tooltipText(page: Page, cardId: string): Promise<string> {
  const tooltip = page.getByTestId(cardId).locator('.chart-tooltip');
  await expect(tooltip).toBeVisible();
  return (await tooltip.textContent()) ?? '';
}

test.describe('analysis charts', () => {
  test('charts draw marks without errors', async ({ page }) => {
    const errors = await openHarness(page);

    await expect(page.getByTestId('chart-drift').locator('path.series-drift')).toHaveCount(1);
    await expect(page.getByTestId('chart-drift').locator('path.series-mu-max')).toHaveCount(1);
    await expect(page.getByTestId('chart-drift').locator('path.series-trace')).toHaveCount(1);
    await expect(page.getByTestId('chart-drift').locator('circle.mark.series-drift')).toHaveCount(9);

    await expect(page.getByTestId('chart-weyl').locator('circle.mark.eigenvalue')).toHaveCount(16);
    await expect(page.getByTestId('chart-weyl').locator('line.bound-upper')).toHaveCount(1);
    await expect(page.getByTestId('chart-weyl').locator('line.bound-lower')).toHaveCount(1);
    await expect(page.getByTestId('chart-weyl').locator('rect.bar')).toHaveCount(8);
    await expect(page.getByTestId('chart-weyl').locator('.chart-readout .inequality.holds')).toHaveCount(2);
    await expect(page.getByTestId('chart-weyl').locator('.chart-legend .legend-item')).toHaveCount(3);

    await expect(page.getByTestId('chart-jacobian-change').locator('circle.mark')).toHaveCount(5);
    await expect(page.getByTestId('chart-jacobian-change').locator('path.series-max')).toHaveCount(1);
    await expect(page.getByTestId('chart-jacobian-change').locator('path.series-band')).toHaveCount(1);
    await expect(page.getByTestId('chart-jacobian-change').locator('text.current-distance-label')).toHaveText('current ‖θ − θ₀‖ = 0.42');

    await expect(page.getByTestId('chart-sweep').locator('circle.mark.series-accuracy')).toHaveCount(10);
    await expect(page.getByTestId('chart-sweep').locator('circle.mark.series-loss')).toHaveCount(10);

    await expect(page.getByTestId('model-grid').locator('button.cell')).toHaveCount(24);
    expect(errors).toEqual([]);
  });

  test('Weyl stack sums to the upper bound', async ({ page }) => {
    await openHarness(page);
    await expect(page.getByTestId('chart-weyl').locator('rect.bar')).toHaveCount(8);
    const stack = await page.evaluate(() => {
      const bars = [...document.querySelectorAll<SVGRectElement>('[data-testid="chart-weyl"] rect.bar')];
      const right = Math.max(...bars.map((bar) => Number(bar.getAttribute('x')) + Number(bar.getAttribute('width'))));
      const bound = document.querySelector('[data-testid="chart-weyl"] line.bound-upper');
      const plotWidth = Number(document.querySelector('[data-testid="chart-weyl"] line.bound-upper')?.getAttribute('x2'));
      return { right, plotWidth, hasBound: bound !== null };
    });
    expect(stack.hasBound).toBe(true);
    expect(stack.right).toBeCloseTo(stack.plotWidth, 3);

    const exactMax = page.getByTestId('chart-weyl').locator('circle.exact-max');
    const upper = page.getByTestId('chart-weyl').locator('line.bound-upper');
    const exactY = Number(await exactMax.getAttribute('cy'));
    const upperY = Number(await upper.getAttribute('y1'));
    expect(exactY).toBeGreaterThan(upperY);

    const exactMin = page.getByTestId('chart-weyl').locator('circle.exact-min');
    const lower = page.getByTestId('chart-weyl').locator('line.bound-lower');
    expect(Number(await exactMin.getAttribute('cy'))).toBeLessThan(Number(await lower.getAttribute('y1')));
  });

  test('charts update when props change', async ({ page }) => {
    await openHarness(page);

    await setState(page, { ntkCount: 4 });
    await expect(page.getByTestId('chart-drift').locator('circle.mark.series-drift')).toHaveCount(4);
    await setState(page, { ntkCount: 1 });
    await expect(page.getByTestId('chart-drift').locator('.chart-empty')).toContainText('next NTK measurement');
    await setState(page, { ntkCount: 0 });
    await expect(page.getByTestId('chart-drift').locator('.chart-empty')).toContainText('Start a run');
    await setState(page, { ntkCount: 9 });
    await expect(page.getByTestId('chart-drift').locator('circle.mark.series-drift')).toHaveCount(9);

    await setState(page, { sweepCount: 3, summary: false });
    const sweep = page.getByTestId('chart-sweep');
    await expect(sweep.locator('circle.mark.series-accuracy')).toHaveCount(3);
    await expect(sweep.locator('text.correlation-accuracy')).toHaveText('Pearson r = –, Spearman ρ = – (sweep running: 3 of 10)');
    await setState(page, { sweepCount: 10, summary: true });
    await expect(sweep.locator('circle.mark.series-accuracy')).toHaveCount(10);
    await expect(sweep.locator('text.correlation-accuracy')).toHaveText(/^Pearson r = −0\.\d\d, Spearman ρ = −0\.\d\d$/);
    await expect(sweep.locator('text.correlation-loss')).toHaveText(/^Pearson r = 0\.\d\d, Spearman ρ = 0\.\d\d$/);
    await setState(page, { sweepCount: 0 });
    await expect(sweep.locator('.chart-empty')).toHaveText('Run a sweep to compare layer subsets.');

    const jacobian = page.getByTestId('chart-jacobian-change');
    await setState(page, { jacobianChange: 'start' });
    await expect(jacobian.locator('line.current-distance')).toHaveCount(0);
    await expect(jacobian.locator('.chart-caption')).toContainText('step 0 (before training)');
    await setState(page, { jacobianChange: 'none' });
    await expect(jacobian.locator('.chart-empty')).toContainText('Measure the Jacobian change');

    const weyl = page.getByTestId('chart-weyl');
    await setState(page, { adapters: '-.-.-.qkvofp' });
    await expect(weyl.locator('rect.bar')).toHaveCount(6);
    await setState(page, { adapters: '-.-.-.-' });
    await expect(weyl.locator('.chart-empty')).toContainText('No block is selected');
    await setState(page, { preview: false });
    await expect(weyl.locator('.chart-empty')).toContainText('Compute the NTK preview');
  });

  test('Weyl sweep view plots every subset', async ({ page }) => {
    await openHarness(page);
    const weyl = page.getByTestId('chart-weyl');
    await weyl.getByRole('button', { name: 'Sweep subsets (10)' }).click();
    await expect(weyl.locator('circle.mark.series-upper')).toHaveCount(10);
    await expect(weyl.locator('circle.mark.series-lower')).toHaveCount(10);

    // μ₁ points sit on or below the diagonal, μ_n points on or above it (y grows downward).
    const offsets = await weyl.locator('circle.mark').evaluateAll((circles) =>
      circles.map((circle) => ({
        kind: circle.classList.contains('series-upper') ? 'upper' : 'lower',
        aboveDiagonal: Number(circle.getAttribute('cy')) < 0,
        cx: Number(circle.getAttribute('cx')),
        cy: Number(circle.getAttribute('cy')),
      })),
    );
    const diagonal = weyl.locator('line.diagonal');
    const [x1, y1, x2, y2] = await Promise.all(['x1', 'y1', 'x2', 'y2'].map(async (name) => Number(await diagonal.getAttribute(name))));
    for (const point of offsets) {
      const diagonalY = (y1 as number) + (((y2 as number) - (y1 as number)) * (point.cx - (x1 as number))) / ((x2 as number) - (x1 as number));
      if (point.kind === 'upper') expect(point.cy).toBeGreaterThanOrEqual(diagonalY - 0.01);
      else expect(point.cy).toBeLessThanOrEqual(diagonalY + 0.01);
    }

    // v.v.v.v lies on top of qv.qv.qv.qv (nearly the same μ₁), so hover a subset with no neighbor.
    await weyl.locator('circle.mark.series-upper[data-adapters="o.o.o.o"]').hover();
    const text = await tooltipText(page, 'chart-weyl');
    expect(text).toContain('adapters o.o.o.o');
    expect(text).toMatch(/μ₁\(K_S\) = 967\.\d/);
    expect(text).toMatch(/Σ_b μ₁\(K_b\) = 1,?0\d\d/);
  });

  test('tooltips show exact values', async ({ page }) => {
    await openHarness(page);

    await page.getByTestId('chart-weyl').locator('circle.exact-max').hover();
    let text = await tooltipText(page, 'chart-weyl');
    expect(text).toContain('μ_1 of K_S = 195.4');
    expect(text).toContain('upper bound Σ_b μ₁(K_b) = 214.6');

    await page.getByTestId('chart-jacobian-change').locator('circle.mark').nth(2).hover();
    text = await tooltipText(page, 'chart-jacobian-change');
    expect(text).toContain('radius r = 0.1');
    // mean = 0.12·r/(1 + 0.08·r) at r = 0.1
    expect(text).toContain('mean change: 0.0119');

    await page.getByTestId('chart-sweep').locator('circle.mark.series-loss[data-adapters="o.o.o.o"]').hover();
    text = await tooltipText(page, 'chart-sweep');
    expect(text).toContain('adapters o.o.o.o');
    expect(text).toContain('κ_λ = 27.16');
    expect(text).toContain('trainable parameters: 4,096');
    await expect(page.getByTestId('chart-sweep').locator('circle.mark.hovered')).toHaveCount(2);

    // The drift chart's hover target covers the plot and picks the nearest step, so move to the mark's position.
    const lastDrift = await page.getByTestId('chart-drift').locator('circle.mark.series-drift').last().boundingBox();
    expect(lastDrift).not.toBeNull();
    await page.mouse.move((lastDrift?.x ?? 0) + 2, (lastDrift?.y ?? 0) + 2);
    text = await tooltipText(page, 'chart-drift');
    expect(text).toContain('step 200');
    expect(text).toContain(`drift ‖K_t − K₀‖_F/‖K₀‖_F: ${formatValue(NTK.at(-1)?.drift)}`);
  });

  test('model grid calls onChange with grid strings', async ({ page }) => {
    await openHarness(page);
    const grid = page.getByTestId('model-grid');
    const changes = (): Promise<string[]> => page.evaluate(() => [...window.chartsB.changes]);

    const cell = grid.locator('button.cell[data-layer="2"][data-module="attn.q"]');
    await expect(cell).toHaveAttribute('aria-pressed', 'true');
    await expect(cell).toHaveAttribute('aria-label', /^layer 2 attn\.q: LoRA on, μ_max \S+$/);
    await cell.click();
    expect(await changes()).toEqual(['qv.qv.v.qv']);
    await expect(cell).toHaveAttribute('aria-pressed', 'false');

    await grid.locator('button.layer-toggle[data-layer="1"]').click();
    expect((await changes()).at(-1)).toBe('qv.qkvofp.v.qv');
    await grid.locator('button.layer-toggle[data-layer="1"]').click();
    expect((await changes()).at(-1)).toBe('qv.-.v.qv');

    await grid.locator('button.module-toggle[data-module="mlp.c_fc"]').click();
    expect((await changes()).at(-1)).toBe('qvf.f.vf.qvf');
    await grid.locator('button.module-toggle[data-module="mlp.c_fc"]').click();
    expect((await changes()).at(-1)).toBe('qv.-.v.qv');

    // Keyboard: focus moves with the arrows and Space toggles.
    await cell.focus();
    await page.keyboard.press('ArrowUp');
    await expect(grid.locator('button.cell[data-layer="3"][data-module="attn.q"]')).toBeFocused();
    await page.keyboard.press('ArrowRight');
    await expect(grid.locator('button.cell[data-layer="3"][data-module="attn.k"]')).toBeFocused();
    await page.keyboard.press('Space');
    expect((await changes()).at(-1)).toBe('qv.-.v.qkv');

    // The Weyl chart follows the grid through the preview.
    await expect(page.getByTestId('chart-weyl').locator('rect.bar')).toHaveCount(6);
  });

  test('model grid switches metric and shows lock', async ({ page }) => {
    await openHarness(page);
    const grid = page.getByTestId('model-grid');
    const cell = grid.locator('button.cell[data-layer="0"][data-module="attn.v"]');
    const muMax = Number(await cell.getAttribute('data-value'));

    await grid.getByRole('button', { name: 'trace', exact: true }).click();
    await expect(grid).toHaveAttribute('data-metric', 'trace');
    await expect(cell).toHaveAttribute('aria-label', /: LoRA on, trace \S+$/);
    const trace = Number(await cell.getAttribute('data-value'));
    expect(trace).toBeGreaterThan(muMax);

    await cell.hover();
    const tooltip = grid.locator('.chart-tooltip');
    await expect(tooltip).toBeVisible();
    await expect(tooltip).toContainText('layer 0 attn.v: LoRA on');
    await expect(tooltip).toContainText('μ_max(K_b) = ');

    await setState(page, { gridDisabled: true });
    await expect(grid.locator('.model-grid-note')).toContainText('takes effect after a restart');
    await cell.click();
    expect(await page.evaluate(() => window.chartsB.changes.at(-1))).toBe('q.qv.qv.qv');
  });

  test('screenshots of each component', async ({ page }) => {
    await openHarness(page);
    await page.getByTestId('slot-model-grid').screenshot({ path: `${SCREENSHOTS}/model-grid.png` });
    for (const id of ['weyl', 'drift', 'jacobian-change', 'sweep']) {
      await page.getByTestId(`chart-${id}`).screenshot({ path: `${SCREENSHOTS}/${id}.png` });
    }
    await page.getByTestId('chart-weyl').getByRole('button', { name: 'Sweep subsets (10)' }).click();
    await page.getByTestId('chart-weyl').screenshot({ path: `${SCREENSHOTS}/weyl-sweep.png` });

    await setState(page, { sweepCount: 4, summary: false, adapters: '-.-.-.-', jacobianChange: 'start', ntkCount: 1 });
    await page.screenshot({ path: `${SCREENSHOTS}/partial.png`, fullPage: true });
    await expect(page.getByTestId('chart-sweep').locator('circle.mark.series-loss')).toHaveCount(4);
  });

  test('screenshots in presentation mode', async ({ page }) => {
    // Presentation mode scales fonts and line widths through CSS variables, and labels must still fit.
    const errors = await openHarness(page, '?presentation');
    await expect(page.getByTestId('chart-weyl').locator('rect.bar')).toHaveCount(8);
    await page.getByTestId('slot-model-grid').screenshot({ path: `${SCREENSHOTS}/model-grid-presentation.png` });
    for (const id of ['weyl', 'drift', 'jacobian-change', 'sweep']) {
      await page.getByTestId(`chart-${id}`).screenshot({ path: `${SCREENSHOTS}/${id}-presentation.png` });
    }
    expect(errors).toEqual([]);
  });
});
