/**
 * TLS towards the backends (`[servers.X.backends_tls]`, data-plane §4), built when the server is
 * created (file errors then fail the creation, naming the key):
 *
 * - `ignore_verify`: no certificate or name check;
 * - `root_ca_cert_path`: the trusted roots (fix D9: a file with no certificate is an error, where
 *   GoBetween silently fell back to its defaults); default: the system store, as Go uses;
 * - `cert_path`/`key_path`: the client certificate;
 * - versions and ciphers as for termination; `session_tickets`: tickets offered, and (new) the
 *   session of each backend is kept and resumed on the next connection to it;
 * - verification against the backend's host (name or IP, as GoBetween); the SNI sent (fix) is
 *   the backend's `sni` tag when it has one, else its host name when that is not an IP literal.
 *
 * `connectOptions` turns a connected socket into a TLS client session: the PROXY header (if any)
 * has already been written on the plain socket (fix D10: PROXY before TLS, as backends expect).
 */
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import type * as tls from 'node:tls';
import { nodeTls } from '../../core/builtin.js';
import type { BackendsTlsPlan } from '../../core/plan.js';
import type { SnapshotBackend as Backend } from '../../core/snapshot.js';
import { ConfigError, errorMessage } from '../../core/errors.js';
import { cipherPlan, noTicket, tlsVersion } from './ciphers.js';

const MAX_SESSIONS = 1024;

let systemRoots: string[] | undefined | null = null;

/** The system trust store (Go's default), or undefined to use Node's bundled roots. */
export function systemCaCertificates(): string[] | undefined {
  if (systemRoots !== null) return systemRoots;
  const get = (nodeTls() as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (typeof get === 'function') {
    systemRoots = get('system');
  } else {
    systemRoots = undefined;
    for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem']) {
      try {
        systemRoots = [readFileSync(f, 'latin1')];
        break;
      } catch {
        // next candidate
      }
    }
  }
  if (systemRoots !== undefined && systemRoots.length === 0) systemRoots = undefined;
  return systemRoots;
}

function countCerts(pem: string): number {
  return (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}

function read(path: string, key: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    throw new ConfigError(key, errorMessage(err), { cause: err });
  }
}

export interface BackendTlsEvents {
  onDroppedCiphers?(names: readonly string[]): void;
}

export class BackendTls {
  private readonly context: tls.SecureContext;
  private readonly verify: boolean;
  private readonly resume: boolean;
  private readonly sessions = new Map<string, Buffer>();

  constructor(readonly wire: BackendsTlsPlan, path: string, events: BackendTlsEvents = {}) {
    let minVersion = tlsVersion(wire.min_version);
    const maxVersion = tlsVersion(wire.max_version);
    const plan = cipherPlan(wire.ciphers, minVersion === 'TLSv1' || minVersion === 'TLSv1.1');
    if (plan.dropped.length > 0) events.onDroppedCiphers?.(plan.dropped);
    if (plan.tls13Only && (maxVersion === undefined || maxVersion === 'TLSv1.3')) minVersion = 'TLSv1.3';
    const opts: tls.SecureContextOptions = {};
    if (minVersion !== undefined) opts.minVersion = minVersion;
    if (maxVersion !== undefined) opts.maxVersion = maxVersion;
    if (plan.ciphers !== undefined) opts.ciphers = plan.ciphers;
    if (!wire.session_tickets) opts.secureOptions = noTicket();
    const caPath = wire.root_ca_cert_path ?? '';
    if (caPath !== '') {
      const pem = read(caPath, `${path}.root_ca_cert_path`);
      if (countCerts(pem) === 0) throw new ConfigError(`${path}.root_ca_cert_path`, `no certificate found in ${caPath}`);
      opts.ca = pem;
    } else {
      const roots = systemCaCertificates();
      if (roots !== undefined) opts.ca = roots;
    }
    const certPath = wire.cert_path ?? '';
    const keyPath = wire.key_path ?? '';
    if (certPath !== '' && keyPath !== '') {
      opts.cert = read(certPath, `${path}.cert_path`);
      opts.key = read(keyPath, `${path}.key_path`);
    }
    try {
      this.context = nodeTls().createSecureContext(opts);
    } catch (err) {
      throw new ConfigError(path, errorMessage(err), { cause: err });
    }
    this.verify = !wire.ignore_verify;
    this.resume = wire.session_tickets;
  }

  /** The name sent as SNI: the backend's `sni` tag, else its host unless it is an IP literal. */
  static serverName(backend: Backend): string | undefined {
    if (backend.sni !== '') return backend.sni;
    return isIP(backend.dialHost) === 0 && backend.dialHost !== '' ? backend.dialHost : undefined;
  }

  /** Options for `tls.connect({ socket, ...options })` to `backend`. */
  connectOptions(backend: Backend): tls.ConnectionOptions {
    const o: tls.ConnectionOptions = { secureContext: this.context, rejectUnauthorized: this.verify };
    const name = BackendTls.serverName(backend);
    if (name !== undefined) o.servername = name;
    const host = backend.dialHost;
    // Verify against the backend's host (GoBetween), whatever name was sent as SNI.
    o.checkServerIdentity = this.verify ? (_name, cert) => nodeTls().checkServerIdentity(host, cert) : () => undefined;
    if (this.resume) {
      const s = this.sessions.get(backend.key);
      if (s !== undefined) o.session = s;
    }
    return o;
  }

  /** Wraps a connected plain socket (PROXY header already written) into a TLS client session. */
  connect(socket: Socket, backend: Backend, extra: tls.ConnectionOptions = {}): tls.TLSSocket {
    const t = nodeTls().connect({ ...this.connectOptions(backend), ...extra, socket });
    if (this.resume) {
      t.on('session', (session: Buffer) => {
        if (this.sessions.size >= MAX_SESSIONS && !this.sessions.has(backend.key)) this.sessions.clear();
        this.sessions.set(backend.key, session);
      });
    }
    return t;
  }
}
