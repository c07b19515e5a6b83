/** The read-buffer choice of the forwarding loops (src/data/stream/buffers.ts), case by case. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BIG_BYTES, MAX_BIG_READERS, MID_BYTES, SMALL_BYTES, bigReadersNow, nextBuffer, recycleWritten, releaseBuffer, takeSmall,
} from '../../src/data/stream/buffers.js';

/** A direction moved to a BIG buffer: small, filled, mid, filled. */
function toBig(): Buffer {
  const mid = nextBuffer(takeSmall(), SMALL_BYTES, false);
  assert.equal(mid.length, MID_BYTES);
  return nextBuffer(mid, MID_BYTES, false);
}

test('small until a read fills it, then mid, then big; one size back on shorter reads, small on a short one', () => {
  const s = takeSmall();
  assert.equal(s.length, SMALL_BYTES);
  assert.equal(nextBuffer(s, 10, false), s, 'a short read keeps the small buffer');
  const mid = nextBuffer(s, SMALL_BYTES, false);
  assert.equal(mid.length, MID_BYTES, 'a full small read moves to a mid buffer');
  assert.equal(nextBuffer(mid, SMALL_BYTES + 1, false), mid, 'a partial mid read keeps it');
  const big = nextBuffer(mid, MID_BYTES, false);
  assert.equal(big.length, BIG_BYTES, 'a full mid read moves to a big buffer');
  assert.equal(bigReadersNow(), 1);
  assert.equal(nextBuffer(big, BIG_BYTES, false), big);
  assert.equal(nextBuffer(big, MID_BYTES, false), big, 'reads of at least MID keep the big buffer');
  const down = nextBuffer(big, MID_BYTES - 1, false);
  assert.equal(down.length, MID_BYTES, 'a read under MID on a big buffer moves back to mid');
  assert.equal(bigReadersNow(), 0);
  const back = nextBuffer(toBig(), 100, false);
  assert.equal(back.length, SMALL_BYTES, 'a short read on a big buffer moves back to small');
  assert.equal(bigReadersNow(), 0);
});

test('a busy buffer (a queued write holds it) is never handed out again, nor a smaller one', () => {
  const s = takeSmall();
  const a = nextBuffer(s, 5, true);
  assert.notEqual(a, s);
  assert.equal(a.length, SMALL_BYTES);
  const mid = nextBuffer(a, SMALL_BYTES, true);
  assert.notEqual(mid, a);
  assert.equal(mid.length, MID_BYTES);
  const big = nextBuffer(mid, MID_BYTES, true);
  assert.equal(big.length, BIG_BYTES);
  const big2 = nextBuffer(big, 100, true);
  assert.notEqual(big2, big);
  assert.equal(big2.length, BIG_BYTES, 'busy keeps the size class');
  assert.equal(bigReadersNow(), 1, 'still one direction on big buffers');
  // Buffers handed back to the pool are never the busy ones: the pool gives out distinct ones.
  const big3 = nextBuffer(big2, BIG_BYTES, true);
  assert.notEqual(big3, big2);
  releaseBuffer(big3, true);
  assert.equal(bigReadersNow(), 0, 'the finished direction left the big budget');
});

test(`at most ${MAX_BIG_READERS} directions read into big buffers; the rest stay at mid until one leaves`, () => {
  assert.equal(bigReadersNow(), 0);
  const bigs: Buffer[] = [];
  for (let i = 0; i < MAX_BIG_READERS; i++) bigs.push(toBig());
  assert.ok(bigs.every((b) => b.length === BIG_BYTES));
  assert.equal(bigReadersNow(), MAX_BIG_READERS);
  const mid = nextBuffer(takeSmall(), SMALL_BYTES, false);
  const over = nextBuffer(mid, MID_BYTES, false);
  assert.equal(over, mid, 'over the budget a filled mid buffer stays');
  assert.equal(nextBuffer(mid, MID_BYTES, true).length, MID_BYTES, 'also when busy');
  // One big direction ends (connection finished, buffer not busy); the next filled mid read may grow.
  releaseBuffer(bigs.pop() as Buffer, false);
  assert.equal(bigReadersNow(), MAX_BIG_READERS - 1);
  const grown = nextBuffer(mid, MID_BYTES, false);
  assert.equal(grown.length, BIG_BYTES);
  bigs.push(grown);
  // Another shrinks back (reads under MID): its slot is free again.
  const shrunk = nextBuffer(bigs.pop() as Buffer, 2000, false);
  assert.equal(shrunk.length, MID_BYTES);
  assert.equal(bigReadersNow(), MAX_BIG_READERS - 1);
  for (const b of bigs) releaseBuffer(b, false);
  assert.equal(bigReadersNow(), 0);
});

test('a buffer behind a completed queued write goes back to its pool; memory made elsewhere never does', () => {
  const big = toBig();
  const next = nextBuffer(big, 1000, true); // the write of big's bytes queued: big is left to it
  assert.equal(next.length, BIG_BYTES);
  recycleWritten(big.subarray(0, 1000)); // that write completed
  releaseBuffer(next, false);
  const again = toBig();
  assert.equal(again.buffer, next.buffer, 'the last pooled big buffer comes out first');
  const more = toBig();
  assert.equal(more.buffer, big.buffer, 'the recycled one is pooled too');
  // A 64 KiB chunk Node allocated for a 'data' event is the same size as a MID buffer: not ours.
  const foreign = Buffer.alloc(MID_BYTES);
  recycleWritten(foreign.subarray(0, 10));
  const mid = nextBuffer(takeSmall(), SMALL_BYTES, false);
  assert.notEqual(mid.buffer, foreign.buffer);
  releaseBuffer(again, false);
  releaseBuffer(more, false);
  releaseBuffer(mid, false);
  assert.equal(bigReadersNow(), 0);
});
