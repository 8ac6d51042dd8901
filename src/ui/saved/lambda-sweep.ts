/**
 * Pieces of the λ sweep, which runs one experiment per λ with the current
 * settings: parsing the list of λ values and waiting for one run to end.
 */
import type { ConfigEvent } from '../../core/events.ts';
import { SPEC_FIELDS } from '../../core/spec.ts';
import type { RunState } from '../../worker/protocol.ts';
import { isRunActive, type LabStore } from '../store.ts';

/** The most runs one sweep starts, so that each overlay keeps a color of its own. */
export const MAX_SWEEP_RUNS = 10;

export type LambdaList = { ok: true; lambdas: number[] } | { ok: false; message: string };

/** Parses a list such as "0, 0.001, 0.01, 0.1" (commas, semicolons or spaces between values). */
export function parseLambdaList(text: string): LambdaList {
  const { min, max } = SPEC_FIELDS.lambda;
  const items = text.split(/[\s,;]+/).filter((item) => item !== '');
  if (items.length === 0) return { ok: false, message: 'Enter at least one λ value, such as 0, 0.001, 0.01, 0.1.' };
  if (items.length > MAX_SWEEP_RUNS) return { ok: false, message: `A sweep runs at most ${MAX_SWEEP_RUNS} λ values; got ${items.length}.` };

  const lambdas: number[] = [];
  for (const item of items) {
    const value = Number(item);
    if (!Number.isFinite(value)) return { ok: false, message: `λ list: "${item}" is not a number; expected values such as 0, 0.001, 0.01.` };
    if (value < min || value > max) return { ok: false, message: `λ list: ${item} is out of range; expected values from ${min} to ${max}.` };
    lambdas.push(value);
  }
  return { ok: true, lambdas };
}

/** How a run that the sweep started ended. */
export type RunOutcome =
  | { kind: 'ended'; state: RunState; config: ConfigEvent | null }
  /** The worker rejected the start, so no run began; the message is the error notice. */
  | { kind: 'rejected'; message: string };

const END_STATES: readonly RunState[] = ['done', 'stopped', 'error', 'idle'];

/**
 * Resolves once a run started after this call has ended: it has become
 * active (or its config event has arrived) and then reached done, stopped,
 * error or idle. An error notice before the run begins means that the start
 * was rejected. `previousConfig` is the config event of the run shown before
 * the start, so a batch that holds the whole run is still recognized.
 */
export function waitForRunEnd(labStore: LabStore, previousConfig: ConfigEvent | null): Promise<RunOutcome> {
  const lastNoticeId = labStore.getState().notices.at(-1)?.id ?? 0;

  return new Promise((resolve) => {
    let began = false;
    const check = (): boolean => {
      const state = labStore.getState();
      const newConfig = state.run.config !== null && state.run.config !== previousConfig;
      if (isRunActive(state.runState) || newConfig) began = true;

      if (began && END_STATES.includes(state.runState)) {
        resolve({ kind: 'ended', state: state.runState, config: newConfig ? state.run.config : null });
        return true;
      }
      const rejection = began ? undefined : state.notices.find((notice) => notice.id > lastNoticeId && notice.level === 'error');
      if (rejection !== undefined) {
        resolve({ kind: 'rejected', message: rejection.text });
        return true;
      }
      return false;
    };

    if (check()) return;
    const unsubscribe = labStore.subscribe(() => {
      if (check()) unsubscribe();
    });
  });
}
