/** Seeded minibatches: each epoch walks a fresh permutation of the train set. */
import { createRng, shuffled, type Rng } from '../random.ts';

export interface BatchSampler {
  /** Returns the indices of the next batch; callers must not modify the array, which full-batch sampling reuses. */
  next(): Int32Array;
}

/**
 * With batchSize ≥ count every batch is the whole set in order (full-batch
 * GD). Otherwise batches are consecutive slices of per-epoch permutations,
 * and a batch that crosses an epoch's end continues into the next one.
 */
export function createBatchSampler(count: number, batchSize: number, seed: number): BatchSampler {
  if (batchSize >= count) {
    const all = Int32Array.from({ length: count }, (_, i) => i);
    return { next: () => all };
  }
  const rng: Rng = createRng(seed);
  const indices = Array.from({ length: count }, (_, i) => i);
  let order = shuffled(indices, rng);
  let cursor = 0;
  return {
    next() {
      const batch = new Int32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        if (cursor === order.length) {
          order = shuffled(indices, rng);
          cursor = 0;
        }
        batch[i] = order[cursor++] as number;
      }
      return batch;
    },
  };
}
