/**
 * The work that the benchmarks time, built from the lab's own core code the
 * way src/core/runner.ts builds a run: the LoRA fine-tuning step, the
 * linearized step, the empirical NTK with its blocks and its spectrum.
 *
 * It uses neither DOM nor Node APIs, so the Node bench and the browser bench
 * page time exactly the same calls. Inputs come as plain arrays (see
 * BenchInputs), which the Node bench exports to the PyTorch peer as well.
 * Every read is asynchronous, as in the lab worker: on WebGPU over
 * SwiftShader, tfjs 4.22's dataSync returns zeros.
 */
import * as tf from '@tensorflow/tfjs';

import type { Checkpoint } from '../src/core/checkpoint/checkpoint.ts';
import type { NtkEvent } from '../src/core/events.ts';
import { disposeBatch, toBatchTensors, type BatchTensors } from '../src/core/finetune/encode.ts';
import { Trainer, type PredictFn, type StepResult, type TrainerOptions } from '../src/core/finetune/trainer.ts';
import { verbalizerLogits } from '../src/core/model/gpt.ts';
import { applyTheta, createThetaLayout, flattenTheta, type ThetaLayout } from '../src/core/model/lora.ts';
import { jacobianAsync } from '../src/core/ntk/jacobian.ts';
import type { NtkResult } from '../src/core/ntk/kernel.ts';
import { disposeLinearization, linearize, linearPredict, type Linearization } from '../src/core/ntk/linearize.ts';
import { symmetricEigen, type SymmetricEigen } from '../src/core/ntk/spectrum.ts';
import { summarizeNtk } from '../src/core/ntk/summary.ts';
import { ntkFromJacobiansAsync } from '../src/core/read-async.ts';
import { adapterOptionsFromSpec } from '../src/core/runner.ts';
import type { ExperimentSpec } from '../src/core/spec.ts';

/** Encoded examples as plain arrays: ids are [count, length] row-major, right-padded. */
export interface EncodedRows {
  count: number;
  length: number;
  ids: number[];
  answerPositions: number[];
  labels: number[];
}

/** One θ tensor by its layout name, values row-major. */
export interface ThetaValues {
  name: string;
  shape: number[];
  values: number[];
}

/** Everything the timed work needs besides the checkpoint. */
export interface BenchInputs {
  spec: ExperimentSpec;
  labelTokenIds: number[];
  /** The first training batch of the spec's sampler. */
  batch: EncodedRows;
  /** The NTK probe set: the first probeSize training examples. */
  probe: EncodedRows;
  theta0: ThetaValues[];
}

/** The agreement outputs of one side, as float64 arrays keyed like the peer's file (without the dtype suffix). */
export type AgreementOutputs = Record<string, Float64Array>;

function rowsToBatch(rows: EncodedRows, split: string): BatchTensors {
  return toBatchTensors(
    {
      count: rows.count,
      length: rows.length,
      ids: Int32Array.from(rows.ids),
      answerPositions: Int32Array.from(rows.answerPositions),
      labels: Int32Array.from(rows.labels),
    },
    split,
  );
}


function trainerOptions(spec: ExperimentSpec): TrainerOptions {
  return { loss: spec.loss, optimizer: spec.optimizer, lr: spec.lr, lambda: spec.lambda, selective: spec.selective };
}

/** The linearized model on the batch rows: its trainer, f(θ₀) and J(θ₀), and flat θ₀. */
interface LinearSide {
  trainer: Trainer;
  linearization: Linearization;
  theta0Flat: tf.Tensor1D;
}

export class BenchSubject {
  private loraTrainer: Trainer | null = null;
  private linear: LinearSide | null = null;
  /** J(θ₀) on the batch rows, computed once and shared by the linearized step and the agreement check. */
  private batchLinearization: Linearization | null = null;
  /** J(θ₀) on the probe set from the first ntk() call, kept for the agreement check. */
  private probeJacobian: tf.Tensor2D | null = null;

  private constructor(
    readonly spec: ExperimentSpec,
    readonly layout: ThetaLayout,
    readonly predict: PredictFn,
    readonly numLabels: number,
    readonly batch: BatchTensors,
    readonly probe: BatchTensors,
    readonly theta0: tf.Tensor[],
    private readonly anchor: tf.Tensor[],
    private readonly owned: tf.Tensor[],
  ) {}

  /** Builds the model function, θ₀ and the batches on the current tfjs backend. */
  static create(checkpoint: Checkpoint, inputs: BenchInputs): BenchSubject {
    const { spec } = inputs;
    const layout = createThetaLayout(checkpoint.config, adapterOptionsFromSpec(spec));
    const theta0 = layout.entries.map((entry, i) => {
      const values = inputs.theta0[i];
      if (values === undefined || values.name !== entry.name || values.values.length !== entry.size) {
        throw new Error(`bench inputs: θ₀ tensor ${i} should be ${entry.name} with ${entry.size} values`);
      }
      return tf.tensor(values.values, entry.shape);
    });
    const anchor = spec.anchor === 'init' ? theta0 : theta0.map((tensor) => tf.zerosLike(tensor));

    const labelIds = tf.tensor1d(inputs.labelTokenIds, 'int32');
    const base = checkpoint.params;
    const predict: PredictFn = (theta, batch) =>
      verbalizerLogits(applyTheta(base, layout, theta), batch.ids, batch.answerMask, labelIds);

    const owned = spec.anchor === 'init' ? [labelIds] : [labelIds, ...anchor];
    return new BenchSubject(
      spec,
      layout,
      predict,
      inputs.labelTokenIds.length,
      rowsToBatch(inputs.batch, 'train'),
      rowsToBatch(inputs.probe, 'train'),
      theta0,
      anchor,
      owned,
    );
  }

  /** Runs one LoRA fine-tuning step on the batch, as the lab worker does for the real model. */
  loraStep(): Promise<StepResult> {
    this.loraTrainer ??= new Trainer(this.predict, this.theta0, this.anchor, trainerOptions(this.spec));
    return this.loraTrainer.stepAsync(this.batch);
  }

  /** Runs one step of the linearized model on the batch; the first call computes J(θ₀) on the batch rows. */
  linearStep(): Promise<StepResult> {
    this.linear ??= this.createLinearSide(this.theta0);
    return this.linear.trainer.stepAsync(this.batch);
  }

  /**
   * Computes the empirical NTK at θ₀ on the probe set, with one kernel per
   * adapted block. Every call computes J anew; the first call's J is kept.
   */
  async ntk(): Promise<NtkResult> {
    const J = await jacobianAsync(this.predict, this.theta0, this.probe, this.numLabels);
    const result = await ntkFromJacobiansAsync(this.layout, J, this.numLabels);
    if (this.probeJacobian === null) this.probeJacobian = J;
    else J.dispose();
    return result;
  }

  /** Decomposes the full kernel, as the ntk event does first. */
  eigen(result: NtkResult): SymmetricEigen {
    return symmetricEigen(result.full.values, result.full.rows * result.full.c);
  }

  /** Builds the ntk event: the full, traced and per-block spectra and their statistics. */
  spectrum(result: NtkResult): NtkEvent {
    return summarizeNtk(result, this.layout, { step: 0, lambda: this.spec.lambda, reference: result.full });
  }

  /** Returns θ after one fine-tuning step from θ₀, on a trainer of its own. */
  async thetaAfterStep(): Promise<tf.Tensor[]> {
    const trainer = new Trainer(this.predict, this.theta0, this.anchor, trainerOptions(this.spec));
    await trainer.stepAsync(this.batch);
    const theta = trainer.theta.map((tensor) => tensor.clone());
    trainer.dispose();
    return theta;
  }

  /**
   * Computes what the agreement check compares with the PyTorch peer: f, the
   * loss and ∇R_data at θ₀ and at θ₁, θ after one step, the linearized model
   * at θ₁, and the probe set's Jacobian, kernel and spectra at θ₀. It reuses
   * the Jacobians that earlier linearStep() and ntk() calls computed.
   */
  async agreementOutputs(theta1: readonly tf.Tensor[]): Promise<AgreementOutputs> {
    const out: AgreementOutputs = {};
    const read = async (tensor: tf.Tensor): Promise<Float64Array> => Float64Array.from(await tensor.data());

    for (const [name, theta] of [['theta0', this.theta0], ['theta1', theta1]] as const) {
      const trainer = new Trainer(this.predict, theta, this.anchor, trainerOptions(this.spec));
      const f = tf.tidy(() => this.predict(trainer.theta, this.batch));
      const { value, grads } = trainer.dataLossAndGradient(this.batch);
      const flatGrad = flattenTheta(grads);
      out[`f_${name}`] = await read(f);
      out[`loss_${name}`] = await read(value);
      out[`grad_${name}`] = await read(flatGrad);
      tf.dispose([f, value, flatGrad, ...grads]);
      trainer.dispose();
    }

    const after = await this.thetaAfterStep();
    const flatAfter = flattenTheta(after);
    out['theta_after_step'] = await read(flatAfter);
    tf.dispose([flatAfter, ...after]);

    const linear = this.createLinearSide(theta1);
    const fLin = tf.tidy(() => linearPredict(linear.linearization, theta1, linear.theta0Flat, this.batch.rowIndex));
    const { value: lossLin, grads: gradsLin } = linear.trainer.dataLossAndGradient(this.batch);
    const flatGradLin = flattenTheta(gradsLin);
    out['f_lin_theta1'] = await read(fLin);
    out['grad_lin_theta1'] = await read(flatGradLin);
    tf.dispose([fLin, lossLin, flatGradLin, ...gradsLin]);
    linear.trainer.dispose();
    linear.theta0Flat.dispose();

    this.probeJacobian ??= await jacobianAsync(this.predict, this.theta0, this.probe, this.numLabels);
    const J = this.probeJacobian;
    out['jacobian'] = await read(J);
    const result = await ntkFromJacobiansAsync(this.layout, J, this.numLabels);
    const event = this.spectrum(result);
    out['kernel'] = result.full.values;
    out['eigenvalues'] = Float64Array.from(event.eigenvalues);
    out['traced_eigenvalues'] = Float64Array.from(event.traced);
    out['block_mu_max'] = Float64Array.from(event.blocks.map((block) => block.muMax));
    return out;
  }

  /** Returns the linearization at θ₀ on the batch rows (computed once) and a new trainer of f_lin that starts at `start`. */
  private createLinearSide(start: readonly tf.Tensor[]): LinearSide {
    this.batchLinearization ??= linearize(this.predict, this.theta0, this.batch, this.numLabels);
    const linearization = this.batchLinearization;
    const theta0Flat = flattenTheta(this.theta0);
    const linearPredictFn: PredictFn = (theta, batch) => linearPredict(linearization, theta, theta0Flat, batch.rowIndex);
    // One flat θ, as the runner's linearized trainer keeps it.
    const [startFlat, anchorFlat] = [flattenTheta(start), flattenTheta(this.anchor)];
    const trainer = new Trainer(linearPredictFn, [startFlat], [anchorFlat], trainerOptions(this.spec));
    tf.dispose([startFlat, anchorFlat]);
    return { trainer, linearization, theta0Flat };
  }

  dispose(): void {
    this.loraTrainer?.dispose();
    if (this.linear !== null) {
      this.linear.trainer.dispose();
      this.linear.theta0Flat.dispose();
    }
    if (this.batchLinearization !== null) disposeLinearization(this.batchLinearization);
    this.probeJacobian?.dispose();
    disposeBatch(this.batch);
    disposeBatch(this.probe);
    tf.dispose([...this.theta0, ...this.owned]);
  }
}
