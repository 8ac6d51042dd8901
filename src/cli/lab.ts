/**
 * `npm run lab -- <command>`: the headless lab.
 *
 *   run   fine-tunes per an experiment spec and prints its events as JSON lines.
 */
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';

import { parseCliArgs, UsageError } from './args.ts';
import { setNodeBackend, type NodeBackend } from './backend.ts';
import { loadCheckpoint, modelDir } from './checkpoint-files.ts';
import { loadTaskSources } from './sources.ts';
import type { LabEvent } from '../core/events.ts';
import { runExperiment } from '../core/runner.ts';
import { formatSpecIssue, parseSetArgument, parseSpecStrings, SPEC_KEYS, validateSpec, formatSpecStrings, type ExperimentSpec } from '../core/spec.ts';

const HELP = `Usage: npm run lab -- run [--spec FILE.json] [--set key=value ...] [--out FILE.jsonl] [--backend wasm|cpu]

Fine-tunes the pretrained model per an experiment spec and prints one JSON
event per line: config, step, eval, done, or error.

Options:
  --spec FILE.json    a JSON object with any spec fields; the rest take defaults
  --set key=value     set one field (repeatable); applied after --spec
  --out FILE.jsonl    also write the events to FILE.jsonl
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

async function runCommand(args: string[]): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      spec: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.backend !== 'wasm' && values.backend !== 'cpu') {
    throw new UsageError(`--backend: got "${values.backend}", expected wasm or cpu`);
  }

  const spec = resolveSpec(values.spec, values.set);
  const backend = await setNodeBackend(values.backend as NodeBackend);
  const checkpoint = loadCheckpoint(modelDir(spec.model));
  const sources = loadTaskSources();

  let out: WriteStream | null = null;
  if (values.out !== undefined) out = createWriteStream(values.out);
  let failed = false;
  const emit = (event: LabEvent): void => {
    const line = `${JSON.stringify(event)}\n`;
    process.stdout.write(line);
    out?.write(line);
  };

  for await (const event of runExperiment(spec, { checkpoint, sources, backend })) {
    emit(event);
    if (event.type === 'error') failed = true;
  }
  if (out !== null) await new Promise<void>((resolve) => out.end(resolve));
  if (failed) process.stderr.write('lab run: the run failed; see the error event above\n');
  return failed ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; expected run (see npm run lab -- --help)`);
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
