/** One experiment setting as a form control, driven by its SPEC_FIELDS entry. */
import { useId, useState } from 'react';

import { SPEC_FIELDS, validateSpec, formatSpecIssue, type ExperimentSpec, type SpecKey } from '../../core/spec.ts';

interface SpecFieldProps<K extends SpecKey> {
  name: K;
  label: string;
  value: ExperimentSpec[K];
  onChange: (value: ExperimentSpec[K]) => void;
  /** Whether a change applies to a running experiment without a restart. */
  live: boolean;
}

export function SpecField<K extends SpecKey>({ name, label, value, onChange, live }: SpecFieldProps<K>) {
  const id = useId();
  const field = SPEC_FIELDS[name];
  const [draft, setDraft] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const badge = (
    <span className={`apply-badge ${live ? 'live' : 'restart'}`} title={live ? 'applies to a running experiment at once' : 'takes effect when a run starts'}>
      {live ? 'live' : 'restart'}
    </span>
  );

  if (field.kind === 'boolean') {
    return (
      <div className="control control-check" data-testid={`field-${name}`}>
        <input id={id} type="checkbox" checked={value as boolean} onChange={(event) => onChange(event.target.checked as ExperimentSpec[K])} />
        <label htmlFor={id} title={field.help}>
          {label}
        </label>
        {badge}
      </div>
    );
  }

  if (field.kind === 'enum') {
    return (
      <div className="control" data-testid={`field-${name}`}>
        <label htmlFor={id} title={field.help}>
          {label} {badge}
        </label>
        <select id={id} value={value as string} onChange={(event) => onChange(event.target.value as ExperimentSpec[K])}>
          {field.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      </div>
    );
  }

  // Numbers and strings: validate through the schema on commit, show the reason when rejected.
  const commit = (): void => {
    if (draft === null) return;
    const candidate = field.kind === 'string' ? draft : draft.trim() === '' ? Number.NaN : Number(draft);
    const result = validateSpec({ [name]: candidate });
    if (result.ok) {
      onChange(result.spec[name]);
      setProblem(null);
    } else {
      setProblem(result.errors.map(formatSpecIssue).join('; '));
    }
    setDraft(null);
  };

  return (
    <div className="control" data-testid={`field-${name}`}>
      <label htmlFor={id} title={field.help}>
        {label} {badge}
      </label>
      <input
        id={id}
        type="text"
        inputMode={field.kind === 'string' ? 'text' : 'decimal'}
        value={draft ?? String(value)}
        aria-invalid={problem !== null}
        onChange={(event) => setDraft(event.target.value)}
        onBlur={commit}
        onKeyDown={(event) => {
          if (event.key === 'Enter') commit();
          if (event.key === 'Escape') {
            setDraft(null);
            setProblem(null);
          }
        }}
      />
      {problem !== null ? (
        <p className="field-problem" role="alert">
          {problem}
        </p>
      ) : null}
    </div>
  );
}
