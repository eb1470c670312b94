// Settings shared by the fuzz suite (test/fuzz/): a fixed seed and a bounded number of runs,
// so `npm test` is repeatable and quick; FUZZ_RUNS=100000 (and FUZZ_SEED) for a longer hunt.
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 424_242);
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** fast-check options: the fixed seed and `factor` times the base number of runs. */
export function fuzzOptions(factor = 1): { seed: number; numRuns: number } {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(FUZZ_RUNS * factor)) };
}
