import { describe, expect, it } from 'vitest';

import {
  MAX_ADAPTER_LAYERS,
  checkAdapterGridLayers,
  formatAdapterGrid,
  listAdapterBlocks,
  parseAdapterGrid,
  tryParseAdapterGrid,
  type AdapterGrid,
} from '../../src/core/model/adapters.ts';
import { MODULES } from '../../src/core/model/modules.ts';

describe('parseAdapterGrid', () => {
  it('parses q and v on four layers', () => {
    const grid = parseAdapterGrid('qv.qv.qv.qv');
    expect(grid).toEqual([
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
    ]);
  });

  it('parses "-" as a layer with none', () => {
    const grid = parseAdapterGrid('-.-.qv.qvofp');
    expect(grid[0]).toEqual([]);
    expect(grid[1]).toEqual([]);
    expect(grid[2]).toEqual(['attn.q', 'attn.v']);
    expect(grid[3]).toEqual(['attn.q', 'attn.v', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']);
  });

  it('maps every letter to its module', () => {
    expect(parseAdapterGrid('q')).toEqual([['attn.q']]);
    expect(parseAdapterGrid('k')).toEqual([['attn.k']]);
    expect(parseAdapterGrid('v')).toEqual([['attn.v']]);
    expect(parseAdapterGrid('o')).toEqual([['attn.c_proj']]);
    expect(parseAdapterGrid('f')).toEqual([['mlp.c_fc']]);
    expect(parseAdapterGrid('p')).toEqual([['mlp.c_proj']]);
  });

  it('sorts letters into MODULES order', () => {
    expect(parseAdapterGrid('pfovkq')).toEqual([[...MODULES]]);
    expect(parseAdapterGrid('vq.-')).toEqual([['attn.q', 'attn.v'], []]);
  });

  it('accepts the maximum layer count', () => {
    const text = Array<string>(MAX_ADAPTER_LAYERS).fill('q').join('.');
    expect(parseAdapterGrid(text)).toHaveLength(MAX_ADAPTER_LAYERS);
  });
});

describe('parseAdapterGrid rejections', () => {
  const cases: { name: string; text: string; message: string }[] = [
    {
      name: 'empty string',
      text: '',
      message: 'adapters: the grid is empty; expected one group per layer separated by ".", such as "qv.qv.qv.qv"',
    },
    {
      name: 'empty group in the middle',
      text: 'qv..qv',
      message: 'adapters: layer 1 has an empty group; write "-" for a layer with no adapters',
    },
    {
      name: 'trailing dot',
      text: 'qv.',
      message: 'adapters: layer 1 has an empty group; write "-" for a layer with no adapters',
    },
    {
      name: 'unknown letter',
      text: 'qv.qx',
      message:
        'adapters: layer 1 group "qx" has the invalid letter "x"; allowed letters are q, k, v, o, f, p, or "-" alone for a layer with none',
    },
    {
      name: 'uppercase letter',
      text: 'Qv',
      message:
        'adapters: layer 0 group "Qv" has the invalid letter "Q"; allowed letters are q, k, v, o, f, p, or "-" alone for a layer with none',
    },
    {
      name: 'space',
      text: 'qv. qv',
      message:
        'adapters: layer 1 group " qv" has the invalid letter " "; allowed letters are q, k, v, o, f, p, or "-" alone for a layer with none',
    },
    {
      name: 'repeated letter',
      text: 'qv.qvq',
      message: 'adapters: layer 1 group "qvq" repeats the letter "q"; list each module at most once',
    },
    {
      name: 'dash mixed with letters',
      text: 'q-',
      message:
        'adapters: layer 0 group "q-" mixes "-" with module letters; write "-" alone for a layer with no adapters',
    },
    {
      name: 'double dash',
      text: '--.q',
      message:
        'adapters: layer 0 group "--" mixes "-" with module letters; write "-" alone for a layer with no adapters',
    },
    {
      name: 'too many layers',
      text: Array<string>(MAX_ADAPTER_LAYERS + 1).fill('q').join('.'),
      message: 'adapters: the grid has 65 layers but at most 64 are allowed',
    },
    {
      name: 'no module enabled',
      text: '-.-.-.-',
      message: 'adapters: no module is enabled on any layer of "-.-.-.-"; enable at least one, such as "qv" on one layer',
    },
  ];

  for (const { name, text, message } of cases) {
    it(`rejects ${name}`, () => {
      expect(() => parseAdapterGrid(text)).toThrow(message);
    });
  }

  it('escapes and cuts a long group', () => {
    expect(() => parseAdapterGrid(`qv.q\u0007${'x'.repeat(100)}`)).toThrow(
      'adapters: layer 1 group "q\\u0007xxxxxxxxxxxxxxxxx…" has the invalid letter "\\u0007"',
    );
  });

  it('reports the problem without throwing', () => {
    const result = tryParseAdapterGrid('qx');
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problem).toMatch(/^layer 0 group "qx" has the invalid letter "x"/);
  });
});

describe('formatAdapterGrid', () => {
  it('formats q and v on four layers', () => {
    const qv: AdapterGrid = [
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
    ];
    expect(formatAdapterGrid(qv)).toBe('qv.qv.qv.qv');
  });

  it('writes "-" for a layer with none', () => {
    expect(formatAdapterGrid([[], ['mlp.c_fc']])).toBe('-.f');
  });

  it('writes letters in MODULES order', () => {
    expect(formatAdapterGrid([['mlp.c_proj', 'attn.c_proj', 'attn.q']])).toBe('qop');
  });

  it('writes each module once', () => {
    expect(formatAdapterGrid([['attn.v', 'attn.v']])).toBe('v');
  });

  it('rejects an unknown module name', () => {
    const bad = [['attn.x']] as unknown as AdapterGrid;
    expect(() => formatAdapterGrid(bad)).toThrow('adapters: unknown module "attn.x"');
  });

  it('round trips canonical strings', () => {
    for (const text of ['qv.qv.qv.qv', '-.-.qv.qvofp', 'qkvofp', 'k.-.p', 'o']) {
      expect(formatAdapterGrid(parseAdapterGrid(text))).toBe(text);
    }
  });

  it('canonicalizes letter order', () => {
    expect(formatAdapterGrid(parseAdapterGrid('vq.pf.-'))).toBe('qv.fp.-');
  });

  it('round trips grids', () => {
    const grid: AdapterGrid = [[], ['attn.k', 'mlp.c_proj'], [...MODULES]];
    expect(parseAdapterGrid(formatAdapterGrid(grid))).toEqual(grid);
  });
});

describe('checkAdapterGridLayers', () => {
  it('accepts a matching layer count', () => {
    expect(() => checkAdapterGridLayers(parseAdapterGrid('qv.qv.qv.qv'), 4)).not.toThrow();
  });

  it('rejects too many layers', () => {
    const grid = parseAdapterGrid('qv.qv.qv.qv.qv');
    expect(() => checkAdapterGridLayers(grid, 4)).toThrow(
      'adapters: the grid has 5 layers but the model has 4 layers; write one group per layer, such as "qv.qv.qv.qv"',
    );
  });

  it('rejects too few layers', () => {
    const grid = parseAdapterGrid('qv.qv');
    expect(() => checkAdapterGridLayers(grid, 3)).toThrow('adapters: the grid has 2 layers but the model has 3 layers');
  });

  it('omits the example for an invalid layer count', () => {
    expect(() => checkAdapterGridLayers([['attn.q']], 0)).toThrow(/^adapters: the grid has 1 layer but the model has 0 layers$/);
  });
});

describe('listAdapterBlocks', () => {
  it('lists layers ascending, then MODULES order', () => {
    const grid = parseAdapterGrid('pv.-.fkq');
    expect(listAdapterBlocks(grid)).toEqual([
      { layer: 0, module: 'attn.v' },
      { layer: 0, module: 'mlp.c_proj' },
      { layer: 2, module: 'attn.q' },
      { layer: 2, module: 'attn.k' },
      { layer: 2, module: 'mlp.c_fc' },
    ]);
  });

  it('sorts modules given out of order', () => {
    const grid: AdapterGrid = [['mlp.c_proj', 'attn.q']];
    expect(listAdapterBlocks(grid)).toEqual([
      { layer: 0, module: 'attn.q' },
      { layer: 0, module: 'mlp.c_proj' },
    ]);
  });

  it('returns one block per enabled pair', () => {
    expect(listAdapterBlocks(parseAdapterGrid('qv.qv.qv.qv'))).toHaveLength(8);
  });
});
