/**
 * Read buffers of the forwarding loops. Both directions read with `onread` into a buffer the
 * connection owns (no allocation per read), chosen again after every read:
 * - a connection starts with a SMALL buffer (what an idle or chatty connection keeps);
 * - a read that fills it moves the connection to a BIG one (bulk transfer: fewer syscalls per
 *   byte); a short read on a big buffer moves it back (the big one returns to the pool);
 * - a buffer that a queued write still references ("busy") is left to that write, and the next
 *   read gets another one: a write never copies and a buffer is never overwritten while queued.
 * Spare buffers are pooled (bounded).
 */

/** Read size of bulk transfers (chosen by measurement: see README, Benchmark). */
export const BIG_BYTES = 64 * 1024;
/** Read size of a connection until a read fills it. */
export const SMALL_BYTES = 1024;
const MAX_SPARE_BIG = 64;
const MAX_SPARE_SMALL = 1024;
const spareBig: Buffer[] = [];
const spareSmall: Buffer[] = [];

export function takeSmall(): Buffer {
  return spareSmall.pop() ?? Buffer.allocUnsafeSlow(SMALL_BYTES);
}

function takeBig(): Buffer {
  return spareBig.pop() ?? Buffer.allocUnsafeSlow(BIG_BYTES);
}

/** Gives back a buffer no queued write references any more. */
export function returnBuffer(b: Buffer): void {
  if (b.length === BIG_BYTES) {
    if (spareBig.length < MAX_SPARE_BIG) spareBig.push(b);
  } else if (spareSmall.length < MAX_SPARE_SMALL) {
    spareSmall.push(b);
  }
}

/**
 * The buffer for the next read, after a read of `n` bytes into `cur` (`busy`: a queued write
 * still references `cur`).
 */
export function nextBuffer(cur: Buffer, n: number, busy: boolean): Buffer {
  const big = cur.length === BIG_BYTES;
  if (busy) return big || n === cur.length ? takeBig() : takeSmall();
  if (!big) {
    if (n < cur.length) return cur;
    returnBuffer(cur);
    return takeBig();
  }
  if (n > SMALL_BYTES) return cur;
  returnBuffer(cur);
  return takeSmall();
}
