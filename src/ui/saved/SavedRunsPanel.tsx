/**
 * The saved-runs panel: the run's files, the list of saved runs with rename,
 * delete, show and compare, and the λ sweep.
 */
import { useState } from 'react';

import { formatPercent } from '../charts/frame.ts';
import { RunFiles } from '../export/RunFiles.tsx';
import { useLab } from '../lab-context.ts';
import { isRunActive } from '../store.ts';
import type { SavedRunSummary } from './db.ts';
import { useSaved } from './saved-context.ts';

export function SavedRunsPanel() {
  const message = useSaved((state) => state.message);
  const setMessage = useSaved((state) => state.setMessage);

  return (
    <section className="panel saved-panel" aria-label="Saved runs" data-testid="saved-panel">
      <h2>Runs: files and saved runs</h2>
      <RunFiles />
      {message !== null ? (
        <p className={`saved-message saved-message-${message.level}`} data-testid="saved-message" role={message.level === 'error' ? 'alert' : 'status'}>
          <span>{message.text}</span>
          <button type="button" aria-label="Dismiss" onClick={() => setMessage(null)}>
            ×
          </button>
        </p>
      ) : null}
      <SavedRunList />
      <LambdaSweep />
    </section>
  );
}

function SavedRunList() {
  const loaded = useSaved((state) => state.loaded);
  const storageProblem = useSaved((state) => state.storageProblem);
  const runs = useSaved((state) => state.runs);
  const selected = useSaved((state) => state.selected);
  const overlays = useSaved((state) => state.overlays);
  const saveLive = useSaved((state) => state.saveLive);
  const compareSelected = useSaved((state) => state.compareSelected);
  const clearComparison = useSaved((state) => state.clearComparison);
  const hasLiveRun = useLab((state) => state.run.config !== null);

  if (storageProblem !== null) {
    return (
      <p className="saved-unavailable" data-testid="saved-unavailable">
        {storageProblem}
      </p>
    );
  }
  return (
    <div className="saved-runs">
      <div className="panel-actions">
        <button type="button" data-testid="save-run" disabled={!hasLiveRun} onClick={() => void saveLive()} title="Runs are also saved when they end">
          Save the live run now
        </button>
        <button type="button" data-testid="compare-runs" disabled={selected.length < 2} onClick={() => void compareSelected()}>
          Compare ticked runs ({selected.length})
        </button>
        {overlays.length > 0 ? (
          <button type="button" data-testid="clear-comparison" onClick={clearComparison}>
            Clear comparison ({overlays.length} overlaid)
          </button>
        ) : null}
      </div>
      {!loaded ? <p className="control-note">Reading the saved runs…</p> : null}
      {loaded && runs.length === 0 ? <p className="control-note">No saved runs yet. A run is saved here when it ends.</p> : null}
      {runs.length > 0 ? (
        <table className="saved-table" data-testid="saved-runs">
          <thead>
            <tr>
              <th scope="col">
                <span className="visually-hidden">Compare</span>
              </th>
              <th scope="col">Name</th>
              <th scope="col">Saved</th>
              <th scope="col">Task</th>
              <th scope="col">λ</th>
              <th scope="col">Steps</th>
              <th scope="col">Final eval accuracy</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <SavedRunRow key={run.id} run={run} />
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function SavedRunRow({ run }: { run: SavedRunSummary }) {
  const selected = useSaved((state) => state.selected.includes(run.id));
  const isShown = useSaved((state) => state.shownRun?.id === run.id);
  const overlay = useSaved((state) => state.overlays.find((entry) => entry.id === run.id));
  const toggleSelected = useSaved((state) => state.toggleSelected);
  const show = useSaved((state) => state.show);
  const rename = useSaved((state) => state.rename);
  const remove = useSaved((state) => state.remove);
  const [draft, setDraft] = useState<string | null>(null);
  const [confirmingDelete, setConfirmingDelete] = useState(false);

  const commitRename = async (): Promise<void> => {
    if (draft === null) return;
    await rename(run.id, draft);
    setDraft(null);
  };

  return (
    <tr data-testid="saved-run" data-run-id={run.id} className={isShown ? 'saved-shown' : undefined}>
      <td>
        <input type="checkbox" aria-label={`Compare ${run.name}`} checked={selected} onChange={() => toggleSelected(run.id)} />
      </td>
      <td className="saved-name">
        {overlay !== undefined ? <span className="saved-swatch" style={{ background: overlay.color }} aria-hidden="true" /> : null}
        {draft === null ? (
          <span data-testid="saved-run-name">{run.name}</span>
        ) : (
          <form
            className="saved-rename"
            onSubmit={(event) => {
              event.preventDefault();
              void commitRename();
            }}
          >
            <input aria-label="New name" data-testid="rename-input" value={draft} autoFocus onChange={(event) => setDraft(event.target.value)} />
            <button type="submit" data-testid="rename-save">
              Save
            </button>
            <button type="button" onClick={() => setDraft(null)}>
              Cancel
            </button>
          </form>
        )}
      </td>
      <td>{new Date(run.savedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</td>
      <td>{run.task}</td>
      <td>{run.lambda}</td>
      <td>{run.steps}</td>
      <td data-testid="saved-run-accuracy">{run.finalEvalAccuracy === null ? '–' : formatPercent(run.finalEvalAccuracy)}</td>
      <td>
        <div className="saved-actions">
          <button type="button" data-testid="show-run" onClick={() => void show(run.id)} disabled={isShown}>
            Show
          </button>
          <button type="button" data-testid="rename-run" onClick={() => setDraft(run.name)} disabled={draft !== null}>
            Rename
          </button>
          {confirmingDelete ? (
            <>
              <button type="button" className="danger" data-testid="confirm-delete" onClick={() => void remove(run.id)}>
                Delete for good
              </button>
              <button type="button" onClick={() => setConfirmingDelete(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" data-testid="delete-run" onClick={() => setConfirmingDelete(true)}>
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

function LambdaSweep() {
  const sweep = useSaved((state) => state.sweep);
  const runLambdaSweep = useSaved((state) => state.runLambdaSweep);
  const cancelSweep = useSaved((state) => state.cancelSweep);
  const ready = useLab((state) => state.ready);
  const active = useLab((state) => isRunActive(state.runState));
  const step = useLab((state) => state.step);
  const steps = useLab((state) => state.spec.steps);
  const [text, setText] = useState('0, 0.001, 0.01, 0.1');

  return (
    <div className="lambda-sweep" data-testid="lambda-sweep">
      <form
        className="panel-actions"
        onSubmit={(event) => {
          event.preventDefault();
          void runLambdaSweep(text);
        }}
      >
        <label htmlFor="lambda-list">λ sweep, one run per value:</label>
        <input id="lambda-list" data-testid="lambda-list" value={text} onChange={(event) => setText(event.target.value)} disabled={sweep !== null} size={22} />
        <button type="submit" data-testid="run-lambda-sweep" disabled={!ready || active || sweep !== null} title="Runs the current settings once per λ, saves each run as “λ = …” and overlays them">
          Run λ sweep
        </button>
      </form>
      {sweep !== null ? (
        <div className="progress-item" data-testid="lambda-sweep-progress">
          <span className="progress-label">
            Run {sweep.index + 1} of {sweep.lambdas.length}: {sweep.runName}, step {step} / {steps}
            {sweep.cancelled ? ' (cancelling)' : ''}
          </span>
          <progress max={sweep.lambdas.length * Math.max(1, steps)} value={sweep.index * Math.max(1, steps) + Math.min(step, steps)} />
          <button type="button" data-testid="cancel-lambda-sweep" onClick={cancelSweep} disabled={sweep.cancelled}>
            Cancel
          </button>
        </div>
      ) : null}
    </div>
  );
}
