/**
 * `npm run bench`: times the lab against a PyTorch peer and writes
 * BENCHMARKS.md and bench/results.json.
 *
 * Steps: install the peer's Debian packages when missing; build the inputs
 * from the committed checkpoint and the spec defaults; check agreement with
 * PyTorch; time each workload on each tfjs backend in Node and in headless
 * Chromium, interleaved with the peer; measure the app in Chromium; write
 * the report.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';

import { integerOption, parseCliArgs, UsageError } from './args.ts';
import { BENCH_APP_PORT, BENCH_PORT, runAppBench, runBrowserBench, type BrowserResult } from './bench-browser.ts';
import { buildBenchInputs, exportBenchInputs } from './bench-inputs.ts';
import { loadAverage, machineInfo, versions } from './bench-machine.ts';
import { benchNodeBackend, type NodeBackendResult } from './bench-node.ts';
import { ensurePeerPackages, PEER_PYTHON, PeerProcess, type PeerVersions } from './bench-peer.ts';
import { renderBenchmarks, type BenchResults } from './bench-report.ts';
import { setNodeBackend, type NodeBackend } from './backend.ts';
import { loadCheckpoint, modelDir } from './checkpoint-files.ts';
import { loadTaskSources } from './sources.ts';
import { BenchSubject, type AgreementOutputs, type ThetaValues } from '../../bench/subject.ts';
import { decodeSafetensors } from '../core/checkpoint/safetensors.ts';
import { disposeParams } from '../core/model/params.ts';
import { DEFAULT_SPEC } from '../core/spec.ts';

const HELP = `Usage: npm run bench -- [options]

Times a LoRA step, a linearized step (batch 32), the NTK at θ₀ (N=64, C=2)
and its eigendecomposition on every tfjs backend, interleaved with the same
work in PyTorch on the CPU, checks that both agree, measures the app in
headless Chromium, and writes BENCHMARKS.md and bench/results.json.

Options:
  --repeats N            timed repeats of each step (default 10; a third on slow backends)
  --ntk-repeats N        timed repeats of the NTK (default 5; 1 on slow backends)
  --node-backends LIST   tfjs backends in Node, comma-separated (default wasm,cpu)
  --browser-backends LIST  tfjs backends in Chromium (default webgpu,webgl,wasm; "none" to skip)
  --app-steps N          fine-tuning steps of the app run that tracks tensors and memory (default 1000)
  --no-app               skip the app measurements in Chromium
  --only app             measure only the app in Chromium and print its figures as JSON;
                         writes no report
  --dev-port N           with --only app: the port of the Vite dev server (default 5175)
  --app-port N           with --only app: the port of vite preview for the production build (default 5176)
  --quick                one repeat of everything and 50 app steps, for a smoke test
  --out FILE             the Markdown report (default BENCHMARKS.md)
  --json FILE            the raw figures (default bench/results.json)
  --render               only rewrite --out from the figures in --json, without measuring

The PyTorch peer runs on ${PEER_PYTHON} with Debian's python3-torch and OpenBLAS;
as root the bench installs them with apt-get.
`;

const NODE_BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu'];
const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm'];

function parseList<T extends string>(option: string, value: string, allowed: readonly T[]): T[] {
  if (value === 'none' || value === '') return [];
  return value.split(',').map((entry) => {
    const name = entry.trim() as T;
    if (!allowed.includes(name)) throw new UsageError(`--${option}: got "${entry}", expected some of ${allowed.join(', ')}`);
    return name;
  });
}

function readPeerOutputs(file: string): AgreementOutputs {
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
  const outputs: AgreementOutputs = {};
  for (const [name, tensor] of Object.entries(tensors)) outputs[name] = Float64Array.from(tensor.data);
  return outputs;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function main(): Promise<number> {
  const { values } = parseCliArgs({
    options: {
      repeats: { type: 'string' },
      'ntk-repeats': { type: 'string' },
      'node-backends': { type: 'string', default: NODE_BACKENDS.join(',') },
      'browser-backends': { type: 'string', default: BROWSER_BACKENDS.join(',') },
      'app-steps': { type: 'string' },
      'no-app': { type: 'boolean', default: false },
      only: { type: 'string' },
      'dev-port': { type: 'string' },
      'app-port': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'BENCHMARKS.md' },
      json: { type: 'string', default: path.join('bench', 'results.json') },
      render: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.render) {
    const results = JSON.parse(readFileSync(values.json, 'utf8')) as BenchResults;
    writeFileSync(values.out, renderBenchmarks(results, { json: values.json }));
    log(`wrote ${values.out} from ${values.json}`);
    return 0;
  }
  if (values.only !== undefined && values.only !== 'app') throw new UsageError(`--only: got "${values.only}", expected app`);
  const quick = values.quick;
  const plan = {
    repeats: integerOption('repeats', values.repeats, quick ? 1 : 10),
    ntkRepeats: integerOption('ntk-repeats', values['ntk-repeats'], quick ? 1 : 5),
  };
  const appSteps = integerOption('app-steps', values['app-steps'], quick ? 50 : 1000);
  const nodeBackends = parseList('node-backends', values['node-backends'], NODE_BACKENDS);
  const browserBackends = parseList('browser-backends', values['browser-backends'], BROWSER_BACKENDS);
  if (values.only === 'app') {
    const ports = { dev: integerOption('dev-port', values['dev-port'], BENCH_PORT), app: integerOption('app-port', values['app-port'], BENCH_APP_PORT) };
    const result = await runAppBench({ steps: appSteps }, ports, log);
    process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
    return 0;
  }

  const started = new Date();
  const loadSamples: { at: string; load: [number, number, number] }[] = [{ at: 'start', load: loadAverage() }];

  ensurePeerPackages();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'ntk-bench-'));
  const peer = PeerProcess.start();
  try {
    // Inputs, θ₀ and θ₁ (θ after the first fine-tuning step), built on wasm and exported for the peer.
    await setNodeBackend('wasm');
    const spec = { ...DEFAULT_SPEC };
    const checkpointDir = modelDir(spec.model);
    const checkpoint = loadCheckpoint(checkpointDir);
    const { inputs, layout } = buildBenchInputs(spec, checkpoint, loadTaskSources());
    const subject = BenchSubject.create(checkpoint, inputs);
    const theta1Tensors = await subject.thetaAfterStep();
    exportBenchInputs(workDir, inputs, layout, subject.theta0, theta1Tensors);
    const theta1: ThetaValues[] = layout.entries.map((entry, i) => ({
      name: entry.name,
      shape: entry.shape,
      values: Array.from((theta1Tensors[i] as tf.Tensor).dataSync()),
    }));
    tf.dispose(theta1Tensors);
    subject.dispose();
    disposeParams(checkpoint.params);

    log(`starting the PyTorch peer (pid ${peer.pid ?? '?'})`);
    const setup = await peer.request({ cmd: 'setup', dir: workDir, checkpoint: checkpointDir, threads: 2 });
    const peerVersions = setup['versions'] as PeerVersions;
    log('computing the peer\'s agreement outputs in float64 and float32');
    const agreementFile = (await peer.request({ cmd: 'agreement' }))['file'] as string;
    const peerOutputs = readPeerOutputs(agreementFile);

    const context = { checkpointDir, inputs, theta1, peer, peerOutputs, plan, log };
    const node: NodeBackendResult[] = [];
    for (const backend of nodeBackends) {
      loadSamples.push({ at: `node ${backend}`, load: loadAverage() });
      node.push(await benchNodeBackend(backend, context));
    }

    let browser: BrowserResult | null = null;
    if (browserBackends.length > 0 || !values['no-app']) {
      loadSamples.push({ at: 'chromium', load: loadAverage() });
      browser = await runBrowserBench({
        backends: browserBackends,
        inputs,
        theta1,
        peer,
        peerOutputs,
        plan,
        app: values['no-app'] ? null : { steps: appSteps },
        log,
      });
    }
    loadSamples.push({ at: 'end', load: loadAverage() });

    const results: BenchResults = {
      startedAt: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: machineInfo(),
      versions: { ...versions(), ...(browser === null ? {} : { chromium: browser.chromiumVersion }) },
      peer: peerVersions,
      spec,
      trainable: layout.size,
      sequenceLength: inputs.batch.length,
      plan,
      load: loadSamples,
      node,
      browser,
    };
    writeFileSync(values.json, `${JSON.stringify(results, null, 1)}\n`);
    writeFileSync(values.out, renderBenchmarks(results, { json: values.json }));
    log(`wrote ${values.out} and ${values.json}`);

    const failed = [...node.map((entry) => entry.agreement), ...(browser?.agreement ?? [])].filter((entry) => !entry.pass);
    if (failed.length > 0) {
      log(`agreement with PyTorch failed on ${failed.map((entry) => entry.backend).join(', ')}; see ${values.out}`);
      return 1;
    }
    return 0;
  } finally {
    await peer.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench: ${message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
