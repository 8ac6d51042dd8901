/**
 * Builds the benchmark inputs from the committed checkpoint and the spec
 * defaults, and exports them for the PyTorch peer: inputs.json (spec, layout,
 * batch and probe rows) and θ₀ and θ₁ as safetensors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';

import type { BenchInputs, EncodedRows, ThetaValues } from '../../bench/subject.ts';
import { encodeSafetensors, type SafetensorsTensor } from '../core/checkpoint/safetensors.ts';
import type { Checkpoint } from '../core/checkpoint/checkpoint.ts';
import type { TaskSources } from '../core/data/tasks.ts';
import { createBatchSampler } from '../core/finetune/batches.ts';
import { encodeExamples, labelTokenIds, type EncodedExamples } from '../core/finetune/encode.ts';
import type { ThetaLayout } from '../core/model/lora.ts';
import { deriveSeed } from '../core/random.ts';
import { FineTuneRun } from '../core/runner.ts';
import type { ExperimentSpec } from '../core/spec.ts';

/** Copies rows of encoded examples, in the given order, into plain arrays. */
function selectRows(encoded: EncodedExamples, indices: readonly number[]): EncodedRows {
  const { length } = encoded;
  const ids: number[] = [];
  for (const index of indices) ids.push(...encoded.ids.subarray(index * length, (index + 1) * length));
  return {
    count: indices.length,
    length,
    ids,
    answerPositions: indices.map((index) => encoded.answerPositions[index] as number),
    labels: indices.map((index) => encoded.labels[index] as number),
  };
}

/**
 * Builds a run as the app does (without the linearization) to get the task
 * data, θ's layout and θ₀. The batch is the first one the run's sampler draws,
 * the probe set the first probeSize training examples.
 */
export function buildBenchInputs(
  spec: ExperimentSpec,
  checkpoint: Checkpoint,
  sources: TaskSources,
): { inputs: BenchInputs; layout: ThetaLayout } {
  const run = FineTuneRun.create({ ...spec, linearized: false }, { checkpoint, sources, backend: tf.getBackend() });
  try {
    const definition = run.task.definition;
    const encoded = encodeExamples(checkpoint.tokenizer, definition, run.task.train, checkpoint.config.nPositions);
    const batchSize = spec.optimizer === 'gd' ? encoded.count : Math.min(spec.batchSize, encoded.count);
    const sampler = createBatchSampler(encoded.count, batchSize, deriveSeed(spec.seed, 'batches'));
    const batchIndices = Array.from(sampler.next());
    const probeIndices = Array.from({ length: run.probe.labels.shape[0] }, (_, i) => i);

    const theta0: ThetaValues[] = run.layout.entries.map((entry, i) => ({
      name: entry.name,
      shape: entry.shape,
      values: Array.from((run.theta[i] as tf.Tensor).dataSync()),
    }));

    const inputs: BenchInputs = {
      spec,
      labelTokenIds: labelTokenIds(checkpoint.tokenizer, definition),
      batch: selectRows(encoded, batchIndices),
      probe: selectRows(encoded, probeIndices),
      theta0,
    };
    return { inputs, layout: run.layout };
  } finally {
    run.dispose();
  }
}

function thetaFile(layout: ThetaLayout, theta: readonly tf.Tensor[]): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  layout.entries.forEach((entry, i) => {
    const tensor = theta[i] as tf.Tensor;
    tensors[entry.name] = { dtype: 'F32', shape: [...tensor.shape], data: Float32Array.from(tensor.dataSync()) };
  });
  return encodeSafetensors(tensors, { mode: layout.mode, lora_scale: String(layout.scale) });
}

/** Writes inputs.json, theta0.safetensors and theta1.safetensors into `dir` for the peer. */
export function exportBenchInputs(
  dir: string,
  inputs: BenchInputs,
  layout: ThetaLayout,
  theta0: readonly tf.Tensor[],
  theta1: readonly tf.Tensor[],
): void {
  mkdirSync(dir, { recursive: true });
  const layoutJson = {
    mode: layout.mode,
    scale: layout.scale,
    size: layout.size,
    entries: layout.entries,
    blocks: layout.blocks,
  };
  writeFileSync(path.join(dir, 'inputs.json'), `${JSON.stringify({ ...inputs, layout: layoutJson })}\n`);
  writeFileSync(path.join(dir, 'theta0.safetensors'), thetaFile(layout, theta0));
  writeFileSync(path.join(dir, 'theta1.safetensors'), thetaFile(layout, theta1));
}
