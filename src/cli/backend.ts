/** Picks the tfjs backend for Node: wasm (the fastest without tfjs-node) or cpu. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type NodeBackend = 'wasm' | 'cpu';

export async function setNodeBackend(name: NodeBackend = 'wasm'): Promise<string> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`the tfjs backend "${name}" failed to initialize`);
  await tf.ready();
  return tf.getBackend();
}
