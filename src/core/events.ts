/** The typed event stream that a run emits; every event is plain JSON. */
import type { ModuleName } from './model/modules.ts';
import type { ExperimentSpec } from './spec.ts';

export type Split = 'train' | 'eval';

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
}

export interface StepEvent {
  type: 'step';
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
  step: number;
  split: Split;
  /** Mean data loss over the whole split. */
  loss: number;
  /** Fraction of the split classified correctly, in [0, 1]. */
  accuracy: number;
}

export interface DoneEvent {
  type: 'done';
  steps: number;
  train: { loss: number; accuracy: number };
  eval: { loss: number; accuracy: number };
}

export interface ErrorEvent {
  type: 'error';
  message: string;
}

export type LabEvent = ConfigEvent | StepEvent | EvalEvent | DoneEvent | ErrorEvent;
