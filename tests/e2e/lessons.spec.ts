/**
 * The guided lessons in Debian's Chromium: each opens by link and from the
 * menu, renders its formulas with KaTeX, and highlights the controls and
 * charts of every step. Screenshots go to /tmp/lessons-shots.
 */
import { expect, test, type Page } from '@playwright/test';

import { DEFAULT_SPEC } from '../../src/core/spec.ts';
import { LESSONS } from '../../src/ui/lessons/index.ts';

const SHOTS = '/tmp/lessons-shots';

/** Checks that every element a step highlights is on the page, visible and marked. */
async function expectHighlights(page: Page, testIds: readonly string[], context: string): Promise<void> {
  for (const testId of testIds) {
    const element = page.getByTestId(testId).first();
    // The kernel statistics appear once the worker has computed the kernel at θ₀.
    await expect(element, `${context}: ${testId}`).toBeVisible({ timeout: testId === 'preview-stats' ? 180_000 : 10_000 });
    await expect(element, `${context}: ${testId}`).toHaveClass(/lesson-highlight/);
  }
}

test.describe('lessons', () => {
  test('each lesson opens by link', async ({ page }) => {
    test.setTimeout(300_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    for (const lesson of LESSONS) {
      await page.goto(`/?lesson=${lesson.id}&lessonStep=2`);

      const panel = page.getByTestId('lesson-panel');
      await expect(panel, lesson.id).toBeVisible();
      await expect(panel, lesson.id).toHaveAttribute('data-lesson', lesson.id);
      await expect(page.getByTestId('lesson-step-count'), lesson.id).toHaveText(`Step 2 of ${lesson.steps.length}`);
      // The introduction is folded away after step 1, so the visible formulas are the step's own.
      await expect(panel.locator('.katex:visible').first(), lesson.id).toBeVisible();
      expect(await panel.locator('.katex-error').count(), lesson.id).toBe(0);
      await expect(page.getByTestId('lesson-menu'), lesson.id).toHaveValue(lesson.id);

      // The prepared experiment is in the controls, and the address bar now names it in full.
      const steps = String(lesson.spec.steps ?? DEFAULT_SPEC.steps);
      await expect(page.getByTestId('field-steps').locator('input'), lesson.id).toHaveValue(steps);
      await expect.poll(() => page.url(), { message: lesson.id }).toContain(`?v=1&`);
      expect(page.url(), lesson.id).toContain(`steps=${steps}`);
      expect(page.url(), lesson.id).toContain(`lesson=${lesson.id}&lessonStep=2`);
    }
    expect(errors).toEqual([]);
  });

  test('menu opens each lesson and steps highlight', async ({ page }) => {
    test.setTimeout(900_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto('/');
    await expect(page.getByTestId('lesson-panel')).toHaveCount(0);

    for (const lesson of LESSONS) {
      await page.getByTestId('lesson-menu').selectOption(lesson.id);

      const panel = page.getByTestId('lesson-panel');
      await expect(panel, lesson.id).toHaveAttribute('data-lesson', lesson.id);
      await expect(panel.locator('.katex').first(), lesson.id).toBeVisible();
      await expect(page.getByTestId('field-probeSize').locator('input'), lesson.id).toHaveValue(String(lesson.spec.probeSize));

      for (const [index, step] of lesson.steps.entries()) {
        const context = `${lesson.id} step ${index + 1}`;
        await expect(page.getByTestId('lesson-step-count'), context).toHaveText(`Step ${index + 1} of ${lesson.steps.length}`);
        await expect(page.getByTestId('lesson-step'), context).toContainText(step.title);
        await expectHighlights(page, step.highlight, context);
        await expect(page.locator('.lesson-highlight'), context).toHaveCount(await countMatching(page, step.highlight));
        if (index < lesson.steps.length - 1) await page.getByTestId('lesson-next').click();
      }
      await expect(page.getByTestId('lesson-next'), lesson.id).toBeDisabled();

      await page.getByTestId('lesson-back').click();
      await expect(page.getByTestId('lesson-step-count'), lesson.id).toHaveText(`Step ${lesson.steps.length - 1} of ${lesson.steps.length}`);
    }

    // A step's button sets its settings, and closing the lesson removes the highlights.
    await page.getByTestId('lesson-menu').selectOption('lora-init');
    await page.getByTestId('lesson-next').click();
    await expect(page.getByTestId('field-init').locator('select')).toHaveValue('kaiming');
    await page.getByTestId('lesson-apply').click();
    await expect(page.getByTestId('field-init').locator('select')).toHaveValue('gaussian');
    await expect.poll(() => page.url()).toContain('init=gaussian');
    await page.screenshot({ path: `${SHOTS}/lora-init-step-2.png` });
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('p');
    await expect(page.locator('html')).toHaveClass(/presentation/);
    await page.screenshot({ path: `${SHOTS}/lora-init-step-2-presentation.png` });
    // The header wraps to two lines here, and the sticky lesson column must start below it.
    const headerBox = await page.locator('.lab-header').boundingBox();
    const panelBox = await page.getByTestId('lesson-panel').boundingBox();
    expect(panelBox?.y ?? 0).toBeGreaterThanOrEqual((headerBox?.y ?? 0) + (headerBox?.height ?? 0) - 1);
    await page.keyboard.press('p');
    await expect(page.locator('html')).not.toHaveClass(/presentation/);

    await page.getByTestId('lesson-close').click();
    await expect(page.getByTestId('lesson-panel')).toHaveCount(0);
    await expect(page.locator('.lesson-highlight')).toHaveCount(0);
    await expect.poll(() => page.url()).not.toContain('lesson=');
    expect(errors).toEqual([]);
  });
});

/** Counts the elements on the page that carry one of the test ids. */
async function countMatching(page: Page, testIds: readonly string[]): Promise<number> {
  let count = 0;
  for (const testId of testIds) count += await page.getByTestId(testId).count();
  return count;
}
