import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { DEFAULT_SPEC, SPEC_FIELDS, SPEC_KEYS, type ExperimentSpec } from '../../src/core/spec.ts';
import { LESSONS } from '../../src/ui/lessons/index.ts';
import { LINK_VERSION, linkSearch, parseLink, type LinkPage, type ParsedLink } from '../../src/ui/url-spec.ts';

const NO_PAGE: LinkPage = { presentation: false, lesson: null, lessonStep: 0, backend: null, failBackend: null };

function rejectedFields(link: ParsedLink): string[] {
  return link.rejected.map((problem) => problem.field);
}

describe('linkSearch', () => {
  it('writes v first, then changed fields in schema order, then page state', () => {
    const spec: ExperimentSpec = { ...DEFAULT_SPEC, steps: 100, lambda: 0.1, task: 'afinn-valence' };
    const page: LinkPage = { presentation: true, lesson: 'lambda-linear', lessonStep: 2, backend: null, failBackend: null };

    expect(linkSearch(spec, page)).toBe('?v=1&task=afinn-valence&lambda=0.1&steps=100&presentation=1&lesson=lambda-linear&lessonStep=3');
  });

  it('writes only v for the defaults', () => {
    expect(linkSearch({ ...DEFAULT_SPEC }, NO_PAGE)).toBe(`?v=${LINK_VERSION}`);
  });

  it('round-trips every field and the page state', () => {
    const spec: ExperimentSpec = {
      task: 'brown-genre-4',
      model: 'brown-gpt',
      adapters: 'qkv.-.fp.o',
      mode: 'full',
      r: 16,
      loraAlpha: 0.5,
      rslora: true,
      init: 'gaussian',
      anchor: 'zero',
      lambda: 1e-7,
      selective: true,
      loss: 'mse',
      optimizer: 'gd',
      lr: 0.123456789,
      batchSize: 7,
      steps: 0,
      trainSize: 2048,
      evalSize: 8,
      probeSize: 2,
      ntkInterval: 0,
      evalInterval: 20000,
      linearized: false,
      seed: 2147483647,
    };
    const page: LinkPage = { presentation: true, lesson: 'layer-choice', lessonStep: 4, backend: 'wasm', failBackend: 'webgpu' };

    const link = parseLink(linkSearch(spec, page), LESSONS);

    expect(link.rejected).toEqual([]);
    expect(link.spec).toEqual(spec);
    expect(link.page).toEqual(page);
  });

  it('round-trips each lesson at each step', () => {
    for (const lesson of LESSONS) {
      for (let step = 0; step < lesson.steps.length; step++) {
        const spec = { ...DEFAULT_SPEC, ...lesson.spec };
        const page: LinkPage = { presentation: false, lesson: lesson.id, lessonStep: step, backend: null, failBackend: null };
        const link = parseLink(linkSearch(spec, page), LESSONS);
        expect(link.spec, lesson.id).toEqual(spec);
        expect(link.page, lesson.id).toEqual(page);
      }
    }
  });
});

describe('parseLink', () => {
  it('opens the defaults for an empty query', () => {
    const link = parseLink('', LESSONS);

    expect(link.spec).toEqual(DEFAULT_SPEC);
    expect(link.page).toEqual(NO_PAGE);
    expect(link.rejected).toEqual([]);
  });

  it('reads a link without v as version 1', () => {
    const link = parseLink('?lambda=0.5&steps=10', LESSONS);

    expect(link.rejected).toEqual([]);
    expect(link.spec.lambda).toBe(0.5);
    expect(link.spec.steps).toBe(10);
  });

  it('rejects unreadable versions but reads the valid fields', () => {
    const cases = ['0', '99', '2', 'abc', '1.5', '', '-1', '1e0', '99999999999999999999'];
    for (const version of cases) {
      const link = parseLink(`?v=${encodeURIComponent(version)}&lambda=0.5&lr=NaN`, LESSONS);

      expect(rejectedFields(link), `v=${version}`).toEqual(['v', 'lr']);
      expect(link.rejected[0]?.message, `v=${version}`).toContain('read as version 1');
      expect(link.spec.lambda, `v=${version}`).toBe(0.5);
      expect(link.spec.lr, `v=${version}`).toBe(DEFAULT_SPEC.lr);
    }
  });

  it('names a newer version in its message', () => {
    const link = parseLink('?v=99', LESSONS);

    expect(link.rejected[0]?.message).toContain('a newer lab made this link');
  });

  // Each case: the query, the field its message must name, and the spec field that must keep its default.
  const MALFORMED: [query: string, field: string, key: keyof ExperimentSpec | null][] = [
    ['?%%%', '"%%%"', null],
    ['?=&=', '""', null],
    ['?steps=1e30', 'steps', 'steps'],
    ['?steps=1e400', 'steps', 'steps'],
    ['?probeSize=99999999', 'probeSize', 'probeSize'],
    ['?batchSize=-5', 'batchSize', 'batchSize'],
    ['?r=2.5', 'r', 'r'],
    ['?r=0x10', 'r', 'r'],
    ['?trainSize=', 'trainSize', 'trainSize'],
    ['?lr=NaN', 'lr', 'lr'],
    ['?lr=Infinity', 'lr', 'lr'],
    ['?lr=0', 'lr', 'lr'],
    ['?lambda=-1', 'lambda', 'lambda'],
    ['?rslora=yes', 'rslora', 'rslora'],
    ['?optimizer=lbfgs', 'optimizer', 'optimizer'],
    ['?adapters=qz.qv', 'adapters', 'adapters'],
    ['?model=../../etc', 'model', 'model'],
    ['?lr=0.1&lr=0.2', 'lr', 'lr'],
    ['?foo=1', 'foo', null],
    ['?__proto__=1', '__proto__', null],
    ['?task=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', 'task', 'task'],
    ['?adapters=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'adapters', 'adapters'],
    ['?%3Cscript%3Ealert(1)%3C%2Fscript%3E=1', '"<script>alert(1)</script>"', null],
  ];

  for (const [query, field, key] of MALFORMED) {
    it(`rejects ${query}`, () => {
      const link = parseLink(query, LESSONS);

      expect(rejectedFields(link)).toEqual([field]);
      expect(link.spec).toEqual(DEFAULT_SPEC);
      if (key !== null) expect(link.rejected[0]?.message).toContain(`the default ${JSON.stringify(String(DEFAULT_SPEC[key]))} is used`);
    });
  }

  it('keeps the good fields beside bad ones', () => {
    const link = parseLink('?lambda=0.25&steps=-3&task=brown-genre-4&bogus=1', LESSONS);

    expect(rejectedFields(link)).toEqual(['steps', 'bogus']);
    expect(link.spec).toEqual({ ...DEFAULT_SPEC, lambda: 0.25, task: 'brown-genre-4' });
  });

  it('suggests the field a misspelled key means', () => {
    const link = parseLink('?lora_alpha=4', LESSONS);

    expect(link.rejected[0]?.message).toContain('did you mean loraAlpha?');
  });

  it('shows a long key cut and quoted', () => {
    const link = parseLink(`?${'x'.repeat(500)}%0A=1`, LESSONS);

    expect(link.rejected[0]?.field.length).toBeLessThanOrEqual(40);
    expect(link.rejected[0]?.field).not.toContain('\n');
  });

  it('rejects every numeric field beyond its bounds', () => {
    for (const key of SPEC_KEYS) {
      const field = SPEC_FIELDS[key];
      if (field.kind !== 'int' && field.kind !== 'number') continue;

      for (const value of [field.max * 10 + 1, 1e308, -1e308, field.min - 1]) {
        const link = parseLink(`?${key}=${value}`, LESSONS);
        expect(rejectedFields(link), `${key}=${value}`).toEqual([key]);
        expect(link.spec[key], `${key}=${value}`).toBe(DEFAULT_SPEC[key]);
      }
    }
  });

  it('bounds every size that sets the work of a run', () => {
    for (const key of SPEC_KEYS) {
      const field = SPEC_FIELDS[key];
      if (field.kind === 'int' || field.kind === 'number') {
        expect(Number.isFinite(field.max), key).toBe(true);
        expect(Number.isFinite(field.min), key).toBe(true);
      }
    }
    // NOTE: these maxima bound a run from a link at 20,000 steps on 2,048
    // examples with a 256-example kernel; raising one raises what a link can start.
    expect(SPEC_FIELDS.steps).toMatchObject({ kind: 'int', max: 20000 });
    expect(SPEC_FIELDS.probeSize).toMatchObject({ kind: 'int', max: 256 });
    expect(SPEC_FIELDS.r).toMatchObject({ kind: 'int', max: 64 });
    expect(SPEC_FIELDS.batchSize).toMatchObject({ kind: 'int', max: 256 });
    expect(SPEC_FIELDS.trainSize).toMatchObject({ kind: 'int', max: 2048 });
    expect(SPEC_FIELDS.evalSize).toMatchObject({ kind: 'int', max: 2048 });
  });

  it('reads presentation as 1, 0, true or false', () => {
    expect(parseLink('?presentation=1').page.presentation).toBe(true);
    expect(parseLink('?presentation=true').page.presentation).toBe(true);
    expect(parseLink('?presentation=0').page.presentation).toBe(false);

    const link = parseLink('?presentation=yes');
    expect(link.page.presentation).toBe(false);
    expect(rejectedFields(link)).toEqual(['presentation']);
  });

  it('rejects an unknown lesson and a step out of range', () => {
    expect(rejectedFields(parseLink('?lesson=nope', LESSONS))).toEqual(['lesson']);
    expect(parseLink('?lesson=nope', LESSONS).page.lesson).toBeNull();

    const outOfRange = parseLink('?lesson=lambda-linear&lessonStep=99', LESSONS);
    expect(rejectedFields(outOfRange)).toEqual(['lessonStep']);
    expect(outOfRange.page.lessonStep).toBe(0);

    expect(rejectedFields(parseLink('?lessonStep=2', LESSONS))).toEqual(['lessonStep']);
    expect(rejectedFields(parseLink('?lesson=lambda-linear&lessonStep=0', LESSONS))).toEqual(['lessonStep']);
  });

  it('applies the lesson preset to a link without v', () => {
    const lesson = LESSONS[0];
    if (lesson === undefined) throw new Error('no lessons');

    const fresh = parseLink(`?lesson=${lesson.id}`, LESSONS);
    expect(fresh.spec).toEqual({ ...DEFAULT_SPEC, ...lesson.spec });

    const edited = parseLink(`?lesson=${lesson.id}&seed=7&steps=oops`, LESSONS);
    expect(edited.spec).toEqual({ ...DEFAULT_SPEC, ...lesson.spec, seed: 7 });
    expect(edited.rejected[0]?.message).toContain("the lesson's value");
  });

  it('takes a link with v as the whole spec', () => {
    const lesson = LESSONS[0];
    if (lesson === undefined) throw new Error('no lessons');

    const link = parseLink(`?v=1&lesson=${lesson.id}`, LESSONS);

    expect(link.spec).toEqual(DEFAULT_SPEC);
    expect(link.page.lesson).toBe(lesson.id);
  });

  it('passes failBackend on unchanged', () => {
    expect(parseLink('?failBackend=webgpu,webgl').page.failBackend).toBe('webgpu,webgl');
  });

  it('reads the preferred backend', () => {
    expect(parseLink('?backend=wasm').page.backend).toBe('wasm');
    expect(parseLink('?backend=wasm').rejected).toEqual([]);
  });

  it('rejects an unknown backend', () => {
    const link = parseLink('?backend=cuda');

    expect(link.page.backend).toBeNull();
    expect(link.rejected).toEqual([{ field: 'backend', message: 'got "cuda", expected one of webgpu, webgl, wasm, cpu; the fastest backend that starts is used' }]);
  });
});

describe('page source', () => {
  /** Lists every .ts and .tsx file under a folder. */
  function sourceFiles(folder: string): string[] {
    return readdirSync(folder).flatMap((name) => {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return /\.tsx?$/.test(name) ? [path] : [];
    });
  }

  it('inserts no raw HTML', () => {
    // Link values and task texts reach the page only as text: React escapes it, and d3 and the tooltips use textContent.
    const rawHtml = /dangerouslySetInnerHTML|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\.html\(|renderToString/;
    const offenders = sourceFiles('src').filter((path) => rawHtml.test(readFileSync(path, 'utf8')));

    expect(offenders).toEqual([]);
  });
});
