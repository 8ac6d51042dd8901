/**
 * The core's training computations on WebGPU against tfjs `cpu`, in one
 * page: f, the data loss and its gradient, a selective-regularizer Adam step
 * and the divergence metrics, on the tiny test model with a batch straight
 * from toBatchTensors.
 *
 * tfjs 4.22 casts int32 to float32 on WebGPU by relabelling the int32
 * buffer. When the answer mask was such a tensor, the backward pass's
 * transpose of it failed to compile, WebGPU dropped the whole command buffer,
 * and the data gradient came out wrong with no exception, only console
 * errors. This test would have caught it.
 *
 * A second batch of longer texts runs after the first in the same page,
 * because some tfjs 4.22 WebGPU shaders are compiled for the first shape
 * they see and reused for later ones: `tf.cumsum` with reverse gave wrong
 * values at a second length.
 */
import { expect, test } from '@playwright/test';

import { importUntilStable } from './module-warm-up.ts';
import type { CoreRun } from './harness/webgpu-core.ts';

const HARNESS = '/tests/e2e/harness/worker.html';
const MODULE = '/tests/e2e/harness/webgpu-core.ts';

/** Two batches of different lengths; the tiny test model's context is 24 tokens, prompt included. */
const SHORT_TEXTS = ['good', 'bad day', 'a fine tale', 'rain', 'ok so', 'dull'];
const LONG_TEXTS = ['a long dull day', 'fine tale told', 'rain all night', 'so good a book'];

/** Max |a − b| / max |b|, the error relative to the reference's scale; max |a − b| itself when the reference is all 0. */
function relativeError(values: readonly number[], reference: readonly number[]): number {
  let difference = 0;
  let scale = 0;
  reference.forEach((expected, i) => {
    difference = Math.max(difference, Math.abs((values[i] as number) - expected));
    scale = Math.max(scale, Math.abs(expected));
  });
  return scale === 0 ? difference : difference / scale;
}

test('training on WebGPU matches cpu', async ({ page }) => {
  test.setTimeout(240_000);
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(message.text());
  });
  await importUntilStable(page, HARNESS, [MODULE]);

  const runs = await page.evaluate(
    async ([moduleUrl, batches]) => {
      const { computeOn } = (await import(/* @vite-ignore */ moduleUrl)) as typeof import('./harness/webgpu-core.ts');
      const results: [CoreRun, CoreRun][] = [];
      for (const texts of batches) results.push([await computeOn('webgpu', texts), await computeOn('cpu', texts)]);
      return results;
    },
    [MODULE, [SHORT_TEXTS, LONG_TEXTS]] as const,
  );

  expect(runs).toHaveLength(2);
  for (const [batch, [webgpu, cpu]] of runs.entries()) {
    expect(webgpu.backend).toBe('webgpu');
    expect(cpu.backend).toBe('cpu');

    const ours = webgpu.outputs;
    const reference = cpu.outputs;
    expect(Object.keys(ours).sort()).toEqual(Object.keys(reference).sort());
    // The gradient must be nonzero in every LoRA factor for the comparison to mean something.
    expect(reference['grad']?.filter((value) => value !== 0).length).toBeGreaterThan((reference['grad']?.length ?? 0) / 2);
    for (const [name, expected] of Object.entries(reference)) {
      const values = ours[name] ?? [];
      const message = `batch ${batch} ${name}: ${values.slice(0, 4).join(', ')} against ${expected.slice(0, 4).join(', ')}`;
      expect(values.length, message).toBe(expected.length);
      expect(relativeError(values, expected), message).toBeLessThan(1e-4);
    }
  }

  expect(consoleErrors.filter((text) => /WGSL|Invalid|webgpu/i.test(text))).toEqual([]);
});
