/** Entry point: builds the stores from the URL, keeps the URL in step with them, starts the worker client and renders the lab. */
// First: it cleans the query before tfjs, which App imports, reads it.
import { OPENING_LINK } from './opening-link.ts';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { LabClient, simulatedFailuresFromQuery } from '../worker/client.ts';
import { App } from './App.tsx';
import { LabStoreContext } from './lab-context.ts';
import { createPageStore, PageStoreContext, type PageStore } from './page-state.ts';
import { createLabStore, type LabStore } from './store.ts';
import { linkSearch } from './url-spec.ts';
import './styles.css';

/** Delay before the URL follows a change, so dragging a slider writes the URL once, not at every position. */
const URL_WRITE_DELAY_MS = 150;

/** Rewrites the URL with history.replaceState whenever the spec or the page state changes. */
function keepUrlInStep(store: LabStore, pageStore: PageStore): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const write = (): void => {
    timer = null;
    const search = linkSearch(store.getState().spec, pageStore.getState());
    const url = `${window.location.pathname}${search}${window.location.hash}`;
    if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
      window.history.replaceState(window.history.state, '', url);
    }
  };
  const schedule = (): void => {
    if (timer === null) timer = setTimeout(write, URL_WRITE_DELAY_MS);
  };

  store.subscribe((state, previous) => {
    if (state.spec !== previous.spec) schedule();
  });
  pageStore.subscribe((state, previous) => {
    if (state.presentation !== previous.presentation || state.lesson !== previous.lesson || state.lessonStep !== previous.lessonStep) schedule();
  });
}

/** Sets the `presentation` class on <html>, whose CSS variables enlarge type and lines. */
function followPresentationMode(pageStore: PageStore): void {
  const apply = (on: boolean): void => {
    document.documentElement.classList.toggle('presentation', on);
  };
  apply(pageStore.getState().presentation);
  pageStore.subscribe((state, previous) => {
    if (state.presentation !== previous.presentation) apply(state.presentation);
  });
}

const store = createLabStore(OPENING_LINK.spec);
const pageStore = createPageStore(OPENING_LINK.page, OPENING_LINK.rejected);
keepUrlInStep(store, pageStore);
followPresentationMode(pageStore);

const client = new LabClient({
  simulateFailure: simulatedFailuresFromQuery(window.location.search),
  ...(OPENING_LINK.page.backend !== null ? { prefer: OPENING_LINK.page.backend } : {}),
});
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
      <PageStoreContext.Provider value={pageStore}>
        <App />
      </PageStoreContext.Provider>
    </LabStoreContext.Provider>
  </StrictMode>,
);
