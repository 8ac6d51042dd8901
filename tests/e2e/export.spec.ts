/**
 * Exports of a finished tiny run, parsed back: each chart as SVG and PNG,
 * the metrics as CSV, the run record as JSON (loaded back into the charts)
 * and the adapters as safetensors. Loading broken run records gives one-line
 * messages and keeps what the page showed. Screenshots go to /tmp/export-shots.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

import { expect, test, type Download, type Locator, type Page } from '@playwright/test';

import type { LabEvent } from '../../src/core/events.ts';
import { configFromJson } from '../../src/core/model/config.ts';
import { createThetaLayout } from '../../src/core/model/lora.ts';
import { adapterOptionsFromSpec } from '../../src/core/runner.ts';
import { decodeAdapterFile } from '../../src/ui/export/adapter-file.ts';
import { EVAL_CSV_COLUMNS, parseCsv, STEP_CSV_COLUMNS } from '../../src/ui/export/run-csv.ts';
import { createRunRecord, formatRunRecord, parseRunRecord } from '../../src/ui/export/run-record.ts';
import { appendEvents, EMPTY_ANALYSIS, EMPTY_RUN } from '../../src/ui/run-data.ts';
import { parseEventLines } from './fixtures/run-events.ts';

const SHOTS = '/tmp/export-shots';
// Tiny runs on the wasm backend: in the test Chromium, WebGPU and WebGL run on SwiftShader (software), several times slower.
const TINY = 'trainSize=8&evalSize=8&probeSize=4&batchSize=4&steps=2&evalInterval=1&ntkInterval=1&failBackend=webgpu,webgl';

/** Charts that a finished tiny run fills, each exported as SVG with its series classes. */
const EXPORTED_CHARTS: { id: string; mark: string }[] = [
  { id: 'loss', mark: 'path.series-real-train' },
  { id: 'accuracy', mark: 'path.series-real-eval' },
  { id: 'spectrum', mark: 'circle, path' },
  { id: 'divergence', mark: 'path.series-eval-agreement' },
  { id: 'distance', mark: 'path.series-real-distance' },
];

async function openLab(page: Page, query: string): Promise<void> {
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`/?${query}`);
  await expect(page.getByTestId('backend')).not.toHaveText(/starting/, { timeout: 60_000 });
}

/**
 * Clicks `button` and returns the file it downloads. The button must be
 * enabled first, and a click that starts no download fails with what the
 * page showed, so the failure message gives the cause.
 */
async function download(page: Page, button: Locator): Promise<{ download: Download; bytes: Buffer }> {
  await expect(button).toBeEnabled({ timeout: 10_000 });
  const started = page.waitForEvent('download', { timeout: 30_000 });
  await button.click({ timeout: 10_000 });
  let file: Download;
  try {
    file = await started;
  } catch (error) {
    const pageState = await page.evaluate(() => ({
      runState: document.querySelector('[data-testid="run-state"]')?.textContent ?? null,
      savedMessage: document.querySelector('[data-testid="saved-message"]')?.textContent ?? null,
      notices: [...document.querySelectorAll('[data-testid^="notice-"]')].map((notice) => notice.textContent),
    }));
    throw new Error(`${String(error).split('\n')[0]}; the page showed ${JSON.stringify(pageState)}`);
  }
  return { download: file, bytes: readFileSync(await file.path()) };
}

/** Parses SVG text in the page and returns the parser error, the root's size and the count of `selector` marks. */
async function inspectSvg(page: Page, text: string, selector: string): Promise<{ error: string | null; width: number; marks: number; styled: number }> {
  return page.evaluate(
    ([svgText, marks]) => {
      const document = new DOMParser().parseFromString(svgText, 'image/svg+xml');
      const error = document.querySelector('parsererror');
      const root = document.documentElement;
      return {
        error: error === null ? null : (error.textContent ?? 'parser error'),
        width: Number(root.getAttribute('width')),
        marks: root.querySelectorAll(marks).length,
        styled: [...root.querySelectorAll('path.series')].filter((path) => /stroke-width:\s*[\d.]+px/.test(path.getAttribute('style') ?? '')).length,
      };
    },
    [text, selector] as const,
  );
}

function recordedRecordText(): string {
  const events = parseEventLines(readFileSync(new URL('./fixtures/run-ce-adam.jsonl', import.meta.url), 'utf8'));
  const run = appendEvents(EMPTY_RUN, EMPTY_ANALYSIS, events as LabEvent[]).run;
  return formatRunRecord(createRunRecord(run, { spec: run.config!.spec, backend: 'wasm', startedAt: null, endedAt: null }));
}

test.describe('export', () => {
  test.setTimeout(240_000);

  test('exports of a finished run parse', async ({ page }) => {
    mkdirSync(SHOTS, { recursive: true });
    await openLab(page, TINY);
    await page.getByTestId('run-start').click();
    await expect(page.getByTestId('run-state')).toContainText('done', { timeout: 180_000 });

    // Charts: SVG is well-formed XML with the chart's marks and inlined stroke widths; PNG has its signature and 2× pixels.
    for (const chart of EXPORTED_CHARTS) {
      await page.getByTestId(`export-menu-${chart.id}`).locator('summary').click();
      if (chart.id === 'loss') await page.getByTestId('chart-loss').screenshot({ path: `${SHOTS}/export-menu.png` });
      const svg = await download(page, page.getByTestId(`export-svg-${chart.id}`));
      expect(svg.download.suggestedFilename()).toMatch(new RegExp(`^ntk-lab-${chart.id}-\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}Z\\.svg$`));
      const parsed = await inspectSvg(page, svg.bytes.toString('utf8'), chart.mark);
      expect(parsed.error, `SVG of ${chart.id}`).toBeNull();
      expect(parsed.marks, `marks in the SVG of ${chart.id}`).toBeGreaterThan(0);
      if (chart.id !== 'spectrum') expect(parsed.styled, `inlined stroke widths in ${chart.id}`).toBeGreaterThan(0);

      await page.getByTestId(`export-menu-${chart.id}`).locator('summary').click();
      const png = await download(page, page.getByTestId(`export-png-${chart.id}`));
      expect(png.download.suggestedFilename()).toMatch(new RegExp(`^ntk-lab-${chart.id}-.*\\.png$`));
      expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.bytes.readUInt32BE(16), `PNG width of ${chart.id}`).toBe(parsed.width * 2);
      writeFileSync(`${SHOTS}/exported-${chart.id}.png`, png.bytes);
      writeFileSync(`${SHOTS}/exported-${chart.id}.svg`, svg.bytes);
    }
    await page.screenshot({ path: `${SHOTS}/after-exports.png` });

    // Run record JSON: it parses, and its eval events are the CSV's rows.
    const json = await download(page, page.getByTestId('export-record'));
    const record = parseRunRecord(json.bytes.toString('utf8'));
    expect(record.ok, record.ok ? '' : record.message).toBe(true);
    if (!record.ok) return;
    const evalEvents = record.record.events.filter((event) => event.type === 'eval');
    const stepEvents = record.record.events.filter((event) => event.type === 'step');
    // Steps 0, 1 and 2, each for 2 models × 2 splits.
    expect(evalEvents).toHaveLength(12);
    expect(stepEvents).toHaveLength(4);

    const evalsCsv = parseCsv((await download(page, page.getByTestId('export-evals-csv'))).bytes.toString('utf8'));
    expect(evalsCsv.fields).toEqual([...EVAL_CSV_COLUMNS]);
    expect(evalsCsv.rows).toHaveLength(evalEvents.length);
    expect(evalsCsv.rows.map((row) => Number(row.accuracy))).toEqual(evalEvents.map((event) => event.accuracy));
    const stepsCsv = parseCsv((await download(page, page.getByTestId('export-steps-csv'))).bytes.toString('utf8'));
    expect(stepsCsv.fields).toEqual([...STEP_CSV_COLUMNS]);
    expect(stepsCsv.rows).toHaveLength(stepEvents.length);

    // Adapters: tensor names and shapes follow the θ layout of the run's spec, and every value is finite.
    const adapters = await download(page, page.getByTestId('export-adapters'));
    expect(adapters.download.suggestedFilename()).toMatch(/^ntk-lab-adapters-.*\.safetensors$/);
    const decoded = decodeAdapterFile(new Uint8Array(adapters.bytes));
    const spec = record.record.spec;
    const config = configFromJson(JSON.parse(readFileSync('public/models/brown-gpt/config.json', 'utf8')));
    const layout = createThetaLayout(config, adapterOptionsFromSpec(spec));
    expect(Object.keys(decoded.tensors).sort()).toEqual(layout.entries.map((entry) => `base_model.model.${entry.name}`).sort());
    for (const entry of layout.entries) {
      const tensor = decoded.tensors[`base_model.model.${entry.name}`];
      expect(tensor?.shape, entry.name).toEqual(entry.shape);
      expect([...(tensor?.data ?? [])].every(Number.isFinite), `finite values of ${entry.name}`).toBe(true);
    }
    expect(decoded.step).toBe(2);
    expect(decoded.spec).toEqual(spec);
    // Two steps of training moved B away from 0.
    const b = decoded.tensors['base_model.model.h.0.attn.q.lora_B.weight'];
    expect([...(b?.data ?? [])].some((value) => value !== 0)).toBe(true);

    // The downloaded record loads back into the charts.
    await page.getByTestId('load-record').setInputFiles({ name: 'tiny-run.json', mimeType: 'application/json', buffer: json.bytes });
    await expect(page.getByTestId('shown-run-name')).toHaveText('tiny-run');
    await expect(page.locator('[data-testid="chart-loss"] path.series-real-train')).toHaveCount(1);
    await expect(page.getByTestId('notice-error')).toHaveCount(0);
  });

  test('broken run records give one-line messages', async ({ page }) => {
    await openLab(page, TINY);
    const valid = recordedRecordText();
    const parsed = JSON.parse(valid) as Record<string, unknown>;
    await page.getByTestId('load-record').setInputFiles({ name: 'recorded.json', mimeType: 'application/json', buffer: Buffer.from(valid) });
    await expect(page.getByTestId('shown-run-name')).toHaveText('recorded');
    const marksBefore = await page.locator('[data-testid="chart-loss"] path.series').count();
    expect(marksBefore).toBeGreaterThan(0);

    const broken: [string, string, RegExp][] = [
      ['not-json.json', '{"format": "ntk-lab-run", "events": [', /^not-json\.json: The file is not valid JSON/],
      ['other-format.json', JSON.stringify({ ...parsed, format: 'tensorboard' }), /^other-format\.json: Not a run record: format is "tensorboard"/],
      ['version-9.json', JSON.stringify({ ...parsed, version: 9 }), /^version-9\.json: Unsupported run record version 9/],
      ['bad-spec.json', JSON.stringify({ ...parsed, spec: { ...(parsed.spec as object), optimizer: 'lbfgs' } }), /^bad-spec\.json: Invalid spec in the run record: optimizer:/],
      ['events-object.json', JSON.stringify({ ...parsed, events: {} }), /^events-object\.json: events: expected an array of run events, got an object/],
      ['unknown-event.json', JSON.stringify({ ...parsed, events: [...(parsed.events as unknown[]), { type: 'gradient' }] }), /unknown event type "gradient"/],
    ];
    for (const [name, text, message] of broken) {
      await page.getByTestId('load-record').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
      const messageLine = page.getByTestId('saved-message');
      await expect(messageLine).toHaveText(message);
      expect((await messageLine.locator('span').textContent())?.includes('\n'), `one line for ${name}`).toBe(false);
      await expect(page.getByTestId('shown-run-name')).toHaveText('recorded');
      expect(await page.locator('[data-testid="chart-loss"] path.series').count()).toBe(marksBefore);
    }
    await expect(page.getByRole('heading', { name: 'NTK fine-tuning lab' })).toBeVisible();
  });
});
