/**
 * The UDP data path of one server (data-plane §7): one listening `node:dgram` socket (dual-stack
 * for wildcard binds), per datagram: access rules (silent drop) -> fire-and-forget or session.
 *
 * Sessions (see ./session.ts, ./accounting.ts) live in an LRU table keyed by the client's
 * `ip port`, capped by `udp.max_sessions` (tsbetween only, default {@link DEFAULT_MAX_SESSIONS}):
 * a new session beyond the cap evicts the least recently active one (counted). A session is
 * elected once, on creation, and stays pinned to its backend (backend.active held, released on
 * close). Replies are sent from the listening socket, so clients see the address they used.
 *
 * Timeouts (§7.3): client_idle_timeout = no datagram from the client for that long,
 * backend_idle_timeout = no datagram from the backend for that long (since creation or the last
 * response). One sweep timer per server checks them, every quarter of the shorter timeout
 * (between 50 ms and 1 s); there is no timer per session or per datagram.
 */
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import type { PickContext } from '../../balance/types.js';
import type { Backend, ServerCounters } from '../../core/backend.js';
import { StartError, errorMessage } from '../../core/errors.js';
import { isNoIpv6, listenErrorText, resolveBind, type BindTarget } from '../../core/listen.js';
import type { Logger } from '../../core/log.js';
import type { AccessMatcher } from '../access.js';
import { LogLimiter } from '../rate-limit.js';
import type { BackendElector, BackendSource } from '../tcp-server.js';
import { takeRequest, takeResponse, udpMode, type UdpLimits } from './accounting.js';
import { FireAndForgetPool } from './fire-and-forget.js';
import { Session, defaultSocketFactory, fastLookup, type SessionOwner, type SocketFactory } from './session.js';
import { SessionTable } from './table.js';

export const DEFAULT_MAX_SESSIONS = 100_000;

export interface UdpServerOptions {
  readonly name: string;
  /** `host:port` exactly as configured. */
  readonly bind: string;
  readonly clientIdleTimeoutMs: number;
  readonly backendIdleTimeoutMs: number;
  readonly limits: UdpLimits;
  /** Session table cap (`udp.max_sessions`). */
  readonly maxSessions: number;
  readonly access: AccessMatcher | null;
  readonly pool: BackendSource;
  readonly elector: BackendElector;
  readonly counters: ServerCounters;
  readonly log: Logger;
  /** Backend sockets (tests inject slow or failing ones). */
  readonly socketFactory?: SocketFactory;
}

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

export class UdpServer implements SessionOwner {
  readonly drops: UdpDropCounters = { evicted: 0, dropped: 0 };
  private readonly opts: UdpServerOptions;
  private readonly log: Logger;
  private readonly counters: ServerCounters;
  private readonly table: SessionTable;
  private readonly faf: FireAndForgetPool | null;
  private readonly factory: SocketFactory;
  private readonly ctx = new Ctx();
  private readonly clientIdle: number;
  private readonly backendIdle: number;
  private readonly electLimiter = new LogLimiter();
  private readonly dialLimiter = new LogLimiter();
  private readonly sendLimiter = new LogLimiter();
  private sock: Socket | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;
  private emptyWaiters: (() => void)[] = [];
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.datagram(msg, rinfo);
  private readonly onSocketError = (err: Error): void => this.listenerError(err);

  constructor(opts: UdpServerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.counters = opts.counters;
    this.factory = opts.socketFactory ?? defaultSocketFactory;
    this.clientIdle = Math.max(0, opts.clientIdleTimeoutMs);
    this.backendIdle = Math.max(0, opts.backendIdleTimeoutMs);
    this.table = new SessionTable(Math.max(1, opts.maxSessions), (s) => {
      this.drops.evicted++;
      this.finish(s);
    });
    this.faf = udpMode(opts.limits) === 'fire-and-forget' ? new FireAndForgetPool(this.factory, opts.log) : null;
  }

  /** Current sessions (what `active_connections` reports). */
  get sessions(): number {
    return this.table.size;
  }

  async listen(): Promise<void> {
    if (this.sock !== null) throw new StartError(`server ${this.opts.name} is already listening`);
    let target: BindTarget;
    try {
      target = await resolveBind(this.opts.bind, { network: 'udp' });
    } catch (err) {
      throw new StartError(`Could not start listening UDP: Failed to resolve udp address ${this.opts.bind} : ${errorMessage(err)}`, { cause: err });
    }
    let sock: Socket;
    try {
      sock = await bindUdp(target, target.host);
    } catch (err) {
      if (!(target.wildcard && isNoIpv6(err))) throw startError(err, target);
      try {
        sock = await bindUdp(target, '0.0.0.0');
      } catch (err2) {
        throw startError(err2, target);
      }
    }
    sock.on('message', this.onMessage);
    sock.on('error', this.onSocketError);
    this.sock = sock;
    const t = this.sweepEvery();
    this.sweeper = setInterval(() => this.sweep(Date.now()), t);
    this.sweeper.unref();
  }

  address(): { address: string; family: string; port: number } {
    if (this.sock === null) throw new Error(`server ${this.opts.name} is not listening`);
    return this.sock.address();
  }

  /** Stops the listener and ends every session. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.table.collect(() => true)) this.end(s);
    this.faf?.close();
    await this.stopListening();
  }

  /** No new sessions; open ones get `graceMs` to end (responses still relayed), then close. */
  async drain(graceMs: number): Promise<void> {
    this.closing = true;
    if (graceMs > 0 && this.table.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.emptyWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.close();
  }

  // ---- SessionOwner ----------------------------------------------------------------------------

  response(s: Session, msg: Buffer): void {
    const n = msg.length;
    s.lastBackend = Date.now();
    s.backend.rx += n;
    this.counters.rx += n;
    (this.sock as Socket).send(msg, s.clientPort, s.clientAddress);
    if (takeResponse(s, this.opts.limits)) this.end(s);
  }

  socketError(s: Session, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (s.dialing) {
      // The dial itself failed: counted like a refused TCP dial.
      s.backend.refused++;
      const dropped = this.dialLimiter.take();
      if (dropped >= 0) {
        const msg = `Could not connect to udp backend ${s.backend.key}: ${err.message}`;
        if (dropped > 0) this.log.error({ suppressed: dropped }, msg);
        else this.log.error(msg);
      }
    } else if (this.log.isLevelEnabled('debug')) {
      this.log.debug(`udp session ${s.clientAddress}:${s.clientPort} -> ${s.backend.key}: ${err.message}`);
    }
    this.end(s);
    // Out of descriptors: free one for the next session by evicting the least recently active.
    if (code === 'EMFILE' || code === 'ENFILE') this.table.evictOldest();
  }

  sent(s: Session, bytes: number): void {
    s.backend.tx += bytes;
    this.counters.tx += bytes;
  }

  // ---- datagram path ---------------------------------------------------------------------------

  private datagram(msg: Buffer, rinfo: RemoteInfo): void {
    const ip = rinfo.address;
    const access = this.opts.access;
    if (access !== null && !access.allows(ip)) {
      if (this.log.isLevelEnabled('debug')) this.log.debug(`Access restricted for ${ip}`);
      return;
    }
    if (this.faf !== null) {
      this.fireAndForget(msg, rinfo);
      return;
    }
    const key = `${ip} ${rinfo.port}`;
    const limits = this.opts.limits;
    let s = this.table.get(key);
    if (s !== undefined) {
      if (takeRequest(s, limits)) {
        s.lastClient = Date.now();
        if (!s.forward(msg)) this.drops.dropped++;
        return;
      }
      // The session took its max_requests: it keeps waiting for responses under another key.
      this.table.retire(s);
    }
    if (this.closing) return;
    s = this.openSession(key, rinfo);
    if (s === undefined) {
      this.drops.dropped++;
      return;
    }
    takeRequest(s, limits);
    if (!s.forward(msg)) this.drops.dropped++;
  }

  private elect(rinfo: RemoteInfo): Backend | undefined {
    const ctx = this.ctx;
    ctx.clientIp = rinfo.address;
    ctx.clientPort = rinfo.port;
    const pool = this.opts.pool;
    let picked: Backend | string;
    try {
      picked = this.opts.elector.elect(ctx, pool.eligible, pool.anyMaxConnections);
    } catch (err) {
      picked = `election failed: ${errorMessage(err)}`;
    }
    if (typeof picked !== 'string') return picked;
    const dropped = this.electLimiter.take();
    if (dropped >= 0) {
      if (dropped > 0) this.log.error({ suppressed: dropped }, picked);
      else this.log.error(picked);
    }
    return undefined;
  }

  private fireAndForget(msg: Buffer, rinfo: RemoteInfo): void {
    const b = this.elect(rinfo);
    if (b === undefined || !(this.faf as FireAndForgetPool).send(b, msg, Date.now())) {
      this.drops.dropped++;
      return;
    }
    b.tx += msg.length;
    this.counters.tx += msg.length;
  }

  private openSession(key: string, rinfo: RemoteInfo): Session | undefined {
    const b = this.elect(rinfo);
    if (b === undefined) return undefined;
    b.active++;
    b.total++;
    this.counters.active++;
    const s = new Session(this, key, rinfo.address, rinfo.port, b, this.factory, Date.now());
    this.table.add(s);
    s.open();
    return s.closed ? undefined : s;
  }

  /** Ends a session: removes it from the table (its dispose hook then finishes it). */
  private end(s: Session): void {
    if (s.closed) return;
    this.table.remove(s);
    this.finish(s);
  }

  /** Closes the socket and releases the backend and the server's session count, once. */
  private finish(s: Session): void {
    if (s.closed) return;
    s.close();
    const b = s.backend;
    b.active--;
    this.opts.pool.released(b);
    this.counters.active--;
    if (this.table.size === 0 && this.emptyWaiters.length > 0) {
      const w = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const f of w) f();
    }
  }

  private sweepEvery(): number {
    const ci = this.clientIdle;
    const bi = this.backendIdle;
    const shortest = ci > 0 && bi > 0 ? Math.min(ci, bi) : ci > 0 ? ci : bi > 0 ? bi : SWEEP_MAX_MS * 4;
    return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
  }

  /** Ends the sessions whose client or backend has been idle too long. */
  private sweep(now: number): void {
    this.faf?.sweep(now);
    const ci = this.clientIdle;
    const bi = this.backendIdle;
    if (ci === 0 && bi === 0) return;
    const expired = this.table.collect(
      (s) => (ci > 0 && now - s.lastClient >= ci) || (bi > 0 && now - s.lastBackend >= bi),
    );
    for (const s of expired) this.end(s);
  }

  private listenerError(err: Error): void {
    // Send errors to clients (no route, buffer full) and read errors: logged, the loop goes on.
    const dropped = this.sendLimiter.take();
    if (dropped < 0) return;
    const msg = `udp ${this.opts.bind}: ${err.message}`;
    if (dropped > 0) this.log.warn({ suppressed: dropped }, msg);
    else this.log.warn(msg);
  }

  private stopListening(): Promise<void> {
    if (this.closed !== null) return this.closed;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    const sock = this.sock;
    this.closed =
      sock === null
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            sock.close(() => resolve());
          });
    return this.closed;
  }
}

function startError(err: unknown, target: BindTarget): StartError {
  return new StartError(`Could not start listening UDP: Failed to create listening udp socket: ${listenErrorText(err, target, 'udp')}`, {
    cause: err,
  });
}

/** Binds one listening socket: '::' dual-stack for wildcards, else the family of the IP. */
function bindUdp(target: BindTarget, host: string): Promise<Socket> {
  const v6 = host.includes(':');
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false, lookup: fastLookup });
  return new Promise<Socket>((resolve, reject) => {
    const onError = (err: Error): void => {
      try {
        sock.close();
      } catch {
        // never bound
      }
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ port: target.port, address: host, exclusive: true }, () => {
      sock.off('error', onError);
      // Bigger receive buffers absorb bursts (the kernel caps them at net.core.rmem_max).
      try {
        sock.setRecvBufferSize(4 * 1024 * 1024);
        sock.setSendBufferSize(4 * 1024 * 1024);
      } catch {
        // not fatal
      }
      resolve(sock);
    });
  });
}
