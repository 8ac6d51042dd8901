/**
 * Structural checks of the run events in a run record read from a file or
 * from IndexedDB. The charts read these fields without further checks, so a
 * record passes only when every field they read has its type.
 *
 * JSON has no NaN or ±∞, and JSON.stringify writes them as null. A metric
 * field may therefore be null in a file; the check turns it back into NaN,
 * which the charts skip as an undefined point.
 */
import type { LabEvent } from '../../core/events.ts';
import { MODULES } from '../../core/model/modules.ts';
import { formatSpecIssue, validateSpec } from '../../core/spec.ts';

/** The event types that a run streams; analysis events (preview, sweep, Jacobian change) are not part of a run. */
export const RUN_EVENT_TYPES = ['config', 'step', 'eval', 'divergence', 'ntk', 'theory', 'done', 'error'] as const;

export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

export type RunEvent = Extract<LabEvent, { type: RunEventType }>;

/** A field's expected type: a number (null read as NaN), a nullable number, a nested shape or an array of one. */
type FieldSchema =
  | 'metric'
  | 'integer'
  | 'nullableNumber'
  | 'string'
  | 'boolean'
  | 'metricArray'
  | 'stringArray'
  | 'module'
  | 'model'
  | 'split'
  | 'spec'
  | { shape: ShapeSchema }
  | { arrayOf: ShapeSchema };

type ShapeSchema = Readonly<Record<string, FieldSchema>>;

const METRICS: ShapeSchema = { loss: 'metric', accuracy: 'metric' };
const SPLIT_METRICS: ShapeSchema = { train: { shape: METRICS }, eval: { shape: METRICS } };
const STATS: ShapeSchema = {
  trace: 'metric',
  muMax: 'metric',
  muMin: 'metric',
  kappa: 'nullableNumber',
  kappaLambda: 'nullableNumber',
  effectiveRank: 'metric',
  etaMax: 'nullableNumber',
};
const DIVERGENCE_ON_SET: ShapeSchema = { rms: 'metric', relativeRms: 'nullableNumber', agreement: 'metric' };

const EVENT_SCHEMAS: Readonly<Record<RunEventType, ShapeSchema>> = {
  config: {
    spec: 'spec',
    backend: 'string',
    task: {
      shape: {
        name: 'string',
        labels: 'stringArray',
        labelTokens: 'stringArray',
        promptSuffix: 'string',
        trainSize: 'integer',
        evalSize: 'integer',
        majorityRate: 'metric',
        length: 'integer',
      },
    },
    parameters: {
      shape: {
        model: 'integer',
        trainable: 'integer',
        blocks: { arrayOf: { layer: 'integer', module: 'module', size: 'integer' } },
      },
    },
    batchSize: 'integer',
    loraScale: 'metric',
    probeSize: 'integer',
  },
  step: { model: 'model', step: 'integer', loss: 'metric', objective: 'metric', distance: 'metric', regularizerActive: 'boolean' },
  eval: { model: 'model', step: 'integer', split: 'split', loss: 'metric', accuracy: 'metric' },
  divergence: {
    step: 'integer',
    probe: { shape: DIVERGENCE_ON_SET },
    eval: { shape: DIVERGENCE_ON_SET },
    thetaGap: 'metric',
    distance: 'metric',
    distanceLinear: 'metric',
    distanceBound: 'nullableNumber',
  },
  ntk: {
    step: 'integer',
    n: 'integer',
    c: 'integer',
    lambda: 'metric',
    eigenvalues: 'metricArray',
    traced: 'metricArray',
    stats: { shape: STATS },
    tracedStats: { shape: STATS },
    blocks: { arrayOf: { layer: 'integer', module: 'module', eigenvalues: 'metricArray', muMax: 'metric', trace: 'metric' } },
    drift: 'nullableNumber',
  },
  theory: {
    steps: 'metricArray',
    train: { arrayOf: METRICS },
    eval: { arrayOf: METRICS },
    limit: { shape: SPLIT_METRICS },
  },
  done: { steps: 'integer', train: { shape: METRICS }, eval: { shape: METRICS } },
  error: { message: 'string' },
};

/** Optional fields: checked when present. */
const OPTIONAL_FIELDS: Readonly<Partial<Record<RunEventType, ShapeSchema>>> = {
  done: { linear: { shape: SPLIT_METRICS } },
};

export type EventCheck = { ok: true; event: RunEvent } | { ok: false; problem: string };

/**
 * Checks one event against its type's schema and returns a copy with null
 * metrics read as NaN, or the first problem found, such as
 * `eval.loss: expected a number, got "abc"`.
 */
export function checkRunEvent(value: unknown): EventCheck {
  if (!isPlainObject(value)) return { ok: false, problem: `expected an event object, got ${describe(value)}` };
  const type = value.type;
  if (typeof type !== 'string' || !(RUN_EVENT_TYPES as readonly string[]).includes(type)) {
    return { ok: false, problem: `unknown event type ${describe(type)}; a run record holds ${RUN_EVENT_TYPES.join(', ')}` };
  }
  const runType = type as RunEventType;

  try {
    const event = checkShape(value, EVENT_SCHEMAS[runType], runType);
    const optional = OPTIONAL_FIELDS[runType] ?? {};
    for (const [field, schema] of Object.entries(optional)) {
      if (value[field] !== undefined) event[field] = checkField(value[field], schema, `${runType}.${field}`);
    }
    return { ok: true, event: event as unknown as RunEvent };
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, problem: error.message };
    throw error;
  }
}

class SchemaError extends Error {}

/** Returns a copy of `value` holding the fields of `schema` (other fields are dropped), or throws SchemaError. */
function checkShape(value: unknown, schema: ShapeSchema, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new SchemaError(`${path}: expected an object, got ${describe(value)}`);
  const copy: Record<string, unknown> = {};
  if (typeof value.type === 'string') copy.type = value.type;
  for (const [field, fieldSchema] of Object.entries(schema)) {
    copy[field] = checkField(value[field], fieldSchema, `${path}.${field}`);
  }
  return copy;
}

function checkField(value: unknown, schema: FieldSchema, path: string): unknown {
  if (typeof schema === 'object') {
    if ('shape' in schema) return checkShape(value, schema.shape, path);
    if (!Array.isArray(value)) throw new SchemaError(`${path}: expected an array, got ${describe(value)}`);
    return value.map((item, i) => checkShape(item, schema.arrayOf, `${path}[${i}]`));
  }

  switch (schema) {
    case 'metric':
      return checkMetric(value, path);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
      throw new SchemaError(`${path}: expected an integer ≥ 0, got ${describe(value)}`);
    case 'nullableNumber':
      if (value === null || (typeof value === 'number' && Number.isFinite(value))) return value;
      throw new SchemaError(`${path}: expected a number or null, got ${describe(value)}`);
    case 'string':
      if (typeof value === 'string') return value;
      throw new SchemaError(`${path}: expected a string, got ${describe(value)}`);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw new SchemaError(`${path}: expected true or false, got ${describe(value)}`);
    case 'metricArray':
      if (!Array.isArray(value)) throw new SchemaError(`${path}: expected an array of numbers, got ${describe(value)}`);
      return value.map((item, i) => checkMetric(item, `${path}[${i}]`));
    case 'stringArray':
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
      throw new SchemaError(`${path}: expected an array of strings, got ${describe(value)}`);
    case 'module':
      return checkOption(value, MODULES, path);
    case 'model':
      return checkOption(value, ['real', 'linear'], path);
    case 'split':
      return checkOption(value, ['train', 'eval'], path);
    case 'spec': {
      const result = validateSpec(value);
      if (!result.ok) throw new SchemaError(`${path}: invalid spec: ${result.errors.map(formatSpecIssue).join('; ')}`);
      return result.spec;
    }
  }
}

/** Accepts a number, and null as NaN because JSON writes NaN and ±∞ as null. */
function checkMetric(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (value === null) return Number.NaN;
  throw new SchemaError(`${path}: expected a number, got ${describe(value)}`);
}

function checkOption(value: unknown, options: readonly string[], path: string): string {
  if (typeof value === 'string' && options.includes(value)) return value;
  throw new SchemaError(`${path}: expected one of ${options.join(', ')}, got ${describe(value)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Shows a value in a message: JSON cut to 40 characters, or its kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (isPlainObject(value)) return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
