/** Renders the bench results as BENCHMARKS.md. */
import { existsSync, readFileSync } from 'node:fs';

import type { AgreementResult } from './bench-agreement.ts';
import type { AppMemoryResult, AppPageResult, AppResult } from './bench-app.ts';
import type { BrowserResult } from './bench-browser.ts';
import type { MachineInfo, Versions } from './bench-machine.ts';
import type { NodeBackendResult } from './bench-node.ts';
import type { PeerVersions } from './bench-peer.ts';
import type { PlanOptions } from './bench-plan.ts';
import type { KernelProfile } from './bench-profile.ts';
import type { TimingSeries } from './bench-timing.ts';
import type { ExperimentSpec } from '../core/spec.ts';

export interface BenchResults {
  startedAt: string;
  durationS: number;
  machine: MachineInfo;
  versions: Versions & { chromium?: string };
  peer: PeerVersions;
  spec: ExperimentSpec;
  trainable: number;
  sequenceLength: number;
  plan: PlanOptions;
  load: { at: string; load: [number, number, number] }[];
  node: NodeBackendResult[];
  browser: BrowserResult | null;
}

/** Hand-written notes on the measurements (speed changes, profiles), kept in the repository and included as is. */
export const NOTES_FILE = 'bench/NOTES.md';

/** The targets on this machine. */
export const TARGETS = {
  ratio: 1.0,
  firstSpectrumMs: 5000,
  longTaskMs: 50,
};

const WORKLOAD_NAMES: Record<string, string> = {
  step: 'LoRA fine-tuning step (Adam, batch 32)',
  linearStep: 'linearized step (Adam, batch 32)',
  ntk: 'NTK at θ₀, N=64, C=2, with 8 block kernels',
  eigen: 'eigendecomposition of K (128×128, float64)',
  spectrum: 'spectrum summary: K, traced K and 8 blocks',
};

function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${value.toFixed(0)} ms`;
  return `${value.toFixed(1)} ms`;
}

function ratio(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '–' : value.toFixed(2);
}

/** Formats an error in exponent form; JSON stores Infinity and NaN as null, shown here as "not finite". */
function exponent(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'not finite';
  return value === 0 ? '0' : value.toExponential(1);
}

/** Escapes the pipes of a Markdown table cell, such as the norm bars in "max |f|". */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.map(cell).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

function allSeries(results: BenchResults): TimingSeries[] {
  return [...results.node.flatMap((entry) => entry.timings), ...(results.browser?.backends.flatMap((entry) => entry.timings) ?? [])];
}

/** min(ours)/min(peer), for results written before the series stored it. */
function minRatioOf(entry: TimingSeries): number | null {
  return entry.peer.length === 0 ? null : Math.min(...entry.ours) / Math.min(...entry.peer);
}

/** The peer's fastest repeat of each workload over the whole run. */
function peerBest(results: BenchResults): Map<string, number> {
  const best = new Map<string, number>();
  for (const entry of allSeries(results)) {
    if (entry.peer.length === 0) continue;
    best.set(entry.workload, Math.min(best.get(entry.workload) ?? Infinity, ...entry.peer));
  }
  return best;
}

function timingTable(series: TimingSeries[], best: Map<string, number>): string {
  const rows = series.map((entry) => [
    `${entry.environment} ${entry.backend}`,
    WORKLOAD_NAMES[entry.workload] ?? entry.workload,
    `${ms(entry.oursMedian)} (${ms(entry.oursQuartiles[0])}–${ms(entry.oursQuartiles[1])})`,
    entry.peerMedian === null ? '–' : `${ms(entry.peerMedian)} (${ms(entry.peerQuartiles?.[0])}–${ms(entry.peerQuartiles?.[1])})`,
    `**${ratio(entry.ratio)}**`,
    ratio(entry.pairedRatio),
    ratio(entry.minRatio ?? minRatioOf(entry)),
    ratio(best.has(entry.workload) ? Math.min(...entry.ours) / (best.get(entry.workload) as number) : null),
    String(entry.ours.length),
    entry.loadBefore.toFixed(2),
  ]);
  return table(['where', 'workload', 'lab median (IQR)', 'PyTorch median (IQR)', 'ratio', 'paired ratio', 'min ratio', 'to PyTorch best', 'repeats', 'load'], rows);
}

function agreementSection(results: AgreementResult[]): string {
  if (results.length === 0) return 'No agreement check ran.\n';
  const first = results[0] as AgreementResult;
  const parts: string[] = [];
  const header = ['quantity', 'scale', ...results.map((entry) => `${entry.backend} vs torch f64`), `${first.backend} vs torch f32`, 'torch f32 vs torch f64'];
  const rows = first.rows.map((row, i) => {
    const formula = row.key === 'update_own_gradient';
    return [
      row.quantity + (row.counted ? '' : ' (not counted)'),
      row.scale,
      ...results.map((entry) => {
        const cell = entry.rows[i];
        if (cell === undefined) return '–';
        if (!cell.counted) return exponent(cell.versusTorch64);
        return `${exponent(cell.versusTorch64)}${cell.pass ? ' ✓' : ' ✗'}`;
      }),
      formula ? 'n/a' : exponent(row.versusTorch32),
      formula ? 'n/a' : exponent(row.torch32VersusTorch64),
    ];
  });
  parts.push(table(header, rows));
  const notes = first.rows.filter((row) => row.note !== undefined).map((row) => `- ${row.quantity}: ${row.note}.`);
  if (notes.length > 0) parts.push(notes.join('\n'));
  const eigen = first.eigenvalues;
  parts.push(
    `Eigenvalue by eigenvalue, |Δμᵢ|/μᵢ ≤ ${first.tolerance} holds for ${eigen.withinTolerance} of ${eigen.count} eigenvalues of the ` +
      `lab (${first.backend}) and for ${eigen.torch32WithinTolerance} of ${eigen.count} of torch float32, both against torch float64. ` +
      `K's condition number is ${eigen.conditionNumber.toExponential(2)}, so float32 round-off of order 1e-7·μ₁ swamps the smallest ` +
      'eigenvalues in any float32 implementation; the row "eigenvalues of K" measures the error relative to μ₁, which is the scale ' +
      'Weyl\'s inequality bounds for a perturbation of K.',
  );
  const verdict = results.every((entry) => entry.pass) ? 'passed' : 'FAILED';
  parts.unshift(
    `Relative error max|a − b| / max|reference| of each quantity. The check ${verdict}: every counted row must be within ${first.tolerance} ` +
      'against torch float64. tfjs has no float64, so the lab runs in float32 throughout; the last two columns show how far torch ' +
      'float32 itself is from float64.',
  );
  return `${parts.join('\n\n')}\n`;
}

function profileSection(profiles: KernelProfile[]): string {
  return profiles
    .map((profile) => {
      const rows = profile.kernels.map((kernel) => [kernel.name, ms(kernel.ms), `${((100 * kernel.ms) / profile.kernelMs).toFixed(0)}%`, String(kernel.calls), `\`${kernel.slowestCall}\``]);
      return (
        `**${WORKLOAD_NAMES[profile.workload] ?? profile.workload}, node ${profile.backend}** (tf.profile): ${ms(profile.wallMs)} wall, ` +
        `${ms(profile.kernelMs)} in ${profile.kernelCalls} kernel calls.\n\n` +
        table(['kernel', 'time', 'share', 'calls', 'inputs of the slowest call'], rows)
      );
    })
    .join('\n\n');
}

function longest(tasks: { duration: number }[]): number | null {
  return tasks.length === 0 ? null : Math.max(...tasks.map((task) => task.duration));
}

function pageLines(page: AppResult['pages'][number]): string[] {
  if ('error' in page) return [`- App page, ${page.variant}: not measured: ${page.error}`];
  const result: AppPageResult = page;
  const first =
    result.firstSpectrumMs === null ? `none within ${ms(result.firstSpectrumTimeoutMs)}` : ms(result.firstSpectrumMs);
  const lines = [
    `- App page, ${result.variant} (backend ${result.backend}): time to first spectrum (navigation start to the first ` +
      `eigenvalue mark of the NTK preview at θ₀) **${first}**. While loading: ${result.loadLongTasks.length} main-thread ` +
      `tasks of 50 ms or more, the longest ${ms(longest(result.loadLongTasks))}.`,
  ];
  const phases = result.phases ?? [];
  if (phases.length > 0) {
    lines.push(`  Lab worker phases, ms after navigation start: ${phases.map((phase) => `${phase.name} ${phase.ms.toFixed(0)}`).join(', ')}.`);
  }
  if ('skipped' in result.run) {
    lines.push(`  No run was measured: ${result.run.skipped}.`);
  } else {
    const runLongest = longest(result.run.longTasks);
    lines.push(
      `  During a run of ${JSON.stringify(result.run.spec)} on the default spec (${ms(result.run.runMs)}): longest ` +
        `main-thread task **${runLongest === null ? 'none of 50 ms or more' : ms(runLongest)}**, ` +
        `${result.run.longTasks.length} tasks of 50 ms or more.`,
    );
  }
  return lines;
}

function appSection(app: AppResult | null): string {
  if (app === null) return 'The app was not measured (--no-app).\n';
  const lines = app.pages.flatMap(pageLines);
  if ('error' in app.memory) {
    lines.push(`- Worker run: not measured: ${app.memory.error}`);
  } else {
    const memory: AppMemoryResult = app.memory;
    const { tensors } = memory;
    const changed = Object.entries(memory.run.spec)
      .filter(([key, value]) => ['steps', 'trainSize', 'evalSize', 'probeSize', 'batchSize', 'evalInterval', 'ntkInterval'].includes(key) && value !== undefined)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(', ');
    lines.push(
      `- Lab worker run through its client (bench/browser/app-run.html) of ${memory.run.steps} steps (${changed}; real and ` +
        `linearized model) on ${memory.run.backend.backend}, with ${memory.excluded.join(' and ')} left out: ${ms(memory.run.runMs)}. ` +
        `Tensor count from step ${tensors.warmSteps} on: min ${tensors.min}, max ${tensors.max} (first ${tensors.first}, ` +
        `last ${tensors.last}) over ${memory.samples.length} samples. Peak tf.memory().numBytes between steps: ` +
        `${(memory.peakBytes / 1e6).toFixed(1)} MB.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Whether the backend's agreement check passed; a backend whose outputs are wrong meets no speed target. */
function agreementPassed(results: BenchResults, backend: string): boolean {
  const checks = [...results.node.map((entry) => entry.agreement), ...(results.browser?.agreement ?? [])];
  return checks.find((check) => check.backend === backend)?.pass ?? false;
}

function targetRows(results: BenchResults): string[][] {
  const rows: string[][] = [];
  const best = peerBest(results);
  for (const entry of allSeries(results)) {
    if (entry.workload !== 'step' && entry.workload !== 'ntk') continue;
    const minRatio = entry.minRatio ?? minRatioOf(entry);
    const peerFastest = best.get(entry.workload);
    if (entry.ratio === null || minRatio === null || peerFastest === undefined) continue;
    const toBest = Math.min(...entry.ours) / peerFastest;
    const backendPassed = agreementPassed(results, `${entry.environment} ${entry.backend}`);
    const met = entry.ratio <= TARGETS.ratio && minRatio <= TARGETS.ratio && toBest <= TARGETS.ratio && backendPassed;
    rows.push([
      `${entry.workload === 'step' ? 'step' : 'NTK'} ratio ≤ ${TARGETS.ratio} (${entry.environment} ${entry.backend})`,
      `median ${ratio(entry.ratio)}, min ${ratio(minRatio)}, to PyTorch best ${ratio(toBest)}${backendPassed ? '' : ', agreement failed'}`,
      met ? 'met' : '**not met**',
    ]);
  }
  const app = results.browser?.app ?? null;
  for (const page of app?.pages ?? []) {
    if ('error' in page) continue;
    const first = page.firstSpectrumMs;
    rows.push([
      `first spectrum ≤ 5 s in headless Chromium (${page.variant})`,
      first === null ? `none within ${ms(page.firstSpectrumTimeoutMs)}` : ms(first),
      first !== null && first <= TARGETS.firstSpectrumMs ? 'met' : '**not met**',
    ]);
    if ('skipped' in page.run) continue;
    const runLongest = longest(page.run.longTasks);
    rows.push([
      `no main-thread task over 50 ms during a run (${page.variant})`,
      runLongest === null ? 'none ≥ 50 ms' : ms(runLongest),
      runLongest === null || runLongest <= TARGETS.longTaskMs ? 'met' : '**not met**',
    ]);
  }
  if (app !== null && !('error' in app.memory)) {
    const { tensors } = app.memory;
    // Flat means no growth from the first warm sample to the last; a sample taken mid-step can see a transient tensor.
    rows.push([
      'flat tensor count over the worker run',
      `first ${tensors.first}, last ${tensors.last}, range ${tensors.min}–${tensors.max}`,
      tensors.last <= tensors.first ? 'met' : '**not met**',
    ]);
  }
  return rows;
}

export function renderBenchmarks(results: BenchResults, files: { json: string }): string {
  const { machine, versions, peer, spec } = results;
  const browser = results.browser;
  const agreement = [...results.node.map((entry) => entry.agreement), ...(browser?.agreement ?? [])];
  const loads = results.load.map((sample) => `${sample.at} ${sample.load.join(' / ')}`).join('; ');
  const browserErrors = (browser?.backends ?? []).filter((entry) => entry.error !== undefined).map((entry) => `- chromium ${entry.backend}: ${entry.error}`);
  const browserInfo = (browser?.backends ?? [])
    .filter((entry) => entry.info !== null)
    .map((entry) => {
      const info = entry.info;
      const detail = info?.adapter ?? (info?.wasmSimd === undefined ? '' : `SIMD ${String(info.wasmSimd)}, threads ${String(info.wasmThreads)}`);
      return `chromium ${entry.backend}${detail === '' ? '' : ` (${detail})`}`;
    })
    .join(', ');
  const notes = existsSync(NOTES_FILE) ? readFileSync(NOTES_FILE, 'utf8').trim() : '';

  return `# Benchmarks

Written by \`npm run bench\` (src/cli/bench.ts) on ${results.startedAt} at commit ${machine.commit}, in ${results.durationS} s.
The raw figures are in [${files.json}](${files.json}). Rerun with \`npm run bench\`; \`npm run bench -- --help\` lists the repeat options.

## Method

- **Workloads**, from the committed checkpoint \`public/models/${spec.model}\` and the spec defaults (task ${spec.task},
  adapters ${spec.adapters}, ${spec.mode} r=${spec.r} α=${spec.loraAlpha}, ${spec.loss}, ${spec.optimizer} lr=${spec.lr}, λ=${spec.lambda}):
  ${results.trainable} trainable parameters, sequences padded to ${results.sequenceLength} tokens.
${Object.entries(WORKLOAD_NAMES)
  .map(([key, name]) => `  - \`${key}\`: ${name}.`)
  .join('\n')}
- **The lab** runs bench/subject.ts, which builds the model function, θ₀ and the trainers from src/core exactly as the
  runner does, in float32 on each tfjs backend: \`cpu\` and \`wasm\` in Node, and \`webgpu\`, \`webgl\` and \`wasm\` in headless
  Chromium (bench/browser/step.html in a page, driven by Playwright). Each timing includes the readback the app needs
  (the step's loss and distance, the kernel as float64).
- **The PyTorch peer** (bench/peer.py) is the same model written as a functional PyTorch forward pass on the same
  safetensors checkpoint, θ₀ and batches, in float32 on the CPU with ${peer.threads} threads and OpenBLAS: a step is
  forward, cross-entropy, backward and \`torch.optim.Adam\`; the NTK uses per-example Jacobians by \`vmap(jacrev(f))\`.
- **Interleaved A/B.** For each workload the lab and the peer alternate repeat by repeat (AB, BA, AB, …) after untimed
  warm-up repeats, in one run. The ratio is median(lab)/median(PyTorch); the paired ratio is the median of the per-repeat
  ratios; the min ratio compares each side's fastest repeat, which load from other processes disturbs least, and
  "to PyTorch best" divides the lab's fastest repeat by the peer's fastest repeat of the same workload anywhere in the
  run. PyTorch runs 2 threads on 2 cores, so a busy core slows it far more than the single-threaded lab: its step took
  several times longer while Chromium was open than during the Node section. A speed target counts as met only when all
  three ratios meet it and the backend passed the agreement check.
  Slow backends (node cpu, chromium webgl and webgpu) run a fifth of the step repeats (at least 2) and one NTK, and no
  workload starts another repeat once the lab has spent 120 s on it; the repeats column counts what ran.
- **The app pages** are the production build (\`vite build\` into a temporary folder, served by \`vite preview\` on
  127.0.0.1), each opened in a fresh browser context with nothing cached. The first spectrum is the first eigenvalue mark
  in the spectrum chart, which the page draws from the complete NTK preview at θ₀: the Jacobian of every (layer, module)
  block on the default probe set (N=${spec.probeSize}, C=2), the kernel and eigenvalues of each block, and the spectrum of the
  default adapter subset summed from them. The lab worker's phase marks (\`lab:<phase>\` on its performance timeline)
  split that time. The worker run page (bench/browser/app-run.html) is served by the dev server.
- **Shared machine.** Other builds and browsers ran on the same 2 cores during the run, so absolute times are noisy;
  ratios from interleaved repeats are the figures to compare. Load average (1/5/15 min): ${loads}.

## Machine and versions

${table(
  ['item', 'value'],
  [
    ['CPU', `${machine.cpu}, ${machine.cores} cores`],
    ['memory', `${machine.memoryGiB} GiB`],
    ['OS', machine.os],
    ['Node', versions.node],
    ['tfjs', `${versions.tfjs} (wasm ${versions.tfjsBackendWasm}, webgpu ${versions.tfjsBackendWebgpu})`],
    ['Chromium', versions.chromium === undefined ? 'not run' : `${versions.chromium} (Playwright ${versions.playwright}; ${browserInfo})`],
    ['PyTorch', `${peer.torch} on Python ${peer.python}, ${peer.threads} threads, BLAS ${peer.blas}`],
  ],
)}

## Timings

${timingTable(allSeries(results), peerBest(results))}
${browserErrors.length > 0 ? `\nBackends that could not be measured:\n\n${browserErrors.join('\n')}\n` : ''}
## Agreement with PyTorch

${agreementSection(agreement)}
## The app in headless Chromium

${appSection(browser?.app ?? null)}
## Targets

${table(['target', 'measured', 'status'], targetRows(results))}

## Kernel profiles

${profileSection(results.node.flatMap((entry) => entry.profiles))}
${notes === '' ? '' : `\n${notes}\n`}`;
}
