/**
 * Builds the `theory` event: the closed-form loss and accuracy of the
 * linearized model under squared loss and full-batch GD, on the train and
 * eval splits, from the exact Jacobians at θ₀.
 */
import * as tf from '@tensorflow/tfjs';

import { kernelFromJacobians } from './kernel.ts';
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
function oneHotFlat(labels: tf.Tensor1D, numLabels: number): Float64Array {
  const values = labels.dataSync();
  const out = new Float64Array(values.length * numLabels);
  values.forEach((label, i) => {
    out[i * numLabels + label] = 1;
  });
  return out;
}

export function theoryEvent(input: TheoryEventInput): TheoryEvent {
  const { numLabels } = input;
  const trainKernel = kernelFromJacobians(input.train.J, numLabels);
  const crossKernel = kernelFromJacobians(input.eval.J, numLabels, input.train.J);
  const yTrain = oneHotFlat(input.trainLabels, numLabels);
  const yEval = oneHotFlat(input.evalLabels, numLabels);

  const theory = createGdTheory({
    kernel: trainKernel.values,
    n: trainKernel.rows,
    c: numLabels,
    f0: Float64Array.from(input.train.f0.dataSync()),
    y: yTrain,
    lambda: input.lambda,
    eta: input.eta,
    cross: {
      kernel: crossKernel.values,
      m: crossKernel.rows,
      f0: Float64Array.from(input.eval.f0.dataSync()),
      y: yEval,
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
