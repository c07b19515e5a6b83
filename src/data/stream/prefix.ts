/**
 * Reading the first bytes of a client before anything else happens (a PROXY header from an
 * upstream, a TLS ClientHello to peek at): accumulate chunks until a pure parser decides, within
 * a deadline, then hand the bytes back to the socket (`unshift`) so the next stages — and the
 * backend — see the stream as it was sent (minus what the caller chose to consume).
 *
 * Used by the optional accept-proxy and peek stages only; per connection it allocates one small
 * closure set, which a plain tcp server never pays for.
 */
import type { TaggedSocket, StreamConn } from './conn.js';

export interface PrefixJudge<R> {
  /** The verdict over the bytes so far; undefined = need more. */
  judge(bytes: Buffer): R | undefined;
  /** A verdict: `rest` is what the caller unshifts back (or not), then it advances or fails. */
  decided(conn: StreamConn, verdict: R, bytes: Buffer): void;
  /** No verdict within the deadline, or the client ended its side first. */
  timedOut(conn: StreamConn, bytes: Buffer, ended: boolean): void;
}

const EMPTY = Buffer.alloc(0);

export function readPrefix<R>(conn: StreamConn, timeoutMs: number, j: PrefixJudge<R>): void {
  const client: TaggedSocket = conn.client;
  let bytes: Buffer = EMPTY;
  let done = false;
  const stop = (): void => {
    done = true;
    client.removeListener('data', onData);
    client.removeListener('end', onEnd);
    client.pause();
    if (conn.timer !== null) {
      clearTimeout(conn.timer);
      conn.timer = null;
    }
  };
  const onData = (chunk: Buffer): void => {
    if (done) return;
    bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
    const v = j.judge(bytes);
    if (v === undefined) return;
    stop();
    j.decided(conn, v, bytes);
  };
  const onEnd = (): void => {
    if (done) return;
    stop();
    j.timedOut(conn, bytes, true);
  };
  client.on('data', onData);
  client.on('end', onEnd);
  conn.timer = setTimeout(() => {
    conn.timer = null;
    if (done || conn.failed) return;
    stop();
    j.timedOut(conn, bytes, false);
  }, timeoutMs);
  conn.timer.unref();
  client.resume();
}
