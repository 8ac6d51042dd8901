/**
 * The verbalizer output runs its last block at the answer positions only
 * (src/core/model/answer-block.ts). These tests hold it to the full model:
 * the same f and the same gradients as the LM logits read at the answer
 * positions, with every module of every layer adapted, in LoRA and in full
 * mode, and with per-example copies of θ as the Jacobian uses them, on the
 * cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TINY_CONFIG, adapterOptions, createTinyParams, createToyBatch, maxAbs, maxAbsDifference, seededNormal, toyLabelIds } from './fixtures.ts';
import type { BatchTensors } from '../../src/core/finetune/encode.ts';
import { lmLogits, verbalizerLogits } from '../../src/core/model/gpt.ts';
import { applyTheta, createThetaLayout, initTheta, type AdapterMode, type ThetaLayout } from '../../src/core/model/lora.ts';
import { oneHotFloat } from '../../src/core/model/one-hot.ts';
import { disposeParams, type GPTParams } from '../../src/core/model/params.ts';
import { CharTokenizer } from '../../src/core/model/tokenizer.ts';

const tokenizer = CharTokenizer.ascii();
const EVERY_MODULE = 'qkvofp.qkvofp';

/** f read from the full model's LM logits: logits[b, answer position, label id]. */
function fromLmLogits(params: GPTParams, batch: BatchTensors, labelIds: tf.Tensor1D): tf.Tensor2D {
  const [B, T] = batch.answerMask.shape;
  const logits = lmLogits(params, batch.ids); // [B, T, V]
  const atAnswer = tf.sum(tf.mul(logits, batch.answerMask.reshape([B, T, 1])), 1); // [B, V]
  const selector = oneHotFloat(labelIds, logits.shape[2]); // [numLabels, V]
  return tf.matMul(atAnswer, selector, false, true); // [B, numLabels]
}

let base: GPTParams;
let batch: BatchTensors;
let labelIds: tf.Tensor1D;

/** θ₀ moved along a seeded random direction, so that both LoRA factors are nonzero. */
function movedTheta(layout: ThetaLayout, mode: AdapterMode): tf.Tensor[] {
  const theta0 = initTheta(base, layout, adapterOptions(EVERY_MODULE, { mode }), 5);
  const moved = theta0.map((tensor, i) => tf.add(tensor, seededNormal(tensor.shape, 0.2, 100 + i)));
  tf.dispose(theta0);
  return moved;
}

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    base = createTinyParams(3);
    batch = createToyBatch(tokenizer);
    labelIds = toyLabelIds(tokenizer);
  });

  afterAll(async () => {
    disposeParams(base);
    tf.dispose([batch.ids, batch.answerMask, batch.labels, batch.rowIndex, labelIds]);
    await tf.setBackend('cpu');
  });

  describe.each(['lora', 'full'] as const)('the answer-position last block in %s mode', (mode) => {
    const layout = (): ThetaLayout => createThetaLayout(TINY_CONFIG, adapterOptions(EVERY_MODULE, { mode }));
    // A fixed random cotangent, so that the gradients weigh every output.
    const weightsOf = (rows: number): tf.Tensor2D => seededNormal([rows, 2], 1, 9) as tf.Tensor2D;

    it("gives the full model's f", () => {
      const thetaLayout = layout();
      const theta = movedTheta(thetaLayout, mode);
      const [ours, full] = tf.tidy(() => {
        const params = applyTheta(base, thetaLayout, theta);
        return [verbalizerLogits(params, batch.ids, batch.answerMask, labelIds), fromLmLogits(params, batch, labelIds)];
      });
      expect(maxAbs(full)).toBeGreaterThan(0.01);
      expect(maxAbsDifference(ours, full)).toBeLessThan(1e-5 * maxAbs(full));
      tf.dispose([ours, full, ...theta]);
    });

    it("gives the full model's gradients", () => {
      const thetaLayout = layout();
      const theta = movedTheta(thetaLayout, mode);
      const weights = weightsOf(batch.ids.shape[0]);
      const gradientOf = (forward: (params: GPTParams) => tf.Tensor2D): tf.Tensor[] =>
        tf.grads((...t: tf.Tensor[]) => tf.sum(tf.mul(forward(applyTheta(base, thetaLayout, t)), weights)))(theta);

      const ours = gradientOf((params) => verbalizerLogits(params, batch.ids, batch.answerMask, labelIds));
      const full = gradientOf((params) => fromLmLogits(params, batch, labelIds));
      expect(ours.length).toBe(thetaLayout.entries.length);
      ours.forEach((grad, i) => {
        const reference = full[i] as tf.Tensor;
        const name = thetaLayout.entries[i]?.name ?? '';
        expect(maxAbs(reference), name).toBeGreaterThan(0);
        expect(maxAbsDifference(grad, reference), name).toBeLessThan(1e-4 * maxAbs(reference) + 1e-7);
      });
      tf.dispose([...ours, ...full, ...theta, weights]);
    });

    it('gives per-example gradients of copies', () => {
      const thetaLayout = layout();
      const theta = movedTheta(thetaLayout, mode);
      const rows = batch.ids.shape[0];
      const weights = weightsOf(rows);
      const stacked = theta.map((tensor) => tf.tile(tensor.expandDims(0), [rows, ...tensor.shape.map(() => 1)])); // [rows, ...shape]
      const gradientOf = (forward: (params: GPTParams) => tf.Tensor2D): tf.Tensor[] =>
        tf.grads((...copies: tf.Tensor[]) => tf.sum(tf.mul(forward(applyTheta(base, thetaLayout, copies)), weights)))(stacked);

      const ours = gradientOf((params) => verbalizerLogits(params, batch.ids, batch.answerMask, labelIds));
      const full = gradientOf((params) => fromLmLogits(params, batch, labelIds));
      ours.forEach((grad, i) => {
        const reference = full[i] as tf.Tensor;
        expect(grad.shape).toEqual(reference.shape);
        expect(maxAbsDifference(grad, reference), thetaLayout.entries[i]?.name).toBeLessThan(1e-4 * maxAbs(reference) + 1e-7);
      });
      tf.dispose([...ours, ...full, ...theta, ...stacked, weights]);
    });
  });
});
