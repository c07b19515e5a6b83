/**
 * Session lifecycle of one UDP server: election (once, on creation; the session stays pinned to
 * its backend), the lease (../stream/lease.ts: the backend reservation for backend
 * `max_connections` and leastconn, and the server's session count, `active_connections` —
 * GoBetween ignores `max_connections` for udp, so admission never refuses), the session socket,
 * and its release, exactly once.
 */
import type { RemoteInfo } from 'node:dgram';
import { ELECT_MAX_CONNECTIONS } from '../../balance/elector.js';
import type { PickContext } from '../../balance/types.js';
import { errorMessage } from '../../core/errors.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { ServerRuntime } from '../runtime.js';
import { releaseLease, takeBackend } from '../stream/lease.js';
import { Session, type SessionOwner, type SocketFactory } from './session.js';
import type { SessionTable } from './table.js';

class Ctx implements PickContext {
  clientIp = '';
  clientPort = 0;
  readonly sni = '';
}

export class SessionOpener {
  private readonly ctx = new Ctx();

  constructor(
    private readonly rt: ServerRuntime,
    private readonly owner: SessionOwner,
    private readonly table: SessionTable,
    private readonly factory: SocketFactory,
  ) {}

  /** The backend for a client (never throws), or the reason there is none. */
  elect(rinfo: RemoteInfo): SnapshotBackend | string {
    const ctx = this.ctx;
    ctx.clientIp = rinfo.address;
    ctx.clientPort = rinfo.port;
    try {
      return this.rt.elector.elect(ctx);
    } catch (err) {
      // A balancer bug must not take the listener down: treat it as a failed election.
      return `election failed: ${errorMessage(err)}`;
    }
  }

  /**
   * Elects, reserves and opens a new session. Out of descriptors, the least recently active
   * session has just been evicted (the owner's socketError), so one retry gets its descriptor.
   */
  open(key: string, rinfo: RemoteInfo, retry = true): Session | undefined {
    const rt = this.rt;
    const b = this.elect(rinfo);
    if (typeof b === 'string') {
      rt.limitedLog(rt.electLimiter, 'error', b);
      return undefined;
    }
    const s = new Session(rt, this.owner, key, rinfo.address, rinfo.port, b, this.factory, Date.now());
    if (!takeBackend(s, b)) {
      s.close();
      rt.limitedLog(rt.electLimiter, 'error', ELECT_MAX_CONNECTIONS);
      return undefined;
    }
    // GoBetween ignores max_connections for udp: the session count is admitted unconditionally.
    rt.active.admit(0);
    s.admitted = true;
    rt.sink.serverActive(1);
    rt.conns.add(s);
    this.table.add(s);
    s.open();
    if (!s.closed) {
      rt.sink.connected(s.slot);
      return s;
    }
    return retry && s.fdExhausted ? this.open(key, rinfo, false) : undefined;
  }

  /** Closes the socket, releases the lease and untracks the session, once. */
  finish(s: Session): void {
    if (s.closed) return;
    s.close();
    releaseLease(s);
    this.rt.untrack(s);
  }
}
