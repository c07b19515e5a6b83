/**
 * Read buffers of the forwarding loops. Both directions read with `onread` into a buffer the
 * connection owns (no allocation per read), chosen again after every read, in three sizes:
 * - a connection starts with a SMALL buffer (what an idle or chatty connection keeps);
 * - a read that fills it moves the direction to a MID one, and a read that fills a MID one to a
 *   BIG one (bulk transfer: fewer syscalls and callbacks per byte) — while fewer than
 *   `MAX_BIG_READERS` directions of this thread read into BIG buffers; past that, bulk stays at MID;
 * - a read shorter than MID on a BIG buffer moves the direction back to MID, a read of at most
 *   SMALL bytes back to SMALL (the buffer left goes back to its pool);
 * - a buffer that a queued write still references ("busy") is left to that write, and the next
 *   read gets another one, never a smaller one: a write never copies and a buffer is never
 *   overwritten while queued. When that write completes on a RawSocket, the buffer goes back to
 *   its pool (`recycleWritten`); on other sockets it is left to the garbage collector.
 * Spare buffers are pooled (bounded). A direction holds at most two buffers (one queued, one
 * reading: the reader pauses while its write is queued), so BIG costs at most
 * 2 × MAX_BIG_READERS × BIG_BYTES per thread (32 MiB), whatever the number of connections.
 */

/** Read size of bulk transfers (chosen by measurement: see README, Benchmark). */
export const BIG_BYTES = 256 * 1024;
/** Read size of a direction whose reads fill SMALL buffers (and of bulk past the BIG budget). */
export const MID_BYTES = 64 * 1024;
/** Read size of a connection until a read fills it. */
export const SMALL_BYTES = 1024;
/** Directions (per thread) that may read into BIG buffers at the same time. */
export const MAX_BIG_READERS = 64;

const MAX_SPARE_BIG = 16;
const MAX_SPARE_MID = 64;
const MAX_SPARE_SMALL = 1024;
const spareBig: Buffer[] = [];
const spareMid: Buffer[] = [];
const spareSmall: Buffer[] = [];
/** Directions whose current buffer is BIG. */
let bigReaders = 0;
/** The memory of every buffer made here: only those are recycled after a queued write. */
const owned = new WeakSet<ArrayBufferLike>();

function alloc(size: number): Buffer {
  const b = Buffer.allocUnsafeSlow(size);
  owned.add(b.buffer);
  return b;
}

export function takeSmall(): Buffer {
  return spareSmall.pop() ?? alloc(SMALL_BYTES);
}

function take(size: number): Buffer {
  if (size === SMALL_BYTES) return takeSmall();
  if (size === MID_BYTES) return spareMid.pop() ?? alloc(MID_BYTES);
  return spareBig.pop() ?? alloc(BIG_BYTES);
}

/**
 * A queued write of `data` completed or was cancelled (a RawSocket's libuv write callback): when
 * `data` lies in a read buffer made here, nothing references that buffer any more — the
 * connection took another for its next read when this write queued — so it goes back to its pool.
 */
export function recycleWritten(data: Uint8Array): void {
  const ab = data.buffer;
  if (owned.has(ab)) pool(Buffer.from(ab));
}

/** Back to its pool: a buffer no queued write references any more. */
function pool(b: Buffer): void {
  const len = b.length;
  if (len === SMALL_BYTES) {
    if (spareSmall.length < MAX_SPARE_SMALL) spareSmall.push(b);
  } else if (len === MID_BYTES) {
    if (spareMid.length < MAX_SPARE_MID) spareMid.push(b);
  } else if (spareBig.length < MAX_SPARE_BIG) {
    spareBig.push(b);
  }
}

/**
 * The buffer for the next read, after a read of `n` bytes into `cur` (`busy`: a queued write
 * still references `cur`).
 */
export function nextBuffer(cur: Buffer, n: number, busy: boolean): Buffer {
  const len = cur.length;
  let size = len;
  if (n === len) {
    // Filled: one size up (BIG only within the budget).
    if (len === SMALL_BYTES) size = MID_BYTES;
    else if (len === MID_BYTES && bigReaders < MAX_BIG_READERS) size = BIG_BYTES;
  } else if (!busy) {
    if (n <= SMALL_BYTES) size = SMALL_BYTES;
    else if (len === BIG_BYTES && n < MID_BYTES) size = MID_BYTES;
  }
  if (size !== len) {
    if (size === BIG_BYTES) bigReaders++;
    else if (len === BIG_BYTES) bigReaders--;
  } else if (!busy) {
    return cur;
  }
  if (!busy) pool(cur);
  return take(size);
}

/** The direction ended (its connection finished): `cur` is its last buffer. */
export function releaseBuffer(cur: Buffer, busy: boolean): void {
  if (cur.length === BIG_BYTES) bigReaders--;
  if (!busy) pool(cur);
}

/** Directions reading into BIG buffers now (tests). */
export function bigReadersNow(): number {
  return bigReaders;
}
