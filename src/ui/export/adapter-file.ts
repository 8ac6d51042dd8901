/**
 * The trained adapters as a safetensors file. Tensor names follow PEFT's
 * adapter files: the prefix "base_model.model." before the θ layout's names,
 * such as "base_model.model.h.0.attn.q.lora_A.weight" with shape [r, in] and
 * lora_B with shape [out, r]. Full mode writes each module's weight [in, out]
 * (GPT-2's Conv1D layout) and bias [out]. The worker encodes the file; the
 * module uses no DOM API, so it runs in a worker and in Node.
 */
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../../core/checkpoint/safetensors.ts';
import type { ThetaLayout } from '../../core/model/lora.ts';
import type { ExperimentSpec } from '../../core/spec.ts';

export const ADAPTER_NAME_PREFIX = 'base_model.model.';

/** The metadata format tag of an adapter file; "pt" is the value PEFT writes. */
export const ADAPTER_METADATA_FORMAT = 'pt';

export interface AdapterFileInfo {
  spec: ExperimentSpec;
  /** Optimizer steps taken when θ was read. */
  step: number;
  backend: string;
}

export function adapterTensorName(layoutName: string): string {
  return `${ADAPTER_NAME_PREFIX}${layoutName}`;
}

/**
 * Encodes θ's tensors, in layout order, into safetensors bytes. The metadata
 * holds the spec as JSON, the step, the backend, the mode and the LoRA scale.
 */
export function encodeAdapterFile(layout: ThetaLayout, values: readonly Float32Array[], info: AdapterFileInfo): Uint8Array {
  if (values.length !== layout.entries.length) {
    throw new Error(`the layout has ${layout.entries.length} tensors but ${values.length} were given`);
  }
  const tensors: Record<string, SafetensorsTensor> = {};
  layout.entries.forEach((entry, i) => {
    tensors[adapterTensorName(entry.name)] = { dtype: 'F32', shape: [...entry.shape], data: values[i] as Float32Array };
  });

  const metadata: Record<string, string> = {
    format: ADAPTER_METADATA_FORMAT,
    ntk_lab_spec: JSON.stringify(info.spec),
    step: String(info.step),
    backend: info.backend,
    mode: layout.mode,
    lora_scale: String(layout.scale),
  };
  return encodeSafetensors(tensors, metadata);
}

/** Decodes an adapter file and reads its spec and step back from the metadata. */
export function decodeAdapterFile(bytes: Uint8Array): {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
  spec: unknown;
  step: number;
} {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const specText = metadata.ntk_lab_spec;
  if (specText === undefined) throw new Error('the adapter file has no ntk_lab_spec metadata');
  return { tensors, metadata, spec: JSON.parse(specText) as unknown, step: Number(metadata.step) };
}
