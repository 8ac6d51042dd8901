/**
 * The experiment spec: every setting of one fine-tuning run.
 *
 * SPEC_FIELDS is the single schema. It gives each field's kind, default, allowed
 * values and help text, and drives DEFAULT_SPEC, validation, parsing from strings
 * (CLI `--set key=value`, URL query parameters) and formatting back to strings.
 */

import { TASK_NAMES, type TaskName } from './data/task-names.ts';
import { formatAdapterGrid, tryParseAdapterGrid } from './model/adapters.ts';

export interface ExperimentSpec {
  /** Fine-tuning task. */
  task: TaskName;
  /** Checkpoint folder name under public/models. */
  model: string;
  /** Adapted (layer, module) pairs as a grid string, such as "qv.qv.qv.qv" (see adapters.ts). */
  adapters: string;
  /** 'lora' trains low-rank adapters, 'full' trains the chosen modules' own weights. */
  mode: 'lora' | 'full';
  /** LoRA rank. */
  r: number;
  /** LoRA alpha: the update B·A is scaled by alpha/r, or alpha/sqrt(r) with rslora. */
  loraAlpha: number;
  /** Rank-stabilized LoRA scaling, alpha/sqrt(r) in place of alpha/r. */
  rslora: boolean;
  /** LoRA init. Both set B = 0. 'kaiming' draws A Kaiming-uniform (a = sqrt 5) as PEFT does, 'gaussian' draws A from a normal with standard deviation 1/r, as PEFT's "gaussian" does. */
  init: 'kaiming' | 'gaussian';
  /** Anchor theta0 of the penalty: 'init' = the initial trainable values, 'zero' = the origin. */
  anchor: 'init' | 'zero';
  /** Strength of the penalty (lambda/2)·||theta - theta0||^2. */
  lambda: number;
  /** Selective regularization: apply the penalty only while <grad R_data(theta), theta - theta0> >= 0. */
  selective: boolean;
  /** Loss on the label logits: cross-entropy or squared error against one-hot labels. */
  loss: 'ce' | 'mse';
  /** 'gd' is full-batch gradient descent. */
  optimizer: 'gd' | 'sgd' | 'adam';
  /** Learning rate. */
  lr: number;
  /** Examples per step for sgd and adam. */
  batchSize: number;
  /** Optimizer steps. */
  steps: number;
  /** Training examples. */
  trainSize: number;
  /** Held-out evaluation examples. */
  evalSize: number;
  /** Examples in the NTK probe set. */
  probeSize: number;
  /** Steps between NTK recomputations during training, or 0 for never. */
  ntkInterval: number;
  /** Steps between evaluations. */
  evalInterval: number;
  /** Train the linearized model f_lin beside the real one. */
  linearized: boolean;
  /** Seed for data splits, batches and initial adapter weights. */
  seed: number;
}

export type SpecKey = keyof ExperimentSpec;

interface FieldBase<T> {
  readonly default: T;
  /** One line for CLI and UI help: what the field sets, in what unit. */
  readonly help: string;
}

export interface EnumField<T extends string> extends FieldBase<T> {
  readonly kind: 'enum';
  readonly options: readonly T[];
}

export interface IntField extends FieldBase<number> {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
}

export interface NumberField extends FieldBase<number> {
  readonly kind: 'number';
  readonly min: number;
  readonly max: number;
  /** When true, min itself is rejected. */
  readonly exclusiveMin?: boolean;
}

export interface BooleanField extends FieldBase<boolean> {
  readonly kind: 'boolean';
}

export interface StringField extends FieldBase<string> {
  readonly kind: 'string';
  /**
   * Extra check of a string value. It returns the canonical form of a valid value,
   * or a problem that reads after "got <value>, ", such as "expected ...".
   */
  readonly check?: (value: string) => { ok: true; value: string } | { ok: false; problem: string };
}

export type SpecField = EnumField<string> | IntField | NumberField | BooleanField | StringField;

/** The schema entry type of each value type. The brackets stop unions from distributing. */
type FieldFor<V> = [V] extends [boolean]
  ? BooleanField
  : [V] extends [number]
    ? IntField | NumberField
    : [V] extends [string]
      ? string extends V
        ? StringField
        : EnumField<V & string>
      : never;

export type SpecSchema = { readonly [K in SpecKey]: FieldFor<ExperimentSpec[K]> };

/** Checkpoint folder names: no "/" or "\", and no leading "." so ".." is rejected. */
const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function checkModelName(value: string): { ok: true; value: string } | { ok: false; problem: string } {
  if (MODEL_NAME_PATTERN.test(value)) return { ok: true, value };
  return {
    ok: false,
    problem:
      'expected a folder name of 1 to 64 characters from a-z, 0-9, ".", "_" and "-" that starts with a letter or digit',
  };
}

/** Accepts any valid grid and returns its canonical form, so equal grids give equal specs. */
function checkAdapterGrid(value: string): { ok: true; value: string } | { ok: false; problem: string } {
  const result = tryParseAdapterGrid(value);
  if (!result.ok) {
    return { ok: false, problem: `expected an adapter grid such as "qv.qv.qv.qv", but ${result.problem}` };
  }
  return { ok: true, value: formatAdapterGrid(result.grid) };
}

export const SPEC_FIELDS: SpecSchema = Object.freeze({
  task: {
    kind: 'enum',
    options: TASK_NAMES,
    default: 'brown-genre-2',
    help: 'fine-tuning task: the texts and their label set',
  },
  model: {
    kind: 'string',
    default: 'brown-gpt',
    help: 'checkpoint folder name under public/models',
    check: checkModelName,
  },
  adapters: {
    kind: 'string',
    default: 'qv.qv.qv.qv',
    help: 'adapted modules per layer: letters q k v o f p per layer, "." between layers, "-" for none',
    check: checkAdapterGrid,
  },
  mode: {
    kind: 'enum',
    options: ['lora', 'full'],
    default: 'lora',
    help: "lora trains low-rank adapters, full trains the chosen modules' own weights",
  },
  r: {
    kind: 'int',
    min: 1,
    max: 64,
    default: 4,
    help: 'LoRA rank (rows of A, columns of B)',
  },
  loraAlpha: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    max: 1024,
    default: 8,
    help: 'LoRA alpha, which scales the update B·A by alpha/r (alpha/sqrt(r) with rslora)',
  },
  rslora: {
    kind: 'boolean',
    default: false,
    help: 'scale the LoRA update by alpha/sqrt(r) instead of alpha/r',
  },
  init: {
    kind: 'enum',
    options: ['kaiming', 'gaussian'],
    default: 'kaiming',
    help: 'LoRA init with B = 0: kaiming = A Kaiming-uniform (a = sqrt 5) as in PEFT, gaussian = A ~ N(0, 1/r)',
  },
  anchor: {
    kind: 'enum',
    options: ['init', 'zero'],
    default: 'init',
    help: 'anchor theta0 of the penalty: init = initial trainable values, zero = the origin',
  },
  lambda: {
    kind: 'number',
    min: 0,
    max: 1000,
    default: 0,
    help: 'penalty strength lambda in (lambda/2)·||theta - theta0||^2, added to the mean loss',
  },
  selective: {
    kind: 'boolean',
    default: false,
    help: 'apply the penalty only while <grad of the data loss, theta - theta0> >= 0',
  },
  loss: {
    kind: 'enum',
    options: ['ce', 'mse'],
    default: 'ce',
    help: 'loss on the label logits: ce = cross-entropy, mse = squared error against one-hot labels',
  },
  optimizer: {
    kind: 'enum',
    options: ['gd', 'sgd', 'adam'],
    default: 'adam',
    help: 'gd = full-batch gradient descent, sgd and adam use mini-batches of batchSize',
  },
  lr: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    max: 10,
    default: 0.01,
    help: 'learning rate (step size per optimizer step)',
  },
  batchSize: {
    kind: 'int',
    min: 1,
    max: 256,
    default: 32,
    help: 'examples per step for sgd and adam (gd uses all training examples)',
  },
  steps: {
    kind: 'int',
    min: 0,
    max: 20000,
    default: 300,
    help: 'optimizer steps',
  },
  trainSize: {
    kind: 'int',
    min: 8,
    max: 2048,
    default: 256,
    help: 'training examples',
  },
  evalSize: {
    kind: 'int',
    min: 8,
    max: 2048,
    default: 256,
    help: 'held-out evaluation examples',
  },
  probeSize: {
    kind: 'int',
    min: 2,
    max: 256,
    default: 64,
    help: 'examples in the NTK probe set (the kernel is probeSize·C square)',
  },
  ntkInterval: {
    kind: 'int',
    min: 0,
    max: 20000,
    default: 50,
    help: 'steps between NTK recomputations during training, or 0 for never',
  },
  evalInterval: {
    kind: 'int',
    min: 1,
    max: 20000,
    default: 25,
    help: 'steps between evaluations',
  },
  linearized: {
    kind: 'boolean',
    default: true,
    help: 'train the linearized model beside the real one (one Jacobian of the train and eval sets at the start)',
  },
  seed: {
    kind: 'int',
    min: 0,
    max: 2147483647,
    default: 0,
    help: 'seed for data splits, batches and initial adapter weights',
  },
});

/** The field names in schema order, which formatSpecStrings follows. */
export const SPEC_KEYS: readonly SpecKey[] = Object.freeze(Object.keys(SPEC_FIELDS) as SpecKey[]);

export const DEFAULT_SPEC: Readonly<ExperimentSpec> = Object.freeze(buildDefaults());

function buildDefaults(): ExperimentSpec {
  const spec: Record<string, unknown> = {};
  for (const key of SPEC_KEYS) spec[key] = SPEC_FIELDS[key].default;
  // The cast is sound because SpecSchema types each field's default as ExperimentSpec[key].
  return spec as unknown as ExperimentSpec;
}

export function isSpecKey(key: string): key is SpecKey {
  return Object.hasOwn(SPEC_FIELDS, key);
}

/** One rejected field of a spec. */
export interface SpecIssue {
  /** The field name, or "spec" when the input as a whole is not an object. */
  field: string;
  /** The given value, JSON-stringified (NaN and Infinity as written) and cut to 60 characters. */
  value: string;
  /** What is wrong, to be read after "<field>: ". */
  message: string;
}

export type SpecResult = { ok: true; spec: ExperimentSpec } | { ok: false; errors: SpecIssue[] };

/** Formats an issue as one line, such as `lr: got -1, expected a number > 0 and <= 10`. */
export function formatSpecIssue(issue: SpecIssue): string {
  return `${issue.field}: ${issue.message}`;
}

/**
 * Validates a partial spec, such as parsed JSON, and fills missing fields with
 * defaults. A field given as undefined counts as missing. Values must already have
 * their JSON type, so "5" for an int field is rejected. Every issue is collected,
 * in the order of the input's keys. String fields come back in canonical form.
 */
export function validateSpec(input: unknown): SpecResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    const shownInput = showValue(input);
    return {
      ok: false,
      errors: [{ field: 'spec', value: shownInput, message: `got ${shownInput}, expected an object of spec fields such as {"lr": 0.01}` }],
    };
  }

  const inputFields: Readonly<Record<string, unknown>> = input as Record<string, unknown>;
  const spec: Record<string, unknown> = { ...DEFAULT_SPEC };
  const errors: SpecIssue[] = [];

  for (const key of Object.keys(inputFields)) {
    const value = inputFields[key];
    if (!isSpecKey(key)) {
      errors.push({ field: showFieldName(key), value: showValue(value), message: describeUnknownField(key) });
      continue;
    }
    if (value === undefined) continue;

    const result = checkFieldValue(SPEC_FIELDS[key], value);
    if (result.ok) {
      spec[key] = result.value;
    } else {
      errors.push({ field: key, value: showValue(value), message: result.message });
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  // The cast is sound because every key started from DEFAULT_SPEC and every value passed its field's check.
  return { ok: true, spec: spec as unknown as ExperimentSpec };
}

type FieldValue = string | number | boolean;

function checkFieldValue(field: SpecField, value: unknown): { ok: true; value: FieldValue } | { ok: false; message: string } {
  const rejected = { ok: false as const, message: `got ${showValue(value)}, expected ${describeExpected(field)}` };

  switch (field.kind) {
    case 'enum':
      return typeof value === 'string' && field.options.includes(value) ? { ok: true, value } : rejected;

    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return rejected;
      if (value < field.min || value > field.max) return rejected;
      return { ok: true, value: withoutNegativeZero(value) };

    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return rejected;
      const belowMin = field.exclusiveMin === true ? value <= field.min : value < field.min;
      if (belowMin || value > field.max) return rejected;
      return { ok: true, value: withoutNegativeZero(value) };
    }

    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : rejected;

    case 'string': {
      if (typeof value !== 'string') return rejected;
      if (field.check === undefined) return { ok: true, value };
      const checked = field.check(value);
      return checked.ok ? checked : { ok: false, message: `got ${showValue(value)}, ${checked.problem}` };
    }
  }
}

/** Turns -0 into 0, so a spec never formats as "-0". */
function withoutNegativeZero(value: number): number {
  return value === 0 ? 0 : value;
}

function describeExpected(field: SpecField): string {
  switch (field.kind) {
    case 'enum':
      return `one of ${field.options.join(', ')}`;
    case 'int':
      return `an integer from ${field.min} to ${field.max}`;
    case 'number':
      return field.exclusiveMin === true
        ? `a number > ${field.min} and <= ${field.max}`
        : `a number from ${field.min} to ${field.max}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
  }
}

function describeUnknownField(key: string): string {
  const suggestion = SPEC_KEYS.find((known) => simplifyKey(known) === simplifyKey(key));
  const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
  return `unknown field${hint}; known fields are ${SPEC_KEYS.join(', ')}`;
}

/** Lowercases and drops separators, so "lora_alpha" and "LORA-ALPHA" match loraAlpha. */
function simplifyKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const MAX_SHOWN_CHARS = 60;

/**
 * Shows a given value for a message: JSON for strings, arrays and objects (so
 * control characters come out escaped), NaN and Infinity as written, cut to
 * MAX_SHOWN_CHARS characters.
 */
function showValue(value: unknown): string {
  return truncate(describeValue(value));
}

function describeValue(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A cycle or a bigint inside the value.
    return Array.isArray(value) ? 'an array' : 'an object';
  }
}

/** Shows an unknown key as is when it is plain, else as JSON, so a key cannot inject control characters. */
function showFieldName(key: string): string {
  return /^[A-Za-z0-9_.-]{1,60}$/.test(key) ? key : truncate(JSON.stringify(key));
}

function truncate(text: string): string {
  const chars = Array.from(text);
  return chars.length <= MAX_SHOWN_CHARS ? text : `${chars.slice(0, MAX_SHOWN_CHARS - 1).join('')}…`;
}

/**
 * Parses the string form of a spec, as from `--set key=value` or a URL query.
 * A number must be the whole string, such as "0.01", "-3" or "1e-3", and finite.
 * A boolean must be true, false, 1 or 0. A string that does not parse is passed on
 * unchanged, so validateSpec reports it with the field's expected values.
 */
export function parseSpecStrings(pairs: Readonly<Record<string, string>>): SpecResult {
  // A null prototype makes a "__proto__" key an own property, so validateSpec reports it as unknown.
  const typed: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(pairs)) {
    const raw = pairs[key];
    typed[key] = isSpecKey(key) && typeof raw === 'string' ? parseFieldString(SPEC_FIELDS[key], raw) : raw;
  }
  return validateSpec(typed);
}

const NUMBER_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseFieldString(field: SpecField, raw: string): FieldValue {
  switch (field.kind) {
    case 'int':
    case 'number': {
      if (!NUMBER_PATTERN.test(raw)) return raw;
      const value = Number(raw);
      // "1e400" overflows to Infinity; keep the string so the message shows what was given.
      return Number.isFinite(value) ? value : raw;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return raw;
    case 'enum':
    case 'string':
      return raw;
  }
}

/**
 * Formats a spec as strings in SPEC_KEYS order. Numbers use JavaScript's shortest
 * round-tripping form, such as "0.01" or "1e-7", so parseSpecStrings returns an
 * equal spec for any valid spec.
 */
export function formatSpecStrings(spec: Readonly<ExperimentSpec>): Record<SpecKey, string> {
  const pairs: Partial<Record<SpecKey, string>> = {};
  for (const key of SPEC_KEYS) pairs[key] = String(spec[key]);
  return pairs as Record<SpecKey, string>;
}

/**
 * Splits a `--set` argument at its first "=", so the value may contain "=".
 * Throws an Error when there is no "=" or the key is empty.
 */
export function parseSetArgument(arg: string): [key: string, value: string] {
  const equals = arg.indexOf('=');
  if (equals === -1) {
    throw new Error(`invalid --set argument ${JSON.stringify(arg)}: expected key=value, such as lr=0.01`);
  }
  if (equals === 0) {
    throw new Error(`invalid --set argument ${JSON.stringify(arg)}: the key before "=" is empty; expected key=value, such as lr=0.01`);
  }
  return [arg.slice(0, equals), arg.slice(equals + 1)];
}
