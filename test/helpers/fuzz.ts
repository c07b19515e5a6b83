/**
 * A time-bounded fuzz loop with a seeded PRNG. In `npm test` each fuzz target runs for
 * FUZZ_MS (default 1500 ms); the documented long run sets FUZZ_SECONDS (e.g. 300):
 *
 *   FUZZ_SECONDS=300 node --import tsx --test test/data/protocol/fuzz-*.test.ts
 *
 * (run directly: scripts/run-tests.mjs caps every test file at 120 s)
 *
 * The seed is printed on failure (and taken from FUZZ_SEED when set) so a failure reproduces.
 */
export function fuzzBudgetMs(): number {
  const s = Number(process.env.FUZZ_SECONDS);
  if (Number.isFinite(s) && s > 0) return s * 1000;
  const ms = Number(process.env.FUZZ_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : 1500;
}

/** xorshift32: deterministic, fast, good enough for mutation choices. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/** Flips, overwrites, inserts, deletes, truncates or duplicates a few bytes of `input`. */
export function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let b = Uint8Array.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const op = rng.int(7);
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (op) {
      case 0:
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = rng.next() & 0xff;
        break;
      case 2: {
        const ins = rng.bytes(1 + rng.int(8));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 3:
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rng.int(8))]);
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      case 5:
        if (b.length > 0) b[at] = [0, 0xff, 0x7f, 0x80, 0x16, 0x03, 0x0d, 0x0a][rng.int(8)] as number;
        break;
      default: {
        // interesting lengths: overwrite a 16-bit field with an extreme value
        if (b.length > 1) {
          const v = [0, 1, 0xffff, 0x4000, 0x4001, 0x0fff][rng.int(6)] as number;
          b[at] = v >> 8;
          if (at + 1 < b.length) b[at + 1] = v & 0xff;
        }
      }
    }
  }
  return b;
}

/**
 * Runs `body(rng, i)` until the time budget is spent (at least `minIterations` times).
 * Returns the number of iterations; any exception is rethrown with the seed.
 */
export function fuzzFor(name: string, body: (rng: Rng, i: number) => void, minIterations = 20): number {
  const seed = Number(process.env.FUZZ_SEED) || (Date.now() & 0xffffffff) >>> 0;
  const rng = new Rng(seed);
  const deadline = Date.now() + fuzzBudgetMs();
  let i = 0;
  try {
    for (; i < minIterations || Date.now() < deadline; i++) body(rng, i);
  } catch (err) {
    throw new Error(`fuzz ${name} failed at iteration ${i} (FUZZ_SEED=${seed}): ${(err as Error).message}`, { cause: err });
  }
  return i;
}
