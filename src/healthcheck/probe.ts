/**
 * `probe` (data-plane §12.4): connect over `probe_protocol` (tcp | udp | tls), write
 * `probe_send`, read a fixed number of bytes and compare them.
 *
 * - `probe_send` (always) and `probe_recv` (for `starts_with`) use Go string escapes, decoded to
 *   raw bytes with `unescapeGo` (`\xFF` is one byte).
 * - `starts_with`: read exactly len(probe_recv) bytes; they must equal probe_recv.
 * - `regexp`: read exactly `probe_recv_len` bytes; `probe_recv` (a Go RE2 pattern, translated by
 *   config/go-regexp.ts) must match somewhere in them, the bytes decoded as UTF-8 as RE2 does.
 * - Bytes are collected whatever the fragmentation; over UDP each datagram contributes at most
 *   the missing number of bytes (Go's ReadFull on a datagram socket truncates the rest).
 *   Fewer bytes before EOF, an error or the deadline → unhealthy. Extra bytes are ignored.
 * - One deadline for the whole check (connect + write + read) — the scheduler's timeout, which is
 *   never infinite (D25: GoBetween's `timeout = 0` let a silent backend hang a check forever).
 * - TLS: GoBetween verifies the backend certificate with the system roots against the backend
 *   host, so self-signed backends always fail. Fix (D26): the probe uses the server's
 *   `backends_tls` section when there is one — `ignore_verify`, `root_ca_cert_path`, client
 *   `cert_path`/`key_path`, `min_version`/`max_version` — and the system roots otherwise. SNI is
 *   the backend host when it is a name (never an IP address).
 * - A negative `probe_recv_len` (which crashes GoBetween at check time) is a config error with
 *   `regexp` (`probe_recv_len required`) and ignored with `starts_with`, as config/prepare.ts does.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import type { ConnectionOptions, SecureVersion } from 'node:tls';
import { nodeDgram, nodeDnsPromises, nodeTls } from '../core/builtin.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { BackendsTlsWire } from '../config/types.js';
import { unescapeGo } from '../config/go-string.js';
import { compileGoRegexp } from '../config/go-regexp.js';
import type { CheckResult, CheckTarget, Fail, HealthcheckKind } from './types.js';
import type { HealthcheckWire } from '../config/types.js';
import { goStringError } from '../config/go-string.js';
import { key, keyGroup } from '../core/keys.js';
import { abortReason, socketError } from './util.js';

export interface ProbeSettings {
  readonly protocol: 'tcp' | 'udp' | 'tls';
  readonly send: Buffer;
  /** Bytes to read. */
  readonly readLen: number;
  /** `starts_with`: the expected bytes; `regexp`: null. */
  readonly expect: Buffer | null;
  /** `regexp`: the compiled pattern; `starts_with`: null. */
  readonly regexp: RegExp | null;
  /** TLS client options (protocol tls only). */
  readonly tls: Readonly<ConnectionOptions> | null;
}

const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = {
  'tls1': 'TLSv1',
  'tls1.0': 'TLSv1',
  'tls1.1': 'TLSv1.1',
  'tls1.2': 'TLSv1.2',
  'tls1.3': 'TLSv1.3',
};

function readPem(file: string, keyPath: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const text = code === 'ENOENT' ? 'no such file or directory' : errorMessage(err);
    throw new ConfigError(keyPath, `open ${file}: ${text}`);
  }
}

/** TLS client options from a server's `backends_tls` section (shared with the http kind). */
export function tlsOptions(bt: BackendsTlsWire | null, path: string): ConnectionOptions {
  if (bt === null) return {};
  const btPath = path.replace(/\.healthcheck$/, '.backends_tls');
  const opts: ConnectionOptions = { rejectUnauthorized: !bt.ignore_verify };
  if (bt.root_ca_cert_path !== null && bt.root_ca_cert_path !== '') {
    opts.ca = readPem(bt.root_ca_cert_path, `${btPath}.root_ca_cert_path`);
  }
  if (bt.cert_path !== null && bt.cert_path !== '' && bt.key_path !== null && bt.key_path !== '') {
    opts.cert = readPem(bt.cert_path, `${btPath}.cert_path`);
    opts.key = readPem(bt.key_path, `${btPath}.key_path`);
  }
  const min = TLS_VERSIONS[bt.min_version];
  if (min !== undefined) opts.minVersion = min;
  const max = TLS_VERSIONS[bt.max_version];
  if (max !== undefined) opts.maxVersion = max;
  return opts;
}

export const probeKind: HealthcheckKind<ProbeSettings> = {
  kind: 'probe',
  schema: keyGroup({
    probe_protocol: key.string('`tcp`, `udp` or `tls` (the TLS probe uses the server\'s `backends_tls`).'),
    probe_strategy: key.string('`starts_with` or `regexp`.', { effectiveDefault: 'starts_with' }),
    probe_send: key.string('Bytes to send, with Go string escapes (`\\n`, `\\x00`).'),
    probe_recv: key.string('Expected reply: a prefix (starts_with) or a Go regexp (regexp).'),
    probe_recv_len: key.int('Bytes to read before matching (regexp strategy only).'),
  }),
  prepare(wire: HealthcheckWire, fail: Fail): void {
    // control-plane §2.11 step 8, in GoBetween's order
    const probe = wire.probe;
    if (probe === undefined) return fail('', 'probe healthcheck requires probe_protocol, probe_send and probe_recv');
    if (!['tcp', 'udp', 'tls'].includes(probe.probe_protocol)) fail('probe_protocol', 'Unsupported probe_protocol');
    if (probe.probe_send === '' || probe.probe_recv === '') {
      fail(probe.probe_send === '' ? 'probe_send' : 'probe_recv', 'probe healthcheck should have both probe_send and probe_recv specified');
    }
    if (probe.probe_strategy === '') probe.probe_strategy = 'starts_with';
    const sendErr = goStringError(probe.probe_send);
    if (sendErr !== undefined) fail('probe_send', `probe_send has invalid syntax ${sendErr}`);
    if (probe.probe_strategy === 'starts_with') {
      if (probe.probe_recv_len > 0) fail('probe_recv_len', "probe_recv_len is redundant for 'starts_with' strategy");
      const recvErr = goStringError(probe.probe_recv);
      if (recvErr !== undefined) fail('probe_recv', `probe_recv has invalid syntax ${recvErr}`);
    } else if (probe.probe_strategy === 'regexp') {
      if (probe.probe_recv_len <= 0) fail('probe_recv_len', 'probe_recv_len required');
      try {
        compileGoRegexp(probe.probe_recv);
      } catch (err) {
        fail('probe_recv', `probe_recv has invalid syntax ${err instanceof Error ? err.message : String(err)}`);
      }
    } else {
      fail('probe_strategy', `Unsupported probe_strategy ${probe.probe_strategy}`);
    }
  },

  parse(wire, path, ctx) {
    const g = wire.probe;
    if (g === undefined) {
      throw new ConfigError(path, 'probe healthcheck requires probe_protocol, probe_send and probe_recv');
    }
    const protocol = g.probe_protocol;
    if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'tls') {
      throw new ConfigError(`${path}.probe_protocol`, 'Unsupported probe_protocol');
    }
    if (g.probe_send === '' || g.probe_recv === '') {
      throw new ConfigError(
        `${path}.${g.probe_send === '' ? 'probe_send' : 'probe_recv'}`,
        'probe healthcheck should have both probe_send and probe_recv specified',
      );
    }
    const strategy = g.probe_strategy === '' ? 'starts_with' : g.probe_strategy;
    if (strategy !== 'starts_with' && strategy !== 'regexp') {
      throw new ConfigError(`${path}.probe_strategy`, `Unsupported probe_strategy ${strategy}`);
    }
    let send: Buffer;
    try {
      send = unescapeGo(g.probe_send);
    } catch (err) {
      throw new ConfigError(`${path}.probe_send`, `probe_send has invalid syntax ${errorMessage(err)}`);
    }
    let readLen: number;
    let expect: Buffer | null = null;
    let regexp: RegExp | null = null;
    if (strategy === 'starts_with') {
      if (g.probe_recv_len > 0) {
        throw new ConfigError(`${path}.probe_recv_len`, "probe_recv_len is redundant for 'starts_with' strategy");
      }
      try {
        expect = unescapeGo(g.probe_recv);
      } catch (err) {
        throw new ConfigError(`${path}.probe_recv`, `probe_recv has invalid syntax ${errorMessage(err)}`);
      }
      readLen = expect.length;
    } else {
      // A negative length crashes GoBetween at check time (D25); here it is "required" too.
      if (g.probe_recv_len <= 0 || !Number.isInteger(g.probe_recv_len)) {
        throw new ConfigError(`${path}.probe_recv_len`, 'probe_recv_len required');
      }
      try {
        regexp = compileGoRegexp(g.probe_recv);
      } catch (err) {
        throw new ConfigError(`${path}.probe_recv`, `probe_recv has invalid syntax ${errorMessage(err)}`);
      }
      readLen = g.probe_recv_len;
    }
    return Object.freeze({
      protocol,
      send,
      readLen,
      expect,
      regexp,
      tls: protocol === 'tls' ? Object.freeze(tlsOptions(ctx.backendsTls, path)) : null,
    });
  },

  check(settings, target, signal) {
    if (signal.aborted) return Promise.resolve({ status: 'unhealthy', reason: abortReason(signal) });
    return settings.protocol === 'udp' ? checkUdp(settings, target, signal) : checkStream(settings, target, signal);
  },
};

function quote(buf: Buffer): string {
  const text = JSON.stringify(buf.subarray(0, 64).toString('latin1'));
  return buf.length > 64 ? `${text}...` : text;
}

/** Compares the bytes read with the expectation. */
function judge(settings: ProbeSettings, got: Buffer): CheckResult {
  const ok = settings.expect !== null
    ? got.equals(settings.expect)
    : settings.regexp !== null && settings.regexp.test(got.toString('utf8'));
  return ok
    ? { status: 'healthy', reason: 'probe response matched' }
    : { status: 'unhealthy', reason: `probe response ${quote(got)} did not match` };
}

/** Collects bytes until `need` have arrived. */
class Collector {
  private readonly chunks: Buffer[] = [];
  size = 0;
  constructor(readonly need: number) {}
  /** Adds at most the missing bytes; returns true when complete. */
  add(chunk: Buffer): boolean {
    const take = Math.min(chunk.length, this.need - this.size);
    if (take > 0) {
      this.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.size += take;
    }
    return this.size >= this.need;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

function checkStream(settings: ProbeSettings, target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    const got = new Collector(settings.readLen);
    let socket: Socket;
    const ready = settings.protocol === 'tls' ? 'secureConnect' : 'connect';
    if (settings.protocol === 'tls') {
      const opts: ConnectionOptions = { ...settings.tls, host: target.host, port: target.port };
      if (isIP(target.host) === 0) opts.servername = target.host;
      socket = nodeTls().connect(opts);
    } else {
      socket = tcpConnect({ host: target.host, port: target.port });
    }
    let step = 'connect';
    let finished = false;
    const finish = (result: CheckResult): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      // Our listeners stay attached (finish is idempotent): late errors remain handled.
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => {
      const progress = step === 'read' ? ` (${got.size} of ${got.need} bytes read)` : '';
      finish({ status: 'unhealthy', reason: `${step} ${abortReason(signal)}${progress}` });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(ready, () => {
      step = 'write';
      socket.write(settings.send, (err) => {
        if (err !== undefined && err !== null) return;
        if (step === 'write') step = 'read';
        if (got.need === 0) finish(judge(settings, got.bytes()));
      });
    });
    socket.on('data', (chunk: Buffer) => {
      if (!finished && got.add(chunk)) finish(judge(settings, got.bytes()));
    });
    socket.on('end', () => finish({ status: 'unhealthy', reason: `read EOF after ${got.size} of ${got.need} bytes` }));
    socket.on('error', (err) => finish({ status: 'unhealthy', reason: socketError(step, err) }));
    socket.on('close', () => finish({ status: 'unhealthy', reason: `${step} connection closed after ${got.size} of ${got.need} bytes` }));
  });
}

async function checkUdp(settings: ProbeSettings, target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
  let address = target.host;
  let family = isIP(address);
  if (family === 0) {
    try {
      const r = await nodeDnsPromises().lookup(address);
      address = r.address;
      family = r.family;
    } catch (err) {
      return { status: 'unhealthy', reason: socketError('lookup', err) };
    }
    if (signal.aborted) return { status: 'unhealthy', reason: abortReason(signal) };
  }
  return new Promise((resolve) => {
    const socket: UdpSocket = nodeDgram().createSocket(family === 6 ? 'udp6' : 'udp4');
    const got = new Collector(settings.readLen);
    let step = 'connect';
    let finished = false;
    const finish = (result: CheckResult): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      // Our listeners stay attached (finish is idempotent): late errors remain handled.
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(result);
    };
    const onAbort = (): void => {
      const progress = step === 'read' ? ` (${got.size} of ${got.need} bytes read)` : '';
      finish({ status: 'unhealthy', reason: `${step} ${abortReason(signal)}${progress}` });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish({ status: 'unhealthy', reason: socketError(step, err) }));
    socket.on('message', (msg: Buffer) => {
      if (!finished && got.add(msg)) finish(judge(settings, got.bytes()));
    });
    socket.connect(target.port, address, () => {
      if (finished) return;
      step = 'write';
      socket.send(settings.send, (err) => {
        if (err !== null && err !== undefined) {
          finish({ status: 'unhealthy', reason: socketError('write', err) });
          return;
        }
        if (step === 'write') step = 'read';
        if (got.need === 0) finish(judge(settings, got.bytes()));
      });
    });
  });
}
