import { describe, expect, test } from 'vitest';

import { decodeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { parseAdapterGrid } from '../../src/core/model/adapters.ts';
import { DEFAULT_GPT_CONFIG } from '../../src/core/model/config.ts';
import { createThetaLayout } from '../../src/core/model/lora.ts';
import { DEFAULT_SPEC } from '../../src/core/spec.ts';
import { decodeAdapterFile, encodeAdapterFile } from '../../src/ui/export/adapter-file.ts';

const SPEC = { ...DEFAULT_SPEC, adapters: 'qv.-.f.-', r: 2 };

function layoutOf(mode: 'lora' | 'full') {
  return createThetaLayout(DEFAULT_GPT_CONFIG, {
    grid: parseAdapterGrid(SPEC.adapters),
    mode,
    r: SPEC.r,
    loraAlpha: SPEC.loraAlpha,
    rslora: SPEC.rslora,
    init: SPEC.init,
  });
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
