/**
 * Asynchronous counterparts of the runner's synchronous reads: divergence,
 * parameter distance, kernels from Jacobians and the theory event. Each
 * computes the same tensors as its synchronous original and reads them with
 * `await tensor.data()` in place of `dataSync()`.
 *
 * They exist for WebGPU in a worker. There tfjs 4.22's dataSync reads
 * through an OffscreenCanvas, and in Chromium 156 (SwiftShader) that read
 * returns zeros and destroys the device. The synchronous originals stay in
 * divergence.ts, kernel.ts and theory-event.ts for the CLI and the tests,
 * which compare both paths value for value.
 */
import * as tf from '@tensorflow/tfjs';

import type { DivergenceOnSet, TheoryEvent } from './events.ts';
import { squaredDistance } from './finetune/objective.ts';
import { blockKernelsAsync } from './ntk/block-kernels.ts';
import type { Kernel, NtkResult } from './ntk/kernel.ts';
import { theoryEventFromValues, type TheoryEventInput } from './ntk/theory-event.ts';
import type { ThetaLayout } from './model/lora.ts';

/** Reads scalar tensors with one download and returns their values in order. The caller keeps ownership of the scalars. */
export async function readScalars(scalars: readonly tf.Tensor[]): Promise<number[]> {
  const stacked = tf.tidy(() => tf.stack(scalars.map((scalar) => tf.cast(scalar, 'float32')))); // [k]
  const values = await stacked.data();
  stacked.dispose();
  return Array.from(values);
}

/** Returns the same result as divergenceOnSet in divergence.ts. */
export async function divergenceOnSetAsync(f: tf.Tensor2D, fLin: tf.Tensor2D, f0: tf.Tensor2D): Promise<DivergenceOnSet> {
  const scalars = tf.tidy(() => [
    tf.sqrt(tf.mean(tf.square(tf.sub(f, fLin)))),
    tf.sqrt(tf.mean(tf.square(tf.sub(f, f0)))),
    tf.mean(tf.cast(tf.equal(tf.argMax(f, 1), tf.argMax(fLin, 1)), 'float32')),
  ]);
  const [rms, movedRms, agreement] = (await readScalars(scalars)) as [number, number, number];
  tf.dispose(scalars);
  return { rms, relativeRms: movedRms > 0 ? rms / movedRms : null, agreement };
}

/** Returns ‖a − b‖ over paired tensor lists, as parameterDistance in divergence.ts does. */
export async function parameterDistanceAsync(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): Promise<number> {
  const squared = squaredDistance(a, b);
  const [value] = (await readScalars([squared])) as [number];
  squared.dispose();
  return Math.sqrt(value);
}

/** Returns J₁·J₂ᵀ as a kernel, as kernelFromJacobians in kernel.ts does; J₂ defaults to J₁. */
export async function kernelFromJacobiansAsync(J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): Promise<Kernel> {
  const product = tf.tidy(() => tf.matMul(J1, J2, false, true) as tf.Tensor2D); // [rows·C, cols·C]
  const values = Float64Array.from(await product.data());
  product.dispose();
  return { rows: J1.shape[0] / c, cols: J2.shape[0] / c, c, values };
}

/** Returns the kernel and its blocks from Jacobians already computed, as ntkFromJacobians in kernel.ts does. */
export async function ntkFromJacobiansAsync(layout: ThetaLayout, J1: tf.Tensor2D, c: number, J2: tf.Tensor2D = J1): Promise<NtkResult> {
  return { full: await kernelFromJacobiansAsync(J1, c, J2), blocks: await blockKernelsAsync(layout, J1, c, J2) };
}

/** Builds the same event as theoryEvent in theory-event.ts. */
export async function theoryEventAsync(input: TheoryEventInput): Promise<TheoryEvent> {
  const { numLabels } = input;
  const trainKernel = await kernelFromJacobiansAsync(input.train.J, numLabels);
  const crossKernel = await kernelFromJacobiansAsync(input.eval.J, numLabels, input.train.J);
  const [trainLabels, evalLabels, trainF0, evalF0] = await Promise.all([
    input.trainLabels.data(),
    input.evalLabels.data(),
    input.train.f0.data(),
    input.eval.f0.data(),
  ]);
  return theoryEventFromValues(input, { trainKernel, crossKernel, trainLabels, evalLabels, trainF0, evalF0 });
}
