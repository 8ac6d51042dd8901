/**
 * Runs the app's lab worker through its client (src/worker/client.ts) for a
 * long fine-tuning run and samples the worker's tf.memory() as it goes, for
 * src/cli/bench-app.ts. It exposes `window.ntkBenchRun`.
 */
import type { LabEvent } from '../../src/core/events.ts';
import { validateSpec, type ExperimentSpec } from '../../src/core/spec.ts';
import { LabClient } from '../../src/worker/client.ts';
import type { BackendName, BackendReport, WorkerMessage } from '../../src/worker/protocol.ts';

export interface MemorySample {
  /** Milliseconds since the run started. */
  at: number;
  /** The last step event's step when the sample was taken. */
  step: number;
  numTensors: number;
  numBytes: number;
}

export interface WorkerRunResult {
  backend: BackendReport;
  spec: ExperimentSpec;
  initMs: number;
  runMs: number;
  steps: number;
  finalState: string;
  samples: MemorySample[];
  /** The error event's or error message's text, when the run failed. */
  error?: string;
}

declare global {
  interface Window {
    ntkBenchRun: (fields: Partial<ExperimentSpec>, sampleEveryMs: number, exclude: BackendName[]) => Promise<WorkerRunResult>;
  }
}

function lastStep(events: readonly LabEvent[], current: number): number {
  let step = current;
  for (const event of events) if (event.type === 'step') step = Math.max(step, event.step);
  return step;
}

/** Runs the worker with the backends in `exclude` left out, sampling tf.memory() every `sampleEveryMs`. */
async function runWorker(fields: Partial<ExperimentSpec>, sampleEveryMs: number, exclude: BackendName[]): Promise<WorkerRunResult> {
  const checked = validateSpec(fields);
  if (!checked.ok) throw new Error(`invalid bench spec: ${checked.errors.map((issue) => issue.message).join('; ')}`);
  const spec = checked.spec;

  const client = new LabClient({ exclude });
  const initStarted = performance.now();
  const backend = await client.init();
  const initMs = performance.now() - initStarted;

  let step = 0;
  let finalState = 'running';
  let error: string | undefined;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  client.subscribe((messages: WorkerMessage[]) => {
    for (const message of messages) {
      if (message.kind === 'events') {
        step = lastStep(message.events, step);
        const failure = message.events.find((event) => event.type === 'error');
        if (failure?.type === 'error') error = failure.message;
      }
      if (message.kind === 'error') error = message.message;
      if (message.kind === 'state' && ['done', 'stopped', 'error'].includes(message.state)) {
        finalState = message.state;
        finish();
      }
    }
  });

  const samples: MemorySample[] = [];
  const runStarted = performance.now();
  const sample = async (): Promise<void> => {
    const memory = await client.memory();
    samples.push({ at: performance.now() - runStarted, step, ...memory });
  };
  await sample();
  await client.start(spec);
  const timer = setInterval(() => void sample(), sampleEveryMs);
  await finished;
  clearInterval(timer);
  const runMs = performance.now() - runStarted;
  await sample();
  client.terminate();

  return { backend, spec, initMs, runMs, steps: step, finalState, samples, ...(error === undefined ? {} : { error }) };
}

window.ntkBenchRun = runWorker;
