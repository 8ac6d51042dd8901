/** The page's lab store, handed to components through React context. */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';

import type { LabActions, LabState, LabStore } from './store.ts';

export const LabStoreContext = createContext<LabStore | null>(null);

/** Selects a slice of the lab store; components re-render only when the slice changes. */
export function useLab<T>(selector: (state: LabState & LabActions) => T): T {
  const store = useContext(LabStoreContext);
  if (store === null) throw new Error('useLab must be used inside <LabStoreContext.Provider>');
  return useStore(store, selector);
}
