/** Creates the saved-runs store beside the page's lab store and connects it to IndexedDB while mounted. */
import { useContext, useEffect, useState, type ReactNode } from 'react';

import { LabStoreContext } from '../lab-context.ts';
import { SavedStoreContext } from './saved-context.ts';
import { createSavedStore } from './saved-store.ts';

export function SavedRunsProvider({ children }: { children: ReactNode }) {
  const labStore = useContext(LabStoreContext);
  const [store] = useState(() => {
    if (labStore === null) throw new Error('SavedRunsProvider must be used inside <LabStoreContext.Provider>');
    return createSavedStore(labStore);
  });
  useEffect(() => store.getState().connect(), [store]);
  return <SavedStoreContext.Provider value={store}>{children}</SavedStoreContext.Provider>;
}
