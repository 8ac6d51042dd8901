/// <reference types="@webgpu/types" />
/**
 * Starts a tfjs backend inside the lab worker: WebGPU, then WebGL (on an
 * OffscreenCanvas, since a worker has no document), then WASM, then the
 * plain-JS CPU backend. The order and the skip reasons are in
 * backend-order.ts. This file has the browser side: backend registration,
 * each attempt, the WebGPU adapter report and its device-loss watch.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

import { firstLine, isSoftwareRenderer, selectBackend, softwareSkipReason, type BackendAttempt, type BackendOptions } from './backend-order.ts';
import type { BackendName, BackendReport } from './protocol.ts';

/**
 * Registers the WASM binaries' URLs and turns off threaded WASM. Threaded
 * WASM needs cross-origin isolation, and in a minified Vite build its threads
 * fail with "e is not defined" and setBackend('wasm') hangs (tfjs 4.22,
 * Chromium 156). On 2 cores SIMD alone was as fast.
 */
function configureWasm(): void {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
  });
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

/** Picks the first backend that starts, in the worker, and returns the report. */
export async function selectBrowserBackend(options: BackendOptions): Promise<BackendReport> {
  configureWasm();
  const allowSoftware = options.allowSoftware ?? false;
  return selectBackend(options, (backend) => attemptBackend(backend, allowSoftware));
}

async function attemptBackend(backend: BackendName, allowSoftware: boolean): Promise<BackendAttempt> {
  let adapter: string | undefined;
  if (backend === 'webgpu') {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (gpu === undefined) return { ok: false, reason: 'no navigator.gpu: this browser or context has no WebGPU' };
    const gpuAdapter = await gpu.requestAdapter();
    if (gpuAdapter === null) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned null' };
    adapter = await describeAdapter(gpuAdapter);
  }
  if (backend === 'webgl') {
    if (typeof OffscreenCanvas === 'undefined') return { ok: false, reason: 'no OffscreenCanvas in this worker, so WebGL has no canvas' };
    adapter = probeWebGlRenderer();
  }
  const skip = adapter === undefined ? null : softwareSkipReason(backend, adapter, allowSoftware);
  if (skip !== null) return { ok: false, reason: skip };

  if (!(await tf.setBackend(backend))) return { ok: false, reason: `tf.setBackend('${backend}') returned false` };
  await tf.ready();

  const problem = await checkArithmetic();
  if (problem !== null) return { ok: false, reason: problem };
  if (backend === 'webgpu') guardSynchronousReads();
  return adapter === undefined ? { ok: true } : { ok: true, adapter, software: isSoftwareRenderer(adapter) };
}

/**
 * Returns the renderer of a throwaway WebGL2 context, such as "ANGLE (Google,
 * Vulkan 1.3.0 (SwiftShader Device ...))", before tfjs creates its own;
 * undefined when no context starts or the browser hides the renderer.
 */
function probeWebGlRenderer(): string | undefined {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (gl === null) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer: unknown = gl.getParameter(info === null ? gl.RENDERER : info.UNMASKED_RENDERER_WEBGL);
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return typeof renderer === 'string' && renderer !== '' ? renderer : undefined;
}

/**
 * Makes dataSync on the WebGPU backend throw unless the values are already
 * on the CPU. tfjs-backend-webgpu 4.22 reads synchronously through an
 * OffscreenCanvas, and in a Chromium 156 worker (SwiftShader) that read
 * returns zeros and destroys the device. The lab reads with
 * `await tensor.data()`, so this only turns a missed synchronous read into a
 * clear error in place of wrong numbers.
 */
function guardSynchronousReads(): void {
  const backend = tf.backend();
  if (!(backend instanceof WebGPUBackend)) return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const data = backend.tensorMap.get(dataId);
    if (data === undefined || data.values != null || data.dtype === 'string') return readSync(dataId);
    throw new Error(
      'dataSync() on the WebGPU backend in a worker returns zeros and destroys the device; read with await tensor.data()',
    );
  };
}

/** Runs one small computation on the active backend; returns what went wrong, or null. */
async function checkArithmetic(): Promise<string | null> {
  try {
    const sum = tf.tidy(() => tf.sum(tf.square(tf.tensor1d([1, 2, 3]))));
    const [value] = await sum.data();
    sum.dispose();
    return value === 14 ? null : `a test computation returned ${value} instead of 14`;
  } catch (error) {
    return `a test computation threw ${firstLine(error)}`;
  }
}

/** Describes an adapter as "vendor architecture description", marking a fallback (software) adapter. */
async function describeAdapter(adapter: GPUAdapter): Promise<string> {
  // Chromium 156 has adapter.info (with isFallbackAdapter); older versions had requestAdapterInfo().
  const withInfo = adapter as GPUAdapter & { info?: GPUAdapterInfo & { isFallbackAdapter?: boolean } };
  const info = withInfo.info ?? (await adapter.requestAdapterInfo());
  const fallback = withInfo.info?.isFallbackAdapter ?? adapter.isFallbackAdapter;
  const parts = [info.vendor, info.architecture, info.description].filter((part) => part !== '');
  const name = parts.length === 0 ? 'unnamed adapter' : parts.join(' ');
  return fallback === true ? `${name} (fallback adapter)` : name;
}

/** Returns the WebGPU device of the active backend, or null on any other backend. */
function activeGpuDevice(): GPUDevice | null {
  const backend = tf.backend();
  return backend instanceof WebGPUBackend ? (backend.device as GPUDevice) : null;
}

/** Calls `onLost` with the browser's message once the WebGPU device is lost; does nothing on other backends. */
export function watchDeviceLoss(onLost: (message: string) => void): void {
  const device = activeGpuDevice();
  if (device === null) return;
  void device.lost.then((info) => {
    onLost(info.message === '' ? `device lost (reason: ${info.reason ?? 'unknown'})` : `${info.message} (reason: ${info.reason ?? 'unknown'})`);
  });
}

/** Destroys the WebGPU device, so that the real device-lost path runs. Throws on other backends. */
export function destroyGpuDevice(): void {
  const device = activeGpuDevice();
  if (device === null) {
    throw new Error(`simulateDeviceLoss needs the webgpu backend, but this worker runs ${tf.getBackend()}`);
  }
  device.destroy();
}
