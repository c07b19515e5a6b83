/**
 * `http` (tsbetween-only): one HTTP/1.1 request to the backend per check.
 *
 * Keys (all optional):
 * - `http_path` (default `/`): the request target; must start with `/`.
 * - `http_method` (default `GET`): `GET` or `HEAD`.
 * - `http_host` (default: the backend's `host:port`): the Host header (and the TLS server name when
 *   it is not an IP address).
 * - `http_expected_status` (default `200-399`): codes and ranges, comma-separated (`"200,204"`,
 *   `"200-299,302"`, `"2xx"`), or a TOML/JSON array of them.
 * - `http_expected_body`: a Go RE2 pattern that must match (unanchored) the first 64 KiB of the
 *   body, decoded as UTF-8. Not allowed with `HEAD`.
 *
 * Over TLS (`https`) when the server has a `backends_tls` section, verified with it exactly like
 * the TLS probe (`ignore_verify`, `root_ca_cert_path`, client cert/key, min/max version).
 * No connection reuse: one connection per check, closed at once. One deadline for the whole
 * check (the scheduler's timeout). Not allowed on `udp` servers.
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { nodeHttp, nodeHttps } from '../core/builtin.js';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, errorMessage } from '../core/errors.js';
import { compileGoRegexp } from '../config/go-regexp.js';
import type { CheckResult, CheckTarget, HealthcheckKind } from './types.js';
import { tlsOptions } from './probe.js';
import { key, keyGroup } from '../core/keys.js';
import { abortReason, socketError } from './util.js';

/** Body bytes read for `http_expected_body`; the rest is not read. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpSettings {
  readonly path: string;
  readonly method: 'GET' | 'HEAD';
  /** '' = the backend's host:port. */
  readonly host: string;
  /** Inclusive ranges of accepted status codes. */
  readonly status: readonly (readonly [number, number])[];
  readonly body: RegExp | null;
  /** TLS client options when the server has `backends_tls`; null = plain HTTP. */
  readonly tls: Readonly<ConnectionOptions> | null;
}

/**
 * Parses `200`, `200-299`, `2xx`, comma/space separated, into inclusive ranges.
 * Throws an Error with a short message for anything else.
 */
export function parseStatusRanges(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const raw of text.split(/[\s,]+/)) {
    if (raw === '') continue;
    let m: RegExpExecArray | null;
    let range: [number, number];
    if ((m = /^([1-5])xx$/i.exec(raw)) !== null) {
      const d = Number(m[1]);
      range = [d * 100, d * 100 + 99];
    } else if ((m = /^(\d{3})(?:-(\d{3}))?$/.exec(raw)) !== null) {
      range = [Number(m[1]), Number(m[2] ?? m[1])];
    } else {
      throw new Error(`invalid status ${JSON.stringify(raw.slice(0, 32))} (want 200, 200-299 or 2xx)`);
    }
    if (range[0] < 100 || range[1] > 599 || range[0] > range[1]) {
      throw new Error(`invalid status range ${raw} (codes are 100-599, low first)`);
    }
    out.push(range);
  }
  if (out.length === 0) throw new Error('no status code given');
  return out;
}

function statusOk(ranges: HttpSettings['status'], code: number): boolean {
  for (const [lo, hi] of ranges) if (code >= lo && code <= hi) return true;
  return false;
}

export const httpKind: HealthcheckKind<HttpSettings> = {
  kind: 'http',
  tcpOnly: true,
  schema: keyGroup({
    http_path: key.string('Request path (tsbetween only).', { effectiveDefault: '/' }),
    http_method: key.string('GET or HEAD (tsbetween only).', { effectiveDefault: 'GET' }),
    http_host: key.string('Host header (tsbetween only; default: the backend host).'),
    http_expected_status: key.string('Healthy status codes: a comma-separated list of codes, ranges (200-299) or classes (2xx) (tsbetween only).', { effectiveDefault: '200-399' }),
    http_expected_body: key.string('Regular expression (RE2) the first 64 KiB of the body must match (tsbetween only).'),
  }),

  parse(wire, path, ctx) {
    if (ctx.protocol === 'udp') {
      throw new ConfigError(`${path}.kind`, 'Cant use http healthcheck with udp server');
    }
    const g = wire.http;
    const p = g?.http_path ?? '';
    const hcPath = p === '' ? '/' : p;
    // eslint-disable-next-line no-control-regex
    if (!hcPath.startsWith('/') || /[\s\x00-\x1f\x7f]/.test(hcPath)) {
      throw new ConfigError(`${path}.http_path`, 'http_path must start with / and contain no spaces or control characters');
    }
    const m = (g?.http_method ?? '').toUpperCase();
    const method = m === '' ? 'GET' : m;
    if (method !== 'GET' && method !== 'HEAD') {
      throw new ConfigError(`${path}.http_method`, `Unsupported http_method ${method.slice(0, 32)} (GET or HEAD)`);
    }
    const host = g?.http_host ?? '';
    // eslint-disable-next-line no-control-regex
    if (/[\s\x00-\x1f\x7f]/.test(host)) throw new ConfigError(`${path}.http_host`, 'http_host must contain no spaces or control characters');
    let status: [number, number][];
    try {
      status = parseStatusRanges(g === undefined || g.http_expected_status === '' ? '200-399' : g.http_expected_status);
    } catch (err) {
      throw new ConfigError(`${path}.http_expected_status`, errorMessage(err));
    }
    let body: RegExp | null = null;
    const bodyPattern = g?.http_expected_body ?? '';
    if (bodyPattern !== '') {
      if (method === 'HEAD') throw new ConfigError(`${path}.http_expected_body`, 'http_expected_body needs http_method GET');
      try {
        body = compileGoRegexp(bodyPattern);
      } catch (err) {
        throw new ConfigError(`${path}.http_expected_body`, `http_expected_body has invalid syntax ${errorMessage(err)}`);
      }
    }
    return Object.freeze({
      path: hcPath,
      method,
      host,
      status: Object.freeze(status.map((r) => Object.freeze(r))),
      body,
      tls: ctx.backendsTls === null ? null : Object.freeze(tlsOptions(ctx.backendsTls, path)),
    });
  },

  check(settings, target, signal) {
    if (signal.aborted) return Promise.resolve({ status: 'unhealthy', reason: abortReason(signal) });
    return checkHttp(settings, target, signal);
  },
};

function hostHeader(settings: HttpSettings, target: CheckTarget): string {
  if (settings.host !== '') return settings.host;
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

function checkHttp(settings: HttpSettings, target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    const host = hostHeader(settings, target);
    const options: RequestOptions & ConnectionOptions = {
      host: target.host,
      port: target.port,
      method: settings.method,
      path: settings.path,
      agent: false,
      headers: { Host: host, 'User-Agent': 'tsbetween-healthcheck', Connection: 'close', Accept: '*/*' },
    };
    let req: ClientRequest;
    if (settings.tls !== null) {
      Object.assign(options, settings.tls);
      const name = settings.host !== '' ? settings.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') : target.host;
      if (isIP(name) === 0) options.servername = name;
      req = nodeHttps().request(options);
    } else {
      req = nodeHttp().request(options);
    }
    let step = 'connect';
    let finished = false;
    let res: IncomingMessage | undefined;
    const finish = (result: CheckResult): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      // Our listeners stay attached (finish is idempotent): late errors remain handled.
      res?.destroy();
      req.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ status: 'unhealthy', reason: `${step} ${abortReason(signal)}` });
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (s) => {
      s.once(settings.tls !== null ? 'secureConnect' : 'connect', () => {
        if (step === 'connect') step = 'response';
      });
    });
    req.on('error', (err) => finish({ status: 'unhealthy', reason: socketError(step, err) }));
    req.on('response', (r) => {
      res = r;
      const code = r.statusCode ?? 0;
      r.on('error', (err) => finish({ status: 'unhealthy', reason: socketError('body', err) }));
      if (!statusOk(settings.status, code)) {
        finish({ status: 'unhealthy', reason: `HTTP ${code}` });
        return;
      }
      const pattern = settings.body;
      if (pattern === null) {
        finish({ status: 'healthy', reason: `HTTP ${code}` });
        return;
      }
      step = 'body';
      const chunks: Buffer[] = [];
      let size = 0;
      const judge = (): void => {
        const text = Buffer.concat(chunks, size).toString('utf8');
        finish(
          pattern.test(text)
            ? { status: 'healthy', reason: `HTTP ${code}, body matched` }
            : { status: 'unhealthy', reason: `HTTP ${code}, body did not match` },
        );
      };
      r.on('data', (chunk: Buffer) => {
        if (finished) return;
        const take = Math.min(chunk.length, MAX_BODY_BYTES - size);
        chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
        size += take;
        if (size >= MAX_BODY_BYTES) judge();
      });
      r.on('end', judge);
      r.on('close', () => {
        if (!r.complete) finish({ status: 'unhealthy', reason: `body connection closed after ${size} bytes` });
      });
    });
    req.end();
  });
}
