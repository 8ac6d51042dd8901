/**
 * The (layer, module) adapter toggles and their compact grid string.
 *
 * The grid string has one group per layer, separated by ".". A group lists the
 * letters of the layer's enabled modules (q k v o f p, see MODULE_LETTERS), or is
 * "-" for a layer with none. For example "qv.qv.qv.qv" enables attn.q and attn.v on
 * each of 4 layers, and "-.-.qv.qvofp" adapts only the last two of 4 layers.
 */

import { MODULES, MODULE_LETTERS, type ModuleName } from './modules.ts';

/** Enabled modules per layer: index = layer, modules in MODULES order. */
export type AdapterGrid = ModuleName[][];

/** One adapted (layer, module) pair. */
export interface AdapterBlock {
  layer: number;
  module: ModuleName;
}

/** The maximum number of layers a grid string may have. */
export const MAX_ADAPTER_LAYERS = 64;

/** The group of a layer with no enabled module. */
const EMPTY_GROUP = '-';

const LETTER_TO_MODULE: ReadonlyMap<string, ModuleName> = new Map(
  MODULES.map((module) => [MODULE_LETTERS[module], module]),
);

const ALLOWED_LETTERS = MODULES.map((module) => MODULE_LETTERS[module]).join(', ');

/**
 * Parses a grid string without throwing. On failure, `problem` describes what is wrong
 * and how to fix it, without the "adapters: " prefix that parseAdapterGrid adds.
 * Letters within a group may come in any order, and the grid lists them in
 * MODULES order.
 */
export function tryParseAdapterGrid(
  text: string,
): { ok: true; grid: AdapterGrid } | { ok: false; problem: string } {
  if (text === '') {
    return {
      ok: false,
      problem: 'the grid is empty; expected one group per layer separated by ".", such as "qv.qv.qv.qv"',
    };
  }

  const groups = text.split('.');
  if (groups.length > MAX_ADAPTER_LAYERS) {
    return {
      ok: false,
      problem: `the grid has ${countLayers(groups.length)} but at most ${MAX_ADAPTER_LAYERS} are allowed`,
    };
  }

  const grid: AdapterGrid = [];
  for (const [layer, group] of groups.entries()) {
    const parsed = parseGroup(group, layer);
    if (typeof parsed === 'string') return { ok: false, problem: parsed };
    grid.push(parsed);
  }

  if (grid.every((modules) => modules.length === 0)) {
    return {
      ok: false,
      problem: `no module is enabled on any layer of "${text}"; enable at least one, such as "qv" on one layer`,
    };
  }
  return { ok: true, grid };
}

/** Parses one layer's group into its modules in MODULES order, or returns the problem. */
function parseGroup(group: string, layer: number): ModuleName[] | string {
  if (group === EMPTY_GROUP) return [];
  if (group === '') {
    return `layer ${layer} has an empty group; write "${EMPTY_GROUP}" for a layer with no adapters`;
  }

  const enabled = new Set<ModuleName>();
  for (const letter of group) {
    if (letter === EMPTY_GROUP) {
      return `layer ${layer} group ${quote(group)} mixes "${EMPTY_GROUP}" with module letters; write "${EMPTY_GROUP}" alone for a layer with no adapters`;
    }
    const module = LETTER_TO_MODULE.get(letter);
    if (module === undefined) {
      return `layer ${layer} group ${quote(group)} has the invalid letter ${quote(letter)}; allowed letters are ${ALLOWED_LETTERS}, or "${EMPTY_GROUP}" alone for a layer with none`;
    }
    if (enabled.has(module)) {
      return `layer ${layer} group ${quote(group)} repeats the letter ${quote(letter)}; list each module at most once`;
    }
    enabled.add(module);
  }
  return MODULES.filter((module) => enabled.has(module));
}

const MAX_QUOTED_CHARS = 20;

/** Quotes user text for a message as JSON, so control characters come out escaped, cut to MAX_QUOTED_CHARS. */
function quote(text: string): string {
  const chars = Array.from(text);
  const cutText = chars.length <= MAX_QUOTED_CHARS ? text : `${chars.slice(0, MAX_QUOTED_CHARS - 1).join('')}…`;
  return JSON.stringify(cutText);
}

/**
 * Parses a grid string such as "qv.qv.qv.qv". Throws an Error naming the bad group
 * or letter for an empty string, an empty group, an unknown or repeated letter,
 * more than MAX_ADAPTER_LAYERS layers, or a grid with no module enabled.
 */
export function parseAdapterGrid(text: string): AdapterGrid {
  const result = tryParseAdapterGrid(text);
  if (!result.ok) throw new Error(`adapters: ${result.problem}`);
  return result.grid;
}

/**
 * Formats a grid as its canonical string: letters in MODULES order, "-" for a layer
 * with none. parseAdapterGrid of the result returns an equal grid. Throws for a
 * module name that is not in MODULES.
 */
export function formatAdapterGrid(grid: readonly (readonly ModuleName[])[]): string {
  return grid.map((modules) => formatGroup(modules)).join('.');
}

function formatGroup(modules: readonly ModuleName[]): string {
  for (const module of modules) {
    if (!MODULES.includes(module)) {
      throw new Error(`adapters: unknown module "${String(module)}"; expected one of ${MODULES.join(', ')}`);
    }
  }
  const letters = MODULES.filter((module) => modules.includes(module)).map((module) => MODULE_LETTERS[module]);
  return letters.length === 0 ? EMPTY_GROUP : letters.join('');
}

/** Throws unless the grid has exactly one group per layer of a model with nLayer layers. */
export function checkAdapterGridLayers(grid: readonly (readonly ModuleName[])[], nLayer: number): void {
  if (grid.length === nLayer) return;

  let message = `adapters: the grid has ${countLayers(grid.length)} but the model has ${countLayers(nLayer)}`;
  if (Number.isInteger(nLayer) && nLayer >= 1 && nLayer <= MAX_ADAPTER_LAYERS) {
    message += `; write one group per layer, such as "${Array<string>(nLayer).fill('qv').join('.')}"`;
  }
  throw new Error(message);
}

function countLayers(count: number): string {
  return count === 1 ? '1 layer' : `${count} layers`;
}

/** Lists the enabled (layer, module) pairs, layer ascending, then in MODULES order. */
export function listAdapterBlocks(grid: readonly (readonly ModuleName[])[]): AdapterBlock[] {
  const blocks: AdapterBlock[] = [];
  for (const [layer, modules] of grid.entries()) {
    for (const module of MODULES) {
      if (modules.includes(module)) blocks.push({ layer, module });
    }
  }
  return blocks;
}
