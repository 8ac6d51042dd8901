/**
 * `npm run export-data [-- --out FILE]`: writes the task data that the
 * browser needs (see src/worker/task-sources.ts) from the installed npm
 * packages, to public/data/task-sources.json by default.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

import { loadTaskSources } from './sources.ts';
import { toTaskSourcesFile } from '../worker/task-sources.ts';

const DEFAULT_OUT = 'public/data/task-sources.json';

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string', default: DEFAULT_OUT } } });
  const out = values.out;

  const file = toTaskSourcesFile(loadTaskSources());
  const text = `${JSON.stringify(file)}\n`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);

  const heldOut = file.brown.filter((entry) => entry.sentences.length > 0).length;
  process.stdout.write(
    `wrote ${out}: ${file.brown.length} Brown texts (${heldOut} held out with sentences), ` +
      `${Object.keys(file.afinn).length} AFINN-165 entries, ${Buffer.byteLength(text)} bytes\n`,
  );
}

main();
