/**
 * A slider over a log scale, in quarter decades from 10^minExp to 10^maxExp,
 * with an optional first position for exactly 0 and an optional marker (such
 * as η_max). A number box beside it takes any exact value.
 */
import { useId, useState } from 'react';

interface LogSliderProps {
  label: string;
  value: number;
  minExp: number;
  maxExp: number;
  includeZero: boolean;
  onChange: (value: number) => void;
  /** A value to mark on the track, with its label. */
  marker?: { value: number; label: string } | null;
  /** The largest value the number box accepts. */
  max: number;
  help: string;
  testId: string;
}

const STEPS_PER_DECADE = 4;

export function LogSlider({ label, value, minExp, maxExp, includeZero, onChange, marker = null, max, help, testId }: LogSliderProps) {
  const id = useId();
  const offset = includeZero ? 1 : 0;
  const positions = (maxExp - minExp) * STEPS_PER_DECADE + 1 + offset;
  const toPosition = (v: number): number => {
    if (v <= 0) return 0;
    const raw = Math.round((Math.log10(v) - minExp) * STEPS_PER_DECADE) + offset;
    return Math.min(positions - 1, Math.max(offset, raw));
  };
  const fromPosition = (position: number): number => {
    if (includeZero && position === 0) return 0;
    const exponent = minExp + (position - offset) / STEPS_PER_DECADE;
    return Number(Math.pow(10, exponent).toPrecision(3));
  };
  const [draft, setDraft] = useState<string | null>(null);
  const markerPosition = marker !== null && marker.value > 0 ? toPosition(marker.value) : null;

  const commitDraft = (): void => {
    if (draft === null) return;
    const parsed = Number(draft);
    if (draft.trim() !== '' && Number.isFinite(parsed) && parsed >= (includeZero ? 0 : Number.MIN_VALUE) && parsed <= max) onChange(parsed);
    setDraft(null);
  };

  return (
    <div className="control log-slider" data-testid={testId}>
      <label htmlFor={id} title={help}>
        {label}
      </label>
      <div className="log-slider-row">
        <div className="log-slider-track">
          <input
            id={id}
            type="range"
            min={0}
            max={positions - 1}
            step={1}
            value={toPosition(value)}
            aria-valuetext={String(value)}
            onChange={(event) => onChange(fromPosition(Number(event.target.value)))}
          />
          {markerPosition !== null ? (
            <span
              className="log-slider-marker"
              style={{ left: `calc(${(markerPosition / (positions - 1)) * 100}% )` }}
              title={marker?.label}
              data-testid={`${testId}-marker`}
            >
              {marker?.label}
            </span>
          ) : null}
        </div>
        <input
          className="log-slider-number"
          type="text"
          inputMode="decimal"
          aria-label={`${label} value`}
          value={draft ?? String(value)}
          onChange={(event) => setDraft(event.target.value)}
          onBlur={commitDraft}
          onKeyDown={(event) => {
            if (event.key === 'Enter') commitDraft();
            if (event.key === 'Escape') setDraft(null);
          }}
        />
      </div>
    </div>
  );
}
