/**
 * The internal libuv bindings RawSocket (./raw-socket.ts) stands on — Node's `tcp_wrap` and
 * `stream_wrap` through `process.binding`, their shape checked once — and the module-level libuv
 * callbacks (no closure per connection) that call back into the socket.
 */
import { getSystemErrorName } from 'node:util';

/** What the libuv callbacks below call back into (./raw-socket.ts). */
export interface RawOwner {
  readonly destroyed: boolean;
  connected(keepAliveSeconds: number): void;
  delivered(n: number): Uint8Array | undefined;
  readFailed(n: number): void;
  /** A queued write of `data` (`bytes` long) completed, or failed with `status` < 0. */
  written(bytes: number, status: number, data: Uint8Array): void;
  shutDown(status: number): void;
  closed(): void;
  endRead(): void;
  destroy(err?: Error): unknown;
}

export interface ReqBase {
  oncomplete: (...args: never[]) => void;
  [k: string]: unknown;
}
export interface TcpHandle {
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
  owner: RawOwner | undefined;
}
export interface AddressOut {
  address: string;
  port: number;
}
export interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ReqBase;
  WriteWrap: new () => ReqBase;
  ShutdownWrap: new () => ReqBase;
  socketType: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

export const UV_EOF = -4095;

let bindings: Bindings | null | undefined;

/** The loaded bindings (only after `rawSocketsUnavailable()` returned null). */
export function rawBindings(): Bindings {
  return bindings as Bindings;
}
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

export function errnoError(status: number, syscall: string, address?: string, port?: number): Error {
  const code = getSystemErrorName(status);
  const where = address !== undefined ? ` ${address}:${port ?? 0}` : '';
  return Object.assign(new Error(`${syscall} ${code}${where}`), { errno: status, code, syscall, address, port });
}

// ---- libuv callbacks (module-level: no closures per connection) --------------------------------

export function afterConnect(this: ReqBase, status: number): void {
  const s = this['socket'] as RawOwner;
  if (s.destroyed) return;
  if (status !== 0) {
    s.destroy(errnoError(status, 'connect', this['address'] as string, this['port'] as number));
    return;
  }
  s.connected(this['keepAliveSeconds'] as number);
}

export function onRead(this: TcpHandle): Uint8Array | undefined {
  const s = this.owner as RawOwner;
  const b = bindings as Bindings;
  const n = b.state[b.kReadBytesOrError] as number;
  if (n > 0) return s.delivered(n);
  if (n === 0) return undefined;
  s.readFailed(n);
  return undefined;
}

export function afterWrite(this: ReqBase, status: number): void {
  (this['socket'] as RawOwner).written(this['bytes'] as number, status, this['buffer'] as Uint8Array);
}

export function afterShutdown(this: ReqBase, status: number): void {
  (this['socket'] as RawOwner).shutDown(status);
}

export function onClose(this: TcpHandle): void {
  const s = this.owner as RawOwner;
  this.owner = undefined;
  s.closed();
}

export function emitEnd(s: RawOwner): void {
  s.endRead();
}

/** The handle's peer (or local) address, undefined when it cannot be read (peer gone). */
export function handleName(h: TcpHandle, peer: boolean): Partial<AddressOut> | undefined {
  const out: Partial<AddressOut> = {};
  return (peer ? h.getpeername(out) : h.getsockname(out)) === 0 ? out : undefined;
}

/** RawSocket state bits. */
export const S_CONNECTED = 1;
export const S_READING = 2;
export const S_PAUSED = 4;
export const S_EOF = 8;
export const S_ENDING = 16;
export const S_NEED_DRAIN = 32;
