import { describe, expect, test } from 'vitest';

import type { DivergenceEvent, EvalEvent, NtkEvent, StepEvent, TheoryEvent } from '../../src/core/events.ts';
import { DEFAULT_SPEC } from '../../src/core/spec.ts';
import { formatLogTick, formatPrecise, spreadPositions } from '../../src/ui/charts/marks.ts';
import {
  distanceSeries,
  divergenceSeries,
  downsampleMinMax,
  eigenPoints,
  etaMax,
  evalSeries,
  heatmapCells,
  logFloor,
  nearestIndex,
  pickEvenly,
  stabilityEdge,
  stepEdges,
  stepSeries,
  theoryNote,
  theorySeries,
  yExtent,
  type Point,
} from '../../src/ui/charts/series.ts';

function step(model: 'real' | 'linear', index: number, loss: number, distance = index / 10): StepEvent {
  return { type: 'step', model, step: index, loss, objective: loss, distance, regularizerActive: true };
}

function evalEvent(model: 'real' | 'linear', index: number, split: 'train' | 'eval', loss: number, accuracy: number): EvalEvent {
  return { type: 'eval', model, step: index, split, loss, accuracy };
}

const STATS = { trace: 0, muMax: 0, muMin: 0, kappa: null, kappaLambda: null, effectiveRank: 0, etaMax: null };

function ntk(index: number, eigenvalues: number[], traced: number[] = eigenvalues.slice(0, 2)): NtkEvent {
  return { type: 'ntk', step: index, n: 2, c: 2, lambda: 0.1, eigenvalues, traced, stats: STATS, tracedStats: STATS, blocks: [], drift: null };
}

describe('downsampleMinMax', () => {
  test('keeps short series whole', () => {
    const points = [{ x: 0, y: 1 }, { x: 1, y: 2 }];
    expect(downsampleMinMax(points, 10)).toEqual(points);
  });

  test('caps the point count', () => {
    const points = Array.from({ length: 20_000 }, (_, i) => ({ x: i, y: Math.sin(i) }));
    const reduced = downsampleMinMax(points, 500);
    expect(reduced.length).toBeLessThanOrEqual(500);
    expect(reduced.length).toBeGreaterThanOrEqual(400);
  });

  test('keeps a single spike', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: i === 4321 ? 99 : 1 }));
    const reduced = downsampleMinMax(points, 100);
    expect(reduced).toContainEqual({ x: 4321, y: 99 });
  });

  test('keeps x order', () => {
    const points = Array.from({ length: 5_000 }, (_, i) => ({ x: i, y: Math.cos(i / 7) }));
    const xs = downsampleMinMax(points, 300).map((point) => point.x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
  });

  test('drops non-finite points', () => {
    const points = [{ x: 0, y: 1 }, { x: 1, y: Infinity }, { x: 2, y: Number.NaN }, { x: 3, y: 2 }];
    expect(downsampleMinMax(points, 10)).toEqual([{ x: 0, y: 1 }, { x: 3, y: 2 }]);
  });
});

describe('series extraction', () => {
  test('stepSeries filters one model', () => {
    const steps = [step('real', 1, 0.9, 0.1), step('linear', 1, 0.8, 0.2), step('real', 2, 0.7, 0.3)];
    expect(stepSeries(steps, 'real', 'loss')).toEqual([{ x: 1, y: 0.9 }, { x: 2, y: 0.7 }]);
    expect(stepSeries(steps, 'linear', 'distance')).toEqual([{ x: 1, y: 0.2 }]);
  });

  test('evalSeries filters model and split', () => {
    const evals = [
      evalEvent('real', 0, 'train', 0.7, 0.5),
      evalEvent('real', 0, 'eval', 0.72, 0.45),
      evalEvent('linear', 0, 'train', 0.7, 0.5),
      evalEvent('real', 5, 'train', 0.6, 0.6),
    ];
    expect(evalSeries(evals, 'real', 'train', 'loss')).toEqual([{ x: 0, y: 0.7 }, { x: 5, y: 0.6 }]);
    expect(evalSeries(evals, 'real', 'eval', 'accuracy')).toEqual([{ x: 0, y: 0.45 }]);
  });

  test('theorySeries pairs steps and metrics', () => {
    const theory: TheoryEvent = {
      type: 'theory',
      steps: [0, 10],
      train: [{ loss: 1, accuracy: 0.5 }, { loss: 0.5, accuracy: 0.75 }],
      eval: [{ loss: 1.1, accuracy: 0.4 }, { loss: 0.6, accuracy: 0.7 }],
      limit: { train: { loss: 0.1, accuracy: 1 }, eval: { loss: 0.3, accuracy: 0.8 } },
    };
    expect(theorySeries(theory, 'train', 'loss')).toEqual([{ x: 0, y: 1 }, { x: 10, y: 0.5 }]);
    expect(theorySeries(theory, 'eval', 'accuracy')).toEqual([{ x: 0, y: 0.4 }, { x: 10, y: 0.7 }]);
  });

  test('divergenceSeries maps null relative RMS to NaN', () => {
    const onSet = (relativeRms: number | null) => ({ rms: 0.1, relativeRms, agreement: 0.9 });
    const divergence: DivergenceEvent[] = [
      { type: 'divergence', step: 0, probe: onSet(null), eval: onSet(null), thetaGap: 0, distance: 0, distanceLinear: 0, distanceBound: 3 },
      { type: 'divergence', step: 5, probe: onSet(0.02), eval: onSet(0.03), thetaGap: 0.1, distance: 1, distanceLinear: 0.9, distanceBound: 3 },
    ];
    const probe = divergenceSeries(divergence, 'probe', 'relativeRms');
    expect(probe[0]?.y).toBeNaN();
    expect(probe[1]).toEqual({ x: 5, y: 0.02 });
    expect(divergenceSeries(divergence, 'eval', 'agreement')).toEqual([{ x: 0, y: 0.9 }, { x: 5, y: 0.9 }]);
    expect(distanceSeries(divergence, 'thetaGap')).toEqual([{ x: 0, y: 0 }, { x: 5, y: 0.1 }]);
  });

  test('yExtent skips non-finite values', () => {
    const series: Point[][] = [[{ x: 0, y: Number.NaN }, { x: 1, y: 2 }], [{ x: 0, y: -1 }, { x: 1, y: Infinity }]];
    expect(yExtent(series)).toEqual([-1, 2]);
    expect(yExtent([[]])).toBeNull();
  });
});

describe('theoryNote', () => {
  const applicable = { ...DEFAULT_SPEC, loss: 'mse', optimizer: 'gd', linearized: true, anchor: 'init' } as const;

  test('is null where the theory applies', () => {
    expect(theoryNote(applicable)).toBeNull();
  });

  test('names cross-entropy', () => {
    expect(theoryNote({ ...applicable, loss: 'ce' })).toBe(
      'No closed-form theory overlay: it needs squared loss (this run uses cross-entropy).',
    );
  });

  test('lists every missing condition', () => {
    const note = theoryNote({ ...applicable, loss: 'ce', optimizer: 'adam', linearized: false, anchor: 'zero' });
    expect(note).toContain('squared loss (this run uses cross-entropy)');
    expect(note).toContain('full-batch GD (this run uses Adam)');
    expect(note).toContain('the linearized model');
    expect(note).toContain('anchor=init (this run anchors at zero)');
  });
});

describe('nearestIndex', () => {
  test('finds the nearest value', () => {
    const xs = [0, 5, 10, 20];
    expect(nearestIndex(xs, -3)).toBe(0);
    expect(nearestIndex(xs, 2)).toBe(0);
    expect(nearestIndex(xs, 3)).toBe(1);
    expect(nearestIndex(xs, 16)).toBe(3);
    expect(nearestIndex(xs, 99)).toBe(3);
  });

  test('returns -1 for no values', () => {
    expect(nearestIndex([], 1)).toBe(-1);
  });
});

describe('logFloor', () => {
  test('sits one decade below the smallest positive value', () => {
    expect(logFloor([[100, 3, 0.042], [7]])).toEqual({ floor: 0.001, zeros: 0, anyPositive: true });
  });

  test('counts zeros', () => {
    expect(logFloor([[5, 0, 0], [2, 0]])).toEqual({ floor: 0.1, zeros: 3, anyPositive: true });
  });

  test('falls back to 1 for all-zero spectra', () => {
    expect(logFloor([[0, 0]])).toEqual({ floor: 1, zeros: 2, anyPositive: false });
  });

  test('eigenPoints clips zeros to the floor', () => {
    expect(eigenPoints([4, 0], 0.1)).toEqual([
      { index: 1, value: 4, plotted: 4, clipped: false },
      { index: 2, value: 0, plotted: 0.1, clipped: true },
    ]);
  });
});

describe('GD stability', () => {
  test('stabilityEdge is N(2/η − λ)', () => {
    expect(stabilityEdge(16, 0.02, 0.01)).toBeCloseTo(16 * (100 - 0.01), 9);
  });

  test('stabilityEdge is null when ηλ ≥ 2', () => {
    expect(stabilityEdge(16, 2, 1)).toBeNull();
    expect(stabilityEdge(16, 4, 1)).toBeNull();
  });

  test('etaMax matches the edge at μ₁', () => {
    const maxRate = etaMax(1131.99, 16, 0.01) as number;
    expect(maxRate).toBeCloseTo(2 / (1131.99 / 16 + 0.01), 12);
    expect(stabilityEdge(16, maxRate, 0.01)).toBeCloseTo(1131.99, 6);
  });

  test('etaMax is null for a zero kernel without λ', () => {
    expect(etaMax(0, 16, 0)).toBeNull();
  });
});

describe('heatmap cells', () => {
  test('stepEdges meet halfway between steps', () => {
    expect(stepEdges([0, 10, 30])).toEqual([[-5, 5], [5, 20], [20, 40]]);
  });

  test('stepEdges gives a lone step unit width', () => {
    expect(stepEdges([7])).toEqual([[6.5, 7.5]]);
  });

  test('heatmapCells takes the top k of each kernel', () => {
    const cells = heatmapCells([ntk(0, [9, 4, 0]), ntk(10, [8, 3, 1])], 'full', 2, 0.1);
    expect(cells).toHaveLength(4);
    expect(cells[0]).toEqual({ step: 0, index: 1, value: 9, plotted: 9, x0: -5, x1: 5 });
    expect(cells[3]).toEqual({ step: 10, index: 2, value: 3, plotted: 3, x0: 5, x1: 15 });
  });

  test('heatmapCells reads the traced kernel and clips zeros', () => {
    const cells = heatmapCells([ntk(0, [9, 4, 2, 1], [5, 0])], 'traced', 32, 0.01);
    expect(cells.map((cell) => cell.value)).toEqual([5, 0]);
    expect(cells[1]?.plotted).toBe(0.01);
  });

  test('pickEvenly keeps both ends', () => {
    const items = Array.from({ length: 101 }, (_, i) => i);
    const picked = pickEvenly(items, 11);
    expect(picked).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(pickEvenly([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });
});

describe('label layout and formats', () => {
  test('spreadPositions separates close labels', () => {
    const placed = spreadPositions([50, 52, 120], 13, 0, 200);
    expect(placed[0]).toBe(50);
    expect(placed[1]).toBe(63);
    expect(placed[2]).toBe(120);
  });

  test('spreadPositions keeps input order', () => {
    const placed = spreadPositions([100, 40, 41], 10, 0, 200);
    expect(placed).toEqual([100, 40, 50]);
  });

  test('spreadPositions stays above the bottom', () => {
    const placed = spreadPositions([195, 196, 197], 10, 0, 200);
    expect(placed).toEqual([180, 190, 200]);
  });

  test('formatPrecise keeps 6 significant digits', () => {
    expect(formatPrecise(0.123456789)).toBe('0.123457');
    expect(formatPrecise(1131.9873869)).toBe('1131.99');
    expect(formatPrecise(3.8e36)).toBe('3.80000e+36');
    expect(formatPrecise(null)).toBe('–');
    expect(formatPrecise(0)).toBe('0');
  });

  test('formatLogTick labels powers of ten only', () => {
    expect(formatLogTick(100)).toBe('100');
    expect(formatLogTick(0.01)).toBe('0.01');
    expect(formatLogTick(1e-6)).toBe('1e-6');
    expect(formatLogTick(30)).toBe('');
  });
});
