/** Says which saved run the charts show in place of the live one, with a way back. */
import { useSaved } from './saved-context.ts';

export function ShownRunBanner() {
  const shown = useSaved((state) => state.shown);
  const showLive = useSaved((state) => state.showLive);
  if (shown === null) return null;

  const started = shown.record.startedAt === null ? null : new Date(shown.record.startedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <p className="shown-run-banner" data-testid="shown-run" role="status">
      <span>
        The run charts show the saved run <strong data-testid="shown-run-name">{shown.name}</strong>
        {started !== null ? `, run on ${shown.record.backend ?? 'an unknown backend'} at ${started}` : ''}, not the live run.
      </span>
      <button type="button" data-testid="show-live-run" onClick={showLive}>
        Back to the live run
      </button>
    </p>
  );
}
