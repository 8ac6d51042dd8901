/** The Node side of the bench: agreement, timings and a kernel profile per tfjs backend. */
import * as tf from '@tensorflow/tfjs';

import { compareWithPeer, type AgreementResult } from './bench-agreement.ts';
import type { PeerProcess } from './bench-peer.ts';
import { backendPlan, timePlan, type PlanOptions, type Workload } from './bench-plan.ts';
import { profileKernels, type KernelProfile } from './bench-profile.ts';
import type { TimingSeries } from './bench-timing.ts';
import { setNodeBackend, type NodeBackend } from './backend.ts';
import { loadCheckpoint } from './checkpoint-files.ts';
import { BenchSubject, type AgreementOutputs, type BenchInputs, type ThetaValues } from '../../bench/subject.ts';
import type { NtkResult } from '../core/ntk/kernel.ts';
import { disposeParams } from '../core/model/params.ts';

export interface NodeBackendResult {
  backend: string;
  agreement: AgreementResult;
  timings: TimingSeries[];
  profiles: KernelProfile[];
  /** tf.memory().numTensors after the subject was disposed, against before it was built. */
  tensors: { before: number; after: number };
}

export interface NodeBenchContext {
  checkpointDir: string;
  inputs: BenchInputs;
  theta1: ThetaValues[];
  peer: PeerProcess;
  peerOutputs: AgreementOutputs;
  plan: PlanOptions;
  log: (line: string) => void;
}

/** Flattens θ values in layout order into one float64 vector. */
export function flatTheta(values: readonly ThetaValues[]): Float64Array {
  return Float64Array.from(values.flatMap((entry) => entry.values));
}

/**
 * Returns a runner that times one call of a workload, up to its last read.
 * The NTK that `eigen` and `spectrum` decompose is computed once, outside
 * the timing.
 */
export function workloadRunner(subject: BenchSubject): (workload: Workload) => Promise<number> {
  let kernel: NtkResult | null = null;
  return async (workload) => {
    if (workload === 'eigen' || workload === 'spectrum') kernel ??= await subject.ntk();
    const started = performance.now();
    switch (workload) {
      case 'step':
        await subject.loraStep();
        break;
      case 'linearStep':
        await subject.linearStep();
        break;
      case 'ntk':
        await subject.ntk();
        break;
      case 'eigen':
        subject.eigen(kernel as NtkResult);
        break;
      case 'spectrum':
        subject.spectrum(kernel as NtkResult);
        break;
    }
    return performance.now() - started;
  };
}

/** Times every workload, checks agreement with the peer and profiles one step and one NTK on a Node backend. */
export async function benchNodeBackend(backend: NodeBackend, context: NodeBenchContext): Promise<NodeBackendResult> {
  const { inputs, log } = context;
  await setNodeBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const checkpoint = loadCheckpoint(context.checkpointDir);
  const subject = BenchSubject.create(checkpoint, inputs);

  let result: Omit<NodeBackendResult, 'tensors'>;
  try {
    const plan = backendPlan('node', backend, context.plan, backend === 'wasm');
    const timings = await timePlan(plan, workloadRunner(subject), context.peer, log);

    // After the timings, so that the check reuses the Jacobians the linearized step and the NTK computed.
    log(`node ${backend}: agreement with PyTorch`);
    const theta1 = context.theta1.map((entry) => tf.tensor(entry.values, entry.shape));
    const ours = await subject.agreementOutputs(theta1);
    tf.dispose(theta1);
    const agreement = compareWithPeer(`node ${backend}`, ours, context.peerOutputs, {
      theta0: flatTheta(inputs.theta0),
      optimizer: inputs.spec.optimizer,
      lr: inputs.spec.lr,
    });

    const profiles: KernelProfile[] = [];
    if (backend === 'wasm') {
      profiles.push(await profileKernels('step', () => subject.loraStep()));
      profiles.push(await profileKernels('ntk', () => subject.ntk()));
    }
    result = { backend, agreement, timings, profiles };
  } finally {
    subject.dispose();
    disposeParams(checkpoint.params);
  }
  return { ...result, tensors: { before: tensorsBefore, after: tf.memory().numTensors } };
}
