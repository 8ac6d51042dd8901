/**
 * The bench page: runs the same workloads as the Node bench (bench/subject.ts)
 * on one tfjs backend in the page, for src/cli/bench-browser.ts to drive
 * through Playwright. It exposes `window.ntkBench`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

import { decodeCheckpoint, type Checkpoint } from '../../src/core/checkpoint/checkpoint.ts';
import { disposeParams } from '../../src/core/model/params.ts';
import type { NtkResult } from '../../src/core/ntk/kernel.ts';
import { BenchSubject, type BenchInputs, type ThetaValues } from '../subject.ts';

export type BrowserWorkload = 'step' | 'linearStep' | 'ntk' | 'eigen' | 'spectrum';

export interface BrowserBackendInfo {
  backend: string;
  /** The WebGPU adapter, such as "swiftshader (fallback)", when the backend is webgpu. */
  adapter?: string;
  /** Whether the wasm backend runs with SIMD and threads. */
  wasmSimd?: boolean;
  wasmThreads?: boolean;
}

export interface NtkBenchPage {
  /** Loads the checkpoint and builds the workloads on a backend. */
  setup(backend: string, inputs: BenchInputs): Promise<BrowserBackendInfo>;
  /** Runs one workload once and returns its milliseconds, readback included. */
  run(workload: BrowserWorkload): Promise<number>;
  /** Computes the agreement outputs at θ₀ and θ₁, as plain arrays. */
  agreement(theta1: ThetaValues[]): Promise<Record<string, number[]>>;
  /** Returns tf.memory(): tensor count and bytes, and on GPU backends the bytes in the backend's buffer pool. */
  memory(): Record<string, number | boolean | string[] | undefined>;
  /** Disposes the workloads and the checkpoint and returns tf.memory().numTensors. */
  dispose(): number;
}

declare global {
  interface Window {
    ntkBench: NtkBenchPage;
  }
}

const MODEL_URL = '/models/brown-gpt/';

async function fetchCheckpoint(): Promise<Checkpoint> {
  const fetchOk = async (file: string): Promise<Response> => {
    const response = await fetch(`${MODEL_URL}${file}`);
    if (!response.ok) throw new Error(`GET ${MODEL_URL}${file} failed with HTTP ${response.status}`);
    return response;
  };
  const [config, tokenizer, weights] = await Promise.all([
    fetchOk('config.json').then((response) => response.text()),
    fetchOk('tokenizer.json').then((response) => response.text()),
    fetchOk('model.safetensors').then((response) => response.arrayBuffer()),
  ]);
  return decodeCheckpoint({ config, tokenizer, weights: new Uint8Array(weights) });
}

async function describeWebgpuAdapter(): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu === undefined) return 'no navigator.gpu';
  const adapter = (await gpu.requestAdapter()) as { info?: { architecture?: string; vendor?: string; isFallbackAdapter?: boolean } } | null;
  if (adapter === null) return 'requestAdapter() returned null';
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture].filter((part) => part !== undefined && part !== '').join(' ');
  return `${name === '' ? 'unnamed adapter' : name}${info.isFallbackAdapter === true ? ' (fallback)' : ''}`;
}

function createPage(): NtkBenchPage {
  let subject: BenchSubject | null = null;
  let checkpoint: Checkpoint | null = null;
  let kernel: NtkResult | null = null;

  const current = (): BenchSubject => {
    if (subject === null) throw new Error('ntkBench: call setup(backend, inputs) first');
    return subject;
  };

  return {
    async setup(backend, inputs) {
      setWasmPaths({
        'tfjs-backend-wasm.wasm': wasmUrl,
        'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
        'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
      });
      // The app turns threads off too: they need cross-origin isolation, which the dev server does not set.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
      await tf.ready();
      checkpoint = await fetchCheckpoint();
      subject = BenchSubject.create(checkpoint, inputs);

      const info: BrowserBackendInfo = { backend: tf.getBackend() };
      if (backend === 'webgpu') info.adapter = await describeWebgpuAdapter();
      if (backend === 'wasm') {
        info.wasmSimd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') as boolean;
        info.wasmThreads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') as boolean;
      }
      return info;
    },

    async run(workload) {
      const work = current();
      if (workload === 'eigen' || workload === 'spectrum') kernel ??= await work.ntk();
      const started = performance.now();
      switch (workload) {
        case 'step':
          await work.loraStep();
          break;
        case 'linearStep':
          await work.linearStep();
          break;
        case 'ntk':
          await work.ntk();
          break;
        case 'eigen':
          work.eigen(kernel as NtkResult);
          break;
        case 'spectrum':
          work.spectrum(kernel as NtkResult);
          break;
      }
      return performance.now() - started;
    },

    async agreement(theta1) {
      const tensors = theta1.map((entry) => tf.tensor(entry.values, entry.shape));
      const outputs = await current().agreementOutputs(tensors);
      tf.dispose(tensors);
      const plain: Record<string, number[]> = {};
      for (const [name, values] of Object.entries(outputs)) plain[name] = Array.from(values);
      return plain;
    },

    memory() {
      return { ...tf.memory() };
    },

    dispose() {
      subject?.dispose();
      subject = null;
      kernel = null;
      if (checkpoint !== null) disposeParams(checkpoint.params);
      checkpoint = null;
      return tf.memory().numTensors;
    },
  };
}

window.ntkBench = createPage();
