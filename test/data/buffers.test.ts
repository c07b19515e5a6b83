/** The read-buffer choice of the forwarding loops (src/data/stream/buffers.ts), case by case. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BIG_BYTES, SMALL_BYTES, nextBuffer, takeSmall } from '../../src/data/stream/buffers.js';

test('small until a read fills it; big while reads are big; back to small on a short read', () => {
  const s = takeSmall();
  assert.equal(s.length, SMALL_BYTES);
  assert.equal(nextBuffer(s, 10, false), s, 'a short read keeps the small buffer');
  const big = nextBuffer(s, SMALL_BYTES, false);
  assert.equal(big.length, BIG_BYTES, 'a full read moves to a big buffer');
  assert.equal(nextBuffer(big, BIG_BYTES, false), big);
  assert.equal(nextBuffer(big, SMALL_BYTES + 1, false), big);
  const back = nextBuffer(big, 100, false);
  assert.equal(back.length, SMALL_BYTES, 'a short read on a big buffer moves back');
});

test('a busy buffer (a queued write holds it) is never handed out again for the next read', () => {
  const s = takeSmall();
  const a = nextBuffer(s, 5, true);
  assert.notEqual(a, s);
  assert.equal(a.length, SMALL_BYTES);
  const big = nextBuffer(a, SMALL_BYTES, true);
  assert.notEqual(big, a);
  assert.equal(big.length, BIG_BYTES);
  const big2 = nextBuffer(big, 100, true);
  assert.notEqual(big2, big);
  assert.equal(big2.length, BIG_BYTES, 'busy keeps the size class');
  // Buffers handed back to the pool are never the busy ones: the pool gives out distinct ones.
  assert.notEqual(nextBuffer(big2, BIG_BYTES, true), big2);
});
