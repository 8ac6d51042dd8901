/** The typed event stream that a run emits; every event is plain JSON. */
import type { ModuleName } from './model/modules.ts';
import type { SpectrumStats } from './ntk/spectrum.ts';
import type { ExperimentSpec } from './spec.ts';

export type Split = 'train' | 'eval';

/** The real (nonlinear) model, or its linearization at θ₀. */
export type ModelKind = 'real' | 'linear';

export interface ConfigEvent {
  type: 'config';
  spec: ExperimentSpec;
  backend: string;
  task: {
    name: string;
    labels: string[];
    labelTokens: string[];
    promptSuffix: string;
    trainSize: number;
    evalSize: number;
    /** The share of the most frequent class in the eval split. */
    majorityRate: number;
    /** Tokens per padded example. */
    length: number;
  };
  parameters: {
    /** Every weight of the pretrained model. */
    model: number;
    /** The size of θ. */
    trainable: number;
    blocks: { layer: number; module: ModuleName; size: number }[];
  };
  /** Examples per step: the train set for full-batch GD, else min(batchSize, trainSize). */
  batchSize: number;
  loraScale: number;
  /** Examples in the NTK probe set: the first probeSize training examples. */
  probeSize: number;
}

export interface StepEvent {
  type: 'step';
  model: ModelKind;
  step: number;
  /** Mean data loss on the step's batch, before the update. */
  loss: number;
  /** Batch data loss plus (λ/2)‖θ − θ₀‖², before the update. */
  objective: number;
  /** ‖θ − θ₀‖ after the update, with θ₀ the anchor. */
  distance: number;
  /** Whether the regularizer's pull applied (always true unless selective). */
  regularizerActive: boolean;
}

export interface EvalEvent {
  type: 'eval';
  model: ModelKind;
  step: number;
  split: Split;
  /** Mean data loss over the whole split. */
  loss: number;
  /** Fraction of the split classified correctly, in [0, 1]. */
  accuracy: number;
}

export interface Metrics {
  loss: number;
  accuracy: number;
}

export interface DoneEvent {
  type: 'done';
  steps: number;
  train: Metrics;
  eval: Metrics;
  /** The linearized model's final metrics, when it was trained. */
  linear?: { train: Metrics; eval: Metrics };
}

/** How far f − f_lin has drifted on one set of points. */
export interface DivergenceOnSet {
  /** RMS over points and logits of f(x; θ_t) − f_lin(x; θ_t^lin). */
  rms: number;
  /** rms divided by the RMS of f(x; θ_t) − f(x; θ₀); null while the latter is 0. */
  relativeRms: number | null;
  /** Share of points where both models predict the same class, in [0, 1]. */
  agreement: number;
}

export interface DivergenceEvent {
  type: 'divergence';
  step: number;
  probe: DivergenceOnSet;
  eval: DivergenceOnSet;
  /** ‖θ_t − θ_t^lin‖ */
  thetaGap: number;
  /** ‖θ_t − θ₀‖ of the real model, with θ₀ the anchor. */
  distance: number;
  /** ‖θ_t^lin − θ₀‖ */
  distanceLinear: number;
  /** √(2 R_data(θ₀)/λ), the bound on ‖θ_t − θ₀‖ under monotone descent; null for λ = 0. */
  distanceBound: number | null;
}

/** The statistics of one spectrum: trace, μ_max, μ_min, κ, κ_λ, effective rank and η_max. */
export type SpectrumSummary = SpectrumStats;

export interface NtkEvent {
  type: 'ntk';
  step: number;
  /** Probe examples N; the full kernel is N·C square, the traced kernel N square. */
  n: number;
  c: number;
  lambda: number;
  /** Eigenvalues of the full kernel, descending, clipped at 0. */
  eigenvalues: number[];
  /** Eigenvalues of the traced kernel (the mean over logits), descending. */
  traced: number[];
  stats: SpectrumSummary;
  tracedStats: SpectrumSummary;
  /** Each adapted block's kernel: its eigenvalues (descending), μ_max and trace. */
  blocks: { layer: number; module: ModuleName; eigenvalues: number[]; muMax: number; trace: number }[];
  /** ‖K_t − K₀‖_F / ‖K₀‖_F on the probe set; null while K₀ is zero. */
  drift: number | null;
}

/**
 * The closed-form prediction for the linearized model under squared loss and
 * full-batch GD (see ntk/theory.ts), at each evaluation step and at t = ∞.
 */
export interface TheoryEvent {
  type: 'theory';
  steps: number[];
  train: Metrics[];
  eval: Metrics[];
  limit: { train: Metrics; eval: Metrics };
}

export interface ErrorEvent {
  type: 'error';
  message: string;
}

/** One layer subset of a sweep: its kernel at θ₀ and the outcome of fine-tuning it. */
export interface SweepEvent {
  type: 'sweep';
  index: number;
  total: number;
  adapters: string;
  /** Statistics of K_S = Σ_{b∈S} K_b on the probe set at θ₀. */
  stats: SpectrumSummary;
  /** Weyl bounds from the block spectra: μ₁(K_S) ≤ upper, μ_n(K_S) ≥ lower. */
  weyl: { upper: number; lower: number };
  trainable: number;
  final: { train: Metrics; eval: Metrics };
}

export interface Correlation {
  pearson: number | null;
  spearman: number | null;
}

/** Correlations across the sweep between log₁₀ κ_λ and each outcome (Pearson on the log, Spearman on ranks). */
export interface SweepSummaryEvent {
  type: 'sweepSummary';
  subsets: number;
  kappaLambdaVsTrainLoss: Correlation;
  kappaLambdaVsEvalAccuracy: Correlation;
}

/**
 * The NTK at θ₀ of every (layer, module) block of the model on the probe set,
 * and the spectrum of the chosen subset K_S = Σ_{b∈S} K_b. It is computed
 * before training, so the model panel can show each block's contribution.
 */
export interface PreviewEvent {
  type: 'preview';
  /** The adapter grid of the chosen subset S. */
  adapters: string;
  n: number;
  c: number;
  lambda: number;
  /** Every block of the model (all layers × all modules), in layer-then-module order. */
  blocks: { layer: number; module: ModuleName; muMax: number; trace: number; eigenvalues: number[] }[];
  /** Eigenvalues of K_S, descending, clipped at 0; empty when S is empty. */
  eigenvalues: number[];
  /** Statistics of K_S; null when S is empty. */
  stats: SpectrumSummary | null;
  /** Weyl bounds on K_S from its blocks' spectra: μ₁(K_S) ≤ upper and μ_n(K_S) ≥ lower. */
  weyl: { upper: number; lower: number };
}

/** ‖J(θ₀ + r·v) − J(θ₀)‖_F / ‖J(θ₀)‖_F over random unit directions v, at several radii r. */
export interface JacobianChangeEvent {
  type: 'jacobianChange';
  /** The run's step when it was measured (0 before training). */
  step: number;
  points: { radius: number; mean: number; max: number }[];
  /** ‖θ_t − θ₀‖ of the real model at that step, for reference against the radii. */
  distance: number;
}

export type LabEvent =
  | PreviewEvent
  | JacobianChangeEvent

  | ConfigEvent
  | StepEvent
  | EvalEvent
  | DivergenceEvent
  | NtkEvent
  | TheoryEvent
  | SweepEvent
  | SweepSummaryEvent
  | DoneEvent
  | ErrorEvent;
