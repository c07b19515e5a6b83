/**
 * One UDP session (data-plane §7.2-§7.3): a client `ip:port` pinned to the backend elected when
 * the session was created, with its own connected backend socket.
 *
 * Why a socket per session: replies must reach the right client, and a backend only sees the
 * source address of what we send it, so generic UDP cannot be demultiplexed from one shared
 * socket (DNS ids would collide between clients, other protocols have no id at all). The fd
 * cost is bounded by the session table's cap (`udp.max_sessions`) instead, and an EMFILE evicts
 * the oldest session (GoBetween exhausts fds, GitHub #133/#152).
 *
 * Datagrams are passed by reference, never copied into per-datagram 64 KiB buffers (GoBetween's
 * §7.6 weakness): with a backend given as an IP literal the socket is connected synchronously
 * (see `fastLookup`) and each datagram is sent as it arrives; only a backend host name needs a
 * DNS lookup, during which at most {@link QUEUE_MAX} datagrams wait and later ones are dropped
 * and counted.
 *
 * Handlers are module-level functions that find their session through a symbol on the socket,
 * so a session costs one small object and one socket, no closures.
 */
import dgram, { type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { errorMessage } from '../../core/errors.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { Closable, ServerRuntime } from '../runtime.js';
import type { LeaseHolder } from '../stream/lease.js';
import type { Exchange } from './accounting.js';

/** Datagrams held per session while its backend host name resolves; more are dropped. */
export const QUEUE_MAX = 64;

/**
 * `dgram`'s lookup hook: IP literals answer synchronously, so `connect()` and `send()` to an IP
 * complete without a DNS round trip or an extra tick; names go to `dns.lookup` as usual.
 */
export function fastLookup(
  host: string,
  opts: LookupOneOptions,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const f = isIP(host);
  if (f !== 0) cb(null, host, f);
  else dnsLookup(host, opts, cb);
}

/** Creates the socket of a new session (injected in tests to simulate slow or failing dials). */
export type SocketFactory = (type: 'udp4' | 'udp6') => Socket;

export const defaultSocketFactory: SocketFactory = (type) => dgram.createSocket({ type, lookup: fastLookup });

/** What a session needs from its server (implemented by UdpServer). */
export interface SessionOwner {
  /** Ends the session (close, idle, eviction, server stop): releases its lease once. */
  end(s: Session): void;
  /** A backend datagram for `s` (already counted in `s.responses` by the owner). */
  response(s: Session, msg: Buffer): void;
  /** The backend socket failed (dial error, ICMP unreachable, EMFILE): the session must end. */
  socketError(s: Session, err: Error): void;
  /** A queued datagram was sent: count it. */
  sent(s: Session, bytes: number): void;
}

const kSession = Symbol('tsbetween.udp.session');
interface TaggedSocket extends Socket {
  [kSession]: Session;
}

export class Session implements Exchange, LeaseHolder, Closable {
  // LeaseHolder (../stream/lease.ts): the server's session count and the backend reservation.
  admitted = false;
  slot = -1;
  backend: SnapshotBackend;
  requests = 0;
  responses = 0;
  /** Last datagram from the client / from the backend (ms); both start at creation. */
  lastClient: number;
  lastBackend: number;
  /** Key in the session table: `ip port` while current, a unique key once retired. */
  key: string;
  /** Datagrams waiting for the backend socket to connect; null once connected. */
  pending: Buffer[] | null = null;
  closed = false;
  /** True until the backend socket is connected (a socket error then is a failed dial). */
  dialing = true;
  /** The dial failed for lack of file descriptors (EMFILE/ENFILE). */
  fdExhausted = false;
  readonly sock: TaggedSocket;

  constructor(
    readonly rt: ServerRuntime,
    readonly owner: SessionOwner,
    key: string,
    readonly clientAddress: string,
    readonly clientPort: number,
    backend: SnapshotBackend,
    factory: SocketFactory,
    now: number,
  ) {
    this.backend = backend;
    this.key = key;
    this.lastClient = now;
    this.lastBackend = now;
    const sock = factory(isIP(backend.dialHost) === 6 ? 'udp6' : 'udp4') as TaggedSocket;
    sock[kSession] = this;
    this.sock = sock;
  }

  /**
   * Connects the backend socket. A dial error may be reported synchronously (EMFILE on the
   * implicit bind): the owner's `socketError` then runs before this returns.
   */
  open(): void {
    const sock = this.sock;
    sock.on('error', onSocketError);
    sock.on('message', onSocketMessage);
    if (isIP(this.backend.dialHost) === 0) {
      this.pending = [];
      sock.once('connect', onSocketConnect);
    }
    try {
      sock.connect(this.backend.dialPort, this.backend.dialHost);
    } catch (err) {
      this.owner.socketError(this, err instanceof Error ? err : new Error(errorMessage(err)));
      return;
    }
    // An IP literal connects synchronously (fastLookup); a name connects after its lookup.
    if (this.pending === null) this.dialing = false;
  }

  /** Forwards (or queues) one client datagram; returns false when it was dropped. */
  forward(msg: Buffer): boolean {
    if (this.closed) return false;
    const q = this.pending;
    if (q !== null) {
      if (q.length >= QUEUE_MAX) return false;
      q.push(msg);
      return true;
    }
    this.sock.send(msg);
    this.owner.sent(this, msg.length);
    return true;
  }

  /** Closable: the server stops or drains out. */
  destroy(): void {
    this.owner.end(this);
  }

  /** Closes the backend socket; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    try {
      this.sock.close();
    } catch {
      // Already closed by a failed bind.
    }
  }
}

function onSocketConnect(this: TaggedSocket): void {
  const s = this[kSession];
  const q = s.pending;
  s.pending = null;
  s.dialing = false;
  if (q === null || s.closed) return;
  for (const msg of q) {
    this.send(msg);
    s.owner.sent(s, msg.length);
  }
}

function onSocketMessage(this: TaggedSocket, msg: Buffer): void {
  const s = this[kSession];
  if (!s.closed) s.owner.response(s, msg);
}

function onSocketError(this: TaggedSocket, err: Error): void {
  const s = this[kSession];
  if (!s.closed) s.owner.socketError(s, err);
}
