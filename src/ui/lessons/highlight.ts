/**
 * Highlights the controls and charts a lesson step is about: the elements
 * with the given data-testid values get the class `lesson-highlight`, and
 * the page scrolls them into view.
 */
import { useEffect } from 'react';

export const HIGHLIGHT_CLASS = 'lesson-highlight';

function findElements(testIds: readonly string[]): HTMLElement[] {
  return testIds.flatMap((testId) => Array.from(document.querySelectorAll<HTMLElement>(`[data-testid="${CSS.escape(testId)}"]`)));
}

/**
 * Keeps the class on every matching element while the step is shown. A
 * MutationObserver adds it again to elements that mount later (such as the
 * preview statistics once the kernel is computed) and to elements whose
 * className React rewrites.
 */
export function useLessonHighlight(testIds: readonly string[], stepKey: string): void {
  useEffect(() => {
    if (testIds.length === 0) return undefined;
    const marked = new Set<HTMLElement>();
    const mark = (): void => {
      for (const element of findElements(testIds)) {
        if (!element.classList.contains(HIGHLIGHT_CLASS)) element.classList.add(HIGHLIGHT_CLASS);
        marked.add(element);
      }
    };

    mark();
    // Scroll each into view in order: a sidebar control scrolls its own panel, and the window ends at the last one.
    for (const element of marked) element.scrollIntoView({ block: 'nearest', behavior: 'smooth' });

    const observer = new MutationObserver(mark);
    observer.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['class'] });
    return () => {
      observer.disconnect();
      for (const element of marked) element.classList.remove(HIGHLIGHT_CLASS);
    };
    // stepKey names the step; testIds is that step's constant list.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stepKey]);
}
