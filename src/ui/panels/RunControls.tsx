/** Start, pause, resume, step once, stop and reset, with the run's state and step. */
import { useLab } from '../lab-context.ts';
import { isRunActive } from '../store.ts';

export function RunControls() {
  const runState = useLab((state) => state.runState);
  const step = useLab((state) => state.step);
  const totalSteps = useLab((state) => state.runSpec?.steps ?? state.spec.steps);
  const ready = useLab((state) => state.ready);
  // Each action alone: selecting the whole state would re-render these buttons at every streamed batch.
  const start = useLab((state) => state.start);
  const pause = useLab((state) => state.pause);
  const resume = useLab((state) => state.resume);
  const stepOnce = useLab((state) => state.stepOnce);
  const stop = useLab((state) => state.stop);
  const reset = useLab((state) => state.reset);
  const active = isRunActive(runState);
  // A grid of "-" groups only has no trainable parameter, so nothing could train.
  const noAdapters = useLab((state) => !/[a-z]/.test(state.spec.adapters));

  return (
    <div className="run-controls" role="group" aria-label="Run controls">
      <button type="button" className="primary" data-testid="run-start" disabled={!ready || active || noAdapters} onClick={start}>
        Start
      </button>
      {runState === 'paused' ? (
        <button type="button" data-testid="run-resume" onClick={resume}>
          Resume
        </button>
      ) : (
        <button type="button" data-testid="run-pause" disabled={runState !== 'running'} onClick={pause}>
          Pause
        </button>
      )}
      <button
        type="button"
        data-testid="run-step"
        disabled={!ready || runState === 'running' || runState === 'preparing' || (noAdapters && !active)}
        onClick={stepOnce}
        title="Run one optimizer step (starts a paused run when none exists)"
      >
        Step once
      </button>
      <button type="button" data-testid="run-stop" disabled={!active} onClick={stop}>
        Stop
      </button>
      <button type="button" data-testid="run-reset" disabled={!ready} onClick={reset}>
        Reset
      </button>
      {noAdapters ? <span className="field-problem">Choose at least one layer and module to adapt.</span> : null}
      <span className={`run-state state-${runState}`} data-testid="run-state" aria-live="polite">
        {runState} · step <span data-testid="run-step-count">{step}</span> / {totalSteps}
      </span>
    </div>
  );
}
