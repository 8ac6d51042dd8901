import { describe, expect, it } from 'vitest';

import { symmetricEigenvalues } from '../../src/core/ntk/eigenvalues.ts';
import { symmetricEigen } from '../../src/core/ntk/spectrum.ts';
import { createRng, randomNormal } from '../../src/core/random.ts';

/** Returns G·Gᵀ for a random n×rank G: a PSD matrix of rank min(n, rank), slightly asymmetric as a float32 kernel is. */
function randomGram(n: number, rank: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const factor = Float64Array.from({ length: n * rank }, () => randomNormal(rng));
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let total = 0;
      for (let k = 0; k < rank; k++) total += (factor[i * rank + k] as number) * (factor[j * rank + k] as number);
      gram[i * n + j] = Math.fround(total);
    }
  }
  return gram;
}

describe('symmetricEigenvalues', () => {
  const cases: [string, number, number][] = [
    ['full rank n=128', 128, 200],
    ['rank 20 of n=64', 64, 20],
    ['n=2', 2, 3],
    ['n=1', 1, 1],
  ];

  for (const [name, n, rank] of cases) {
    it(`equals symmetricEigen, ${name}`, () => {
      const matrix = randomGram(n, rank, n + rank);
      const expected = symmetricEigen(matrix, n).eigenvalues;

      expect(symmetricEigenvalues(matrix, n)).toEqual(expected);
    });
  }

  it('returns zeros for a zero matrix', () => {
    expect(symmetricEigenvalues(new Float64Array(9), 3)).toEqual(new Float64Array(3));
  });

  it('applies a larger zero tolerance as symmetricEigen does', () => {
    const matrix = randomGram(32, 8, 5);
    const expected = symmetricEigen(matrix, 32, { zeroTolerance: 1e-6 }).eigenvalues;

    expect(symmetricEigenvalues(matrix, 32, { zeroTolerance: 1e-6 })).toEqual(expected);
  });

  it('rejects an invalid zero tolerance', () => {
    expect(() => symmetricEigenvalues(new Float64Array(4), 2, { zeroTolerance: -1 })).toThrow(RangeError);
  });
});
