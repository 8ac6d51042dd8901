/** The backend in use and why faster ones were skipped, the notices, the progress of long tasks and pending restarts. */
import { useLab } from '../lab-context.ts';
import { taskLabel } from '../store.ts';
import type { TaskKind } from '../../worker/protocol.ts';

export function BackendBadge() {
  const backend = useLab((state) => state.backend);
  const memory = useLab((state) => state.memory);
  const readMemory = useLab((state) => state.readMemory);
  const simulateDeviceLoss = useLab((state) => state.simulateDeviceLoss);
  if (backend === null) {
    return (
      <span className="backend-badge loading" data-testid="backend">
        starting the worker…
      </span>
    );
  }
  return (
    <details className="backend-badge" data-testid="backend-details" onToggle={(event) => event.currentTarget.open && readMemory()}>
      <summary>
        backend: <strong data-testid="backend">{backend.backend}</strong>
        {backend.adapter !== undefined ? <span className="backend-adapter"> ({backend.adapter})</span> : null}
      </summary>
      {backend.skipped.length === 0 ? (
        <p>The fastest backend, WebGPU, runs.</p>
      ) : (
        <ul data-testid="backend-skipped">
          {backend.skipped.map((skip) => (
            <li key={skip.backend}>
              {skip.backend} not used: {skip.reason}
            </li>
          ))}
        </ul>
      )}
      <p data-testid="worker-memory">
        Worker memory: {memory === null ? '–' : `${memory.numTensors} tensors, ${(memory.numBytes / 1e6).toFixed(1)} MB`}{' '}
        <button type="button" onClick={readMemory}>
          Refresh
        </button>
      </p>
      {backend.backend === 'webgpu' ? (
        <button type="button" data-testid="simulate-device-loss" onClick={simulateDeviceLoss} title="Destroys the GPU device; the lab restarts its worker on the next backend">
          Simulate a lost GPU device
        </button>
      ) : null}
    </details>
  );
}

export function Notices() {
  const notices = useLab((state) => state.notices);
  const dismiss = useLab((state) => state.dismissNotice);
  if (notices.length === 0) return null;
  return (
    <div className="notices" aria-live="polite">
      {notices.map((notice) => (
        <div key={notice.id} className={`notice notice-${notice.level}`} data-testid={`notice-${notice.level}`} role={notice.level === 'error' ? 'alert' : 'status'}>
          <span>{notice.text}</span>
          <button type="button" aria-label="Dismiss" onClick={() => dismiss(notice.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function ProgressList() {
  const progress = useLab((state) => state.progress);
  const cancel = useLab((state) => state.cancel);
  const tasks = Object.entries(progress) as [TaskKind, { done: number; total: number; label: string }][];
  if (tasks.length === 0) return null;
  return (
    <div className="progress-list">
      {tasks.map(([task, item]) => (
        <div key={task} className="progress-item" data-testid={`progress-${task}`}>
          <span className="progress-label">
            {taskLabel(task)}: {item.label}
          </span>
          <progress max={Math.max(1, item.total)} value={item.done} />
          {task !== 'load' ? (
            <button type="button" data-testid={`cancel-${task}`} onClick={() => cancel(task)}>
              Cancel
            </button>
          ) : null}
        </div>
      ))}
    </div>
  );
}

export function RestartBanner() {
  const pending = useLab((state) => state.pendingRestart);
  const liveApplied = useLab((state) => state.liveApplied);
  const restart = useLab((state) => state.restart);
  return (
    <>
      {liveApplied !== null ? (
        <p className="live-note" data-testid="live-applied">
          Applied live at step {liveApplied.step}: η = {liveApplied.settings.lr}, λ = {liveApplied.settings.lambda}. The closed-form
          overlay assumes fixed η and λ, so it no longer describes this run.
        </p>
      ) : null}
      {pending.length > 0 ? (
        <div className="restart-banner" data-testid="restart-banner" role="status">
          <span>
            {pending.join(', ')} changed: {pending.length === 1 ? 'it takes' : 'they take'} effect after a restart.
          </span>
          <button type="button" onClick={restart}>
            Restart with new settings
          </button>
        </div>
      ) : null}
    </>
  );
}
