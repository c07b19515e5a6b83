/** Injected time and randomness, so tests can be deterministic. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
}

export type Random = () => number; // uniform in [0, 1)

export const systemClock: Clock = { now: () => performance.now() };
export const mathRandom: Random = Math.random;

/** A seeded PRNG (mulberry32) for tests and reproducible runs. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
