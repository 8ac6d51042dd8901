/**
 * Toggling (layer, module) adapters on grid strings such as "qv.qv.qv.qv",
 * for the model grid. Every function takes and returns a grid string with
 * exactly nLayer groups.
 *
 * An empty selection is written "-.-.-.-". parseAdapterGrid rejects that
 * string because a run needs at least one block, but the model grid must be
 * able to reach it (switch off the last block) and show it.
 */
import { formatAdapterGrid, tryParseAdapterGrid, type AdapterGrid } from '../../core/model/adapters.ts';
import { MODULES, type ModuleName } from '../../core/model/modules.ts';

/** Returns the grid of nLayer layers with no module enabled. */
export function emptyAdapterGrid(nLayer: number): AdapterGrid {
  return Array.from({ length: nLayer }, () => []);
}

/**
 * Reads a grid string as a grid of exactly nLayer layers. The all-"-" string
 * reads as the empty selection. Missing layers are empty, and groups beyond
 * nLayer are dropped.
 */
export function readAdapterGrid(adapters: string, nLayer: number): AdapterGrid {
  const grid = emptyAdapterGrid(nLayer);
  const parsed = tryParseAdapterGrid(adapters);

  // NOTE: a string that fails to parse for another reason also reads as the
  // empty selection, because the grid must still render. The app validates the
  // spec's adapters string before a run.
  if (!parsed.ok) return grid;

  for (let layer = 0; layer < nLayer; layer++) {
    grid[layer] = [...(parsed.grid[layer] ?? [])];
  }
  return grid;
}

export function isAdapterEnabled(grid: AdapterGrid, layer: number, module: ModuleName): boolean {
  return grid[layer]?.includes(module) ?? false;
}

/** Switches one (layer, module) adapter on or off. */
export function toggleAdapterCell(adapters: string, nLayer: number, layer: number, module: ModuleName): string {
  const grid = readAdapterGrid(adapters, nLayer);
  const modules = grid[layer];
  if (modules === undefined) throw new RangeError(`toggleAdapterCell: layer ${layer} is outside 0..${nLayer - 1}`);

  grid[layer] = isAdapterEnabled(grid, layer, module) ? modules.filter((m) => m !== module) : [...modules, module];
  return formatAdapterGrid(grid);
}

/** Switches on every module of a layer if any is off, else switches them all off. */
export function toggleAdapterLayer(adapters: string, nLayer: number, layer: number): string {
  const grid = readAdapterGrid(adapters, nLayer);
  const modules = grid[layer];
  if (modules === undefined) throw new RangeError(`toggleAdapterLayer: layer ${layer} is outside 0..${nLayer - 1}`);

  const allOn = MODULES.every((module) => modules.includes(module));
  grid[layer] = allOn ? [] : [...MODULES];
  return formatAdapterGrid(grid);
}

/** Switches a module on in every layer if any layer lacks it, else switches it off in every layer. */
export function toggleAdapterModule(adapters: string, nLayer: number, module: ModuleName): string {
  const grid = readAdapterGrid(adapters, nLayer);
  const allOn = grid.every((modules) => modules.includes(module));

  const next = grid.map((modules) => {
    const others = modules.filter((m) => m !== module);
    return allOn ? others : [...others, module];
  });
  return formatAdapterGrid(next);
}
