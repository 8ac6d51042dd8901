/**
 * The run charts (loss, accuracy, spectrum, spectrum heatmap, divergence,
 * distance) on recorded lab runs, mounted by the test harness page. Each
 * test saves screenshots of the cards under /tmp/charts-a-shots.
 */
import { readFileSync } from 'node:fs';

import { expect, test, type Locator, type Page } from '@playwright/test';

import type { LabEvent, NtkEvent, PreviewEvent } from '../../src/core/events.ts';
import { formatPercent, formatValue } from '../../src/ui/charts/frame.ts';
import { formatPrecise } from '../../src/ui/charts/marks.ts';
import { ofType, parseEventLines } from './fixtures/run-events.ts';

const HARNESS = '/tests/e2e/harness/charts-a.html';
const SHOTS = '/tmp/charts-a-shots';

const mseGd = parseEventLines(readFileSync(new URL('./fixtures/run-mse-gd.jsonl', import.meta.url), 'utf8'));
const ceAdam = parseEventLines(readFileSync(new URL('./fixtures/run-ce-adam.jsonl', import.meta.url), 'utf8'));

/** Builds the θ₀ preview of the recorded run's adapter subset from its step-0 NTK event, which has the same kernel. */
function previewOf(events: readonly LabEvent[]): PreviewEvent {
  const ntk = ofType(events, 'ntk')[0] as NtkEvent;
  return {
    type: 'preview',
    adapters: 'qv.qv.qv.qv',
    n: ntk.n,
    c: ntk.c,
    lambda: ntk.lambda,
    blocks: ntk.blocks,
    eigenvalues: ntk.eigenvalues,
    stats: ntk.stats,
    weyl: {
      upper: ntk.blocks.reduce((sum, block) => sum + block.muMax, 0),
      lower: ntk.blocks.reduce((sum, block) => sum + (block.eigenvalues.at(-1) ?? 0), 0),
    },
  };
}

async function openHarness(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto(HARNESS);
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  return errors;
}

function card(page: Page, id: string): Locator {
  return page.getByTestId(`chart-${id}`);
}

/** Moves the pointer over a hover overlay at data x `value` of the domain [0, domainMax]. */
async function hoverAt(overlay: Locator, value: number, domainMax: number): Promise<void> {
  await overlay.scrollIntoViewIfNeeded();
  const box = await overlay.boundingBox();
  if (box === null) throw new Error('the hover overlay has no bounding box');
  await overlay.page().mouse.move(box.x + (box.width * value) / domainMax, box.y + box.height / 2);
}

/** Counts the points of an SVG path's d attribute (M and L commands). */
async function pathPoints(path: Locator): Promise<number> {
  const d = (await path.getAttribute('d')) ?? '';
  return (d.match(/[ML]/g) ?? []).length;
}

function evalValue(events: readonly LabEvent[], model: string, split: string, step: number, metric: 'loss' | 'accuracy'): number {
  const event = ofType(events, 'eval').find((entry) => entry.model === model && entry.split === split && entry.step === step);
  if (event === undefined) throw new Error(`no ${model} ${split} eval at step ${step}`);
  return event[metric];
}

test('charts show empty states before a run', async ({ page }) => {
  const errors = await openHarness(page);

  await expect(card(page, 'loss').locator('.chart-empty')).toHaveText('Start a run to see the loss.');
  await expect(card(page, 'accuracy').locator('.chart-empty')).toHaveText('Start a run to see the accuracy.');
  await expect(card(page, 'spectrum').locator('.chart-empty')).toHaveText(
    'Preview the model or start a run to see the NTK spectrum.',
  );
  await expect(card(page, 'spectrum-heatmap').locator('.chart-empty')).toHaveText('Start a run to see the spectrum over training.');
  await expect(card(page, 'divergence').locator('.chart-empty')).toHaveText('Start a run with the linearized model to see f − f_lin.');
  await expect(card(page, 'distance').locator('.chart-empty')).toHaveText('Start a run to see how far θ moves from θ₀.');
  expect(errors).toEqual([]);
});

test('loss chart grows and shows theory', async ({ page }) => {
  const errors = await openHarness(page);
  const loss = card(page, 'loss');

  await page.evaluate(() => window.chartsA.load('mseGd', 50));
  await expect(loss.locator('path.series-real-train')).toHaveCount(1);
  const marksAt50 = await loss.locator('circle.mark').count();
  const batchAt50 = await pathPoints(loss.locator('path.series-real-batch'));
  expect(marksAt50).toBe(4 * 11);
  expect(batchAt50).toBe(50);

  await page.evaluate(() => window.chartsA.extend('mseGd', 50, 200));
  expect(await loss.locator('circle.mark').count()).toBe(4 * 41);
  expect(await pathPoints(loss.locator('path.series-real-batch'))).toBeGreaterThan(batchAt50);

  for (const name of ['real-eval', 'linear-train', 'linear-eval', 'linear-batch', 'theory-train', 'theory-eval']) {
    await expect(loss.locator(`path.series-${name}`)).toHaveCount(1);
  }
  await expect(loss.locator('line.rule-theory-limit-train')).toHaveCount(1);
  await expect(loss.locator('line.rule-theory-limit-eval')).toHaveCount(1);
  const limit = ofType(mseGd, 'theory')[0]?.limit;
  await expect(loss.locator('.chart-legend')).toContainText(
    `theory at t = ∞: train ${formatPrecise(limit?.train.loss)}, eval ${formatPrecise(limit?.eval.loss)}`,
  );
  await expect(loss.locator('.chart-caption')).toContainText('closed-form prediction for the linearized model');
  await expect(loss.locator('.chart-caption')).toContainText('λ = 0.01');

  await hoverAt(loss.locator('rect.hover-overlay'), 100, 200);
  const tooltip = loss.locator('.chart-tooltip');
  await expect(tooltip).toBeVisible();
  await expect(tooltip).toContainText('step 100');
  await expect(tooltip).toContainText(`real train: ${formatPrecise(evalValue(mseGd, 'real', 'train', 100, 'loss'))}`);
  await expect(tooltip).toContainText(`linearized eval: ${formatPrecise(evalValue(mseGd, 'linear', 'eval', 100, 'loss'))}`);
  const theory = ofType(mseGd, 'theory')[0];
  const theoryIndex = theory?.steps.indexOf(100) ?? -1;
  await expect(tooltip).toContainText(`theory train: ${formatPrecise(theory?.train[theoryIndex]?.loss)}`);
  await loss.screenshot({ path: `${SHOTS}/loss-tooltip.png` });

  await page.mouse.move(0, 0);
  await loss.screenshot({ path: `${SHOTS}/loss-mse-gd.png` });
  await loss.getByLabel('log y').check();
  await expect(loss.locator('.axis-label').filter({ hasText: '(log)' })).toHaveCount(1);
  await loss.screenshot({ path: `${SHOTS}/loss-mse-gd-log.png` });
  expect(errors).toEqual([]);
});

test('accuracy chart marks majority rate', async ({ page }) => {
  const errors = await openHarness(page);
  const accuracy = card(page, 'accuracy');
  await page.evaluate(() => window.chartsA.load('mseGd', 200));

  await expect(accuracy.locator('line.rule-majority')).toHaveCount(1);
  await expect(accuracy.locator('text.rule-majority-label')).toHaveText('majority class 50.0%');
  await expect(accuracy.locator('path.series-real-batch')).toHaveCount(0);
  await expect(accuracy.locator('path.series-theory-eval')).toHaveCount(1);

  await hoverAt(accuracy.locator('rect.hover-overlay'), 200, 200);
  const tooltip = accuracy.locator('.chart-tooltip');
  await expect(tooltip).toContainText('step 200');
  await expect(tooltip).toContainText(`real train: ${formatPercent(evalValue(mseGd, 'real', 'train', 200, 'accuracy'))}`);

  await page.mouse.move(0, 0);
  await accuracy.screenshot({ path: `${SHOTS}/accuracy-mse-gd.png` });
  expect(errors).toEqual([]);
});

test('loss caption explains missing theory', async ({ page }) => {
  const errors = await openHarness(page);
  await page.evaluate(() => window.chartsA.load('ceAdam', 150));

  for (const id of ['loss', 'accuracy']) {
    await expect(card(page, id).locator('.chart-caption')).toContainText(
      'No closed-form theory overlay: it needs squared loss (this run uses cross-entropy) and full-batch GD (this run uses Adam).',
    );
    await expect(card(page, id).locator('path.series-theory-train')).toHaveCount(0);
  }
  await card(page, 'loss').screenshot({ path: `${SHOTS}/loss-ce-adam.png` });
  await card(page, 'accuracy').screenshot({ path: `${SHOTS}/accuracy-ce-adam.png` });
  expect(errors).toEqual([]);
});

test('spectrum shows preview then run', async ({ page }) => {
  const errors = await openHarness(page);
  const spectrum = card(page, 'spectrum');
  const preview = previewOf(mseGd);
  const first = ofType(mseGd, 'ntk')[0] as NtkEvent;
  const last = ofType(mseGd, 'ntk').at(-1) as NtkEvent;

  await page.evaluate(
    ([event]) => {
      window.chartsA.setOptimizer(0.02, 0.01);
      window.chartsA.setPreview(event);
    },
    [preview] as const,
  );
  await expect(spectrum.locator('path.series-preview')).toHaveCount(1);
  await expect(spectrum.locator('circle.mark')).toHaveCount(preview.eigenvalues.length);
  await expect(spectrum.getByRole('button', { name: 'traced kernel (N × N)' })).toBeDisabled();
  await expect(spectrum.locator('line.rule-n-lambda')).toHaveCount(1);
  await expect(spectrum.locator('text.rule-n-lambda-label')).toHaveText(`Nλ = ${formatValue(16 * 0.01)}`);
  await expect(spectrum.locator('line.rule-stability-edge')).toHaveCount(1);
  const etaMaxAt0 = 2 / ((preview.eigenvalues[0] as number) / 16 + 0.01);
  await expect(spectrum.locator('.readout-eta')).toContainText(`η_max = 2/(μ₁/N + λ) = ${formatValue(etaMaxAt0)}`);
  await expect(spectrum.locator('.readout-eta')).toContainText('full-batch GD is stable in every mode');
  await expect(spectrum.locator('.chart-caption')).toContainText('N·C × N·C = 32 × 32');
  await expect(spectrum.locator('.chart-caption')).toContainText('not divided by N; λ = 0.01');
  await spectrum.screenshot({ path: `${SHOTS}/spectrum-preview.png` });

  await page.evaluate(() => window.chartsA.load('mseGd', 100));
  await expect(spectrum.locator('path.series-theta0')).toHaveCount(1);
  await expect(spectrum.locator('path.series-now')).toHaveCount(1);
  await expect(spectrum.locator('path.series-preview')).toHaveCount(0);
  await page.evaluate(() => window.chartsA.extend('mseGd', 100, 200));
  await expect(spectrum.locator('.chart-legend')).toContainText(`now (step ${last.step})`);

  // μ₁ grew during training, so the recorded lr 0.02 is above η_max of the latest kernel.
  await expect(spectrum.locator('.readout-eta')).toContainText('full-batch GD would diverge along the top mode');
  await hoverAt(spectrum.locator('rect.hover-overlay'), 0, 31);
  const tooltip = spectrum.locator('.chart-tooltip');
  await expect(tooltip).toContainText('i = 1');
  await expect(tooltip).toContainText(`θ₀ (step 0): μ = ${formatPrecise(first.eigenvalues[0])}`);
  await expect(tooltip).toContainText(`now (step 200): μ = ${formatPrecise(last.eigenvalues[0])}`);
  await spectrum.screenshot({ path: `${SHOTS}/spectrum-tooltip.png` });
  await page.mouse.move(0, 0);
  await spectrum.screenshot({ path: `${SHOTS}/spectrum-run.png` });

  await spectrum.getByRole('button', { name: 'traced kernel (N × N)' }).click();
  await expect(spectrum.locator('.chart-caption')).toContainText('traced kernel K_tr');
  await expect(spectrum.locator('circle.mark')).toHaveCount(2 * first.traced.length);
  await spectrum.screenshot({ path: `${SHOTS}/spectrum-traced.png` });
  expect(errors).toEqual([]);
});

test('spectrum clips zeros and drops edge', async ({ page }) => {
  const errors = await openHarness(page);
  const spectrum = card(page, 'spectrum');
  const preview = previewOf(mseGd);
  // Three trailing zeros, as a rank-deficient kernel has.
  const deficient: PreviewEvent = { ...preview, eigenvalues: [...preview.eigenvalues.slice(0, -3), 0, 0, 0] };

  await page.evaluate(
    ([event]) => {
      window.chartsA.setOptimizer(300, 0.01);
      window.chartsA.setPreview(event);
    },
    [deficient] as const,
  );
  await expect(spectrum.locator('.marks-preview-zero circle.mark')).toHaveCount(3);
  await expect(spectrum.locator('.readout-floor')).toContainText('3 zero eigenvalues are drawn at the floor');
  await expect(spectrum.locator('line.rule-stability-edge')).toHaveCount(0);
  await expect(spectrum.locator('.readout-edge')).toContainText('No stability edge: η·λ = 3 ≥ 2');
  await spectrum.screenshot({ path: `${SHOTS}/spectrum-zeros.png` });
  expect(errors).toEqual([]);
});

test('heatmap cells grow with NTK events', async ({ page }) => {
  const errors = await openHarness(page);
  const heatmap = card(page, 'spectrum-heatmap');
  const ntk = ofType(mseGd, 'ntk');

  await page.evaluate(() => window.chartsA.load('mseGd', 100));
  const columnsAt100 = ntk.filter((event) => event.step <= 100).length;
  await expect(heatmap.locator('rect.cell')).toHaveCount(columnsAt100 * 32);

  await page.evaluate(() => window.chartsA.extend('mseGd', 100, 200));
  await expect(heatmap.locator('rect.cell')).toHaveCount(ntk.length * 32);
  await expect(heatmap.locator('g.color-legend rect')).toHaveCount(64);

  // Row i = 1 of the last column is the latest kernel's μ₁.
  const last = ntk.at(-1) as NtkEvent;
  const cell = heatmap.locator('rect.cell').nth((ntk.length - 1) * 32);
  await cell.hover();
  const tooltip = heatmap.locator('.chart-tooltip');
  await expect(tooltip).toContainText(`step ${last.step}`);
  await expect(tooltip).toContainText('i = 1');
  await expect(tooltip).toContainText(`μ = ${formatPrecise(last.eigenvalues[0])}`);
  await heatmap.screenshot({ path: `${SHOTS}/heatmap-tooltip.png` });
  await page.mouse.move(0, 0);
  await heatmap.screenshot({ path: `${SHOTS}/heatmap.png` });

  await heatmap.getByRole('button', { name: 'traced kernel (N × N)' }).click();
  await expect(heatmap.locator('rect.cell')).toHaveCount(ntk.length * last.traced.length);
  await heatmap.screenshot({ path: `${SHOTS}/heatmap-traced.png` });
  expect(errors).toEqual([]);
});

test('divergence chart grows and shows values', async ({ page }) => {
  const errors = await openHarness(page);
  const divergence = card(page, 'divergence');

  await page.evaluate(() => window.chartsA.load('mseGd', 50));
  const marksAt50 = await divergence.locator('circle.mark').count();
  // Relative RMS is null at step 0, so it has one dot fewer per set than agreement.
  expect(marksAt50).toBe(2 * 10 + 2 * 11);

  await page.evaluate(() => window.chartsA.extend('mseGd', 50, 200));
  expect(await divergence.locator('circle.mark').count()).toBe(2 * 40 + 2 * 41);
  for (const name of ['probe-relative-rms', 'eval-relative-rms', 'probe-agreement', 'eval-agreement']) {
    await expect(divergence.locator(`path.series-${name}`)).toHaveCount(1);
  }

  const event = ofType(mseGd, 'divergence').find((entry) => entry.step === 100);
  await hoverAt(divergence.locator('.panel-rms rect.hover-overlay'), 100, 200);
  const tooltip = divergence.locator('.chart-tooltip');
  await expect(tooltip).toContainText('step 100');
  await expect(tooltip).toContainText(`probe set: relative RMS ${formatPrecise(event?.probe.relativeRms)}`);
  await expect(tooltip).toContainText(`agreement ${formatPercent(event?.eval.agreement)}`);
  await page.mouse.move(0, 0);
  await divergence.screenshot({ path: `${SHOTS}/divergence.png` });
  expect(errors).toEqual([]);
});

test('distance chart draws the bound', async ({ page }) => {
  const errors = await openHarness(page);
  const distance = card(page, 'distance');
  const bound = ofType(mseGd, 'divergence')[0]?.distanceBound as number;

  await page.evaluate(() => window.chartsA.load('mseGd', 50));
  const stepPointsAt50 = await pathPoints(distance.locator('path.series-real-step-distance'));
  await page.evaluate(() => window.chartsA.extend('mseGd', 50, 200));
  expect(await pathPoints(distance.locator('path.series-real-step-distance'))).toBeGreaterThan(stepPointsAt50);
  for (const name of ['real-distance', 'linear-distance', 'theta-gap']) {
    await expect(distance.locator(`path.series-${name}`)).toHaveCount(1);
  }
  await expect(distance.locator('line.rule-distance-bound')).toHaveCount(1);
  await expect(distance.locator('text.rule-distance-bound-label')).toHaveText(`bound √(2R_data(θ₀)/λ) = ${formatValue(bound)}`);

  const event = ofType(mseGd, 'divergence').find((entry) => entry.step === 150);
  await hoverAt(distance.locator('rect.hover-overlay'), 150, 200);
  const tooltip = distance.locator('.chart-tooltip');
  await expect(tooltip).toContainText(`‖θ_t − θ₀‖ real: ${formatPrecise(event?.distance)}`);
  await expect(tooltip).toContainText(`‖θ_t − θ_t^lin‖: ${formatPrecise(event?.thetaGap)}`);
  await page.mouse.move(0, 0);
  await distance.screenshot({ path: `${SHOTS}/distance-log.png` });

  // On the linear axis the bound (16× the largest distance) is off the plot, and the readout reports it.
  await distance.getByLabel('log y').uncheck();
  await expect(distance.locator('line.rule-distance-bound')).toHaveCount(0);
  await expect(distance.locator('.readout-bound')).toContainText('lies above the plot');
  await distance.screenshot({ path: `${SHOTS}/distance-linear.png` });
  expect(errors).toEqual([]);
});

test('distance chart notes no bound for λ = 0', async ({ page }) => {
  const errors = await openHarness(page);
  const distance = card(page, 'distance');
  await page.evaluate(() => window.chartsA.load('ceAdam', 150));

  await expect(distance.locator('line.rule-distance-bound')).toHaveCount(0);
  await expect(distance.locator('.readout-bound')).toHaveText('λ = 0: there is no bound on ‖θ_t − θ₀‖.');
  await distance.screenshot({ path: `${SHOTS}/distance-ce-adam.png` });
  await card(page, 'divergence').screenshot({ path: `${SHOTS}/divergence-ce-adam.png` });
  await card(page, 'spectrum').screenshot({ path: `${SHOTS}/spectrum-ce-adam.png` });
  expect(errors).toEqual([]);
});

test('long runs are downsampled per pixel', async ({ page }) => {
  const errors = await openHarness(page);
  const loadMs = await page.evaluate(() => window.chartsA.loadLong(20_000));

  const loss = card(page, 'loss');
  await expect(loss.locator('rect.hover-overlay')).toHaveCount(1);
  const overlay = await loss.locator('rect.hover-overlay').boundingBox();
  const plotWidth = overlay?.width ?? 0;
  const batchPoints = await pathPoints(loss.locator('path.series-real-batch'));
  expect(batchPoints).toBeGreaterThan(plotWidth / 2);
  expect(batchPoints).toBeLessThanOrEqual(plotWidth);
  expect(await pathPoints(card(page, 'distance').locator('path.series-real-step-distance'))).toBeLessThanOrEqual(plotWidth);
  // 801 evaluations per series is above the dot limit, so only lines are drawn.
  await expect(loss.locator('circle.mark')).toHaveCount(0);

  // One more step and evaluation redraws loss, accuracy and distance on 20,000 steps.
  const redrawMs = await page.evaluate(async () => {
    const start = performance.now();
    window.chartsA.append([
      { type: 'step', model: 'real', step: 20_001, loss: 0.1, objective: 0.1, distance: 2, regularizerActive: true },
      { type: 'eval', model: 'real', step: 20_001, split: 'train', loss: 0.1, accuracy: 0.95 },
    ]);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    return performance.now() - start;
  });
  // Switching the loss chart to log y redraws that chart alone. React renders a click's update and runs
  // its effects before click() returns, so the axis label has changed when the clock stops.
  const lossRedraw = await page.evaluate(() => {
    const checkbox = document.querySelector<HTMLInputElement>('[data-testid="chart-loss"] .log-scale-toggle input');
    if (checkbox === null) throw new Error('the loss chart has no log y checkbox');
    const start = performance.now();
    checkbox.click();
    const ms = performance.now() - start;
    const labels = [...document.querySelectorAll('[data-testid="chart-loss"] .axis-label')].map((label) => label.textContent);
    return { ms, labels };
  });
  expect(lossRedraw.labels).toContain('mean squared error per example (log)');
  const lossRedrawMs = lossRedraw.ms;
  const timing = `load 20,000 steps: ${loadMs.toFixed(1)} ms; redraw of three charts: ${redrawMs.toFixed(1)} ms; loss chart alone: ${lossRedrawMs.toFixed(1)} ms`;
  test.info().annotations.push({ type: 'timing', description: timing });
  console.log(timing);
  // A loose bound: the 16 ms per chart goal is checked by reading the logged time, not here, because the CI machine is shared.
  expect(redrawMs).toBeLessThan(500);
  expect(lossRedrawMs).toBeLessThan(200);

  await loss.screenshot({ path: `${SHOTS}/loss-long.png` });
  await card(page, 'spectrum-heatmap').screenshot({ path: `${SHOTS}/heatmap-long.png` });
  expect(errors).toEqual([]);
});

test('all charts render a run', async ({ page }) => {
  const errors = await openHarness(page);
  await page.evaluate(() => window.chartsA.load('mseGd', 200));
  for (const id of ['loss', 'accuracy', 'spectrum', 'spectrum-heatmap', 'divergence', 'distance']) {
    await expect(card(page, id).locator('.chart-empty')).toHaveCount(0);
    await expect(card(page, id).locator('svg g.plot')).toHaveCount(1);
  }
  await page.screenshot({ path: `${SHOTS}/all-mse-gd.png`, fullPage: true });

  // Presentation mode scales fonts and strokes through CSS variables; the charts redraw at the new width.
  await page.evaluate(() => document.documentElement.classList.add('presentation'));
  const strokeWidth = await card(page, 'loss')
    .locator('path.series-real-train')
    .evaluate((path) => getComputedStyle(path).strokeWidth);
  expect(strokeWidth).toBe('4px');
  await page.screenshot({ path: `${SHOTS}/all-mse-gd-presentation.png`, fullPage: true });
  expect(errors).toEqual([]);
});
