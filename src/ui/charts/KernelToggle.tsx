import type { KernelKind } from './series.ts';

interface KernelToggleProps {
  value: KernelKind;
  onChange: (kernel: KernelKind) => void;
  /** False when the data has no traced spectrum, as in the θ₀ preview. */
  tracedAvailable: boolean;
}

/** Switches a spectrum chart between the full N·C × N·C kernel and the N × N traced kernel. */
export function KernelToggle({ value, onChange, tracedAvailable }: KernelToggleProps) {
  return (
    <div className="chart-control kernel-toggle" role="group" aria-label="Kernel">
      <button type="button" aria-pressed={value === 'full'} onClick={() => onChange('full')}>
        full kernel (N·C × N·C)
      </button>
      <button
        type="button"
        aria-pressed={value === 'traced'}
        disabled={!tracedAvailable}
        title={tracedAvailable ? undefined : 'The preview has the full kernel only.'}
        onClick={() => onChange('traced')}
      >
        traced kernel (N × N)
      </button>
    </div>
  );
}
