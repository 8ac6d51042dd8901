/**
 * The lab's module worker: it hosts the engine (lab-host.ts) on the best
 * tfjs backend it can start and serves LabWorkerApi over Comlink.
 */
import * as Comlink from 'comlink';

import { destroyGpuDevice, selectBrowserBackend, watchDeviceLoss } from './backend.ts';
import { LabHost } from './lab-host.ts';
import { markPhase } from './phase-marks.ts';
import type { LabWorkerApi } from './protocol.ts';

// Every import, tfjs and its backends included, has been evaluated by here.
markPhase('script');

const host: LabWorkerApi = new LabHost({
  selectBackend: selectBrowserBackend,
  fetch: (url) => fetch(url),
  watchDeviceLoss,
  destroyGpuDevice,
});

Comlink.expose(host);
