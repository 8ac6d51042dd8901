/**
 * The header's page tools: the lesson menu, the presentation-mode toggle
 * (also on the key P) and "Copy link". Also the notice that lists the
 * parameters of the opening link that the lab rejected.
 */
import { useEffect, useRef, useState, type RefObject } from 'react';

import { DEFAULT_SPEC } from '../../core/spec.ts';
import { useLab } from '../lab-context.ts';
import { findLesson, LESSONS } from '../lessons/index.ts';
import { usePage } from '../page-state.ts';
import { linkSearch } from '../url-spec.ts';

/** The maximum number of link problems listed. A longer list ends with a count of the rest. */
const MAX_SHOWN_PROBLEMS = 20;

export function LinkBar() {
  const ref = useRef<HTMLDivElement | null>(null);
  usePublishedHeaderHeight(ref);
  return (
    <div ref={ref} className="link-bar" role="group" aria-label="Page tools">
      <LessonMenu />
      <PresentationToggle />
      <CopyLink />
    </div>
  );
}

/**
 * Publishes the height of the header around `inside` as the CSS variable
 * --lab-header-height, so the sticky sidebar and lesson column start below
 * the header when it wraps, as in presentation mode or on narrow screens.
 */
function usePublishedHeaderHeight(inside: RefObject<HTMLElement | null>): void {
  useEffect(() => {
    const header = inside.current?.closest<HTMLElement>('.lab-header');
    if (header === null || header === undefined) return undefined;
    const root = document.documentElement;
    const observer = new ResizeObserver(() => root.style.setProperty('--lab-header-height', `${header.offsetHeight}px`));
    observer.observe(header);
    return () => {
      observer.disconnect();
      root.style.removeProperty('--lab-header-height');
    };
  }, [inside]);
}

function LessonMenu() {
  const lessonId = usePage((state) => state.lesson);
  const openLesson = usePage((state) => state.openLesson);
  const closeLesson = usePage((state) => state.closeLesson);
  const applySpec = useLab((state) => state.applySpec);

  const onChange = (id: string): void => {
    const lesson = findLesson(id);
    if (lesson === null) {
      closeLesson();
      return;
    }
    // A lesson starts from its prepared experiment, so every other setting returns to its default.
    applySpec({ ...DEFAULT_SPEC, ...lesson.spec });
    openLesson(lesson.id);
  };

  return (
    <label className="lesson-menu">
      <span>Lesson</span>
      <select data-testid="lesson-menu" value={lessonId ?? ''} onChange={(event) => onChange(event.target.value)}>
        <option value="">none (free play)</option>
        {LESSONS.map((lesson) => (
          <option key={lesson.id} value={lesson.id}>
            {lesson.title}
          </option>
        ))}
      </select>
    </label>
  );
}

/** True when a key press goes to a form field or editable text, where P types a letter. */
function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || target.closest('input, select, textarea, [contenteditable="true"]') !== null;
}

function PresentationToggle() {
  const presentation = usePage((state) => state.presentation);
  const togglePresentation = usePage((state) => state.togglePresentation);

  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent): void => {
      if (event.key !== 'p' && event.key !== 'P') return;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || event.defaultPrevented) return;
      if (isTypingTarget(event.target)) return;
      event.preventDefault();
      togglePresentation();
    };
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [togglePresentation]);

  return (
    <button
      type="button"
      data-testid="presentation-toggle"
      aria-pressed={presentation}
      title="Large type and thick lines for a projector (key P)"
      onClick={togglePresentation}
    >
      Presentation <kbd>P</kbd>
    </button>
  );
}

type CopyState = { kind: 'idle' } | { kind: 'copied' } | { kind: 'fallback'; url: string; reason: string };

function CopyLink() {
  const spec = useLab((state) => state.spec);
  const page = usePage((state) => state);
  const [copy, setCopy] = useState<CopyState>({ kind: 'idle' });
  const fallbackRef = useRef<HTMLInputElement | null>(null);

  // A later change of settings makes "Link copied" stale.
  useEffect(() => setCopy((state) => (state.kind === 'copied' ? { kind: 'idle' } : state)), [spec, page.presentation, page.lesson, page.lessonStep]);

  useEffect(() => {
    if (copy.kind === 'fallback') fallbackRef.current?.select();
  }, [copy]);

  const onCopy = async (): Promise<void> => {
    const url = `${window.location.origin}${window.location.pathname}${linkSearch(spec, page)}`;
    if (navigator.clipboard === undefined) {
      setCopy({ kind: 'fallback', url, reason: 'the clipboard is not available on this page' });
      return;
    }
    try {
      await navigator.clipboard.writeText(url);
      setCopy({ kind: 'copied' });
    } catch (error) {
      setCopy({ kind: 'fallback', url, reason: error instanceof Error ? error.message : String(error) });
    }
  };

  return (
    <span className="copy-link">
      <button type="button" data-testid="copy-link" onClick={() => void onCopy()} title="Copy a link that reopens the lab with these settings">
        Copy link
      </button>
      <span role="status" data-testid="copy-link-status" className="copy-link-status">
        {copy.kind === 'copied' ? 'Link copied' : ''}
      </span>
      {copy.kind === 'fallback' ? (
        <span className="copy-link-fallback">
          <label>
            Copying failed ({copy.reason}). Select the link and copy it:
            <input ref={fallbackRef} type="text" readOnly value={copy.url} data-testid="copy-link-fallback" onFocus={(event) => event.target.select()} />
          </label>
          <button type="button" aria-label="Close" onClick={() => setCopy({ kind: 'idle' })}>
            ×
          </button>
        </span>
      ) : null}
    </span>
  );
}

/** Lists the parameters of the opening link that the lab rejected, with what it uses instead. */
export function LinkProblems() {
  const problems = usePage((state) => state.linkProblems);
  const dismiss = usePage((state) => state.dismissLinkProblems);
  if (problems.length === 0) return null;

  const shown = problems.slice(0, MAX_SHOWN_PROBLEMS);
  const hidden = problems.length - shown.length;
  return (
    <div className="notice notice-warning link-problems" data-testid="link-problems" role="status">
      <div>
        <p>
          This link has {problems.length === 1 ? 'a setting' : `${problems.length} settings`} that the lab could not use:
        </p>
        <ul>
          {shown.map((problem, index) => (
            <li key={index} data-testid="link-problem" data-field={problem.field}>
              <code>{problem.field}</code>: {problem.message}
            </li>
          ))}
        </ul>
        {hidden > 0 ? <p>…and {hidden} more.</p> : null}
      </div>
      <button type="button" aria-label="Dismiss" onClick={dismiss}>
        ×
      </button>
    </div>
  );
}
