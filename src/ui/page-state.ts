/**
 * The page state that is not part of the experiment: presentation mode, the
 * open lesson and its step, and the problems of the link the page opened
 * with. The permalink carries all of it except the link problems.
 */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';

import type { LinkPage, LinkProblem } from './url-spec.ts';

export interface PageState extends LinkPage {
  /** The rejected parameters of the link the page opened with; empty once dismissed. */
  linkProblems: LinkProblem[];
}

export interface PageActions {
  setPresentation(on: boolean): void;
  togglePresentation(): void;
  /** Opens a lesson at its first step. The caller applies the lesson's spec. */
  openLesson(id: string): void;
  closeLesson(): void;
  /** Moves the open lesson to a step, counted from 0. */
  setLessonStep(step: number): void;
  dismissLinkProblems(): void;
}

export type PageStore = StoreApi<PageState & PageActions>;

export function createPageStore(initial: LinkPage, linkProblems: LinkProblem[] = []): PageStore {
  return createStore<PageState & PageActions>()((set) => ({
    ...initial,
    linkProblems,

    setPresentation(on) {
      set({ presentation: on });
    },

    togglePresentation() {
      set((state) => ({ presentation: !state.presentation }));
    },

    openLesson(id) {
      set({ lesson: id, lessonStep: 0 });
    },

    closeLesson() {
      set({ lesson: null, lessonStep: 0 });
    },

    setLessonStep(step) {
      set({ lessonStep: Math.max(0, step) });
    },

    dismissLinkProblems() {
      set({ linkProblems: [] });
    },
  }));
}

export const PageStoreContext = createContext<PageStore | null>(null);

/** Selects a slice of the page store; components re-render only when the slice changes. */
export function usePage<T>(selector: (state: PageState & PageActions) => T): T {
  const store = useContext(PageStoreContext);
  if (store === null) throw new Error('usePage must be used inside <PageStoreContext.Provider>');
  return useStore(store, selector);
}
