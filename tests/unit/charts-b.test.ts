import * as d3 from 'd3';
import { describe, expect, it } from 'vitest';

import type { NtkEvent, PreviewEvent, SpectrumSummary, SweepEvent } from '../../src/core/events.ts';
import { MODULES, type ModuleName } from '../../src/core/model/modules.ts';
import { logTickFormat } from '../../src/ui/charts/analysis-marks.ts';
import {
  formatCoefficient,
  formatCorrelation,
  kernelChangeSeries,
  logDomain,
  relativeChange,
  sweepPoints,
  weylStack,
} from '../../src/ui/charts/analysis-series.ts';
import { previewEvent, SWEEP_SUBSETS } from '../e2e/fixtures/analysis-events.ts';
import {
  readAdapterGrid,
  toggleAdapterCell,
  toggleAdapterLayer,
  toggleAdapterModule,
} from '../../src/ui/panels/adapter-toggles.ts';

function stats(overrides: Partial<SpectrumSummary>): SpectrumSummary {
  return {
    trace: 1,
    muMax: 1,
    muMin: 0.1,
    kappa: 10,
    kappaLambda: 10,
    effectiveRank: 1,
    etaMax: 1,
    ...overrides,
  };
}

function ntkEvent(step: number, muMax: number, trace: number, drift: number | null): NtkEvent {
  return {
    type: 'ntk',
    step,
    n: 4,
    c: 2,
    lambda: 0.01,
    eigenvalues: [],
    traced: [],
    stats: stats({ muMax, trace }),
    tracedStats: stats({}),
    blocks: [],
    drift,
  };
}

describe('readAdapterGrid', () => {
  it('reads q and v on four layers', () => {
    expect(readAdapterGrid('qv.qv.qv.qv', 4)).toEqual([
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
      ['attn.q', 'attn.v'],
    ]);
  });

  it('reads the all-dash grid as empty', () => {
    expect(readAdapterGrid('-.-.-.-', 4)).toEqual([[], [], [], []]);
  });

  it('pads missing layers and drops extra ones', () => {
    expect(readAdapterGrid('q.v', 3)).toEqual([['attn.q'], ['attn.v'], []]);
    expect(readAdapterGrid('q.v.k', 2)).toEqual([['attn.q'], ['attn.v']]);
  });

  it('reads an invalid string as empty', () => {
    expect(readAdapterGrid('qz.qv', 2)).toEqual([[], []]);
  });
});

describe('toggleAdapterCell', () => {
  it('switches a cell off', () => {
    expect(toggleAdapterCell('qv.qv.qv.qv', 4, 2, 'attn.q')).toBe('qv.qv.v.qv');
  });

  it('switches a cell on in MODULES order', () => {
    expect(toggleAdapterCell('qv.qv.qv.qv', 4, 0, 'mlp.c_fc')).toBe('qvf.qv.qv.qv');
    expect(toggleAdapterCell('v.-.-.-', 4, 0, 'attn.q')).toBe('qv.-.-.-');
  });

  it('reaches and leaves the empty selection', () => {
    const empty = toggleAdapterCell('q.-.-.-', 4, 0, 'attn.q');
    expect(empty).toBe('-.-.-.-');
    expect(toggleAdapterCell(empty, 4, 3, 'mlp.c_proj')).toBe('-.-.-.p');
  });

  it('rejects a layer outside the model', () => {
    expect(() => toggleAdapterCell('qv.qv', 2, 2, 'attn.q')).toThrow(/layer 2 is outside 0..1/);
  });
});

describe('toggleAdapterLayer', () => {
  it('switches all on when any is off', () => {
    expect(toggleAdapterLayer('qv.qv.qv.qv', 4, 1)).toBe('qv.qkvofp.qv.qv');
    expect(toggleAdapterLayer('-.-.-.-', 4, 3)).toBe('-.-.-.qkvofp');
  });

  it('switches all off when all are on', () => {
    expect(toggleAdapterLayer('qv.qkvofp.qv.qv', 4, 1)).toBe('qv.-.qv.qv');
  });
});

describe('toggleAdapterModule', () => {
  it('switches a module on in every layer when one lacks it', () => {
    expect(toggleAdapterModule('qv.v.qv.-', 4, 'attn.q')).toBe('qv.qv.qv.q');
  });

  it('switches a module off in every layer when all have it', () => {
    expect(toggleAdapterModule('qv.qv.qv.qv', 4, 'attn.v')).toBe('q.q.q.q');
    expect(toggleAdapterModule('v.v', 2, 'attn.v')).toBe('-.-');
  });
});

describe('kernelChangeSeries', () => {
  it('returns no points without events', () => {
    expect(kernelChangeSeries([])).toEqual([]);
  });

  it('measures changes against the first event', () => {
    const series = kernelChangeSeries([ntkEvent(0, 2, 10, 0), ntkEvent(50, 3, 9, 0.2)]);
    expect(series).toHaveLength(2);
    expect(series[0]).toEqual({ step: 0, drift: 0, muMax: 0, trace: 0 });
    expect(series[1]?.step).toBe(50);
    expect(series[1]?.drift).toBe(0.2);
    expect(series[1]?.muMax).toBeCloseTo(0.5, 12);
    expect(series[1]?.trace).toBeCloseTo(-0.1, 12);
  });

  it('gives null changes from a zero kernel', () => {
    const series = kernelChangeSeries([ntkEvent(0, 0, 0, null), ntkEvent(10, 1, 1, null)]);
    expect(series[1]).toEqual({ step: 10, drift: null, muMax: null, trace: null });
  });
});

describe('relativeChange', () => {
  it('is null for a zero or infinite start', () => {
    expect(relativeChange(1, 0)).toBeNull();
    expect(relativeChange(1, Infinity)).toBeNull();
    expect(relativeChange(3, 2)).toBe(0.5);
  });
});

describe('weylStack', () => {
  function previewFor(adapters: string): PreviewEvent {
    const blocks = [0, 1].flatMap((layer) =>
      MODULES.map((module: ModuleName, m) => {
        const muMax = (layer + 1) * (m + 1);
        return { layer, module, muMax, trace: 2 * muMax, eigenvalues: [muMax, muMax / 10, muMax / 100] };
      }),
    );
    return {
      type: 'preview',
      adapters,
      n: 3,
      c: 1,
      lambda: 0,
      blocks,
      eigenvalues: [],
      stats: null,
      weyl: { upper: 0, lower: 0 },
    };
  }

  it('stacks the chosen blocks largest first', () => {
    const stack = weylStack(previewFor('qv.q'));
    expect(stack.map((s) => `${s.layer}:${s.module}`)).toEqual(['0:attn.v', '1:attn.q', '0:attn.q']);
    expect(stack.map((s) => s.muMax)).toEqual([3, 2, 1]);
  });

  it('ends at the sum of the chosen μ₁', () => {
    const stack = weylStack(previewFor('qv.q'));
    expect(stack.map((s) => [s.start, s.end])).toEqual([
      [0, 3],
      [3, 5],
      [5, 6],
    ]);
    expect(stack[stack.length - 1]?.end).toBe(3 + 2 + 1);
  });

  it('takes each block μ_n from its last eigenvalue', () => {
    const stack = weylStack(previewFor('q.-'));
    expect(stack).toHaveLength(1);
    expect(stack[0]?.muMin).toBeCloseTo(0.01, 12);
  });

  it('is empty for the empty selection', () => {
    expect(weylStack(previewFor('-.-'))).toEqual([]);
  });

  it('matches the Weyl bounds of real spectra', () => {
    for (const adapters of SWEEP_SUBSETS) {
      const preview = previewEvent(adapters);
      const stack = weylStack(preview);
      const lower = stack.reduce((total, segment) => total + segment.muMin, 0);
      expect(stack[stack.length - 1]?.end, adapters).toBeCloseTo(preview.weyl.upper, 9);
      expect(lower, adapters).toBeCloseTo(preview.weyl.lower, 9);
      expect(preview.eigenvalues[0], adapters).toBeLessThanOrEqual(preview.weyl.upper * (1 + 1e-12));
      expect(preview.eigenvalues[preview.eigenvalues.length - 1], adapters).toBeGreaterThanOrEqual(preview.weyl.lower * (1 - 1e-12));
    }
  });
});

describe('sweepPoints', () => {
  function sweepEvent(index: number, kappaLambda: number | null): SweepEvent {
    return {
      type: 'sweep',
      index,
      total: 3,
      adapters: 'qv.qv',
      stats: stats({ kappaLambda }),
      weyl: { upper: 2, lower: 0.05 },
      trainable: 1024,
      final: { train: { loss: 0.5, accuracy: 0.8 }, eval: { loss: 0.6, accuracy: 0.7 } },
    };
  }

  it('skips subsets without a positive κ_λ', () => {
    const { points, skipped } = sweepPoints([sweepEvent(0, 12), sweepEvent(1, null), sweepEvent(2, 0)]);
    expect(points.map((p) => p.index)).toEqual([0]);
    expect(skipped).toBe(2);
  });

  it('copies final metrics', () => {
    const point = sweepPoints([sweepEvent(0, 12)]).points[0];
    expect(point?.kappaLambda).toBe(12);
    expect(point?.evalAccuracy).toBe(0.7);
    expect(point?.trainLoss).toBe(0.5);
    expect(point?.trainable).toBe(1024);
  });
});

describe('formatCorrelation', () => {
  it('formats both coefficients', () => {
    expect(formatCorrelation({ pearson: -0.8234, spearman: 0.5 })).toBe('Pearson r = −0.82, Spearman ρ = 0.50');
  });

  it('shows a dash for null or a missing summary', () => {
    expect(formatCorrelation({ pearson: null, spearman: 0.1 })).toBe('Pearson r = –, Spearman ρ = 0.10');
    expect(formatCorrelation(null)).toBe('Pearson r = –, Spearman ρ = –');
    expect(formatCoefficient(Number.NaN)).toBe('–');
  });
});

describe('logDomain', () => {
  it('covers the values in whole decades', () => {
    const [low, high] = logDomain([0.003, 0.2, 45]);
    expect(low).toBeCloseTo(1e-3, 15);
    expect(high).toBe(100);
  });

  it('ignores zeros, negatives and non-finite values', () => {
    const [low, high] = logDomain([0, -1, Infinity, Number.NaN, 5, 50]);
    expect(low).toBe(1);
    expect(high).toBe(100);
  });

  it('widens a single decade', () => {
    expect(logDomain([10])).toEqual([1, 100]);
  });

  it('falls back without positive values', () => {
    expect(logDomain([0, -2], [0.1, 10])).toEqual([0.1, 10]);
  });
});

describe('logTickFormat', () => {
  it('labels only decades over a wide domain', () => {
    const format = logTickFormat(d3.scaleLog().domain([1e-4, 10]));
    expect(format(1e-4)).toBe('1e-4');
    expect(format(0.01)).toBe('0.01');
    expect(format(10)).toBe('10');
    expect(format(0.002)).toBe('');
  });

  it('labels 1, 2 and 5 over a narrow domain', () => {
    const format = logTickFormat(d3.scaleLog().domain([10, 100]));
    expect([10, 20, 30, 50, 70, 100].map(format)).toEqual(['10', '20', '', '50', '', '100']);
  });
});
