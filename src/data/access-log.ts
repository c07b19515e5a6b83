/**
 * The access log (tsbetween-only, `[access_log]`): one line per client connection, written when it
 * is released. Off by default; when off the data plane holds `null` and pays one branch per
 * connection.
 *
 * - A record is plain data (it may come from a worker): time, server, client, backend, bytes each
 *   way, duration and how the connection ended.
 * - Lines are batched and written once per event-loop turn (one write for many closes).
 * - Rate cap: at most `rate_limit` lines per second (0: no cap). Lines over the cap are counted and
 *   dropped; the next second starts with one line saying how many were dropped. Lines are also
 *   dropped (and counted) while the output is more than 1 MiB behind, so a slow disk or a blocked
 *   pipe never grows memory.
 * - Untrusted text (the server name comes from config or the API) is JSON-escaped in `json`, and
 *   quoted when it has spaces or control characters in `text`.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Logger } from '../core/log.js';

/** How a connection ended. */
export type AccessEnd =
  /** The client closed (or half-closed and both directions finished after it). */
  | 'client_close'
  /** The backend closed first. */
  | 'backend_close'
  | 'client_idle_timeout'
  | 'backend_idle_timeout'
  /** Every backend tried refused (or timed out) the connect. */
  | 'refused'
  /** Access rules denied the client. */
  | 'access_denied'
  /** No eligible backend (none, all dead, drained or full). */
  | 'no_backend'
  /** The server's max_connections was reached. */
  | 'max_connections'
  /** A socket error on either side. */
  | 'error'
  /** tsbetween closed it (server deleted, reloaded away, shutdown grace over). */
  | 'shutdown';

export interface AccessRecord {
  /** Epoch ms when the connection was accepted. */
  readonly start: number;
  readonly server: string;
  /** Client `ip:port` (IPv6 in brackets). */
  readonly client: string;
  /** Backend `host:port`, '' when none was connected. */
  readonly backend: string;
  /** Bytes sent to the client (backend → client). */
  readonly rx: number;
  /** Bytes sent to the backend (client → backend). */
  readonly tx: number;
  readonly durationMs: number;
  readonly end: AccessEnd;
  /** Connect attempts that failed before this one (backend_connection_retries). */
  readonly retries: number;
}

export interface AccessLogOptions {
  /** `stdout`, `stderr` or a file path (appended to). */
  readonly output: string;
  readonly format: 'json' | 'text';
  /** Lines per second at most; 0 = no cap. */
  readonly rateLimit: number;
  /** Where write errors are reported (once per error burst). */
  readonly log: Logger;
  /** Injected for tests. */
  readonly now?: () => number;
  /** Injected for tests: the output stream. */
  readonly stream?: Writable;
}

/** Lines dropped while the output is this far behind. */
const MAX_PENDING_BYTES = 1024 * 1024;

export class AccessLog {
  private readonly stream: Writable;
  private readonly ownStream: boolean;
  private readonly format: 'json' | 'text';
  private readonly rateLimit: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private batch: string[] = [];
  private scheduled = false;
  private windowStart = 0;
  private inWindow = 0;
  /** Dropped lines not reported yet. */
  private dropped = 0;
  /** Every line dropped so far. */
  droppedTotal = 0;
  written = 0;
  private failed = false;
  private closed = false;

  constructor(opts: AccessLogOptions) {
    this.format = opts.format;
    this.rateLimit = opts.rateLimit;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    if (opts.stream !== undefined) {
      this.stream = opts.stream;
      this.ownStream = false;
    } else if (opts.output === 'stdout' || opts.output === 'stderr') {
      this.stream = opts.output === 'stdout' ? process.stdout : process.stderr;
      this.ownStream = false;
    } else {
      this.stream = createWriteStream(opts.output, { flags: 'a', mode: 0o640 });
      this.ownStream = true;
    }
    this.stream.on('error', (err) => {
      if (!this.failed) this.log.error({ err }, `access log: cannot write to ${opts.output}`);
      this.failed = true;
    });
  }

  /** Records one connection (hot path: no I/O here, one string built). */
  record(r: AccessRecord): void {
    if (this.closed) return;
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.inWindow = 0;
      if (this.dropped > 0) {
        this.push(this.droppedLine(t, this.dropped));
        this.dropped = 0;
      }
    }
    if ((this.rateLimit > 0 && this.inWindow >= this.rateLimit) || this.stream.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      this.droppedTotal++;
      return;
    }
    this.inWindow++;
    this.push(this.format === 'json' ? jsonLine(r) : textLine(r));
  }

  /** Writes what is batched, then closes a file output. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    if (this.dropped > 0) {
      this.stream.write(this.droppedLine(this.now(), this.dropped));
      this.dropped = 0;
    }
    this.closed = true;
    if (this.ownStream) await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  private push(line: string): void {
    this.batch.push(line);
    this.written++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const text = this.batch.join('');
    this.batch = [];
    if (!this.stream.destroyed) this.stream.write(text);
  }

  private droppedLine(t: number, n: number): string {
    const time = new Date(t).toISOString();
    return this.format === 'json'
      ? `{"time":"${time}","dropped":${n},"rate_limit":${this.rateLimit}}\n`
      : `${time} access_log dropped=${n} rate_limit=${this.rateLimit}/s\n`;
  }
}

/** One JSON object per line. */
export function jsonLine(r: AccessRecord): string {
  return `{"time":"${new Date(r.start).toISOString()}","server":${JSON.stringify(r.server)},"client":${JSON.stringify(r.client)},` +
    `"backend":${JSON.stringify(r.backend)},"rx":${r.rx},"tx":${r.tx},"duration_ms":${r.durationMs},"end":"${r.end}","retries":${r.retries}}\n`;
}

/** `time server client -> backend rx=N tx=N duration=Nms end=E retries=N`. */
export function textLine(r: AccessRecord): string {
  return `${new Date(r.start).toISOString()} ${word(r.server)} ${word(r.client)} -> ${r.backend === '' ? '-' : word(r.backend)} ` +
    `rx=${r.rx} tx=${r.tx} duration=${r.durationMs}ms end=${r.end} retries=${r.retries}\n`;
}

/** The text as is when it is printable ASCII without spaces, JSON-quoted otherwise. */
function word(s: string): string {
  return /^[\x21-\x7e]+$/.test(s) ? s : JSON.stringify(s);
}
