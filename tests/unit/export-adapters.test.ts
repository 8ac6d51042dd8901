import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';

import { decodeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { DEFAULT_GPT_CONFIG } from '../../src/core/model/config.ts';
import { createThetaLayout } from '../../src/core/model/lora.ts';
import { adapterOptionsFromSpec } from '../../src/core/runner.ts';
import { DEFAULT_SPEC } from '../../src/core/spec.ts';
import { decodeAdapterFile, encodeAdapterFile } from '../../src/ui/export/adapter-file.ts';
import { selectBackend } from '../../src/worker/backend-order.ts';
import { LabHost } from '../../src/worker/lab-host.ts';
import type { WorkerMessage } from '../../src/worker/protocol.ts';
import { createServedFiles, INIT_OPTIONS } from './host-fixtures.ts';
import { NTK_TEST_CONFIG, tinySpec } from './ntk-fixtures.ts';

const SPEC = { ...DEFAULT_SPEC, adapters: 'qv.-.f.-', r: 2 };

function layoutOf(mode: 'lora' | 'full') {
  return createThetaLayout(DEFAULT_GPT_CONFIG, adapterOptionsFromSpec({ ...SPEC, mode }));
}

describe('adapter file', () => {
  test('LoRA tensors get PEFT names and shapes', () => {
    const layout = layoutOf('lora');
    const values = layout.entries.map((entry, i) => Float32Array.from({ length: entry.size }, (_, k) => i + k / 1000));

    const { tensors, metadata, spec, step } = decodeAdapterFile(encodeAdapterFile(layout, values, { spec: SPEC, step: 7, backend: 'cpu' }));

    expect(Object.keys(tensors).sort()).toEqual(
      [
        'base_model.model.h.0.attn.q.lora_A.weight',
        'base_model.model.h.0.attn.q.lora_B.weight',
        'base_model.model.h.0.attn.v.lora_A.weight',
        'base_model.model.h.0.attn.v.lora_B.weight',
        'base_model.model.h.2.mlp.c_fc.lora_A.weight',
        'base_model.model.h.2.mlp.c_fc.lora_B.weight',
      ].sort(),
    );
    const d = DEFAULT_GPT_CONFIG.nEmbd;
    expect(tensors['base_model.model.h.0.attn.q.lora_A.weight']?.shape).toEqual([2, d]);
    expect(tensors['base_model.model.h.2.mlp.c_fc.lora_B.weight']?.shape).toEqual([4 * d, 2]);
    layout.entries.forEach((entry, i) => {
      expect(tensors[`base_model.model.${entry.name}`]?.data).toEqual(values[i]);
    });
    expect(spec).toEqual(SPEC);
    expect(step).toBe(7);
    expect(metadata).toMatchObject({ format: 'pt', backend: 'cpu', mode: 'lora', lora_scale: String(SPEC.loraAlpha / SPEC.r) });
  });

  test('full mode writes weights and biases', () => {
    const layout = layoutOf('full');
    const values = layout.entries.map((entry) => new Float32Array(entry.size));

    const { tensors } = decodeSafetensors(encodeAdapterFile(layout, values, { spec: { ...SPEC, mode: 'full' }, step: 0, backend: 'cpu' }));

    expect(tensors['base_model.model.h.0.attn.q.weight']?.shape).toEqual([DEFAULT_GPT_CONFIG.nEmbd, DEFAULT_GPT_CONFIG.nEmbd]);
    expect(tensors['base_model.model.h.0.attn.q.bias']?.shape).toEqual([DEFAULT_GPT_CONFIG.nEmbd]);
  });

  test('value count must match the layout', () => {
    const layout = layoutOf('lora');

    expect(() => encodeAdapterFile(layout, [], { spec: SPEC, step: 0, backend: 'cpu' })).toThrow('the layout has 6 tensors but 0 were given');
  });
});

/** Starts a LabHost on the cpu backend that serves the tiny test checkpoint as "/models/tiny/". */
async function tinyHost(messages: WorkerMessage[]): Promise<LabHost> {
  await tf.setBackend('cpu');
  const files = await createServedFiles();
  const host = new LabHost({
    selectBackend: (options) =>
      selectBackend(options, async (backend) => {
        if (backend !== 'cpu') return { ok: false, reason: 'not available in Node' };
        await tf.setBackend('cpu');
        return { ok: true };
      }),
    fetch: async (url) => {
      const file = files.get(url);
      return file === undefined ? new Response('missing', { status: 404 }) : new Response(file.body, { status: 200 });
    },
    watchDeviceLoss: () => undefined,
    destroyGpuDevice: () => undefined,
    batchIntervalMs: 5,
  });
  await host.init(INIT_OPTIONS, (batch) => messages.push(...batch));
  return host;
}

async function waitForState(messages: WorkerMessage[], state: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!messages.some((message) => message.kind === 'state' && message.state === state)) {
    if (Date.now() > deadline) throw new Error(`the run did not reach ${state} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('LabHost.exportAdapters', () => {
  test('writes the trained theta', async () => {
    const messages: WorkerMessage[] = [];
    const host = await tinyHost(messages);
    const spec = tinySpec({ model: 'tiny', steps: 2, linearized: false });
    try {
      await expect(host.exportAdapters()).rejects.toThrow('no run to export (the run is idle); start a run, then export its adapters');

      await host.start(spec);
      await waitForState(messages, 'done');
      const { tensors, spec: written, step } = decodeAdapterFile(await host.exportAdapters());

      const layout = createThetaLayout(NTK_TEST_CONFIG, adapterOptionsFromSpec(spec));
      expect(Object.keys(tensors).sort()).toEqual(layout.entries.map((entry) => `base_model.model.${entry.name}`).sort());
      for (const entry of layout.entries) {
        const tensor = tensors[`base_model.model.${entry.name}`];
        expect(tensor?.shape).toEqual(entry.shape);
        expect([...(tensor?.data ?? [])].every(Number.isFinite)).toBe(true);
      }
      expect(step).toBe(2);
      expect(written).toEqual(spec);
      // Two Adam steps move B away from its zero init.
      expect([...(tensors['base_model.model.h.0.attn.q.lora_B.weight']?.data ?? [])].some((value) => value !== 0)).toBe(true);
    } finally {
      await host.dispose();
    }
  });
});
