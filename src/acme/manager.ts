/**
 * The ACME certificate service (control-plane §7.1, RFC 8555): created once from `[acme]`, it
 * owns the host allow-list (the union of every server's `tls.acme_hosts`), the certificate
 * cache, the orders and the renewals. TLS listeners consume it through `sniCallback()` and,
 * for tls-alpn-01, `alpnChallengeContext()`; the HTTP-01 listener through `httpToken()`.
 *
 * - A certificate is obtained on the first handshake for an allowed name; concurrent handshakes
 *   for one host share one order. The cache file is tried first (no order after a restart).
 * - Renewal runs in the background (a timer per host) once a certificate is in its last third of
 *   validity (at most 30 days before expiry); the old certificate keeps serving meanwhile.
 * - A failed order backs off (1 min doubling to 1 h by default) and is logged once per attempt;
 *   handshakes in the back-off window fail fast.
 * - The ACME protocol (JWS, nonces, orders, CSR, challenge key authorizations) is `acme-client`'s.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext, type SecureContextOptions } from 'node:tls';
import * as acme from 'acme-client';
import type { CertificateSource, SniCallback } from '../core/cert-source.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ACCOUNT_KEY_FILE, CertCache, isValidAcmeHost, splitKeyAndChain } from './cache.js';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

export type AcmeChallenge = 'http' | 'tls-alpn';

export interface AcmeSettings {
  /** `http` (HTTP-01 on `http_bind`) or `tls-alpn` (TLS-ALPN-01 on the TLS listeners); other values obtain nothing. */
  readonly challenge: string;
  readonly http_bind: string;
  readonly cache_dir: string;
  /** Default: Let's Encrypt production. */
  readonly directory_url?: string | undefined;
  readonly email?: string | undefined;
  /** PEM bundle trusted (besides the system roots) for the directory connection. */
  readonly root_ca_cert_path?: string | undefined;
}

export interface AcmeManagerOptions {
  readonly settings: AcmeSettings;
  readonly log: Logger;
  /** Wall-clock milliseconds (certificate validity is wall-clock). Default `Date.now`. */
  readonly now?: () => number;
  /** Longest sleep between two renewal checks of a host. Default 12 h. */
  readonly renewCheckMs?: number;
  /** Back-off after a failed order: first delay and cap. Default 60 s and 1 h. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** acme-client's polling back-off (challenge/order status). Default 1 s and 10 s. */
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
  /** PEM text trusted for the directory connection, instead of reading `root_ca_cert_path`. */
  readonly caPem?: string;
}


export interface Issued {
  readonly key: string;
  readonly chain: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Contexts built for this certificate, per listener option set. */
  readonly contexts: WeakMap<object, SecureContext>;
}

interface HostState {
  cert: Issued | undefined;
  inflight: Promise<Issued> | undefined;
  failures: number;
  retryAt: number;
  lastError: string;
  timer: NodeJS.Timeout | undefined;
}

const NO_OPTIONS: SecureContextOptions = {};
const MAX_TIMER_MS = 2 ** 31 - 1;
const DAY_MS = 86_400_000;

/** When a certificate valid from `notBefore` to `notAfter` is renewed. */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notAfter - Math.min(30 * DAY_MS, Math.max(0, notAfter - notBefore) / 3);
}

/** Host names compare case-insensitively, without a trailing dot. */
export function normaliseHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export class AcmeManager implements CertificateSource {
  readonly challenge: string;
  readonly answersOnTls: boolean;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly cache: CertCache;
  private readonly directoryUrl: string;
  /** host -> the server that configured it */
  private readonly owners = new Map<string, string>();
  private readonly hosts = new Map<string, HostState>();
  private readonly httpTokens = new Map<string, string>();
  private readonly alpnContexts = new Map<string, SecureContext>();
  private client: Promise<acme.Client> | undefined;
  private interceptor: number | undefined;
  private closed = false;
  private readonly opts: Required<Pick<AcmeManagerOptions, 'renewCheckMs' | 'retryMinMs' | 'retryMaxMs' | 'pollMinMs' | 'pollMaxMs'>>;
  /** Incremented per order; tests read it to prove that a cache hit made no order. */
  orders = 0;

  constructor(private readonly options: AcmeManagerOptions) {
    const s = options.settings;
    this.challenge = s.challenge;
    this.answersOnTls = s.challenge === 'tls-alpn';
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.cache = new CertCache(s.cache_dir);
    this.directoryUrl = s.directory_url !== undefined && s.directory_url !== '' ? s.directory_url : LETS_ENCRYPT_DIRECTORY;
    this.opts = {
      renewCheckMs: options.renewCheckMs ?? 12 * 3_600_000,
      retryMinMs: options.retryMinMs ?? 60_000,
      retryMaxMs: options.retryMaxMs ?? 3_600_000,
      pollMinMs: options.pollMinMs ?? 1000,
      pollMaxMs: options.pollMaxMs ?? 10_000,
    };
    let ca = options.caPem;
    if (ca === undefined && s.root_ca_cert_path !== undefined && s.root_ca_cert_path !== '') {
      try {
        ca = readFileSync(s.root_ca_cert_path, 'utf8');
      } catch (err) {
        throw new ConfigError('acme.root_ca_cert_path', errorMessage(err));
      }
    }
    if (ca !== undefined) this.trustForDirectory(ca);
    if (s.challenge !== 'http' && s.challenge !== 'tls-alpn') {
      this.log.warn(`challenge ${JSON.stringify(s.challenge)} is not supported (use "http" or "tls-alpn"): no certificates will be obtained`);
    }
  }

  /**
   * Adds `server`'s hosts to the allow-list. A host configured by another server is an error
   * (`Acme host <h> is already configured`) and nothing is added.
   */
  claim(server: string, hosts: readonly string[]): void {
    const names = hosts.map(normaliseHost);
    for (const h of names) {
      const owner = this.owners.get(h);
      if (owner !== undefined && owner !== server) throw new ConfigError(`servers.${server}.tls.acme_hosts`, `Acme host ${h} is already configured`);
      if (!isValidAcmeHost(h)) throw new ConfigError(`servers.${server}.tls.acme_hosts`, `Acme host ${JSON.stringify(h)} is not a valid host name`);
    }
    for (const h of names) this.owners.set(h, server);
  }

  /** Removes `server`'s hosts from the allow-list (on DELETE); their renewals stop. */
  release(server: string): void {
    for (const [h, owner] of this.owners) {
      if (owner !== server) continue;
      this.owners.delete(h);
      const st = this.hosts.get(h);
      if (st !== undefined) {
        clearTimeout(st.timer);
        this.hosts.delete(h);
      }
    }
  }

  isAllowed(host: string): boolean {
    return this.owners.has(normaliseHost(host));
  }

  /** The key authorization for an HTTP-01 token being validated, if any. */
  httpToken(token: string): string | undefined {
    return this.httpTokens.get(token);
  }

  /** The tls-alpn-01 challenge context for `servername` while its validation runs. */
  alpnChallengeContext(servername: string): SecureContext | undefined {
    return this.alpnContexts.get(normaliseHost(servername));
  }

  /**
   * An `SNICallback` for a TLS listener. `contextOptions` (the server's ciphers, versions, …) are
   * merged into every context it returns, and `onContext` (e.g. setting ticket keys) runs once per
   * new context; one callback per listener, contexts cached per certificate.
   */
  sniCallback(contextOptions: SecureContextOptions = NO_OPTIONS, onContext?: (ctx: SecureContext) => void): SniCallback {
    return (servername, cb) => {
      this.certificate(servername).then(
        (cert) => {
          let ctx = cert.contexts.get(contextOptions);
          if (ctx === undefined) {
            ctx = createSecureContext({ ...contextOptions, key: cert.key, cert: cert.chain });
            onContext?.(ctx);
            cert.contexts.set(contextOptions, ctx);
          }
          cb(null, ctx);
        },
        (err: unknown) => {
          this.log.debug(`handshake for ${JSON.stringify(servername.slice(0, 255))} refused: ${errorMessage(err)}`);
          cb(err instanceof Error ? err : new Error(errorMessage(err)));
        },
      );
    };
  }

  /** The current certificate for `servername`, obtaining it first if needed. */
  async certificate(servername: string): Promise<Issued> {
    const host = normaliseHost(servername);
    if (host === '') throw new Error('Acme: missing server name');
    if (!this.owners.has(host)) throw new Error(`Acme: host ${host.slice(0, 255)} is not configured`);
    const st = this.state(host);
    if (st.cert !== undefined && this.now() < st.cert.notAfter) return st.cert;
    if (st.inflight !== undefined) return st.inflight;
    if (this.now() < st.retryAt) throw new Error(`Acme: no certificate for ${host} (retrying later): ${st.lastError}`);
    return this.obtain(host, st, true);
  }

  /** The certificate in use for `host` now (no order), if any. */
  current(host: string): Issued | undefined {
    return this.hosts.get(normaliseHost(host))?.cert;
  }

  /** Stops renewals and the directory trust hook; later handshakes fail. */
  close(): void {
    this.closed = true;
    for (const st of this.hosts.values()) clearTimeout(st.timer);
    this.hosts.clear();
    if (this.interceptor !== undefined) acme.axios.interceptors.request.eject(this.interceptor);
    this.interceptor = undefined;
  }

  private state(host: string): HostState {
    let st = this.hosts.get(host);
    if (st === undefined) {
      st = { cert: undefined, inflight: undefined, failures: 0, retryAt: 0, lastError: '', timer: undefined };
      this.hosts.set(host, st);
    }
    return st;
  }

  /** One order (or cache load) per host at a time; the result is shared by every waiter. */
  private obtain(host: string, st: HostState, tryCache: boolean): Promise<Issued> {
    const run = (async (): Promise<Issued> => {
      const cached = tryCache ? await this.loadCached(host) : undefined;
      if (cached !== undefined && this.now() < cached.notAfter) return cached;
      return this.order(host);
    })();
    st.inflight = run;
    run.then(
      (cert) => {
        if (st.inflight === run) st.inflight = undefined;
        if (this.closed || this.hosts.get(host) !== st) return;
        st.cert = cert;
        st.failures = 0;
        st.retryAt = 0;
        this.schedule(host, st);
      },
      (err: unknown) => {
        if (st.inflight === run) st.inflight = undefined;
        if (this.closed || this.hosts.get(host) !== st) return;
        st.failures++;
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(st.failures - 1, 20));
        st.retryAt = this.now() + delay;
        st.lastError = errorMessage(err).slice(0, 500);
        this.log.error(`certificate for ${host} failed (attempt ${st.failures}, next in ${Math.round(delay / 1000)}s): ${st.lastError}`);
        if (st.cert !== undefined) this.schedule(host, st);
      },
    );
    return run;
  }

  /** Arms the renewal timer: at the renewal time, or the retry time after a failure. */
  private schedule(host: string, st: HostState): void {
    clearTimeout(st.timer);
    const cert = st.cert;
    if (cert === undefined || this.closed) return;
    const due = Math.max(renewalTime(cert.notBefore, cert.notAfter), st.retryAt);
    const wait = Math.min(Math.max(0, due - this.now()), this.opts.renewCheckMs, MAX_TIMER_MS);
    st.timer = setTimeout(() => {
      st.timer = undefined;
      if (this.closed || this.hosts.get(host) !== st || st.inflight !== undefined) return;
      if (this.now() < due) {
        this.schedule(host, st);
        return;
      }
      this.log.info(`renewing certificate for ${host} (expires ${new Date(cert.notAfter).toISOString()})`);
      this.obtain(host, st, false).catch(() => undefined);
    }, wait);
    st.timer.unref();
  }

  private async loadCached(host: string): Promise<Issued | undefined> {
    let text: string | undefined;
    try {
      text = await this.cache.get(host);
    } catch (err) {
      this.log.warn(`cannot read the cached certificate of ${host}: ${errorMessage(err)}`);
      return undefined;
    }
    if (text === undefined) return undefined;
    try {
      const parts = splitKeyAndChain(text);
      if (parts === undefined) throw new Error('no private key or certificate in the file');
      const issued = this.issued(host, parts.key, parts.chain);
      this.log.info(`loaded the cached certificate of ${host} (expires ${new Date(issued.notAfter).toISOString()})`);
      return issued;
    } catch (err) {
      this.log.warn(`ignoring the cached certificate of ${host}: ${errorMessage(err)}`);
      return undefined;
    }
  }

  /** Checks a key and chain for `host` and reads its validity. */
  private issued(host: string, key: string, chain: string): Issued {
    const leaf = new X509Certificate(chain);
    if (leaf.checkHost(host) === undefined) throw new Error(`certificate is not valid for ${host}`);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error('private key does not match the certificate');
    // Throws on a bad key/chain pair before it can reach a handshake.
    createSecureContext({ key, cert: chain });
    return { key, chain, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), contexts: new WeakMap() };
  }

  private async order(host: string): Promise<Issued> {
    const challengeType = this.challenge === 'http' ? 'http-01' : this.challenge === 'tls-alpn' ? 'tls-alpn-01' : undefined;
    if (challengeType === undefined) throw new Error(`challenge ${JSON.stringify(this.challenge)} is not supported`);
    const client = await this.accountClient();
    this.orders++;
    this.log.info(`ordering a certificate for ${host} from ${this.directoryUrl} (${challengeType})`);
    const [keyBuf, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    const authzs = await client.getAuthorizations(order);
    for (const authz of authzs) {
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === challengeType);
      if (challenge === undefined) throw new Error(`the CA offers no ${challengeType} challenge for ${authz.identifier.value}`);
      const keyAuth = await client.getChallengeKeyAuthorization(challenge);
      if (challengeType === 'http-01') {
        this.httpTokens.set(challenge.token, keyAuth);
      } else {
        const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuth);
        this.alpnContexts.set(host, createSecureContext({ key: alpnKey, cert: alpnCert }));
      }
      try {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(authz);
      } finally {
        if (challengeType === 'http-01') this.httpTokens.delete(challenge.token);
        else this.alpnContexts.delete(host);
      }
    }
    const finalized = await client.finalizeOrder(order, csr);
    const chain = await client.getCertificate(finalized);
    const key = keyBuf.toString();
    const issued = this.issued(host, key, chain);
    try {
      await this.cache.put(host, `${key.trimEnd()}\n${chain}`);
    } catch (err) {
      this.log.warn(`cannot cache the certificate of ${host} in ${this.cache.dir}: ${errorMessage(err)}`);
    }
    this.log.info(`obtained a certificate for ${host} (expires ${new Date(issued.notAfter).toISOString()})`);
    return issued;
  }

  /** The ACME client with its account (key from the cache, created once; ToS agreed). */
  private accountClient(): Promise<acme.Client> {
    if (this.client === undefined) {
      const p = (async (): Promise<acme.Client> => {
        let accountKey = await this.cache.get(ACCOUNT_KEY_FILE);
        if (accountKey === undefined) {
          accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
          await this.cache.put(ACCOUNT_KEY_FILE, accountKey);
        }
        const client = new acme.Client({
          directoryUrl: this.directoryUrl,
          accountKey,
          backoffAttempts: 30,
          backoffMin: this.opts.pollMinMs,
          backoffMax: this.opts.pollMaxMs,
        });
        const email = this.options.settings.email;
        await client.createAccount({
          termsOfServiceAgreed: true,
          ...(email !== undefined && email !== '' ? { contact: [`mailto:${email}`] } : {}),
        });
        return client;
      })();
      this.client = p;
      p.catch(() => {
        if (this.client === p) this.client = undefined;
      });
    }
    return this.client;
  }

  /**
   * Trusts `pem` (plus the system roots) for requests to the directory's origin only: an
   * interceptor on acme-client's own HTTP instance, removed on close. Verification stays on.
   */
  private trustForDirectory(pem: string): void {
    const origin = new URL(this.directoryUrl).origin;
    const agent = new Agent({ ca: [...rootCertificates, pem], keepAlive: false });
    this.interceptor = acme.axios.interceptors.request.use((config) => {
      const url = config.url;
      if (url !== undefined && url.startsWith(`${origin}/`)) config.httpsAgent = agent;
      return config;
    });
  }
}
