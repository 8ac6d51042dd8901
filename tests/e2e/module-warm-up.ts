/**
 * Loads source modules into a harness page until they load with no reload
 * after them. The Vite dev server bundles each dependency on its first
 * request (comlink, the WebGPU and WASM backends). Meanwhile it rejects
 * imports of the old bundle and then reloads the page, which would cut a
 * test short.
 */
import type { Page } from '@playwright/test';

export async function importUntilStable(page: Page, harnessUrl: string, moduleUrls: readonly string[]): Promise<void> {
  let navigations = 0;
  page.on('framenavigated', () => {
    navigations += 1;
  });
  let lastProblem = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    await page.goto(harnessUrl);
    const before = navigations;
    try {
      await page.evaluate(async (urls) => {
        for (const moduleUrl of urls) await import(/* @vite-ignore */ moduleUrl);
      }, moduleUrls);
      await page.waitForTimeout(2000);
      if (navigations === before) return;
      lastProblem = 'the page reloaded';
    } catch (error) {
      lastProblem = String(error).split('\n')[0] ?? '';
      await page.waitForTimeout(2000);
    }
  }
  throw new Error(`${moduleUrls.join(', ')} did not load in 5 attempts; the last problem: ${lastProblem}`);
}
