/**
 * `npm run lab -- <command>`: the headless lab.
 *
 *   run     fine-tunes per an experiment spec and prints its events as JSON lines.
 *   ntk     computes the NTK at θ₀ on the probe set and writes it with its inputs.
 *   sweep   compares layer subsets by κ_λ at θ₀ and by their fine-tuning outcome.
 */
import { createWriteStream, existsSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';

import * as tf from '@tensorflow/tfjs';

import { integerOption, parseCliArgs, UsageError } from './args.ts';
import { setNodeBackend, type NodeBackend } from './backend.ts';
import { loadCheckpoint, modelDir } from './checkpoint-files.ts';
import { loadTaskSources } from './sources.ts';
import { encodeSafetensors, type SafetensorsTensor } from '../core/checkpoint/safetensors.ts';
import type { LabEvent } from '../core/events.ts';
import { analyzeNtk } from '../core/ntk/analysis.ts';
import { FineTuneRun, runExperiment } from '../core/runner.ts';
import { runSweep } from '../core/sweep.ts';
import { DEFAULT_SWEEP_SUBSETS } from '../core/sweep-subsets.ts';
import type { RunnerInputs } from '../core/runner.ts';
import { formatSpecIssue, parseSetArgument, parseSpecStrings, SPEC_KEYS, validateSpec, formatSpecStrings, type ExperimentSpec } from '../core/spec.ts';

const HELP = `Usage:
  npm run lab -- run   [--spec FILE.json] [--set key=value ...] [--out FILE.jsonl]
  npm run lab -- ntk   [--spec FILE.json] [--set key=value ...] [--out FILE.json]
                       [--adapters-out FILE.safetensors] [--radii R,R,...] [--directions N]
  npm run lab -- sweep [--spec FILE.json] [--set key=value ...] [--subsets GRID;GRID;...] [--out FILE.jsonl]

run     fine-tunes the pretrained model per an experiment spec and prints one
        JSON event per line: config, step, eval, divergence, ntk, theory,
        done, or error.
ntk     computes the empirical NTK at θ₀ on the probe set (the first probeSize
        training examples) and writes the kernel, its spectra and every input
        needed to recompute it; --adapters-out writes θ₀'s adapter tensors.
        --radii sets the radii of the Jacobian-change curve (default
        0.01,0.1,1, empty for none), --directions the random directions per
        radius (default 2).
sweep   for each layer subset (adapter grids separated by ';', default ten
        subsets of a 4-layer model), computes κ_λ of K_S at θ₀ and its Weyl
        bounds, fine-tunes it for the spec's steps, and reports the
        correlation of κ_λ with the final train loss and eval accuracy.

Common options:
  --spec FILE.json    a JSON object with any spec fields; the rest take defaults
  --set key=value     set one field (repeatable); applied after --spec
  --out FILE          also write the events (run, sweep) or the full report (ntk) to FILE
  --backend NAME      tfjs backend: wasm (default) or cpu

Spec fields: ${SPEC_KEYS.join(', ')}
`;

/** Reads --spec and --set into one validated spec, or throws a UsageError listing every problem. */
export function resolveSpec(specFile: string | undefined, setArgs: readonly string[]): ExperimentSpec {
  let base: Record<string, unknown> = {};
  if (specFile !== undefined) {
    if (!existsSync(specFile)) throw new UsageError(`--spec: file not found: ${specFile}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(specFile, 'utf8')) as unknown;
    } catch (error) {
      throw new UsageError(`--spec: ${specFile} is not valid JSON (${(error as Error).message})`);
    }
    const checked = validateSpec(parsed);
    if (!checked.ok) throw new UsageError(`invalid spec in ${specFile}: ${checked.errors.map(formatSpecIssue).join('; ')}`);
    base = formatSpecStrings(checked.spec);
  }

  const pairs: Record<string, string> = { ...(base as Record<string, string>) };
  for (const arg of setArgs) {
    let key: string;
    let value: string;
    try {
      [key, value] = parseSetArgument(arg);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    pairs[key] = value;
  }
  const result = parseSpecStrings(pairs);
  if (!result.ok) throw new UsageError(`invalid spec: ${result.errors.map(formatSpecIssue).join('; ')}`);
  return result.spec;
}

const COMMON_OPTIONS = {
  spec: { type: 'string' as const },
  set: { type: 'string' as const, multiple: true as const, default: [] as string[] },
  out: { type: 'string' as const },
  backend: { type: 'string' as const, default: 'wasm' },
  help: { type: 'boolean' as const, default: false },
};

interface Setup {
  spec: ExperimentSpec;
  inputs: RunnerInputs;
  checkpointDir: string;
}

async function setUp(values: { spec?: string; set: string[]; backend: string }): Promise<Setup> {
  if (values.backend !== 'wasm' && values.backend !== 'cpu') {
    throw new UsageError(`--backend: got "${values.backend}", expected wasm or cpu`);
  }
  const spec = resolveSpec(values.spec, values.set);
  const backend = await setNodeBackend(values.backend as NodeBackend);
  const checkpointDir = modelDir(spec.model);
  const checkpoint = loadCheckpoint(checkpointDir);
  return { spec, inputs: { checkpoint, sources: loadTaskSources(), backend }, checkpointDir };
}

/** Prints events as JSON lines (and to --out), and returns 1 when one was an error. */
async function streamEvents(events: AsyncIterable<LabEvent>, outFile: string | undefined, command: string): Promise<number> {
  let out: WriteStream | null = null;
  if (outFile !== undefined) out = createWriteStream(outFile);
  let failed = false;
  for await (const event of events) {
    const line = `${JSON.stringify(event)}\n`;
    process.stdout.write(line);
    out?.write(line);
    if (event.type === 'error') failed = true;
  }
  if (out !== null) await new Promise<void>((resolve) => out.end(resolve));
  if (failed) process.stderr.write(`lab ${command}: the run failed; see the error event above\n`);
  return failed ? 1 : 0;
}

async function runCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({ args, options: COMMON_OPTIONS });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { spec, inputs } = await setUp(values);
  return streamEvents(runExperiment(spec, inputs), values.out, 'run');
}

async function sweepCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({ args, options: { ...COMMON_OPTIONS, subsets: { type: 'string' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const subsets = values.subsets === undefined ? DEFAULT_SWEEP_SUBSETS : values.subsets.split(';').map((entry) => entry.trim());
  const { spec, inputs } = await setUp(values);
  return streamEvents(runSweep(spec, inputs, subsets), values.out, 'sweep');
}

function parseRadii(text: string | undefined): number[] {
  if (text === undefined) return [0.01, 0.1, 1];
  if (text.trim() === '') return [];
  return text.split(',').map((entry) => {
    const value = Number(entry);
    if (entry.trim() === '' || !Number.isFinite(value) || value <= 0) {
      throw new UsageError(`--radii: got "${entry}", expected positive numbers separated by commas`);
    }
    return value;
  });
}

async function ntkCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      'adapters-out': { type: 'string' },
      radii: { type: 'string' },
      directions: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const radii = parseRadii(values.radii);
  const directions = integerOption('directions', values.directions, 2);
  const { spec, inputs, checkpointDir } = await setUp(values);

  const run = FineTuneRun.create({ ...spec, linearized: false }, inputs);
  try {
    const tensorsBefore = tf.memory().numTensors;
    const result = await analyzeNtk(run, inputs.checkpoint.tokenizer, { radii, directions });
    const output = {
      checkpoint: checkpointDir,
      backend: inputs.backend,
      ...result,
      tensors: { before: tensorsBefore, after: tf.memory().numTensors },
    };

    if (values['adapters-out'] !== undefined) {
      const tensors: Record<string, SafetensorsTensor> = {};
      run.layout.entries.forEach((entry, i) => {
        const tensor = run.theta[i] as tf.Tensor;
        tensors[entry.name] = { dtype: 'F32', shape: [...tensor.shape], data: tensor.dataSync() as Float32Array };
      });
      const metadata = { mode: run.layout.mode, lora_scale: String(run.layout.scale), r: String(spec.r), lora_alpha: String(spec.loraAlpha) };
      writeFileSync(values['adapters-out'], encodeSafetensors(tensors, metadata));
    }
    if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(output)}\n`);

    const { summary, timing } = result;
    process.stdout.write(
      `${JSON.stringify({
        type: 'ntkReport',
        n: summary.n,
        c: summary.c,
        trainable: run.layout.size,
        stats: summary.stats,
        tracedStats: summary.tracedStats,
        timing,
        peakBytes: result.peakBytes,
        jacobianChange: result.jacobianChange,
      })}\n`,
    );
    return 0;
  } finally {
    run.dispose();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'ntk':
      return ntkCommand(rest);
    case 'sweep':
      return sweepCommand(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; expected run, ntk or sweep (see npm run lab -- --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`lab: ${message.split('\n')[0]}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
