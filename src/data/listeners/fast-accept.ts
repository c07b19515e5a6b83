/**
 * The fast accept path for stream listeners: accepted sockets that read through `onread` into
 * the connection's own buffers, like dialed ones — Node has no public `onread` for accepted
 * sockets (../../../shared/spec/perf-anchors.md, "handle re-wrap").
 *
 * Instead of letting Node build a socket for each accepted handle and wrapping that handle a
 * second time, the listening handle's `onconnection` callback (internal) is replaced once per
 * listener: it sets TCP_NODELAY and keep-alive on the new handle and builds the one `net.Socket`
 * with `{ handle, onread }` itself. Behind a feature check (the listening handle must expose
 * `onconnection`); otherwise, or with TSBETWEEN_FAST_ACCEPT=0, Node's sockets and 'data' events
 * are used, and the fallback is logged once. test/data/fast-accept.test.ts fails if the fast path
 * is not taken on a Node where it should be.
 */
import net, { type OnReadOpts, type Server, type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** The bits of Node's TCP handle used here. */
export interface AcceptedHandle {
  setNoDelay?(on: boolean): number;
  setKeepAlive?(on: boolean, delaySeconds: number): number;
  close(): void;
}

interface ListeningHandle {
  onconnection: unknown;
  setNoDelay?(on: boolean): number;
  setKeepAlive?(on: boolean, delaySeconds: number): number;
}

interface HandleSocketOptions {
  handle: AcceptedHandle;
  allowHalfOpen: boolean;
  pauseOnCreate: boolean;
  readable: boolean;
  writable: boolean;
  onread?: OnReadOpts;
}

/** Why the fast path cannot be used on this listener, or null when it can. */
export function fastAcceptUnavailable(srv: Server): string | null {
  if (process.env['TSBETWEEN_FAST_ACCEPT'] === '0') return 'disabled by TSBETWEEN_FAST_ACCEPT=0';
  const h = (srv as unknown as { _handle?: ListeningHandle | null })._handle;
  if (h === undefined || h === null || typeof h !== 'object') return 'the listener exposes no handle';
  if (typeof h.onconnection !== 'function') return 'the listening handle has no onconnection callback';
  return null;
}

/**
 * Replaces the listener's accept callback. `onHandle` gets every accepted handle (TCP_NODELAY
 * and keep-alive already set); accept errors go to `onError` with Go's `accept` wording.
 *
 * On Linux accepted sockets inherit TCP_NODELAY and the keep-alive settings (SO_KEEPALIVE,
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) of the listening socket, so they are set once on the
 * listener instead of with two to five setsockopt calls per connection.
 */
export function installFastAccept(
  srv: Server,
  keepAliveSeconds: number,
  onHandle: (h: AcceptedHandle) => void,
  onError: (err: Error) => void,
): void {
  const h = (srv as unknown as { _handle: ListeningHandle })._handle;
  const inherited = process.platform === 'linux'
    && h.setNoDelay?.(true) === 0
    && h.setKeepAlive?.(true, keepAliveSeconds) === 0;
  h.onconnection = (status: number, handle: AcceptedHandle | undefined): void => {
    if (status !== 0 || handle === undefined) {
      const err = new Error(`accept: ${status < 0 ? getSystemErrorName(status) : String(status)}`);
      onError(err);
      return;
    }
    if (!inherited) {
      handle.setNoDelay?.(true);
      handle.setKeepAlive?.(true, keepAliveSeconds);
    }
    onHandle(handle);
  };
}

/**
 * Builds the socket of an accepted handle, paused: reading through `onread` when given, else a
 * plain socket with 'data' events — for pipelines with a stage that reads the client itself
 * (PROXY header, ClientHello, TLS handshake) when a hot reload gave such a pipeline to a listener
 * that took the fast path.
 */
export function socketForHandle(handle: AcceptedHandle, onread?: OnReadOpts): Socket {
  const opts: HandleSocketOptions = { handle, allowHalfOpen: true, pauseOnCreate: true, readable: true, writable: true };
  if (onread !== undefined) opts.onread = onread;
  return new net.Socket(opts);
}
