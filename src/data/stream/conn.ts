/**
 * The state of one proxied stream connection, shared by every stage, and the teardown rules
 * (DESIGN rule 6): every error or close destroys both sides once, FIN is propagated (half-close,
 * D2), and `finish()` — the only caller of the lease release — runs exactly once, when both
 * sockets are closed (or at once when a stage fails before any backend socket exists).
 *
 * One small object per connection; the socket event handlers (./events.ts, ./forward.ts, ./dial.ts)
 * are module-level functions that find their connection through a symbol on the socket (no
 * per-connection closures).
 */
import type { Socket } from 'node:net';
import type { PickContext } from '../../balance/types.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { ServerRuntime } from '../runtime.js';
import { releaseLease, type LeaseHolder } from './lease.js';
import { nextBuffer, releaseBuffer, takeSmall } from './buffers.js';
import type { AccessEnd, AccessLog } from '../access-log.js';

export const kConn = Symbol('tsbetween.stream.connection');
export interface TaggedSocket extends Socket {
  [kConn]: StreamConn;
}

// Flags.
export const CONNECTED = 2;
export const CLIENT_EOF = 4;
export const BACKEND_EOF = 8;
export const CLIENT_CLOSED = 16;
export const BACKEND_CLOSED = 32;
export const DIAL_FAILED = 64;
export const DONE = 128;
export const FAILED = 256;
/** The client socket reads through `onread` (made by the listener's fast accept path). */
export const CLIENT_ONREAD = 512;
/** Reading paused until the other side drains. */
export const CLIENT_PAUSED = 1024;
export const BACKEND_PAUSED = 2048;
/** A 'drain' handler is on the client / backend socket (added at the first pause). */
export const CLIENT_DRAIN_HOOKED = 4096;
export const BACKEND_DRAIN_HOOKED = 8192;
/**
 * Closed by us once its data was handed to the kernel and both directions had ended (see
 * `closeWrite` in ./forward.ts): a clean close, not an error (the peer still gets every byte and FIN).
 */
export const CLIENT_QUIT = 16384;
export const BACKEND_QUIT = 32768;
/** The FIN towards the client / backend waits for that socket's own imminent 'end' (./forward.ts). */
export const CLIENT_FIN_DEFERRED = 65536;
export const BACKEND_FIN_DEFERRED = 131072;

/** Client addresses taken from an upstream's PROXY header. */
export interface ProxiedAddresses {
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
}

/** A pipeline step as the connection sees it (the contract is ./stage.ts). */
export interface StepLike {
  run(conn: StreamConn): boolean;
  /**
   * The dial stage with `backend_connection_retries` (tsbetween-only): after a failed connect,
   * moves the connection to another eligible backend and dials again; false when it cannot.
   */
  redial?(conn: StreamConn): boolean;
}

export class StreamConn implements PickContext, LeaseHolder {
  /** SNI hostname (set by a peek stage), '' when none. */
  sni = '';
  flags = 0;
  admitted = false;
  /** Index of the next stage to run. */
  step = 0;
  upstream: TaggedSocket | null = null;
  backend: SnapshotBackend | null = null;
  /** Slot reserved in the active table (-1: none). */
  slot = -1;
  timer: NodeJS.Timeout | null = null;
  /** Last progress client -> backend: a read from the client, or the backend draining. */
  lastClientRead = 0;
  /** Last progress backend -> client: a read from the backend, or the client draining. */
  lastBackendRead = 0;
  /** Bytes still queued towards both peers at the previous flush check (after both FINs). */
  flushPending = -1;
  /** Last flush progress after both FINs. */
  lastFlush = 0;
  /**
   * Read buffers (see ./buffers.ts): the current one of each direction, the size of the last
   * read into it, and whether a queued write still references it.
   */
  clientBuf: Buffer | null = null;
  clientN = 0;
  clientBusy = false;
  backendBuf: Buffer | null = null;
  backendN = 0;
  backendBusy = false;
  /** `onread` buffer sources: Node asks for the next buffer right after each read callback. */
  readonly clientBuffer = (): Buffer => {
    const b = this.clientBuf === null ? takeSmall() : nextBuffer(this.clientBuf, this.clientN, this.clientBusy);
    this.clientBuf = b;
    this.clientBusy = false;
    return b;
  };
  readonly backendBuffer = (): Buffer => {
    const b = this.backendBuf === null ? takeSmall() : nextBuffer(this.backendBuf, this.backendN, this.backendBusy);
    this.backendBuf = b;
    this.backendBusy = false;
    return b;
  };
  client!: TaggedSocket;
  /** Failed connects before the current one (backend_connection_retries). */
  retries = 0;
  /** Slots whose connect failed (retries never go back to them); null until a retry. */
  tried: number[] | null = null;
  /** How the connection ended, for the access log ('' until known). */
  end: AccessEnd | '' = '';
  /** Access log only (0 otherwise): accept time and bytes each way. */
  start = 0;
  rx = 0;
  tx = 0;
  /** Access log only: the client `ip:port`, read at accept (the socket may be gone at the end). */
  clientAddr = '';

  /**
   * The addresses an upstream balancer's PROXY header gave (accept-proxy stage); null = the
   * socket's own. When set they are *the* client address for access rules, balancers, the
   * PROXY header sent on and logs.
   */
  proxied: ProxiedAddresses | null = null;

  constructor(
    readonly rt: ServerRuntime,
    readonly stages: readonly StepLike[],
  ) {}

  /** Binds the accepted client socket (before the pipeline runs). */
  attach(client: Socket, onread: boolean): void {
    const c = client as TaggedSocket;
    c[kConn] = this;
    this.client = c;
    if (onread) this.flags |= CLIENT_ONREAD;
    if (this.rt.accessLog !== null) {
      this.start = Date.now();
      const ip = c.remoteAddress ?? '';
      this.clientAddr = `${ip.includes(':') ? `[${ip}]` : ip}:${c.remotePort ?? 0}`;
    }
  }

  /**
   * The client address as Node reports it (`::ffff:a.b.c.d` on dual-stack listeners), or the one
   * from an accepted PROXY header. Read lazily: balancers that ignore it save a getpeername().
   */
  get clientIp(): string {
    const p = this.proxied;
    return p !== null ? p.srcIp : (this.client.remoteAddress ?? '');
  }

  get clientPort(): number {
    const p = this.proxied;
    return p !== null ? p.srcPort : (this.client.remotePort ?? 0);
  }

  /** The address the client connected to (the listener's side), or the one from a PROXY header. */
  get localIp(): string {
    const p = this.proxied;
    return p !== null ? p.dstIp : (this.client.localAddress ?? '');
  }

  get localPort(): number {
    const p = this.proxied;
    return p !== null ? p.dstPort : (this.client.localPort ?? 0);
  }

  get failed(): boolean {
    return (this.flags & FAILED) !== 0;
  }

  /**
   * A stage failed: tear the pair down. Before a backend socket exists the connection is
   * finished at once (so counters settle synchronously); otherwise when both sockets closed.
   */
  fail(end: AccessEnd = 'error'): void {
    if (this.end === '') this.end = end;
    this.flags |= FAILED;
    const up = this.upstream;
    this.client.destroy();
    if (up === null) {
      this.flags |= BACKEND_CLOSED | CLIENT_CLOSED;
      this.finish();
    } else {
      up.destroy();
    }
  }

  /** Tears the pair down now (errors, timeouts, server close). */
  destroy(): void {
    if (this.upstream === null) {
      this.fail();
      return;
    }
    this.upstream.destroy();
    this.client.destroy();
  }

  /** Finishes once both sockets are closed. */
  maybeFinish(): void {
    const f = this.flags;
    if ((f & DONE) !== 0 || (f & CLIENT_CLOSED) === 0 || (f & BACKEND_CLOSED) === 0) return;
    this.finish();
  }

  private finish(): void {
    if ((this.flags & DONE) !== 0) return;
    this.flags |= DONE;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Both sockets are closed: a buffer no queued write references goes back to its pool.
    if (this.clientBuf !== null) releaseBuffer(this.clientBuf, this.clientBusy);
    if (this.backendBuf !== null) releaseBuffer(this.backendBuf, this.backendBusy);
    this.clientBuf = null;
    this.backendBuf = null;
    const accessLog = this.rt.accessLog;
    if (accessLog !== null) recordAccess(this, accessLog);
    releaseLease(this);
    this.rt.untrack(this);
  }
}

/** The access log line of a finished connection (only called when the log is on). */
function recordAccess(conn: StreamConn, log: AccessLog): void {
  const b = conn.backend;
  log.record({
    start: conn.start,
    server: conn.rt.name,
    client: conn.clientAddr,
    backend: b !== null && (conn.flags & CONNECTED) !== 0 ? b.key : '',
    rx: conn.rx,
    tx: conn.tx,
    durationMs: Date.now() - conn.start,
    end: conn.end !== '' ? conn.end : conn.rt.closing ? 'shutdown' : 'error',
    retries: conn.retries,
  });
}
