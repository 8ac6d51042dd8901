import { expect, test } from '@playwright/test';

test('page loads without errors', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });

  await page.goto('/');

  await expect(page.getByRole('heading', { name: 'NTK fine-tuning lab' })).toBeVisible();
  expect(errors).toEqual([]);
});
