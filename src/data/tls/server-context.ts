/**
 * The TLS termination context of one server (`[servers.X.tls]`, data-plane §3.1):
 * certificate and key read at start (a bad file fails the start, naming the key), versions,
 * ciphers mapped from Go's names (unknown ones dropped and reported), session tickets on/off.
 * One secure context per server, built once; the listener takes `context` for each handshake.
 *
 * New: the certificate and key are re-read when either file changes (stat polling, so an atomic
 * rename or a Kubernetes secret update is seen too) or on `reload()`. A pair that does not load
 * (e.g. the certificate was replaced before the key) keeps the previous context and is reported;
 * the next change tries again. Ticket keys survive a reload, so resumption keeps working.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type * as tls from 'node:tls';
import { nodeCrypto, nodeTls } from '../../core/builtin.js';
import type { TlsPlan } from '../../core/plan.js';
import { StartError, errorMessage } from '../../core/errors.js';
import { cipherPlan, noTicket, tlsVersion } from './ciphers.js';

export interface ServerTlsEvents {
  /** Go cipher names that were dropped (told once, at load). */
  onDroppedCiphers?(names: readonly string[]): void;
  onReloaded?(): void;
  onReloadFailed?(message: string): void;
}

export interface ServerTlsOptions {
  /** Stat-polling interval for the certificate files; 0 = do not watch. Default 2000 ms. */
  readonly watchIntervalMs?: number;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StartError(`${key}: ${errorMessage(err)}`, { cause: err });
  }
}

export class ServerTls {
  private current: tls.SecureContext;
  /** The server's options without certificate (versions, ciphers, tickets): ACME contexts get them too. */
  readonly base: tls.SecureContextOptions;
  private readonly ticketKeys = nodeCrypto().randomBytes(48);
  private listener: ((cur: Stats, prev: Stats) => void) | undefined;

  /** Builds the context; throws a StartError naming `path.cert_path` / `path.key_path` / `path`. */
  constructor(
    readonly wire: TlsPlan,
    private readonly path: string,
    private readonly events: ServerTlsEvents = {},
  ) {
    let minVersion = tlsVersion(wire.min_version);
    const maxVersion = tlsVersion(wire.max_version);
    const low = minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
    const plan = cipherPlan(wire.ciphers, low);
    if (plan.dropped.length > 0) events.onDroppedCiphers?.(plan.dropped);
    if (plan.tls13Only && (maxVersion === undefined || maxVersion === 'TLSv1.3')) minVersion = 'TLSv1.3';
    const base: tls.SecureContextOptions = {};
    if (minVersion !== undefined) base.minVersion = minVersion;
    if (maxVersion !== undefined) base.maxVersion = maxVersion;
    if (plan.ciphers !== undefined) base.ciphers = plan.ciphers;
    if (!wire.session_tickets) base.secureOptions = noTicket();
    this.base = base;
    this.current = this.build();
  }

  /** The context for the next handshake. */
  get context(): tls.SecureContext {
    return this.current;
  }

  /** Whether session tickets are on (the listener also turns resumption off when they are not). */
  get sessionTickets(): boolean {
    return this.wire.session_tickets;
  }

  /** Gives a context this server's ticket keys (when tickets are on), e.g. one from ACME. */
  readonly prepare = (ctx: tls.SecureContext): void => {
    if (this.wire.session_tickets) (ctx.context as { setTicketKeys(keys: Buffer): void }).setTicketKeys(this.ticketKeys);
  };

  private build(): tls.SecureContext {
    if (this.wire.acme === true) {
      // Certificates come per handshake from the ACME service's SNICallback; this context only
      // carries the options (a client without SNI finds no certificate and fails).
      const ctx = nodeTls().createSecureContext(this.base);
      this.prepare(ctx);
      return ctx;
    }
    const cert = readPem(this.wire.cert_path, `${this.path}.cert_path`);
    const key = readPem(this.wire.key_path, `${this.path}.key_path`);
    try {
      const ctx = nodeTls().createSecureContext({ ...this.base, cert, key });
      if (this.wire.session_tickets) (ctx.context as { setTicketKeys(keys: Buffer): void }).setTicketKeys(this.ticketKeys);
      return ctx;
    } catch (err) {
      throw new StartError(`${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Re-reads the files; keeps the old context (and reports) when the new pair does not load. */
  reload(): boolean {
    try {
      this.current = this.build();
      this.events.onReloaded?.();
      return true;
    } catch (err) {
      this.events.onReloadFailed?.(errorMessage(err));
      return false;
    }
  }

  /** Starts watching the certificate and key files (unref'd stat polling). */
  watch(opts: ServerTlsOptions = {}): void {
    const interval = opts.watchIntervalMs ?? 2000;
    if (interval <= 0 || this.listener !== undefined || this.wire.acme === true) return;
    const onChange = (cur: Stats, prev: Stats): void => {
      if (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino && cur.size === prev.size) return;
      if (cur.nlink === 0 && cur.size === 0 && cur.mtimeMs === 0) return; // file gone for now
      this.reload();
    };
    this.listener = onChange;
    for (const f of new Set([this.wire.cert_path, this.wire.key_path])) {
      watchFile(f, { interval, persistent: false }, onChange);
    }
  }

  close(): void {
    const l = this.listener;
    if (l === undefined) return;
    this.listener = undefined;
    for (const f of new Set([this.wire.cert_path, this.wire.key_path])) unwatchFile(f, l);
  }
}
