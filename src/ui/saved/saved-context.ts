/** The page's saved-runs store, handed to components through React context. */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';

import type { SavedActions, SavedState, SavedStore } from './saved-store.ts';

export const SavedStoreContext = createContext<SavedStore | null>(null);

/** Selects a slice of the saved-runs store; components re-render only when the slice changes. */
export function useSaved<T>(selector: (state: SavedState & SavedActions) => T): T {
  const store = useContext(SavedStoreContext);
  if (store === null) throw new Error('useSaved must be used inside <SavedRunsProvider>');
  return useStore(store, selector);
}
