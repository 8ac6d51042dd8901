/**
 * The lab's module worker: it hosts the engine (lab-host.ts) on the best
 * tfjs backend it can start and serves LabWorkerApi over Comlink.
 */
import * as Comlink from 'comlink';

import { destroyGpuDevice, selectBrowserBackend, watchDeviceLoss } from './backend.ts';
import { LabHost } from './lab-host.ts';
import type { LabWorkerApi } from './protocol.ts';

const host: LabWorkerApi = new LabHost({
  selectBackend: selectBrowserBackend,
  fetch: (url) => fetch(url),
  watchDeviceLoss,
  destroyGpuDevice,
});

Comlink.expose(host);
