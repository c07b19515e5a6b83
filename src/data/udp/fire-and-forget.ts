/**
 * Fire-and-forget mode (`udp.max_requests = 1`, `max_responses = 0`; data-plane §7.4), kept as
 * GoBetween does it: no session, one election per datagram, one shared connected socket per
 * backend `host:port`, responses never relayed, `active_connections` never incremented.
 *
 * Difference: GoBetween keeps every pooled socket until the server stops; here a socket unused
 * for {@link POOL_IDLE_MS} is closed by the server's sweep, so backends that come and go
 * (docker, consul) do not accumulate sockets.
 */
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { Logger } from '../../core/log.js';
import type { SocketFactory } from './session.js';

export const POOL_IDLE_MS = 60_000;

interface Pooled {
  readonly sock: Socket;
  last: number;
  broken: boolean;
}

export class FireAndForgetPool {
  private readonly sockets = new Map<string, Pooled>();

  constructor(
    private readonly factory: SocketFactory,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.sockets.size;
  }

  /** Sends one datagram to `b` through its pooled socket; false when it could not be sent. */
  send(b: SnapshotBackend, msg: Buffer, now: number): boolean {
    let p = this.sockets.get(b.key);
    if (p !== undefined && p.broken) {
      this.drop(b.key, p);
      p = undefined;
    }
    if (p === undefined) {
      p = this.open(b);
      if (p === undefined) return false;
    }
    p.last = now;
    p.sock.send(msg);
    return !p.broken;
  }

  /** Closes sockets unused since `now - POOL_IDLE_MS` (called by the server's sweep). */
  sweep(now: number): void {
    for (const [key, p] of this.sockets) if (now - p.last >= POOL_IDLE_MS || p.broken) this.drop(key, p);
  }

  close(): void {
    for (const [key, p] of this.sockets) this.drop(key, p);
  }

  private open(b: SnapshotBackend): Pooled | undefined {
    const sock = this.factory(isIP(b.dialHost) === 6 ? 'udp6' : 'udp4');
    const p: Pooled = { sock, last: 0, broken: false };
    const log = this.log;
    // Send errors (an ICMP unreachable surfacing as ECONNREFUSED, EMFILE on bind): the datagram
    // is lost, as in GoBetween; the socket is replaced on the next datagram.
    sock.on('error', (err: Error) => {
      p.broken = true;
      if (log.isLevelEnabled('debug')) log.debug(`udp backend ${b.key}: ${err.message}`);
    });
    try {
      sock.connect(b.dialPort, b.dialHost);
    } catch (err) {
      p.broken = true;
      if (log.isLevelEnabled('debug')) log.debug(`udp backend ${b.key}: ${String(err)}`);
    }
    if (p.broken) {
      closeQuietly(sock);
      return undefined;
    }
    this.sockets.set(b.key, p);
    return p;
  }

  private drop(key: string, p: Pooled): void {
    this.sockets.delete(key);
    closeQuietly(p.sock);
  }
}

function closeQuietly(sock: Socket): void {
  try {
    sock.close();
  } catch {
    // not running
  }
}
