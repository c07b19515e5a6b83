/**
 * Fuzzes the ClientHello parser: random bytes, mutated real hellos (re-framed at random record
 * sizes) and every split point. Properties: no exception; the answer is one of the four kinds;
 * `consumed` within the input and the cap; nothing past the cap is read (bytes after it change
 * nothing); a prefix answers `more` or the final verdict. Longer run: see test/helpers/fuzz.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLIENT_HELLO_CAP, peekClientHello } from '../../../src/data/protocol/client-hello.js';
import { fuzzBudgetMs, fuzzFor, mutate, type Rng } from '../../helpers/fuzz.js';
import { buildHello, frame, unframe } from './hello-helpers.js';

const PQ = unframe(new Uint8Array(readFileSync(new URL('../../fixtures/tls/hello-mlkem.bin', import.meta.url))));
const SEEDS: Uint8Array[] = [
  PQ,
  buildHello({ hostname: 'a.example' }),
  buildHello({ names: [[1, 'x'], [0, 'b.example']] }),
  buildHello({ hostname: 'pad.example', padding: 3000 }),
  buildHello({}),
];

function check(input: Uint8Array): void {
  const r = peekClientHello(input);
  switch (r.kind) {
    case 'done':
      assert.ok(r.consumed > 0 && r.consumed <= Math.min(input.length, CLIENT_HELLO_CAP), 'consumed in range');
      assert.equal(typeof r.hostname, 'string');
      break;
    case 'error':
      assert.equal(typeof r.reason, 'string');
      break;
    case 'more':
      assert.ok(input.length < CLIENT_HELLO_CAP, 'never asks for more than the cap');
      break;
    case 'not-tls':
      break;
    default:
      assert.fail('unknown kind');
  }
  if (input.length > CLIENT_HELLO_CAP) assert.deepEqual(peekClientHello(input.subarray(0, CLIENT_HELLO_CAP)), r.kind === 'more' ? { kind: 'more' } : r);
}

function splits(rng: Rng, input: Uint8Array): void {
  const full = peekClientHello(input);
  // a sample of split points (all of them for small inputs)
  const step = input.length <= 600 ? 1 : 1 + rng.int(Math.ceil(input.length / 50));
  for (let k = rng.int(step); k < input.length; k += step) {
    const r = peekClientHello(input.subarray(0, k));
    if (r.kind !== 'more') assert.deepEqual(r, full, `prefix ${k} of ${input.length}`);
  }
}

test('fuzz: ClientHello parser on random bytes', { timeout: fuzzBudgetMs() + 120000 }, (t) => {
  const n = fuzzFor('client-hello random', (rng) => {
    const b = rng.bytes(rng.int(64));
    if (rng.int(2) === 0 && b.length > 2) {
      b[0] = 22;
      b[1] = 3;
    }
    check(b);
    splits(rng, b);
  });
  assert.ok(n > 0);
  t.diagnostic(`${n} iterations`);
});

test('fuzz: ClientHello parser on mutated real and synthetic hellos, random framing and every split', { timeout: fuzzBudgetMs() + 120000 }, (t) => {
  const n = fuzzFor('client-hello mutate', (rng) => {
    const seed = SEEDS[rng.int(SEEDS.length)] as Uint8Array;
    const size = [1, 3, 64, 512, 16384][rng.int(5)] as number;
    let input = frame(seed, size);
    if (rng.int(4) !== 0) input = mutate(rng, input);
    if (rng.int(8) === 0) input = Uint8Array.from([...input, ...rng.bytes(CLIENT_HELLO_CAP)]);
    check(input);
    splits(rng, input);
  });
  assert.ok(n > 0);
  t.diagnostic(`${n} iterations`);
});
