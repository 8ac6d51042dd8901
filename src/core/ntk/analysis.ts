/**
 * The NTK at θ₀ on a probe set, with everything an independent
 * implementation needs to recompute it: the probe texts and token ids, the
 * label token ids and the position read, f(θ₀), the LoRA scale and θ₀'s
 * layout. The adapter tensors themselves are written separately.
 */
import * as tf from '@tensorflow/tfjs';

import { jacobian } from './jacobian.ts';
import { jacobianChange, type JacobianChangePoint } from './jacobian-change.ts';
import { ntkFromJacobians, type NtkResult } from './kernel.ts';
import { summarizeNtk } from './summary.ts';
import { symmetricEigenvalues } from './eigenvalues.ts';
import { tracedCrossKernel } from './spectrum.ts';
import type { NtkEvent } from '../events.ts';
import { disposeBatch, gatherBatch, labelTokenIds, rowRange } from '../finetune/encode.ts';
import type { FineTuneRun } from '../runner.ts';
import type { CharTokenizer } from '../model/tokenizer.ts';

export interface NtkReport {
  spec: FineTuneRun['spec'];
  probe: {
    texts: string[];
    /** Token ids of text + prompt suffix, unpadded. */
    tokenIds: number[][];
    labels: number[];
    /** The position whose next-token logits are read: the last prompt token. */
    answerPositions: number[];
  };
  labelTokens: string[];
  labelTokenIds: number[];
  loraScale: number;
  mode: string;
  /** θ's tensors in flattening order, with their offsets in the flat vector. */
  theta: { name: string; shape: number[]; offset: number; size: number }[];
  /** f(x; θ₀) on the probe set, [N][C]. */
  f0: number[][];
  /** The full kernel at θ₀, (N·C)², row-major, row index i·C + a. */
  kernel: { n: number; c: number; values: number[] };
  /** Spectra and statistics, as in the ntk event. */
  summary: NtkEvent;
  /** The eval–train kernel between the first N eval examples and the probe set, and its traced form. */
  evalTrain: { rows: number; cols: number; c: number; values: number[]; traced: number[]; tracedSingularValues: number[] };
  jacobianChange: JacobianChangePoint[];
  timing: { jacobianMs: number; kernelMs: number; eigenMs: number };
  /** Peak tensor memory while computing J and the kernel on the probe set (tf.profile). */
  peakBytes: number;
}

export interface NtkAnalysisOptions {
  radii: readonly number[];
  directions: number;
}

export async function analyzeNtk(run: FineTuneRun, tokenizer: CharTokenizer, options: NtkAnalysisOptions): Promise<NtkReport> {
  const { predict, probe, numLabels, layout, spec, task } = run;
  const definition = task.definition;
  const probeCount = probe.labels.shape[0];
  const probeExamples = task.train.slice(0, probeCount);
  // Read the ids and answer positions back from the probe tensors, so the
  // report contains exactly what the kernel was computed on.
  const paddedIds = probe.ids.arraySync();
  const answerTensor = tf.argMax(probe.answerMask, 1);
  const answerPositions = Array.from(answerTensor.dataSync());
  answerTensor.dispose();
  const labels = Array.from(probe.labels.dataSync());

  // Only the kernel is profiled: tf.profile takes Math.max over one
  // argument per kernel call, which overflows the call stack on longer runs
  // (tfjs-core 4.22, engine.js).
  const started = Date.now();
  let afterJacobian = started;
  const holder: { J?: tf.Tensor2D; result?: NtkResult } = {};
  const profile = await tf.profile(() => {
    holder.J = jacobian(predict, run.theta, probe, numLabels);
    afterJacobian = Date.now();
    holder.result = ntkFromJacobians(layout, holder.J, numLabels);
    return [];
  });
  const { J, result } = holder as { J: tf.Tensor2D; result: NtkResult };
  const afterKernel = Date.now();
  const summary = summarizeNtk(result, layout, { step: 0, lambda: spec.lambda, reference: result.full });
  const afterEigen = Date.now();

  const evalRows = Math.min(probeCount, run.evalBatch.labels.shape[0]);
  const evalProbe = gatherBatch(run.evalBatch, rowRange(0, evalRows));
  const JEval = jacobian(predict, run.theta, evalProbe, numLabels);
  const cross = ntkFromJacobians(layout, JEval, numLabels, J).full;
  const tracedCross = tracedCrossKernel(cross.values, evalRows, probeCount, numLabels);
  const tracedSingularValues = crossSingularValues(tracedCross, evalRows, probeCount);
  tf.dispose([JEval]);
  disposeBatch(evalProbe);

  const f0 = tf.tidy(() => predict(run.theta, probe));
  const f0Values = f0.arraySync();
  f0.dispose();
  J.dispose();

  const points = options.radii.length === 0 ? [] : jacobianChange(predict, run.theta, probe, numLabels, {
    radii: options.radii,
    directions: options.directions,
    seed: spec.seed,
  });

  return {
    spec,
    probe: {
      texts: probeExamples.map((example) => example.text),
      tokenIds: paddedIds.map((row, i) => row.slice(0, (answerPositions[i] as number) + 1)),
      labels,
      answerPositions,
    },
    labelTokens: definition.labelTokens,
    labelTokenIds: labelTokenIds(tokenizer, definition),
    loraScale: layout.scale,
    mode: layout.mode,
    theta: layout.entries.map(({ name, shape, offset, size }) => ({ name, shape, offset, size })),
    f0: f0Values,
    kernel: { n: result.full.rows, c: numLabels, values: Array.from(result.full.values) },
    summary,
    evalTrain: {
      rows: evalRows,
      cols: probeCount,
      c: numLabels,
      values: Array.from(cross.values),
      traced: Array.from(tracedCross),
      tracedSingularValues,
    },
    jacobianChange: points,
    timing: { jacobianMs: afterJacobian - started, kernelMs: afterKernel - afterJacobian, eigenMs: afterEigen - afterKernel },
    peakBytes: profile.peakBytes,
  };
}

/** Singular values of a rows × cols matrix, from the eigenvalues of M·Mᵀ. */
function crossSingularValues(matrix: Float64Array, rows: number, cols: number): number[] {
  const gram = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let total = 0;
      for (let k = 0; k < cols; k++) total += (matrix[i * cols + k] as number) * (matrix[j * cols + k] as number);
      gram[i * rows + j] = total;
    }
  }
  return Array.from(symmetricEigenvalues(gram, rows), (value) => Math.sqrt(value));
}

