/** Entry point: builds the store from the URL, starts the worker client and renders the lab. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { LabClient, simulatedFailuresFromQuery } from '../worker/client.ts';
import { App } from './App.tsx';
import { LabStoreContext } from './lab-context.ts';
import { createLabStore } from './store.ts';
import { specFromSearch } from './url-spec.ts';
import './styles.css';

const { spec, rejected } = specFromSearch(window.location.search);
const store = createLabStore(spec);
for (const line of rejected) store.getState().notify('warning', `Link setting rejected: ${line}`);

const client = new LabClient({ simulateFailure: simulatedFailuresFromQuery(window.location.search) });
store.getState().attach(client);
client.subscribe(
  (messages) => store.getState().receive(messages),
  (notice) => store.getState().receiveNotice(notice),
);
client.init().catch((error: unknown) => {
  store.getState().receiveNotice({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
});

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <LabStoreContext.Provider value={store}>
      <App />
    </LabStoreContext.Provider>
  </StrictMode>,
);
