/**
 * The UDP data path of one server (data-plane §7): one listening `node:dgram` socket (dual-stack
 * for wildcard binds), per datagram: access rules (silent drop) -> fire-and-forget or session.
 *
 * Sessions (./session.ts, ./accounting.ts) live in an LRU table keyed by the client's `ip port`,
 * capped by `udp.max_sessions` (tsbetween only, default 100,000): a new session beyond the cap
 * evicts the least recently active one (counted). A session is elected once, on creation, and
 * stays pinned to its backend; its lease (../stream/lease.ts) holds the server's session count
 * (`active_connections`; GoBetween ignores `max_connections` for udp, so admission never refuses)
 * and the backend reservation (backend `max_connections`, leastconn). Replies are sent from the
 * listening socket, so clients see the address they used.
 *
 * Timeouts (§7.3): client_idle_timeout = no datagram from the client for that long,
 * backend_idle_timeout = no datagram from the backend for that long (since creation or the last
 * response). One sweep timer per server checks them, every quarter of the shorter timeout
 * (between 50 ms and 1 s); there is no timer per session or per datagram.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { ELECT_MAX_CONNECTIONS } from '../../balance/elector.js';
import type { PickContext } from '../../balance/types.js';
import { errorMessage } from '../../core/errors.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import { compileAccess, type AccessMatcher } from '../access.js';
import { LogLimiter } from '../rate-limit.js';
import type { ServerRuntime } from '../runtime.js';
import { releaseLease, takeBackend } from '../stream/lease.js';
import { takeRequest, takeResponse, udpMode } from './accounting.js';
import { listenUdp } from './bind.js';
import { FireAndForgetPool } from './fire-and-forget.js';
import { readUdpPlan, type UdpPlan } from './plan.js';
import { Session, defaultSocketFactory, type SessionOwner, type SocketFactory } from './session.js';
import { SessionTable } from './table.js';

/** Counters of what the UDP path dropped (tsbetween only; not in GoBetween's stats). */
export interface UdpDropCounters {
  /** Sessions evicted by the cap or to free a file descriptor. */
  evicted: number;
  /** Client datagrams not forwarded: queue full, no backend, dial failure, closed session. */
  dropped: number;
}

class Ctx implements PickContext {
  clientIp = '';
  clientPort = 0;
  readonly sni = '';
}

const SWEEP_MIN_MS = 50;
const SWEEP_MAX_MS = 1000;
/** Evictions and drops are summed into one warning at most this often. */
const DROP_REPORT_MS = 10_000;

export class UdpServer implements SessionOwner {
  readonly drops: UdpDropCounters = { evicted: 0, dropped: 0 };
  readonly udp: UdpPlan;
  private readonly table: SessionTable;
  private readonly faf: FireAndForgetPool | null;
  private readonly access: AccessMatcher | null;
  private readonly ctx = new Ctx();
  private readonly sendLimiter = new LogLimiter();
  private sock: Socket | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private stopped: Promise<void> | null = null;
  private reported: UdpDropCounters = { evicted: 0, dropped: 0 };
  private reportedAt = Date.now();
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.datagram(msg, rinfo);
  private readonly onSocketError = (err: Error): void => this.listenerError(err);

  constructor(
    readonly rt: ServerRuntime,
    private readonly factory: SocketFactory = defaultSocketFactory,
  ) {
    this.udp = readUdpPlan(rt.plan.udp);
    const a = rt.plan.access;
    this.access = a === null ? null : compileAccess({ default: a.default, rules: [...a.rules] }, `servers.${rt.name}.access`);
    this.table = new SessionTable(this.udp.maxSessions, (s) => {
      this.drops.evicted++;
      this.finish(s);
    });
    this.faf = udpMode(this.udp) === 'fire-and-forget' ? new FireAndForgetPool(factory, rt.log) : null;
  }

  /** Current sessions (what `active_connections` reports). */
  get sessions(): number {
    return this.table.size;
  }

  /** Binds; rejects with GoBetween's `Could not start listening UDP: …` texts. */
  async listen(): Promise<{ address: string; port: number }> {
    const sock = await listenUdp(this.rt.plan.bind);
    sock.on('message', this.onMessage);
    sock.on('error', this.onSocketError);
    this.sock = sock;
    this.sweeper = setInterval(() => this.sweep(Date.now()), this.sweepEvery());
    this.sweeper.unref();
    const a = sock.address();
    return { address: a.address, port: a.port };
  }

  /**
   * Stops taking new sessions (rt.closing is already set). The listening socket stays open while
   * sessions remain, so that their responses are still relayed during a drain; it closes once
   * the last one ended (the data plane destroys the rest after the grace period).
   */
  stop(): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.faf?.close();
    this.stopped = this.rt.whenEmpty(Infinity).then(
      () =>
        new Promise<void>((resolve) => {
          if (this.sweeper !== null) clearInterval(this.sweeper);
          this.sweeper = null;
          const sock = this.sock;
          if (sock === null) resolve();
          else sock.close(() => resolve());
        }),
    );
    return this.stopped;
  }

  // ---- SessionOwner ----------------------------------------------------------------------------

  response(s: Session, msg: Buffer): void {
    const n = msg.length;
    s.lastBackend = Date.now();
    this.rt.sink.rx(s.slot, n);
    (this.sock as Socket).send(msg, s.clientPort, s.clientAddress);
    if (takeResponse(s, this.udp)) this.end(s);
  }

  socketError(s: Session, err: Error): void {
    const rt = this.rt;
    const code = (err as NodeJS.ErrnoException).code;
    if (s.dialing) {
      // The dial itself failed: counted like a refused TCP dial.
      rt.sink.refused(s.slot);
      rt.limitedLog(rt.dialLimiter, 'error', `Could not connect to udp backend ${s.backend.key}: ${err.message}`);
    } else if (rt.log.isLevelEnabled('debug')) {
      rt.log.debug(`udp session ${s.clientAddress}:${s.clientPort} -> ${s.backend.key}: ${err.message}`);
    }
    this.end(s);
    // Out of descriptors: free one for the next session by evicting the least recently active.
    if (code === 'EMFILE' || code === 'ENFILE') {
      s.fdExhausted = true;
      this.table.evictOldest();
    }
  }

  sent(s: Session, bytes: number): void {
    this.rt.sink.tx(s.slot, bytes);
  }

  /** Ends a session: out of the table, socket closed, lease released; once. */
  end(s: Session): void {
    if (s.closed) return;
    this.table.remove(s);
    this.finish(s);
  }

  // ---- datagram path ---------------------------------------------------------------------------

  private datagram(msg: Buffer, rinfo: RemoteInfo): void {
    const ip = rinfo.address;
    const access = this.access;
    if (access !== null && !access.allows(ip)) {
      const log = this.rt.log;
      if (log.isLevelEnabled('debug')) log.debug(`Access restricted for ${ip}`);
      return;
    }
    if (this.faf !== null) {
      this.fireAndForget(msg, rinfo);
      return;
    }
    const key = `${ip} ${rinfo.port}`;
    let s = this.table.get(key);
    if (s !== undefined) {
      if (takeRequest(s, this.udp)) {
        s.lastClient = Date.now();
        if (!s.forward(msg)) this.drops.dropped++;
        return;
      }
      // The session took its max_requests: it keeps waiting for responses under another key.
      this.table.retire(s);
    }
    if (this.rt.closing) {
      this.drops.dropped++;
      return;
    }
    s = this.openSession(key, rinfo);
    if (s === undefined) {
      this.drops.dropped++;
      return;
    }
    takeRequest(s, this.udp);
    if (!s.forward(msg)) this.drops.dropped++;
  }

  private elect(rinfo: RemoteInfo): SnapshotBackend | string {
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

  private fireAndForget(msg: Buffer, rinfo: RemoteInfo): void {
    const rt = this.rt;
    const b = this.elect(rinfo);
    if (typeof b === 'string') {
      rt.limitedLog(rt.electLimiter, 'error', b);
      this.drops.dropped++;
      return;
    }
    if (!(this.faf as FireAndForgetPool).send(b, msg, Date.now())) {
      this.drops.dropped++;
      return;
    }
    rt.sink.tx(b.slot, msg.length);
  }

  /**
   * Elects, reserves and opens a new session. Out of descriptors, the least recently active
   * session has just been evicted (socketError), so one retry gets its descriptor.
   */
  private openSession(key: string, rinfo: RemoteInfo, retry = true): Session | undefined {
    const rt = this.rt;
    const b = this.elect(rinfo);
    if (typeof b === 'string') {
      rt.limitedLog(rt.electLimiter, 'error', b);
      return undefined;
    }
    const s = new Session(rt, this, key, rinfo.address, rinfo.port, b, this.factory, Date.now());
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
    return retry && s.fdExhausted ? this.openSession(key, rinfo, false) : undefined;
  }

  /** Closes the socket, releases the lease and untracks the session, once. */
  private finish(s: Session): void {
    if (s.closed) return;
    s.close();
    releaseLease(s);
    this.rt.untrack(s);
  }

  private sweepEvery(): number {
    const ci = this.rt.clientIdle;
    const bi = this.rt.backendIdle;
    const shortest = ci > 0 && bi > 0 ? Math.min(ci, bi) : ci > 0 ? ci : bi > 0 ? bi : SWEEP_MAX_MS * 4;
    return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
  }

  /** Ends the sessions whose client or backend has been idle too long; reports drops. */
  private sweep(now: number): void {
    this.faf?.sweep(now);
    if (now - this.reportedAt >= DROP_REPORT_MS) this.reportDrops(now);
    const ci = this.rt.clientIdle;
    const bi = this.rt.backendIdle;
    if (ci === 0 && bi === 0) return;
    const expired = this.table.collect((s) => (ci > 0 && now - s.lastClient >= ci) || (bi > 0 && now - s.lastBackend >= bi));
    for (const s of expired) this.end(s);
  }

  /** At most every DROP_REPORT_MS: one warning with the evictions and drops since the last one. */
  private reportDrops(now: number): void {
    const d = this.drops;
    const evicted = d.evicted - this.reported.evicted;
    const dropped = d.dropped - this.reported.dropped;
    this.reportedAt = now;
    if (evicted === 0 && dropped === 0) return;
    this.reported = { evicted: d.evicted, dropped: d.dropped };
    this.rt.log.warn(
      { evicted, dropped, sessions: this.table.size, max_sessions: this.udp.maxSessions },
      `udp ${this.rt.plan.bind}: ${evicted} session(s) evicted, ${dropped} datagram(s) dropped`,
    );
  }

  private listenerError(err: Error): void {
    // Send errors to clients (no route, buffer full) and read errors: logged, the loop goes on.
    this.rt.limitedLog(this.sendLimiter, 'warn', `udp ${this.rt.plan.bind}: ${err.message}`);
  }
}
