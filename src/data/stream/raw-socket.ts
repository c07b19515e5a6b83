/**
 * A connection's sockets on Node's TCP handle without a `net.Socket` around them (issue 8 item
 * 4): the accepted client of a plain pipeline (../listeners/tcp.ts, after the fast accept path)
 * and the plain dialer's backend (./dialer.ts). A `net.Socket` is two stream state machines, an
 * async id, option normalisation and a connect/end/finish/close event chain; per proxied
 * connection that is several microseconds of JavaScript the forwarding loop does not use. This
 * class keeps exactly what the stream stages use of a socket — `write` (no copy, `false` past
 * the high-water mark), `writableLength`, `end` (half-close), `destroy`, `pause`/`resume`, reads
 * through `onread` into the connection's buffers, the addresses, and the 'connect', 'end',
 * 'drain', 'error' and 'close' events with net.Socket's order and error texts
 * (`connect ECONNREFUSED 127.0.0.1:9`).
 *
 * It needs internal bindings (`process.binding('tcp_wrap' | 'stream_wrap')`, Node 20 and 24):
 * `rawSocketsUnavailable()` checks their shape once; without them, or with
 * TSBETWEEN_RAW_SOCKETS=0, net.Socket is used (logged once); backends given by host name always
 * use net.connect (DNS). test/data/raw-dial.test.ts fails if this path silently stops being taken.
 */
import { EventEmitter } from 'node:events';
import { isIPv6, type OnReadOpts } from 'node:net';
import { getSystemErrorName } from 'node:util';

interface ReqBase {
  oncomplete: (...args: never[]) => void;
  [k: string]: unknown;
}
interface TcpHandle {
  connect(req: ReqBase, host: string, port: number): number;
  connect6(req: ReqBase, host: string, port: number): number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(b: Uint8Array): void;
  writeBuffer(req: ReqBase, b: Uint8Array): number;
  shutdown(req: ReqBase): number;
  close(cb: (this: TcpHandle) => void): void;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  getpeername(out: Partial<AddressOut>): number;
  getsockname(out: Partial<AddressOut>): number;
  /** Native accessor: a function only (anything else aborts the process). */
  onread: (this: TcpHandle) => Uint8Array | undefined;
  owner: RawSocket | undefined;
}
interface AddressOut {
  address: string;
  port: number;
}
interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ReqBase;
  WriteWrap: new () => ReqBase;
  ShutdownWrap: new () => ReqBase;
  socketType: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

const UV_EOF = -4095;
/** Past this many queued bytes `write()` returns false (Node 22+'s default high-water mark). */
const HIGH_WATER = 64 * 1024;

let bindings: Bindings | null | undefined;
let why = '';

function load(): Bindings | null {
  if (process.env['TSBETWEEN_RAW_SOCKETS'] === '0') {
    why = 'disabled by TSBETWEEN_RAW_SOCKETS=0';
    return null;
  }
  try {
    const p = process as unknown as { binding(name: string): Record<string, unknown> };
    const tcp = p.binding('tcp_wrap');
    const stream = p.binding('stream_wrap');
    const TCP = tcp['TCP'] as Bindings['TCP'] | undefined;
    const constants = tcp['constants'] as { SOCKET?: unknown } | undefined;
    const state = stream['streamBaseState'];
    const proto = TCP?.prototype as Partial<TcpHandle> | undefined;
    if (typeof TCP !== 'function' || typeof tcp['TCPConnectWrap'] !== 'function'
      || typeof stream['WriteWrap'] !== 'function' || typeof stream['ShutdownWrap'] !== 'function'
      || !(state instanceof Int32Array) || typeof stream['kReadBytesOrError'] !== 'number'
      || typeof stream['kLastWriteWasAsync'] !== 'number' || typeof constants?.SOCKET !== 'number'
      || typeof proto?.writeBuffer !== 'function' || typeof proto.useUserBuffer !== 'function'
      || typeof proto.connect !== 'function' || typeof proto.shutdown !== 'function') {
      why = 'the internal tcp_wrap/stream_wrap bindings changed shape';
      return null;
    }
    return {
      TCP,
      TCPConnectWrap: tcp['TCPConnectWrap'] as Bindings['TCPConnectWrap'],
      WriteWrap: stream['WriteWrap'] as Bindings['WriteWrap'],
      ShutdownWrap: stream['ShutdownWrap'] as Bindings['ShutdownWrap'],
      socketType: constants.SOCKET,
      state,
      kReadBytesOrError: stream['kReadBytesOrError'],
      kLastWriteWasAsync: stream['kLastWriteWasAsync'],
    };
  } catch (err) {
    why = `no internal bindings (${err instanceof Error ? err.message : String(err)})`;
    return null;
  }
}

/** Why backends are dialed through net.connect on this Node, or null when the raw path works. */
export function rawSocketsUnavailable(): string | null {
  if (bindings === undefined) bindings = load();
  return bindings === null ? why : null;
}

function errnoError(status: number, syscall: string, address?: string, port?: number): Error {
  const code = getSystemErrorName(status);
  const where = address !== undefined ? ` ${address}:${port ?? 0}` : '';
  return Object.assign(new Error(`${syscall} ${code}${where}`), { errno: status, code, syscall, address, port });
}

// ---- libuv callbacks (module-level: no closures per connection) --------------------------------

function afterConnect(this: ReqBase, status: number): void {
  const s = this['socket'] as RawSocket;
  if (s.destroyed) return;
  if (status !== 0) {
    s.destroy(errnoError(status, 'connect', this['address'] as string, this['port'] as number));
    return;
  }
  s.connected(this['keepAliveSeconds'] as number);
}

function onRead(this: TcpHandle): Uint8Array | undefined {
  const s = this.owner as RawSocket;
  const b = bindings as Bindings;
  const n = b.state[b.kReadBytesOrError] as number;
  if (n > 0) return s.delivered(n);
  if (n === 0) return undefined;
  s.readFailed(n);
  return undefined;
}

function afterWrite(this: ReqBase, status: number): void {
  (this['socket'] as RawSocket).written(this['bytes'] as number, status);
}

function afterShutdown(this: ReqBase, status: number): void {
  (this['socket'] as RawSocket).shutDown(status);
}

function onClose(this: TcpHandle): void {
  const s = this.owner as RawSocket;
  this.owner = undefined;
  s.closed();
}

function emitEnd(s: RawSocket): void {
  s.endRead();
}

export class RawSocket extends EventEmitter {
  destroyed = false;
  readableEnded = false;
  writableFinished = false;
  /** Bytes handed to libuv and not yet written to the kernel. */
  writableLength = 0;
  private readonly h: TcpHandle;
  private state = 0;
  private buf: Uint8Array;
  private err: Error | undefined = undefined;
  private peer: Partial<AddressOut> | undefined = undefined;
  private local: Partial<AddressOut> | undefined = undefined;

  private constructor(
    h: TcpHandle,
    private readonly onread: OnReadOpts,
  ) {
    super();
    this.h = h;
    h.owner = this;
    const gen = onread.buffer;
    this.buf = typeof gen === 'function' ? gen() : gen;
  }

  /** Starts connecting to an IP literal (the caller checked `isIP`). */
  static connect(host: string, port: number, onread: OnReadOpts, keepAliveSeconds: number): RawSocket {
    const b = bindings as Bindings;
    const h = new b.TCP(b.socketType);
    const s = new RawSocket(h, onread);
    const req = new b.TCPConnectWrap();
    req.oncomplete = afterConnect;
    req['socket'] = s;
    req['address'] = host;
    req['port'] = port;
    req['keepAliveSeconds'] = keepAliveSeconds;
    const err = isIPv6(host) ? h.connect6(req, host, port) : h.connect(req, host, port);
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

  /** The peer's address as net.Socket reports it (undefined once it cannot be read). */
  get remoteAddress(): string | undefined {
    return this.name(true)?.address;
  }

  get remotePort(): number | undefined {
    return this.name(true)?.port;
  }

  get localAddress(): string | undefined {
    return this.name(false)?.address;
  }

  get localPort(): number | undefined {
    return this.name(false)?.port;
  }

  private name(peer: boolean): Partial<AddressOut> | undefined {
    let out = peer ? this.peer : this.local;
    if (out === undefined) {
      if (this.destroyed) return undefined;
      out = {};
      if ((peer ? this.h.getpeername(out) : this.h.getsockname(out)) !== 0) return undefined;
      if (peer) this.peer = out;
      else this.local = out;
    }
    return out;
  }

  /** @internal the connect completed: socket options as Node sets them, then reading starts. */
  connected(keepAliveSeconds: number): void {
    const h = this.h;
    h.setNoDelay(true);
    h.setKeepAlive(true, keepAliveSeconds);
    this.state |= S_CONNECTED;
    this.emit('connect');
    if (this.destroyed) return;
    h.useUserBuffer(this.buf);
    h.onread = onRead;
    if ((this.state & S_PAUSED) === 0) this.startReading();
    if ((this.state & S_ENDING) !== 0 && this.writableLength === 0 && !this.destroyed) this.shutdownNow();
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
    const b = bindings as Bindings;
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

  /** @internal a queued write completed. */
  written(bytes: number, status: number): void {
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
    const b = bindings as Bindings;
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
    this.h.close(onClose);
    return this;
  }
}

const S_CONNECTED = 1;
const S_READING = 2;
const S_PAUSED = 4;
const S_EOF = 8;
const S_ENDING = 16;
const S_NEED_DRAIN = 32;
