import { describe, expect, it } from 'vitest';

import {
  DEFAULT_SPEC,
  SPEC_FIELDS,
  SPEC_KEYS,
  formatSpecIssue,
  formatSpecStrings,
  parseSetArgument,
  parseSpecStrings,
  validateSpec,
  type ExperimentSpec,
  type SpecIssue,
  type SpecResult,
} from '../../src/core/spec.ts';

/** Returns the issues of a rejected result, or fails the test if it was accepted. */
function issuesOf(result: SpecResult): SpecIssue[] {
  if (result.ok) throw new Error(`expected the spec to be rejected, but it was accepted: ${JSON.stringify(result.spec)}`);
  return result.errors;
}

/** Returns the spec of an accepted result, or fails the test with the issues. */
function specOf(result: SpecResult): ExperimentSpec {
  if (!result.ok) throw new Error(`expected the spec to be accepted: ${result.errors.map(formatSpecIssue).join(' | ')}`);
  return result.spec;
}

describe('DEFAULT_SPEC', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_SPEC).toEqual({
      task: 'brown-genre-2',
      model: 'brown-gpt',
      adapters: 'qv.qv.qv.qv',
      mode: 'lora',
      r: 4,
      loraAlpha: 8,
      rslora: false,
      init: 'kaiming',
      anchor: 'init',
      lambda: 0,
      selective: false,
      loss: 'ce',
      optimizer: 'adam',
      lr: 0.01,
      batchSize: 32,
      steps: 300,
      trainSize: 256,
      evalSize: 256,
      probeSize: 64,
      ntkInterval: 50,
      evalInterval: 25,
      linearized: true,
      seed: 0,
    });
  });

  it('validates', () => {
    expect(specOf(validateSpec({ ...DEFAULT_SPEC }))).toEqual(DEFAULT_SPEC);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(DEFAULT_SPEC)).toBe(true);
  });

  it('lists every field in SPEC_KEYS', () => {
    expect(Object.keys(DEFAULT_SPEC)).toEqual([...SPEC_KEYS]);
  });

  it('gives every field a help line', () => {
    for (const key of SPEC_KEYS) {
      expect(SPEC_FIELDS[key].help, key).toMatch(/^\S.*\S$/);
    }
  });
});

describe('validateSpec', () => {
  it('fills an empty object with defaults', () => {
    expect(specOf(validateSpec({}))).toEqual(DEFAULT_SPEC);
  });

  it('keeps given values', () => {
    const spec = specOf(validateSpec({ lr: 0.5, optimizer: 'sgd', rslora: true, steps: 0 }));
    expect(spec.lr).toBe(0.5);
    expect(spec.optimizer).toBe('sgd');
    expect(spec.rslora).toBe(true);
    expect(spec.steps).toBe(0);
    expect(spec.r).toBe(DEFAULT_SPEC.r);
  });

  it('accepts values at the bounds', () => {
    const low = specOf(validateSpec({ r: 1, lambda: 0, seed: 0, trainSize: 8, probeSize: 2, ntkInterval: 0 }));
    expect(low.r).toBe(1);
    expect(low.lambda).toBe(0);
    expect(low.probeSize).toBe(2);
    const high = specOf(validateSpec({ r: 64, lr: 10, loraAlpha: 1024, lambda: 1000, seed: 2147483647 }));
    expect(high.r).toBe(64);
    expect(high.lr).toBe(10);
    expect(high.loraAlpha).toBe(1024);
    expect(high.seed).toBe(2147483647);
  });

  it('turns -0 into 0', () => {
    expect(Object.is(specOf(validateSpec({ seed: -0 })).seed, 0)).toBe(true);
    expect(Object.is(specOf(validateSpec({ lambda: -0 })).lambda, 0)).toBe(true);
  });

  it('treats undefined as missing', () => {
    expect(specOf(validateSpec({ lr: undefined })).lr).toBe(DEFAULT_SPEC.lr);
  });

  it('canonicalizes the adapter grid', () => {
    expect(specOf(validateSpec({ adapters: 'vq.-.pf' })).adapters).toBe('qv.-.fp');
  });

  it('accepts model names with dots, dashes and underscores', () => {
    expect(specOf(validateSpec({ model: 'brown-gpt_v2.1' })).model).toBe('brown-gpt_v2.1');
  });

  it('does not modify its input', () => {
    const input = { adapters: 'vq' };
    validateSpec(input);
    expect(input).toEqual({ adapters: 'vq' });
  });
});

describe('validateSpec rejections', () => {
  const cases: { name: string; input: Record<string, unknown>; field: string; value: string; line: string }[] = [
    {
      name: 'unknown key',
      input: { foo: 1 },
      field: 'foo',
      value: '1',
      line: `foo: unknown field; known fields are ${SPEC_KEYS.join(', ')}`,
    },
    {
      name: 'unknown key close to a known one',
      input: { lora_alpha: 8 },
      field: 'lora_alpha',
      value: '8',
      line: `lora_alpha: unknown field (did you mean loraAlpha?); known fields are ${SPEC_KEYS.join(', ')}`,
    },
    {
      name: 'string for an int',
      input: { r: '5' },
      field: 'r',
      value: '"5"',
      line: 'r: got "5", expected an integer from 1 to 64',
    },
    {
      name: 'string for a number',
      input: { lr: '0.1' },
      field: 'lr',
      value: '"0.1"',
      line: 'lr: got "0.1", expected a number > 0 and <= 10',
    },
    {
      name: 'string for a boolean',
      input: { rslora: 'true' },
      field: 'rslora',
      value: '"true"',
      line: 'rslora: got "true", expected true or false',
    },
    {
      name: 'number for a boolean',
      input: { selective: 1 },
      field: 'selective',
      value: '1',
      line: 'selective: got 1, expected true or false',
    },
    {
      name: 'null for a number',
      input: { lambda: null },
      field: 'lambda',
      value: 'null',
      line: 'lambda: got null, expected a number from 0 to 1000',
    },
    {
      name: 'number for a string',
      input: { model: 5 },
      field: 'model',
      value: '5',
      line: 'model: got 5, expected a string',
    },
    {
      name: 'array for an enum',
      input: { task: ['brown-genre-2'] },
      field: 'task',
      value: '["brown-genre-2"]',
      line: 'task: got ["brown-genre-2"], expected one of brown-genre-2, brown-genre-4, afinn-valence',
    },
    {
      name: 'NaN',
      input: { lr: Number.NaN },
      field: 'lr',
      value: 'NaN',
      line: 'lr: got NaN, expected a number > 0 and <= 10',
    },
    {
      name: 'NaN for an int',
      input: { steps: Number.NaN },
      field: 'steps',
      value: 'NaN',
      line: 'steps: got NaN, expected an integer from 0 to 20000',
    },
    {
      name: 'Infinity',
      input: { lambda: Number.POSITIVE_INFINITY },
      field: 'lambda',
      value: 'Infinity',
      line: 'lambda: got Infinity, expected a number from 0 to 1000',
    },
    {
      name: 'negative Infinity',
      input: { seed: Number.NEGATIVE_INFINITY },
      field: 'seed',
      value: '-Infinity',
      line: 'seed: got -Infinity, expected an integer from 0 to 2147483647',
    },
    {
      name: 'non-integer',
      input: { batchSize: 2.5 },
      field: 'batchSize',
      value: '2.5',
      line: 'batchSize: got 2.5, expected an integer from 1 to 256',
    },
    {
      name: 'int below min',
      input: { r: 0 },
      field: 'r',
      value: '0',
      line: 'r: got 0, expected an integer from 1 to 64',
    },
    {
      name: 'int above max',
      input: { r: 65 },
      field: 'r',
      value: '65',
      line: 'r: got 65, expected an integer from 1 to 64',
    },
    {
      name: 'number below min',
      input: { lr: -1 },
      field: 'lr',
      value: '-1',
      line: 'lr: got -1, expected a number > 0 and <= 10',
    },
    {
      name: 'exclusive min itself',
      input: { loraAlpha: 0 },
      field: 'loraAlpha',
      value: '0',
      line: 'loraAlpha: got 0, expected a number > 0 and <= 1024',
    },
    {
      name: 'number above max',
      input: { lambda: 1000.5 },
      field: 'lambda',
      value: '1000.5',
      line: 'lambda: got 1000.5, expected a number from 0 to 1000',
    },
    {
      name: 'seed above max',
      input: { seed: 2147483648 },
      field: 'seed',
      value: '2147483648',
      line: 'seed: got 2147483648, expected an integer from 0 to 2147483647',
    },
    {
      name: 'bad enum',
      input: { optimizer: 'rmsprop' },
      field: 'optimizer',
      value: '"rmsprop"',
      line: 'optimizer: got "rmsprop", expected one of gd, sgd, adam',
    },
    {
      name: 'enum with wrong case',
      input: { mode: 'LoRA' },
      field: 'mode',
      value: '"LoRA"',
      line: 'mode: got "LoRA", expected one of lora, full',
    },
    {
      name: 'model name with path traversal',
      input: { model: '../x' },
      field: 'model',
      value: '"../x"',
      line: 'model: got "../x", expected a folder name of 1 to 64 characters from a-z, 0-9, ".", "_" and "-" that starts with a letter or digit',
    },
    {
      name: 'model name with a slash',
      input: { model: 'a/b' },
      field: 'model',
      value: '"a/b"',
      line: 'model: got "a/b", expected a folder name of 1 to 64 characters from a-z, 0-9, ".", "_" and "-" that starts with a letter or digit',
    },
    {
      name: 'model name ".."',
      input: { model: '..' },
      field: 'model',
      value: '".."',
      line: 'model: got "..", expected a folder name of 1 to 64 characters from a-z, 0-9, ".", "_" and "-" that starts with a letter or digit',
    },
    {
      name: 'empty model name',
      input: { model: '' },
      field: 'model',
      value: '""',
      line: 'model: got "", expected a folder name of 1 to 64 characters from a-z, 0-9, ".", "_" and "-" that starts with a letter or digit',
    },
    {
      name: 'bad adapters letter',
      input: { adapters: 'qv.qx' },
      field: 'adapters',
      value: '"qv.qx"',
      line: 'adapters: got "qv.qx", expected an adapter grid such as "qv.qv.qv.qv", but layer 1 group "qx" has the invalid letter "x"; allowed letters are q, k, v, o, f, p, or "-" alone for a layer with none',
    },
    {
      name: 'adapters with none enabled',
      input: { adapters: '-.-' },
      field: 'adapters',
      value: '"-.-"',
      line: 'adapters: got "-.-", expected an adapter grid such as "qv.qv.qv.qv", but no module is enabled on any layer of "-.-"; enable at least one, such as "qv" on one layer',
    },
  ];

  for (const { name, input, field, value, line } of cases) {
    it(`rejects ${name}`, () => {
      const errors = issuesOf(validateSpec(input));
      expect(errors).toHaveLength(1);
      const issue = errors[0] as SpecIssue;
      expect(issue.field).toBe(field);
      expect(issue.value).toBe(value);
      expect(formatSpecIssue(issue)).toBe(line);
    });
  }

  it('rejects a model name longer than 64 characters', () => {
    const issue = issuesOf(validateSpec({ model: 'a'.repeat(65) }))[0] as SpecIssue;
    expect(issue.field).toBe('model');
    expect(specOf(validateSpec({ model: 'a'.repeat(64) })).model).toHaveLength(64);
  });

  it('rejects a model name with uppercase letters', () => {
    const issue = issuesOf(validateSpec({ model: 'Brown' }))[0] as SpecIssue;
    expect(issue.field).toBe('model');
  });

  it('rejects a wrong type for every field', () => {
    for (const key of SPEC_KEYS) {
      const wrong = typeof DEFAULT_SPEC[key] === 'string' ? 42 : 'x';
      const errors = issuesOf(validateSpec({ [key]: wrong }));
      expect(errors.map((issue) => issue.field), key).toEqual([key]);
    }
  });

  it('rejects NaN and Infinity for every numeric field', () => {
    const numericKeys = SPEC_KEYS.filter((key) => typeof DEFAULT_SPEC[key] === 'number');
    expect(numericKeys).toHaveLength(12);
    for (const key of numericKeys) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const errors = issuesOf(validateSpec({ [key]: bad }));
        expect(errors.map((issue) => issue.field), `${key}=${bad}`).toEqual([key]);
      }
    }
  });

  it('rejects values just outside the range of every numeric field', () => {
    for (const key of SPEC_KEYS) {
      const field = SPEC_FIELDS[key];
      if (field.kind !== 'int' && field.kind !== 'number') continue;
      const step = field.kind === 'int' ? 1 : 1e-9;
      const below = field.kind === 'number' && field.exclusiveMin === true ? field.min : field.min - step;
      const above = field.max + step;
      expect(issuesOf(validateSpec({ [key]: below }))[0]?.field, `${key}=${below}`).toBe(key);
      expect(issuesOf(validateSpec({ [key]: above }))[0]?.field, `${key}=${above}`).toBe(key);
    }
  });

  it('rejects a non-integer for every int field', () => {
    for (const key of SPEC_KEYS) {
      const field = SPEC_FIELDS[key];
      if (field.kind !== 'int') continue;
      expect(issuesOf(validateSpec({ [key]: field.default + 0.5 }))[0]?.field, key).toBe(key);
    }
  });

  it('rejects a bad option for every enum field', () => {
    for (const key of SPEC_KEYS) {
      if (SPEC_FIELDS[key].kind !== 'enum') continue;
      expect(issuesOf(validateSpec({ [key]: 'nope' }))[0]?.field, key).toBe(key);
    }
  });

  it('collects all issues in input order', () => {
    const errors = issuesOf(validateSpec({ lr: -1, foo: true, optimizer: 'rmsprop', r: 1.5, adapters: 'x' }));
    expect(errors.map((issue) => issue.field)).toEqual(['lr', 'foo', 'optimizer', 'r', 'adapters']);
  });

  it('rejects input that is not an object', () => {
    for (const input of [null, undefined, 5, 'lr=1', [1, 2]]) {
      const errors = issuesOf(validateSpec(input));
      expect(errors.map((issue) => issue.field), String(input)).toEqual(['spec']);
    }
  });

  it('formats the non-object issue', () => {
    const issue = issuesOf(validateSpec([1, 2]))[0] as SpecIssue;
    expect(formatSpecIssue(issue)).toBe('spec: got [1,2], expected an object of spec fields such as {"lr": 0.01}');
  });

  it('rejects a "__proto__" key from JSON', () => {
    const errors = issuesOf(validateSpec(JSON.parse('{"__proto__": {"lr": 5}}')));
    expect(errors.map((issue) => issue.field)).toEqual(['__proto__']);
  });

  it('cuts long values to 60 characters', () => {
    const issue = issuesOf(validateSpec({ model: 'x'.repeat(200) }))[0] as SpecIssue;
    expect(issue.value).toHaveLength(60);
    expect(issue.value.endsWith('…')).toBe(true);
    expect(issue.message.length).toBeLessThan(200);
  });

  it('escapes control characters in values and keys', () => {
    const errors = issuesOf(validateSpec({ model: 'a\u001b[31m', 'x\ny': 1 }));
    expect(errors[0]?.value).toBe('"a\\u001b[31m"');
    expect(errors[1]?.field).toBe('"x\\ny"');
  });

  it('shows values that JSON cannot', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(issuesOf(validateSpec({ task: cyclic }))[0]?.value).toBe('an object');
    expect(issuesOf(validateSpec({ r: 5n }))[0]?.value).toBe('5n');
    expect(issuesOf(validateSpec({ r: () => 5 }))[0]?.value).toBe('a function');
  });
});

describe('parseSpecStrings', () => {
  it('parses every kind of field', () => {
    const spec = specOf(
      parseSpecStrings({ task: 'afinn-valence', model: 'tiny', r: '8', lr: '1e-3', rslora: 'true', adapters: '-.qv' }),
    );
    expect(spec.task).toBe('afinn-valence');
    expect(spec.model).toBe('tiny');
    expect(spec.r).toBe(8);
    expect(spec.lr).toBe(0.001);
    expect(spec.rslora).toBe(true);
    expect(spec.adapters).toBe('-.qv');
  });

  it('fills missing fields with defaults', () => {
    expect(specOf(parseSpecStrings({}))).toEqual(DEFAULT_SPEC);
  });

  it('accepts 1 and 0 as booleans', () => {
    expect(specOf(parseSpecStrings({ selective: '1' })).selective).toBe(true);
    expect(specOf(parseSpecStrings({ selective: '0' })).selective).toBe(false);
  });

  it('accepts number forms', () => {
    expect(specOf(parseSpecStrings({ lr: '.5' })).lr).toBe(0.5);
    expect(specOf(parseSpecStrings({ lr: '+2' })).lr).toBe(2);
    expect(specOf(parseSpecStrings({ lr: '2E-1' })).lr).toBe(0.2);
    expect(specOf(parseSpecStrings({ steps: '1e3' })).steps).toBe(1000);
    expect(specOf(parseSpecStrings({ steps: '20.0' })).steps).toBe(20);
  });

  const rejected: { value: string; line: string }[] = [
    { value: '', line: 'lr: got "", expected a number > 0 and <= 10' },
    { value: 'abc', line: 'lr: got "abc", expected a number > 0 and <= 10' },
    { value: ' 0.1', line: 'lr: got " 0.1", expected a number > 0 and <= 10' },
    { value: '0.1 ', line: 'lr: got "0.1 ", expected a number > 0 and <= 10' },
    { value: '0.1x', line: 'lr: got "0.1x", expected a number > 0 and <= 10' },
    { value: '0x10', line: 'lr: got "0x10", expected a number > 0 and <= 10' },
    { value: 'NaN', line: 'lr: got "NaN", expected a number > 0 and <= 10' },
    { value: 'Infinity', line: 'lr: got "Infinity", expected a number > 0 and <= 10' },
    { value: '1e400', line: 'lr: got "1e400", expected a number > 0 and <= 10' },
    { value: '1e', line: 'lr: got "1e", expected a number > 0 and <= 10' },
    { value: '.', line: 'lr: got ".", expected a number > 0 and <= 10' },
    { value: '-1', line: 'lr: got -1, expected a number > 0 and <= 10' },
  ];

  for (const { value, line } of rejected) {
    it(`rejects lr=${JSON.stringify(value)}`, () => {
      const errors = issuesOf(parseSpecStrings({ lr: value }));
      expect(errors.map(formatSpecIssue)).toEqual([line]);
    });
  }

  it('rejects a non-integer for an int field', () => {
    const errors = issuesOf(parseSpecStrings({ r: '2.5' }));
    expect(errors.map(formatSpecIssue)).toEqual(['r: got 2.5, expected an integer from 1 to 64']);
  });

  it('rejects booleans other than true, false, 1 and 0', () => {
    for (const value of ['yes', 'True', '', '2']) {
      const errors = issuesOf(parseSpecStrings({ rslora: value }));
      expect(errors.map(formatSpecIssue), value).toEqual([`rslora: got ${JSON.stringify(value)}, expected true or false`]);
    }
  });

  it('rejects unknown keys', () => {
    const errors = issuesOf(parseSpecStrings({ learningRate: '0.1' }));
    expect(errors.map((issue) => issue.field)).toEqual(['learningRate']);
    expect(errors[0]?.value).toBe('"0.1"');
  });

  it('rejects a "__proto__" key', () => {
    const pairs = Object.fromEntries([['__proto__', 'x']]) as Record<string, string>;
    const errors = issuesOf(parseSpecStrings(pairs));
    expect(errors.map((issue) => issue.field)).toEqual(['__proto__']);
  });

  it('collects all issues', () => {
    const errors = issuesOf(parseSpecStrings({ r: 'x', optimizer: 'rmsprop', model: '../x', foo: '1' }));
    expect(errors.map((issue) => issue.field)).toEqual(['r', 'optimizer', 'model', 'foo']);
  });
});

describe('formatSpecStrings', () => {
  it('formats the defaults', () => {
    const pairs = formatSpecStrings(DEFAULT_SPEC);
    expect(pairs.lr).toBe('0.01');
    expect(pairs.rslora).toBe('false');
    expect(pairs.adapters).toBe('qv.qv.qv.qv');
    expect(pairs.seed).toBe('0');
  });

  it('lists fields in SPEC_KEYS order', () => {
    expect(Object.keys(formatSpecStrings(DEFAULT_SPEC))).toEqual([...SPEC_KEYS]);
  });

  it('round trips the defaults', () => {
    expect(specOf(parseSpecStrings(formatSpecStrings(DEFAULT_SPEC)))).toEqual(DEFAULT_SPEC);
  });

  it('round trips a spec with awkward numbers', () => {
    const spec: ExperimentSpec = {
      ...DEFAULT_SPEC,
      task: 'brown-genre-4',
      model: 'brown-gpt.small_2',
      adapters: '-.-.qv.qvofp',
      mode: 'full',
      r: 64,
      loraAlpha: 1 / 3,
      rslora: true,
      init: 'gaussian',
      anchor: 'zero',
      lambda: 0.1 + 0.2,
      selective: true,
      loss: 'mse',
      optimizer: 'gd',
      lr: 1e-7,
      seed: 2147483647,
    };
    const pairs = formatSpecStrings(spec);
    expect(pairs.lr).toBe('1e-7');
    expect(pairs.lambda).toBe('0.30000000000000004');
    expect(specOf(parseSpecStrings(pairs))).toEqual(spec);
  });

  it('formats the shortest form', () => {
    const pairs = formatSpecStrings({ ...DEFAULT_SPEC, lr: 0.5, loraAlpha: 16 });
    expect(pairs.lr).toBe('0.5');
    expect(pairs.loraAlpha).toBe('16');
  });
});

describe('parseSetArgument', () => {
  it('splits key and value', () => {
    expect(parseSetArgument('lr=0.01')).toEqual(['lr', '0.01']);
  });

  it('splits at the first "="', () => {
    expect(parseSetArgument('model=a=b')).toEqual(['model', 'a=b']);
  });

  it('allows an empty value', () => {
    expect(parseSetArgument('model=')).toEqual(['model', '']);
  });

  it('rejects a missing "="', () => {
    expect(() => parseSetArgument('lr')).toThrow('invalid --set argument "lr": expected key=value, such as lr=0.01');
  });

  it('rejects an empty key', () => {
    expect(() => parseSetArgument('=5')).toThrow(
      'invalid --set argument "=5": the key before "=" is empty; expected key=value, such as lr=0.01',
    );
  });

  it('rejects an empty argument', () => {
    expect(() => parseSetArgument('')).toThrow('invalid --set argument "": expected key=value');
  });
});
