/** Says which saved run the charts show in place of the live one, with a way back. */
import { useSaved } from './saved-context.ts';

export function ShownRunBanner() {
  const shownRun = useSaved((state) => state.shownRun);
  const showLive = useSaved((state) => state.showLive);
  if (shownRun === null) return null;

  const started = shownRun.record.startedAt === null ? null : new Date(shownRun.record.startedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <p className="shown-run-banner" data-testid="shown-run" role="status">
      <span>
        The run charts show the saved run <strong data-testid="shown-run-name">{shownRun.name}</strong>
        {started !== null ? `, run on ${shownRun.record.backend ?? 'an unknown backend'} at ${started}` : ''}, not the live run.
      </span>
      <button type="button" data-testid="show-live-run" onClick={showLive}>
        Back to the live run
      </button>
    </p>
  );
}
