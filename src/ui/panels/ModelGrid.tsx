/**
 * The model as a grid of layers × modules. Each cell toggles LoRA on one
 * (layer, module) block and shows that block's NTK at θ₀ (μ_max or trace of
 * K_b) as a number and as a color on a log scale.
 */
import * as d3 from 'd3';
import { useEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';

import type { PreviewEvent } from '../../core/events.ts';
import { MODULES, type ModuleName } from '../../core/model/modules.ts';
import { COLORS, formatValue, hideTooltip, showTooltip } from '../charts/frame.ts';
import { isAdapterEnabled, readAdapterGrid, toggleAdapterCell, toggleAdapterLayer, toggleAdapterModule } from './adapter-toggles.ts';
import './model-grid.css';

export type GridMetric = 'muMax' | 'trace';

export interface ModelGridProps {
  nLayer: number;
  /** The current adapter grid string, such as "qv.qv.qv.qv". */
  adapters: string;
  /** Every block's kernel at θ₀; null until the preview is computed. */
  preview: PreviewEvent | null;
  /** Receives the new grid string after a click on a cell, a layer or a module. */
  onChange: (adapters: string) => void;
  /** The metric shown first; the grid's own switch changes it. */
  metric?: GridMetric;
  /** Marks the grid as locked by an active run. Clicks still call onChange, and the app decides what a change means. */
  disabled?: boolean;
}

type PreviewBlock = PreviewEvent['blocks'][number];

const METRIC_LABEL: Readonly<Record<GridMetric, string>> = { muMax: 'μ_max', trace: 'trace' };

/** Light to dark along the palette's blue, for values on a log scale. */
const INTERPOLATE_HEAT = d3.interpolateRgbBasis(['#eff6ff', '#93c5fd', COLORS.real, '#1e3a8a']);

/** Formats a cell's number in at most about six characters. */
function formatCompact(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 0.01 && magnitude < 1000) return d3.format('.3~r')(value);
  return value.toExponential(1).replace('e+', 'e');
}

/** Maps metric values to [0, 1] on a log scale over the positive values; 0 maps to 0. */
function createHeatPosition(values: readonly number[]): { position: (value: number) => number; domain: [number, number] | null } {
  const positive = values.filter((value) => value > 0 && Number.isFinite(value));
  if (positive.length === 0) return { position: () => 0, domain: null };

  const low = Math.min(...positive);
  const high = Math.max(...positive);
  const domain: [number, number] = low === high ? [low / 10, high] : [low, high];
  const scale = d3.scaleLog().domain(domain).range([0, 1]).clamp(true);
  return { position: (value) => (value > 0 ? scale(value) : 0), domain };
}

/** Splits "attn.c_proj" after the dot so narrow columns wrap there instead of cutting the name. */
function moduleHeader(module: ModuleName) {
  const [kind, name] = module.split('.');
  return (
    <>
      {kind}.<wbr />
      {name}
    </>
  );
}

function blockKey(layer: number, module: ModuleName): string {
  return `${layer}:${module}`;
}

/** Grid of LoRA toggles over layers × modules, colored by each block's NTK at θ₀. */
export function ModelGrid({ nLayer, adapters, preview, onChange, metric = 'muMax', disabled = false }: ModelGridProps) {
  const [shownMetric, setShownMetric] = useState<GridMetric>(metric);
  useEffect(() => setShownMetric(metric), [metric]);
  const containerRef = useRef<HTMLDivElement | null>(null);

  const grid = readAdapterGrid(adapters, nLayer);
  const blocks = new Map<string, PreviewBlock>(preview?.blocks.map((block) => [blockKey(block.layer, block.module), block]) ?? []);
  const valueOf = (block: PreviewBlock): number => (shownMetric === 'muMax' ? block.muMax : block.trace);
  const heat = createHeatPosition([...blocks.values()].map(valueOf));

  // Layer 0 sits at the bottom, next to the embeddings, as in a drawing of a transformer stack.
  const layersTopDown = Array.from({ length: nLayer }, (_, i) => nLayer - 1 - i);

  const chosen = preview?.blocks.filter((block) => isAdapterEnabled(grid, block.layer, block.module)) ?? [];
  const chosenSum = chosen.reduce((total, block) => total + valueOf(block), 0);
  const chosenCount = MODULES.reduce((count, module) => count + grid.filter((modules) => modules.includes(module)).length, 0);

  function showCellTooltip(event: MouseEvent<HTMLButtonElement>, layer: number, module: ModuleName): void {
    const container = containerRef.current;
    if (container === null) return;
    const block = blocks.get(blockKey(layer, module));
    const bounds = container.getBoundingClientRect();
    const lines = [`layer ${layer} ${module}: LoRA ${isAdapterEnabled(grid, layer, module) ? 'on' : 'off'}`];
    if (block === undefined) lines.push('no kernel preview yet');
    else {
      lines.push(
        `μ_max(K_b) = ${formatValue(block.muMax)}`,
        `μ_min(K_b) = ${formatValue(block.eigenvalues[block.eigenvalues.length - 1])}`,
        `trace(K_b) = ${formatValue(block.trace)}`,
      );
    }
    showTooltip(container, event.clientX - bounds.left, event.clientY - bounds.top, lines);
  }

  function hideCellTooltip(): void {
    if (containerRef.current !== null) hideTooltip(containerRef.current);
  }

  /** Moves focus between cells with the arrow keys; up goes to the next layer, which is drawn above. */
  function moveFocus(event: KeyboardEvent<HTMLTableElement>): void {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('cell')) return;
    const layer = Number(target.dataset.layer);
    const moduleIndex = MODULES.indexOf(target.dataset.module as ModuleName);
    const moves: Record<string, [number, number]> = { ArrowUp: [1, 0], ArrowDown: [-1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const move = moves[event.key];
    if (move === undefined) return;

    const nextLayer = Math.min(nLayer - 1, Math.max(0, layer + move[0]));
    const nextModule = MODULES[Math.min(MODULES.length - 1, Math.max(0, moduleIndex + move[1]))];
    const next = containerRef.current?.querySelector<HTMLButtonElement>(`button.cell[data-layer="${nextLayer}"][data-module="${nextModule}"]`);
    if (next !== null && next !== undefined) {
      event.preventDefault();
      next.focus();
    }
  }

  const metricName = METRIC_LABEL[shownMetric];

  return (
    <div
      ref={containerRef}
      className={`model-grid${disabled ? ' is-disabled' : ''}`}
      data-testid="model-grid"
      data-metric={shownMetric}
      style={{ position: 'relative' }}
    >
      <div className="model-grid-toolbar">
        <div className="model-grid-metric" role="group" aria-label="Cell value">
          <span>cell value: block kernel K_b at θ₀,</span>
          {(['muMax', 'trace'] as const).map((option) => (
            <button key={option} type="button" aria-pressed={shownMetric === option} onClick={() => setShownMetric(option)}>
              {METRIC_LABEL[option]}
            </button>
          ))}
        </div>
        {heat.domain !== null ? (
          <div className="model-grid-legend" aria-label={`${metricName} color scale, log`}>
            <span>{formatValue(heat.domain[0])}</span>
            <span
              className="model-grid-ramp"
              style={{ background: `linear-gradient(to right, ${d3.range(0, 1.01, 0.25).map((t) => INTERPOLATE_HEAT(t)).join(', ')})` }}
            />
            <span>{formatValue(heat.domain[1])}</span>
            <span className="model-grid-legend-note">(log)</span>
          </div>
        ) : null}
      </div>

      {disabled ? (
        <p className="model-grid-note" id="model-grid-locked">
          A run is active: a new layer choice takes effect after a restart.
        </p>
      ) : null}

      <p className="model-grid-side">↑ output side (ln_f, label logits)</p>
      <table className="model-grid-table" onKeyDown={moveFocus}>
        <thead>
          <tr>
            <th scope="col" className="model-grid-corner">
              layer
            </th>
            {MODULES.map((module) => (
              <th scope="col" key={module}>
                <button
                  type="button"
                  className="module-toggle"
                  data-module={module}
                  aria-label={`${module}: switch on or off in every layer`}
                  onClick={() => onChange(toggleAdapterModule(adapters, nLayer, module))}
                >
                  {moduleHeader(module)}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {layersTopDown.map((layer) => (
            <tr key={layer}>
              <th scope="row">
                <button
                  type="button"
                  className="layer-toggle"
                  data-layer={layer}
                  aria-label={`layer ${layer}: switch all modules on or off`}
                  onClick={() => onChange(toggleAdapterLayer(adapters, nLayer, layer))}
                >
                  {layer}
                </button>
              </th>
              {MODULES.map((module) => {
                const on = isAdapterEnabled(grid, layer, module);
                const block = blocks.get(blockKey(layer, module));
                const value = block === undefined ? null : valueOf(block);
                const position = value === null ? 0 : heat.position(value);
                const valueText = value === null ? 'no preview' : `${metricName} ${formatValue(value)}`;
                return (
                  <td key={module}>
                    <button
                      type="button"
                      className={`cell ${on ? 'on' : 'off'}`}
                      data-layer={layer}
                      data-module={module}
                      data-value={value ?? ''}
                      aria-pressed={on}
                      aria-label={`layer ${layer} ${module}: LoRA ${on ? 'on' : 'off'}, ${valueText}`}
                      aria-describedby={disabled ? 'model-grid-locked' : undefined}
                      style={{
                        background: value === null ? undefined : INTERPOLATE_HEAT(position),
                        color: position > 0.55 ? 'white' : '#111827',
                      }}
                      onClick={() => onChange(toggleAdapterCell(adapters, nLayer, layer, module))}
                      onMouseEnter={(event) => showCellTooltip(event, layer, module)}
                      onMouseLeave={hideCellTooltip}
                    >
                      <span className="cell-value">{value === null ? '–' : formatCompact(value)}</span>
                      <span className="cell-state">{on ? '✓ LoRA' : 'off'}</span>
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="model-grid-side">↓ input side (embeddings wte, wpe)</p>

      <p className="model-grid-summary">
        {chosenCount} of {nLayer * MODULES.length} blocks adapted.{' '}
        {preview === null
          ? 'Compute the NTK preview to see each block’s kernel at θ₀.'
          : chosenCount === 0
            ? 'Switch on at least one block to fine-tune it.'
            : shownMetric === 'muMax'
            ? `Σ μ_max(K_b) over them = ${formatValue(chosenSum)}, the Weyl upper bound on μ_max(K_S).`
            : `Σ trace(K_b) over them = ${formatValue(chosenSum)} = trace(K_S), because the trace is additive.`}
      </p>
    </div>
  );
}
