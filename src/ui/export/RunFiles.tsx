/**
 * The run's files: metrics as CSV, the run record as JSON and the trained
 * adapters as safetensors, plus loading a run record back. The exports read
 * what the charts show: a saved run while one is shown, else the live run.
 */
import type { ChangeEvent } from 'react';

import { useLab } from '../lab-context.ts';
import { useSaved } from '../saved/saved-context.ts';
import { downloadBlob, exportFileName } from './download.ts';
import { evalsToCsv, stepsToCsv } from './run-csv.ts';
import { formatRunRecord } from './run-record.ts';

export function RunFiles() {
  const liveRun = useLab((state) => state.run);
  const shownRun = useSaved((state) => state.shownRun);
  const currentRecord = useSaved((state) => state.currentRecord);
  const importRecord = useSaved((state) => state.importRecord);
  const setMessage = useSaved((state) => state.setMessage);
  const exportAdapters = useLab((state) => state.exportAdapters);
  const run = shownRun?.run ?? liveRun;
  const hasRun = run.config !== null;

  const saveText = (text: string, subject: string, extension: string, type: string): void => {
    downloadBlob(new Blob([text], { type }), exportFileName(subject, extension));
  };

  const exportRecord = (): void => {
    const record = currentRecord();
    if (record === null) {
      setMessage({ level: 'error', text: 'No run to export yet: start a run or show a saved one.' });
      return;
    }
    saveText(formatRunRecord(record), 'run', 'json', 'application/json');
  };

  // θ lives in the worker, so only the live run's adapters can be exported.
  const saveAdapters = async (): Promise<void> => {
    try {
      const bytes = await exportAdapters();
      downloadBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), exportFileName('adapters', 'safetensors'));
    } catch (error) {
      setMessage({ level: 'error', text: `Exporting the adapters failed: ${error instanceof Error ? error.message : String(error)}.` });
    }
  };

  const loadFile = async (event: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const input = event.currentTarget;
    const file = input.files?.[0];
    if (file === undefined) return;
    try {
      await importRecord(await file.text(), file.name);
    } catch (error) {
      setMessage({ level: 'error', text: `${file.name}: reading the file failed (${error instanceof Error ? error.message : String(error)}).` });
    } finally {
      // Clearing the input lets the same file be chosen again after a fix.
      input.value = '';
    }
  };

  return (
    <div className="run-files panel-actions" role="group" aria-label="Run files">
      <span className="run-files-label">{shownRun === null ? 'This run:' : `“${shownRun.name}”:`}</span>
      <button type="button" data-testid="export-evals-csv" disabled={!hasRun} onClick={() => saveText(evalsToCsv(run.evals), 'evals', 'csv', 'text/csv')} title="One row per evaluation: step, model, split, loss, accuracy">
        Eval metrics CSV
      </button>
      <button type="button" data-testid="export-steps-csv" disabled={!hasRun} onClick={() => saveText(stepsToCsv(run.steps), 'steps', 'csv', 'text/csv')} title="One row per optimizer step and model: batch loss, objective, distance">
        Step losses CSV
      </button>
      <button type="button" data-testid="export-record" disabled={!hasRun} onClick={exportRecord} title="Spec, events, backend and times; Load run record shows it again">
        Run record JSON
      </button>
      <button
        type="button"
        data-testid="export-adapters"
        disabled={shownRun !== null || liveRun.config === null}
        onClick={() => void saveAdapters()}
        title={shownRun === null ? 'The trained θ of the live run, with PEFT-style tensor names' : 'Only the live run’s adapters are in the worker; go back to the live run to export them'}
      >
        Adapters .safetensors
      </button>
      <label className="file-button" title="Show a run record JSON file in the charts and keep it in Saved runs">
        Load run record…
        <input type="file" accept=".json,application/json" data-testid="load-record" onChange={(event) => void loadFile(event)} />
      </label>
    </div>
  );
}
