/**
 * Builds the `theory` event: the closed-form loss and accuracy of the
 * linearized model under squared loss and full-batch GD, on the train and
 * eval splits, from the exact Jacobians at θ₀.
 */
import * as tf from '@tensorflow/tfjs';

import { kernelFromJacobians, type Kernel } from './kernel.ts';
import type { Linearization } from './linearize.ts';
import { createGdTheory } from './theory.ts';
import type { Metrics, TheoryEvent } from '../events.ts';

export interface TheoryEventInput {
  train: Linearization;
  eval: Linearization;
  trainLabels: tf.Tensor1D;
  evalLabels: tf.Tensor1D;
  numLabels: number;
  lambda: number;
  eta: number;
  steps: number[];
}

/** One-hot labels flattened in the kernel's i·C + a order. */
function oneHotFlat(labels: ArrayLike<number>, numLabels: number): Float64Array {
  const out = new Float64Array(labels.length * numLabels);
  for (let i = 0; i < labels.length; i++) out[i * numLabels + (labels[i] as number)] = 1;
  return out;
}

/** The values the theory event is computed from, already read from the tensors. */
export interface TheoryValues {
  trainKernel: Kernel;
  /** The eval × train kernel. */
  crossKernel: Kernel;
  trainLabels: ArrayLike<number>;
  evalLabels: ArrayLike<number>;
  trainF0: ArrayLike<number>;
  evalF0: ArrayLike<number>;
}

/** Returns the theory event from values read by theoryEvent or theoryEventAsync (read-async.ts). */
export function theoryEventFromValues(input: TheoryEventInput, values: TheoryValues): TheoryEvent {
  const { numLabels } = input;
  const { trainKernel, crossKernel } = values;

  const theory = createGdTheory({
    kernel: trainKernel.values,
    n: trainKernel.rows,
    c: numLabels,
    f0: Float64Array.from(values.trainF0),
    y: oneHotFlat(values.trainLabels, numLabels),
    lambda: input.lambda,
    eta: input.eta,
    cross: {
      kernel: crossKernel.values,
      m: crossKernel.rows,
      f0: Float64Array.from(values.evalF0),
      y: oneHotFlat(values.evalLabels, numLabels),
    },
  });

  const metricsAt = (t: number): { train: Metrics; eval: Metrics } => {
    const loss = theory.loss(t);
    const accuracy = theory.accuracy(t);
    return {
      train: { loss: loss.train, accuracy: accuracy.train },
      eval: { loss: loss.cross as number, accuracy: accuracy.cross as number },
    };
  };
  const points = input.steps.map(metricsAt);
  return {
    type: 'theory',
    steps: input.steps,
    train: points.map((point) => point.train),
    eval: points.map((point) => point.eval),
    limit: metricsAt(Infinity),
  };
}

export function theoryEvent(input: TheoryEventInput): TheoryEvent {
  const { numLabels } = input;
  return theoryEventFromValues(input, {
    trainKernel: kernelFromJacobians(input.train.J, numLabels),
    crossKernel: kernelFromJacobians(input.eval.J, numLabels, input.train.J),
    trainLabels: input.trainLabels.dataSync(),
    evalLabels: input.evalLabels.dataSync(),
    trainF0: input.train.f0.dataSync(),
    evalF0: input.eval.f0.dataSync(),
  });
}
