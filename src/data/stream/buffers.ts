/**
 * Read buffers for the forwarding loops: reads land in a reused per-connection buffer (`onread`)
 * instead of a fresh allocation per read. Buffers of finished connections are kept for reuse
 * (bounded).
 */

/** Size of one read. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** At most this many spare buffers are kept (8 MiB). */
const MAX_SPARE_BUFFERS = 128;
const spare: Buffer[] = [];

export function takeBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

/** Gives back a buffer no pending write references any more. */
export function returnBuffer(b: Buffer): void {
  if (spare.length < MAX_SPARE_BUFFERS) spare.push(b);
}
