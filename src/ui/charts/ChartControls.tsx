/** Small controls that sit above a chart: the kernel switch of the spectrum charts and the log-scale checkbox. */
import type { CSSProperties } from 'react';

import type { KernelKind } from './series.ts';

const CONTROL_ROW: CSSProperties = { display: 'flex', gap: 0, margin: '2px 0 6px', fontSize: '0.8em' };

function segmentStyle(pressed: boolean, first: boolean): CSSProperties {
  return {
    padding: '2px 8px',
    border: '1px solid var(--border, #e5e7eb)',
    borderRadius: first ? '6px 0 0 6px' : '0 6px 6px 0',
    marginLeft: first ? 0 : -1,
    background: pressed ? 'var(--accent, #2563eb)' : 'var(--panel, #ffffff)',
    color: pressed ? '#ffffff' : 'inherit',
    cursor: 'pointer',
  };
}

interface KernelToggleProps {
  value: KernelKind;
  onChange: (kernel: KernelKind) => void;
  /** False when the data has no traced spectrum, as in the θ₀ preview. */
  tracedAvailable: boolean;
}

/** Switches a spectrum chart between the full N·C × N·C kernel and the N × N traced kernel. */
export function KernelToggle({ value, onChange, tracedAvailable }: KernelToggleProps) {
  return (
    <div className="chart-control kernel-toggle" role="group" aria-label="Kernel" style={CONTROL_ROW}>
      <button type="button" aria-pressed={value === 'full'} style={segmentStyle(value === 'full', true)} onClick={() => onChange('full')}>
        full kernel (N·C × N·C)
      </button>
      <button
        type="button"
        aria-pressed={value === 'traced'}
        disabled={!tracedAvailable}
        title={tracedAvailable ? undefined : 'The preview has the full kernel only.'}
        style={segmentStyle(value === 'traced', false)}
        onClick={() => onChange('traced')}
      >
        traced kernel (N × N)
      </button>
    </div>
  );
}

interface LogScaleToggleProps {
  checked: boolean;
  onChange: (checked: boolean) => void;
}

/** Switches a chart's y axis between linear and log. */
export function LogScaleToggle({ checked, onChange }: LogScaleToggleProps) {
  return (
    <label className="chart-control log-scale-toggle" style={{ ...CONTROL_ROW, display: 'inline-flex', alignItems: 'center', gap: 4 }}>
      <input type="checkbox" checked={checked} onChange={(event) => onChange(event.target.checked)} /> log y
    </label>
  );
}
