/**
 * `npm run pretrain`: trains θ₀ on the Brown pretraining texts and writes the
 * checkpoint and a report to public/models/<name>/.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parseCliArgs, integerOption, positiveNumber, UsageError } from './args.ts';
import { setNodeBackend, type NodeBackend } from './backend.ts';
import { loadBrownCorpus } from './brown-files.ts';
import { modelDir, saveCheckpoint } from './checkpoint-files.ts';
import { renderLossCurveSvg, renderReportMarkdown, type PretrainReport } from './pretrain-report.ts';
import { pretrainingText, splitTexts, BROWN_SPLIT_SEED } from '../core/data/brown.ts';
import { countParameters, DEFAULT_GPT_CONFIG, type GPTConfig } from '../core/model/config.ts';
import { disposeParams, initParams } from '../core/model/params.ts';
import { CharTokenizer } from '../core/model/tokenizer.ts';
import {
  bitsPerChar,
  createPretrainer,
  DEFAULT_PRETRAIN_OPTIONS,
  evenlySpacedWindows,
  learningRateAt,
  sampleText,
  sampleWindows,
  unigramBitsPerChar,
  type PretrainOptions,
} from '../core/pretrain.ts';
import { createRng, deriveSeed } from '../core/random.ts';

const HELP = `Usage: npm run pretrain -- [options]

Trains the GPT-style model on the Brown corpus pretraining texts and writes
model.safetensors, config.json, tokenizer.json and report.{json,md,svg}.

Options:
  --name NAME              model folder under public/models (default brown-gpt)
  --out-dir DIR            write to DIR instead of public/models/NAME
  --steps N                optimizer steps (default ${DEFAULT_PRETRAIN_OPTIONS.steps})
  --batch-size N           windows per step (default ${DEFAULT_PRETRAIN_OPTIONS.batchSize})
  --lr X                   peak learning rate (default ${DEFAULT_PRETRAIN_OPTIONS.peakLr})
  --eval-every N           steps between held-out evaluations (default 100)
  --eval-windows N         held-out windows of 129 characters per evaluation (default 64)
  --checkpoint-every N     steps between checkpoint writes (default 250)
  --seed N                 seed for initialization and batches (default 0)
  --sample-chars N         characters of sample text in the report (default 200)
  --backend wasm|cpu       tfjs backend (default wasm)
`;

async function main(): Promise<void> {
  const { values } = parseCliArgs({
    options: {
      name: { type: 'string', default: 'brown-gpt' },
      'out-dir': { type: 'string' },
      steps: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'eval-every': { type: 'string' },
      'eval-windows': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      seed: { type: 'string' },
      'sample-chars': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.backend !== 'wasm' && values.backend !== 'cpu') {
    throw new UsageError(`--backend: got "${values.backend}", expected wasm or cpu`);
  }

  const options: PretrainOptions = {
    ...DEFAULT_PRETRAIN_OPTIONS,
    steps: integerOption('steps', values.steps, DEFAULT_PRETRAIN_OPTIONS.steps),
    batchSize: integerOption('batch-size', values['batch-size'], DEFAULT_PRETRAIN_OPTIONS.batchSize),
    peakLr: positiveNumber('lr', values.lr, DEFAULT_PRETRAIN_OPTIONS.peakLr),
  };
  options.warmupSteps = Math.min(options.warmupSteps, Math.max(1, Math.floor(options.steps / 10)));
  const evalEvery = integerOption('eval-every', values['eval-every'], 100);
  const evalWindowCount = integerOption('eval-windows', values['eval-windows'], 64);
  const checkpointEvery = integerOption('checkpoint-every', values['checkpoint-every'], 250);
  const seed = integerOption('seed', values.seed, 0, 0);
  const sampleChars = integerOption('sample-chars', values['sample-chars'], 200, 0);
  const outDir = values['out-dir'] !== undefined ? path.resolve(values['out-dir']) : modelDir(values.name);

  const backend = await setNodeBackend(values.backend as NodeBackend);
  const tokenizer = CharTokenizer.ascii();
  const config: GPTConfig = { ...DEFAULT_GPT_CONFIG, vocabSize: tokenizer.size };

  const corpus = loadBrownCorpus();
  const split = splitTexts(corpus, BROWN_SPLIT_SEED);
  const trainTokens = Int32Array.from(tokenizer.encode(pretrainingText(corpus, split.pretrain)));
  const heldOutTokens = Int32Array.from(tokenizer.encode(pretrainingText(corpus, split.heldOut)));
  const windowLength = options.contextLength + 1;
  const heldOutWindows = evenlySpacedWindows(heldOutTokens, evalWindowCount, windowLength);
  const unigramBpc = unigramBitsPerChar(trainTokens, heldOutTokens, tokenizer.size);

  console.log(
    `pretraining ${countParameters(config)} parameters on ${backend}: ${split.pretrain.length} texts ` +
      `(${trainTokens.length} characters), held out ${split.heldOut.length} texts (${heldOutTokens.length} characters)`,
  );
  console.log(`unigram baseline: ${unigramBpc.toFixed(3)} bits per character on the held-out texts`);

  const initial = initParams(config, deriveSeed(seed, 'pretrain-init'));
  const trainer = createPretrainer(initial, options);
  disposeParams(initial);
  const batchRng = createRng(deriveSeed(seed, 'pretrain-batches'));

  const report: PretrainReport = {
    model: path.basename(outDir),
    config,
    parameters: countParameters(config),
    options,
    seed,
    backend,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    corpus: {
      pretrainTexts: split.pretrain.length,
      heldOutTexts: split.heldOut.length,
      pretrainCharacters: trainTokens.length,
      heldOutCharacters: heldOutTokens.length,
      splitSeed: BROWN_SPLIT_SEED,
    },
    unigramBitsPerChar: unigramBpc,
    trainLoss: [],
    heldOut: [],
    seconds: 0,
    sample: '',
  };
  const started = performance.now();

  const evaluate = (step: number): void => {
    const params = trainer.params();
    const bpc = bitsPerChar(params, heldOutWindows, windowLength);
    report.heldOut.push({ step, bitsPerChar: bpc });
    console.log(`step ${step}: held-out ${bpc.toFixed(3)} bits per character`);
  };
  const save = async (): Promise<void> => {
    report.seconds = (performance.now() - started) / 1000;
    await saveCheckpoint(outDir, { config, tokenizer, params: trainer.params() }, { steps: String(report.trainLoss.length) });
    writeReport(outDir, report);
  };

  evaluate(0);
  for (let step = 0; step < options.steps; step++) {
    const lr = learningRateAt(step, options);
    const loss = trainer.step(sampleWindows(trainTokens, options.batchSize, windowLength, batchRng), lr);
    if (!Number.isFinite(loss)) throw new Error(`pretraining diverged at step ${step + 1}: the loss is ${loss}; lower --lr`);
    report.trainLoss.push({ step: step + 1, loss, lr });

    if ((step + 1) % 10 === 0) {
      const elapsed = (performance.now() - started) / 1000;
      console.log(`step ${step + 1}/${options.steps}: loss ${loss.toFixed(4)} nats, lr ${lr.toExponential(2)}, ${elapsed.toFixed(0)} s`);
    }
    if ((step + 1) % evalEvery === 0 || step + 1 === options.steps) evaluate(step + 1);
    if ((step + 1) % checkpointEvery === 0) await save();
  }

  report.sample = sampleText(
    trainer.params(),
    (text) => tokenizer.encode(text),
    (ids) => tokenizer.decode(ids),
    'The jury said that ',
    sampleChars,
    createRng(deriveSeed(seed, 'pretrain-sample')),
  );
  await save();
  trainer.dispose();
  console.log(`wrote ${outDir} in ${report.seconds.toFixed(0)} s; sample: ${JSON.stringify(report.sample)}`);
  console.log(`tensors still allocated: ${tf.memory().numTensors}`);
}

function writeReport(dir: string, report: PretrainReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(path.join(dir, 'report.svg'), renderLossCurveSvg(report));
  writeFileSync(path.join(dir, 'report.md'), renderReportMarkdown(report));
}

main().catch((error: unknown) => {
  console.error(`pretrain: ${(error as Error).message}`);
  process.exit(1);
});
