/**
 * The UDP data path of one server (data-plane §7): one listening `node:dgram` socket (dual-stack
 * for wildcard binds), per datagram: access rules (silent drop) -> fire-and-forget or session.
 *
 * Sessions (./session.ts, ./accounting.ts) live in an LRU table keyed by the client's `ip port`,
 * capped by `udp.max_sessions` (tsbetween only, default 100,000): a new session beyond the cap
 * evicts the least recently active one (counted). Replies are sent from the listening socket, so
 * clients see the address they used.
 *
 * Idle timeouts and the drop report: ./sweep.ts; election, lease and release of a session: ./open.ts.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { compileAccess, type AccessMatcher } from '../access.js';
import { LogLimiter } from '../rate-limit.js';
import type { ServerRuntime } from '../runtime.js';
import { takeRequest, takeResponse, udpMode } from './accounting.js';
import { listenUdp } from './bind.js';
import { FireAndForgetPool } from './fire-and-forget.js';
import { SessionOpener } from './open.js';
import { readUdpPlan, type UdpPlan } from './plan.js';
import { defaultSocketFactory, type Session, type SessionOwner, type SocketFactory } from './session.js';
import { UdpSweeper, type UdpDropCounters } from './sweep.js';
import { SessionTable } from './table.js';

export type { UdpDropCounters } from './sweep.js';

export class UdpServer implements SessionOwner {
  readonly drops: UdpDropCounters = { evicted: 0, dropped: 0 };
  readonly udp: UdpPlan;
  private readonly table: SessionTable;
  private readonly faf: FireAndForgetPool | null;
  private readonly access: AccessMatcher | null;
  private readonly sessionsOf: SessionOpener;
  private readonly sweeper: UdpSweeper;
  private readonly sendLimiter = new LogLimiter();
  private sock: Socket | null = null;
  private stopped: Promise<void> | null = null;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.datagram(msg, rinfo);
  private readonly onSocketError = (err: Error): void => this.listenerError(err);

  constructor(
    readonly rt: ServerRuntime,
    factory: SocketFactory = defaultSocketFactory,
  ) {
    this.udp = readUdpPlan(rt.plan.udp);
    const a = rt.plan.access;
    this.access = a === null ? null : compileAccess({ default: a.default, rules: [...a.rules] }, `servers.${rt.name}.access`);
    this.table = new SessionTable(this.udp.maxSessions, (s) => {
      this.drops.evicted++;
      this.sessionsOf.finish(s);
    });
    const faf = udpMode(this.udp) === 'fire-and-forget' ? new FireAndForgetPool(factory, rt.log) : null;
    this.faf = faf;
    this.sessionsOf = new SessionOpener(rt, this, this.table, factory);
    this.sweeper = new UdpSweeper(rt, this.table, this.drops, this.udp.maxSessions,
      faf === null ? null : (now) => faf.sweep(now), (s) => this.end(s));
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
    this.sweeper.start();
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
          this.sweeper.stop();
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
    this.sessionsOf.finish(s);
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
    s = this.sessionsOf.open(key, rinfo);
    if (s === undefined) {
      this.drops.dropped++;
      return;
    }
    takeRequest(s, this.udp);
    if (!s.forward(msg)) this.drops.dropped++;
  }

  private fireAndForget(msg: Buffer, rinfo: RemoteInfo): void {
    const rt = this.rt;
    const b = this.sessionsOf.elect(rinfo);
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

  private listenerError(err: Error): void {
    // Send errors to clients (no route, buffer full) and read errors: logged, the loop goes on.
    this.rt.limitedLog(this.sendLimiter, 'warn', `udp ${this.rt.plan.bind}: ${err.message}`);
  }
}
