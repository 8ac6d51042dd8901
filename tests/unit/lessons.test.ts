import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import katex from 'katex';
import { describe, expect, it } from 'vitest';

import { DEFAULT_SPEC, SPEC_KEYS, formatSpecIssue, validateSpec, type ExperimentSpec } from '../../src/core/spec.ts';
import { splitInlineTex } from '../../src/ui/lessons/Tex.tsx';
import { findLesson, LESSONS } from '../../src/ui/lessons/index.ts';
import type { Lesson } from '../../src/ui/lessons/lesson.ts';
import { createLabStore, type LabPort } from '../../src/ui/store.ts';
import { parseLink } from '../../src/ui/url-spec.ts';

function validSpec(input: Partial<ExperimentSpec>): ExperimentSpec {
  const result = validateSpec(input);
  if (!result.ok) throw new Error(result.errors.map(formatSpecIssue).join('; '));
  return result.spec;
}

/** Returns every prose text of a lesson, where inline TeX sits between $ signs. */
function proseOf(lesson: Lesson): string[] {
  return [...lesson.intro, ...lesson.steps.flatMap((step) => [step.change, step.watch])];
}

/** Returns every TeX string of a lesson: display formulas and the inline parts of its prose. */
function texOf(lesson: Lesson): string[] {
  const inline = proseOf(lesson).flatMap((text) => splitInlineTex(text).filter((_, index) => index % 2 === 1));
  return [...lesson.tex, ...lesson.steps.flatMap((step) => step.tex ?? []), ...inline];
}

/** Reads every .ts and .tsx file under src/ui into one string. */
function uiSource(folder = 'src/ui'): string {
  return readdirSync(folder)
    .map((name) => {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) return uiSource(path);
      return /\.tsx?$/.test(name) ? readFileSync(path, 'utf8') : '';
    })
    .join('\n');
}

/**
 * Collects the data-testid values the UI source renders: literal attributes,
 * chart cards (`chart-<id>`), the loss charts' metrics and the spec fields
 * that the settings panel lists (`field-<key>`).
 */
function renderedTestIds(): Set<string> {
  const source = uiSource();
  const ids = new Set<string>();
  for (const match of source.matchAll(/(?:data-testid|testId)="([^"]+)"/g)) ids.add(match[1] as string);
  for (const match of source.matchAll(/<ChartCard[^>]*?\sid="([^"]+)"/g)) ids.add(`chart-${match[1] as string}`);
  for (const match of source.matchAll(/<LossChart metric="([^"]+)"/g)) ids.add(`chart-${match[1] as string}`);

  const controls = readFileSync('src/ui/panels/Controls.tsx', 'utf8');
  for (const key of SPEC_KEYS) {
    if (controls.includes(`['${key}',`)) ids.add(`field-${key}`);
  }
  return ids;
}

describe('lessons', () => {
  it('has at least four lessons with unique link ids', () => {
    const ids = LESSONS.map((lesson) => lesson.id);

    expect(LESSONS.length).toBeGreaterThanOrEqual(4);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9-]+$/);
  });

  it('finds a lesson by id', () => {
    expect(findLesson('lambda-linear')?.id).toBe('lambda-linear');
    expect(findLesson('nope')).toBeNull();
    expect(findLesson(null)).toBeNull();
  });

  for (const lesson of LESSONS) {
    describe(lesson.id, () => {
      it('prepares a valid, small experiment', () => {
        const spec = validSpec({ ...DEFAULT_SPEC, ...lesson.spec });

        expect(spec.trainSize).toBeLessThanOrEqual(32);
        expect(spec.evalSize).toBeLessThanOrEqual(32);
        expect(spec.probeSize).toBeLessThanOrEqual(16);
        expect(spec.steps).toBeGreaterThanOrEqual(50);
        expect(spec.steps).toBeLessThanOrEqual(150);
        expect(/[a-z]/.test(spec.adapters), 'at least one adapted block').toBe(true);
      });

      it('keeps the spec valid through every step', () => {
        let spec = validSpec({ ...DEFAULT_SPEC, ...lesson.spec });
        for (const step of lesson.steps) {
          if (step.apply !== undefined) spec = validSpec({ ...spec, ...step.apply });
        }
        expect(spec.steps).toBeLessThanOrEqual(150);
      });

      it('highlights only elements the page renders', () => {
        const ids = renderedTestIds();
        for (const step of lesson.steps) {
          expect(step.highlight.length, step.title).toBeGreaterThan(0);
          for (const id of step.highlight) expect(ids.has(id), `${step.title}: ${id}`).toBe(true);
        }
      });

      it('writes TeX that KaTeX renders', () => {
        for (const text of proseOf(lesson)) {
          expect(text.split('$').length % 2, `odd count of $ in: ${text}`).toBe(1);
        }
        for (const tex of texOf(lesson)) {
          expect(() => katex.renderToString(tex, { throwOnError: true, strict: 'error' }), tex).not.toThrow();
        }
      });

      it('opens by link with its prepared spec', () => {
        const link = parseLink(`?lesson=${lesson.id}`, LESSONS);

        expect(link.rejected).toEqual([]);
        expect(link.page.lesson).toBe(lesson.id);
        expect(link.spec).toEqual({ ...DEFAULT_SPEC, ...lesson.spec });
      });
    });
  }
});

describe('store applySpec', () => {
  /** Returns a worker port that records the calls the store makes. */
  function recordingPort(calls: string[]): LabPort {
    const record = (name: string) => async (): Promise<void> => {
      calls.push(name);
    };
    return {
      preview: record('preview'),
      selectAdapters: record('selectAdapters'),
      start: record('start'),
      pause: record('pause'),
      resume: record('resume'),
      stepOnce: record('stepOnce'),
      stop: record('stop'),
      reset: record('reset'),
      setLive: record('setLive'),
      runSweep: record('runSweep'),
      measureJacobianChange: record('measureJacobianChange'),
      cancel: record('cancel'),
      simulateDeviceLoss: record('simulateDeviceLoss'),
      memory: async () => ({ numTensors: 0, numBytes: 0 }),
    };
  }

  it('sets a lesson spec with one preview', () => {
    const calls: string[] = [];
    const store = createLabStore();
    store.getState().attach(recordingPort(calls));
    const lesson = LESSONS[0] as Lesson;

    store.getState().applySpec({ ...DEFAULT_SPEC, ...lesson.spec });

    expect(store.getState().spec).toEqual({ ...DEFAULT_SPEC, ...lesson.spec });
    expect(calls).toEqual(['preview']);
  });

  it('does nothing for unchanged values', () => {
    const calls: string[] = [];
    const store = createLabStore();
    store.getState().attach(recordingPort(calls));
    const before = store.getState().spec;

    store.getState().applySpec({ lr: DEFAULT_SPEC.lr });

    expect(store.getState().spec).toBe(before);
    expect(calls).toEqual([]);
  });

  it('applies live settings and lists the rest for a restart', () => {
    const calls: string[] = [];
    const store = createLabStore();
    store.getState().attach(recordingPort(calls));
    store.getState().start();
    store.getState().receive([{ kind: 'state', state: 'running', step: 3 }]);
    calls.length = 0;

    store.getState().applySpec({ lambda: 0.5, steps: 99, seed: 3 });

    expect(calls).toEqual(['setLive', 'preview']);
    expect(store.getState().runSpec?.lambda).toBe(0.5);
    expect(store.getState().pendingRestart).toEqual(['steps', 'seed']);
  });
});
