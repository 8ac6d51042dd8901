/**
 * The open lesson beside the charts: its introduction, numbered steps with
 * Back and Next, and a button that sets each step's settings. The current
 * step's controls and charts are highlighted on the page.
 */
import { DEFAULT_SWEEP_SUBSETS } from '../../core/sweep-subsets.ts';
import { useLab } from '../lab-context.ts';
import { usePage } from '../page-state.ts';
import { isRunActive } from '../store.ts';
import { useLessonHighlight } from './highlight.ts';
import { findLesson } from './index.ts';
import type { LessonStep } from './lesson.ts';
import { Prose, Tex } from './Tex.tsx';

const ACTION_LABELS = { start: 'start the run', restart: 'restart the run', runSweep: 'run the layer sweep' } as const;

export function LessonPanel() {
  const lesson = findLesson(usePage((state) => state.lesson));
  const stepIndex = usePage((state) => state.lessonStep);
  const setLessonStep = usePage((state) => state.setLessonStep);
  const closeLesson = usePage((state) => state.closeLesson);

  const count = lesson?.steps.length ?? 0;
  const current = Math.min(stepIndex, Math.max(0, count - 1));
  const step = lesson?.steps[current];
  useLessonHighlight(step?.highlight ?? [], `${lesson?.id ?? ''}:${current}`);

  if (lesson === null || step === undefined) return null;

  return (
    <aside className="lab-lesson" data-testid="lesson-panel" data-lesson={lesson.id} aria-label={`Lesson: ${lesson.title}`}>
      <header className="lesson-header">
        <h2>{lesson.title}</h2>
        <button type="button" className="lesson-close" data-testid="lesson-close" aria-label="Close the lesson" onClick={closeLesson}>
          ×
        </button>
      </header>

      <details className="lesson-intro" open={current === 0}>
        <summary>About this lesson</summary>
        {lesson.intro.map((paragraph) => (
          <Prose key={paragraph} text={paragraph} />
        ))}
        {lesson.tex.map((tex) => (
          <Tex key={tex} tex={tex} display />
        ))}
      </details>

      <ol className="lesson-steps" aria-label="Steps">
        {lesson.steps.map((item, index) => (
          <li key={item.title} className={stepClass(index, current)}>
            <button type="button" aria-current={index === current ? 'step' : undefined} onClick={() => setLessonStep(index)}>
              {item.title}
            </button>
          </li>
        ))}
      </ol>

      <StepBody key={`${lesson.id}:${current}`} step={step} number={current + 1} />

      <footer className="lesson-nav">
        <button type="button" data-testid="lesson-back" disabled={current === 0} onClick={() => setLessonStep(current - 1)}>
          Back
        </button>
        <span data-testid="lesson-step-count">
          Step {current + 1} of {count}
        </span>
        <button type="button" className="primary" data-testid="lesson-next" disabled={current === count - 1} onClick={() => setLessonStep(current + 1)}>
          Next
        </button>
      </footer>
    </aside>
  );
}

function StepBody({ step, number }: { step: LessonStep; number: number }) {
  const ready = useLab((state) => state.ready);
  const runState = useLab((state) => state.runState);
  const sweeping = useLab((state) => state.progress.sweep !== undefined);
  const applySpec = useLab((state) => state.applySpec);
  const start = useLab((state) => state.start);
  const restart = useLab((state) => state.restart);
  const runSweep = useLab((state) => state.runSweep);

  let label: string | null = null;
  if (step.apply !== undefined) label = step.action === undefined ? 'Set it for me' : `Set it for me and ${ACTION_LABELS[step.action]}`;
  else if (step.action !== undefined) label = capitalize(ACTION_LABELS[step.action]);

  const onApply = (): void => {
    if (step.apply !== undefined) applySpec(step.apply);
    switch (step.action) {
      case 'start':
      case 'restart':
        if (isRunActive(runState)) restart();
        else start();
        break;
      case 'runSweep':
        runSweep([...DEFAULT_SWEEP_SUBSETS]);
        break;
      case undefined:
        break;
    }
  };

  return (
    <section className="lesson-step" data-testid="lesson-step" data-step={number}>
      <h3>
        {number}. {step.title}
      </h3>
      <Prose className="lesson-change" text={step.change} />
      {step.tex?.map((tex) => (
        <Tex key={tex} tex={tex} display />
      ))}
      <Prose className="lesson-watch" text={step.watch} />
      {label !== null ? (
        <button
          type="button"
          data-testid="lesson-apply"
          disabled={step.action !== undefined && (!ready || (step.action === 'runSweep' && sweeping))}
          onClick={onApply}
        >
          {label}
        </button>
      ) : null}
    </section>
  );
}

function stepClass(index: number, current: number): string | undefined {
  if (index === current) return 'current';
  if (index < current) return 'done';
  return undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
