/**
 * A connection's sockets on Node's TCP handle without a `net.Socket` (issue 8 item 4): the
 * accepted client of a plain pipeline (../listeners/tcp.ts) and the plain dialer's backend
 * (./dialer.ts). A `net.Socket` is two stream state machines, an async id and an event chain per
 * connection: microseconds of JavaScript the forwarding loop does not use. This keeps what the
 * stages use — `write` (no copy; false past the high-water mark), `writableLength`, `end`
 * (half-close), `destroy`, `pause`/`resume`, `onread` reads into the connection's buffers, the
 * addresses (./raw-base.ts), and 'connect'/'end'/'drain'/'error'/'close' in net.Socket's order
 * with its error texts. A dialed socket's keep-alive is set within a second (./keepalive.ts).
 * Bindings, their feature check (TSBETWEEN_RAW_SOCKETS=0 turns this off) and the libuv callbacks:
 * ./raw-handle.ts. test/data/raw-dial.test.ts fails if this path is silently not taken.
 */
import type { OnReadOpts } from 'node:net';
import {
  afterConnect, afterShutdown, afterWrite, emitEnd, errnoError, onClose, onRead, rawBindings, UV_EOF,
  S_CONNECTED, S_EOF, S_ENDING, S_NEED_DRAIN, S_PAUSED, S_READING,
  type RawOwner, type TcpHandle,
} from './raw-handle.js';
import { RawBase } from './raw-base.js';
import { recycleWritten } from './buffers.js';
import { cancelKeepAlive, deferKeepAlive, type KeepAliveWaiter } from './keepalive.js';

export { rawSocketsUnavailable } from './raw-handle.js';

/** Past this many queued bytes `write()` returns false (Node 22+'s default high-water mark). */
const HIGH_WATER = 64 * 1024;

export class RawSocket extends RawBase implements RawOwner, KeepAliveWaiter {
  readableEnded = false;
  writableFinished = false;
  /** Bytes handed to libuv and not yet written to the kernel. */
  writableLength = 0;
  private state = 0;
  private buf: Uint8Array;
  private err: Error | undefined = undefined;
  /** Deferred keep-alive (./keepalive.ts): the list links, and the idle seconds to set. */
  kaPrev: KeepAliveWaiter | null = null;
  kaNext: KeepAliveWaiter | null = null;
  kaQueued = false;
  private kaSeconds = 0;

  private constructor(
    h: TcpHandle,
    private readonly onread: OnReadOpts,
  ) {
    super(h);
    h.owner = this;
    const gen = onread.buffer;
    this.buf = typeof gen === 'function' ? gen() : gen;
  }

  /** Starts connecting to an IP literal of `family` (4 or 6: `isIP`, worked out by the caller). */
  static connect(host: string, port: number, onread: OnReadOpts, keepAliveSeconds: number, family: number): RawSocket {
    const b = rawBindings();
    const h = new b.TCP(b.socketType);
    const s = new RawSocket(h, onread);
    const req = new b.TCPConnectWrap();
    req.oncomplete = afterConnect;
    req['socket'] = s;
    req['address'] = host;
    req['port'] = port;
    req['keepAliveSeconds'] = keepAliveSeconds;
    const err = family === 6 ? h.connect6(req, host, port) : h.connect(req, host, port);
    if (err !== 0) process.nextTick(() => s.destroy(errnoError(err, 'connect', host, port)));
    return s;
  }

  /**
   * Wraps an accepted TCP handle (the listener's fast path, ../listeners/fast-accept.ts): paused
   * until `resume()`; socket options are inherited from the listener.
   */
  static accepted(handle: unknown, onread: OnReadOpts): RawSocket {
    const h = handle as TcpHandle;
    const s = new RawSocket(h, onread);
    s.state = S_CONNECTED | S_PAUSED;
    h.useUserBuffer(s.buf);
    h.onread = onRead;
    return s;
  }

  /**
   * @internal the connect completed: no delay now, keep-alive within a second (./keepalive.ts),
   * then reading starts.
   */
  connected(keepAliveSeconds: number): void {
    const h = this.h;
    h.setNoDelay(true);
    this.kaSeconds = keepAliveSeconds;
    deferKeepAlive(this);
    this.state |= S_CONNECTED;
    this.emit('connect');
    if (this.destroyed) return;
    h.useUserBuffer(this.buf);
    h.onread = onRead;
    if ((this.state & S_PAUSED) === 0) this.startReading();
    if ((this.state & S_ENDING) !== 0 && this.writableLength === 0 && !this.destroyed) this.shutdownNow();
  }

  /** @internal ./keepalive.ts: the socket is still open, up to a second after its connect. */
  applyKeepAlive(): void {
    this.h.setKeepAlive(true, this.kaSeconds);
  }

  /** @internal `n` bytes arrived in the current buffer; returns the buffer for the next read. */
  delivered(n: number): Uint8Array | undefined {
    if (this.destroyed) return undefined;
    this.onread.callback.call(this as never, n, this.buf);
    const gen = this.onread.buffer;
    if (typeof gen !== 'function') return undefined;
    const next = gen();
    if (next === this.buf) return undefined;
    this.buf = next;
    return next;
  }

  /** @internal EOF or a read error. */
  readFailed(n: number): void {
    if (n !== UV_EOF) {
      this.destroy(errnoError(n, 'read'));
      return;
    }
    this.stopReading();
    this.state |= S_EOF;
    process.nextTick(emitEnd, this);
  }

  /** @internal the 'end' event, then the close once both directions are done (autoDestroy). */
  endRead(): void {
    if (this.destroyed || this.readableEnded) return;
    this.readableEnded = true;
    this.emit('end');
    if (this.writableFinished && !this.destroyed) this.destroy();
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || (this.state & S_ENDING) !== 0) return false;
    const b = rawBindings();
    const req = new b.WriteWrap();
    req.oncomplete = afterWrite;
    req['handle'] = this.h;
    req['socket'] = this;
    req['bytes'] = data.length;
    req['buffer'] = data;
    req['async'] = false;
    const err = this.h.writeBuffer(req, data);
    if (err !== 0) {
      this.destroy(errnoError(err, 'write'));
      return false;
    }
    if (b.state[b.kLastWriteWasAsync] === 0) return this.writableLength < HIGH_WATER;
    this.writableLength += data.length;
    if (this.writableLength < HIGH_WATER) return true;
    this.state |= S_NEED_DRAIN;
    return false;
  }

  /** @internal a queued write completed (or was cancelled): its read buffer may be reused. */
  written(bytes: number, status: number, data: Uint8Array): void {
    recycleWritten(data);
    this.writableLength -= bytes;
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(errnoError(status, 'write'));
      return;
    }
    if (this.writableLength !== 0) return;
    if ((this.state & S_ENDING) !== 0) this.shutdownNow();
    if ((this.state & S_NEED_DRAIN) !== 0) {
      this.state &= ~S_NEED_DRAIN;
      this.emit('drain');
    }
  }

  /** Half-close: FIN after the queued writes (net.Socket's end() with allowHalfOpen). */
  end(): this {
    if (this.destroyed || (this.state & S_ENDING) !== 0) return this;
    this.state |= S_ENDING;
    if ((this.state & S_CONNECTED) !== 0 && this.writableLength === 0) this.shutdownNow();
    return this;
  }

  private shutdownNow(): void {
    const b = rawBindings();
    const req = new b.ShutdownWrap();
    req.oncomplete = afterShutdown;
    req['handle'] = this.h;
    req['socket'] = this;
    const err = this.h.shutdown(req);
    if (err !== 0) this.destroy(errnoError(err, 'shutdown'));
  }

  /** @internal the FIN went out. */
  shutDown(status: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(errnoError(status, 'shutdown'));
      return;
    }
    this.writableFinished = true;
    if (this.readableEnded) this.destroy();
  }

  pause(): this {
    this.state |= S_PAUSED;
    this.stopReading();
    return this;
  }

  resume(): this {
    this.state &= ~S_PAUSED;
    if ((this.state & (S_CONNECTED | S_EOF)) === S_CONNECTED && !this.destroyed) this.startReading();
    return this;
  }

  private startReading(): void {
    if ((this.state & S_READING) !== 0) return;
    this.state |= S_READING;
    const err = this.h.readStart();
    if (err !== 0) this.destroy(errnoError(err, 'read'));
  }

  private stopReading(): void {
    if ((this.state & S_READING) === 0) return;
    this.state &= ~S_READING;
    this.h.readStop();
  }

  /** @internal the handle closed: 'error' first when destroyed with one, then 'close'. */
  closed(): void {
    const err = this.err;
    if (err !== undefined) this.emit('error', err);
    this.emit('close', err !== undefined);
  }

  /** Closes the handle ('error' first when `err`, then 'close'), once. */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.state &= ~S_READING;
    this.err = err;
    if (this.kaQueued) cancelKeepAlive(this);
    this.h.close(onClose);
    return this;
  }
}
