/**
 * GoBetween's TLS option values (data-plane §3.1, §3.3) in Node/OpenSSL terms: version names and
 * Go cipher-suite constant names mapped to OpenSSL cipher names.
 *
 * As in Go: unknown names are dropped (tsbetween also reports them, so they are logged); TLS 1.3
 * suites are always all enabled (Go does not configure them); a non-empty list in which no name
 * is usable leaves no TLS ≤ 1.2 suite (handshakes below TLS 1.3 then fail). RC4 and 3DES names
 * are accepted but OpenSSL 3 no longer offers them, so they are dropped like unknown names.
 */
import { nodeCrypto } from '../../core/builtin.js';
import { nodeTls } from '../../core/builtin.js';

const GO_TO_OPENSSL: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** Go's TLS 1.3 names: accepted, no effect (Go always enables every TLS 1.3 suite). */
const TLS13 = new Set(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

export type TlsVersionName = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** `tls1` … `tls1.3` → Node's name; anything else (empty, `ssl3`, typos) → library default. */
export function tlsVersion(v: string): TlsVersionName | undefined {
  switch (v) {
    case 'tls1':
      return 'TLSv1';
    case 'tls1.1':
      return 'TLSv1.1';
    case 'tls1.2':
      return 'TLSv1.2';
    case 'tls1.3':
      return 'TLSv1.3';
    default:
      return undefined;
  }
}

export interface CipherPlan {
  /** The `ciphers` option for Node, or undefined for the defaults. */
  readonly ciphers: string | undefined;
  /** Names that were dropped (unknown, or not offered by this OpenSSL). */
  readonly dropped: readonly string[];
  /** The list left no TLS <= 1.2 suite: only TLS 1.3 can be negotiated. */
  readonly tls13Only: boolean;
}

let available: Set<string> | undefined;

/**
 * Builds Node's `ciphers` string from GoBetween's list. `lowVersions` (a min version below
 * TLS 1.2) adds `@SECLEVEL=0`, without which OpenSSL 3 refuses TLS 1.0/1.1 handshakes.
 */
export function cipherPlan(names: readonly string[] | null, lowVersions: boolean): CipherPlan {
  available ??= new Set(nodeTls().getCiphers().map((c) => c.toUpperCase()));
  const seclevel = lowVersions ? ':@SECLEVEL=0' : '';
  if (names === null || names.length === 0) {
    return { ciphers: lowVersions ? `${nodeTls().DEFAULT_CIPHERS}${seclevel}` : undefined, dropped: [], tls13Only: false };
  }
  const picked: string[] = [];
  const dropped: string[] = [];
  for (const name of names) {
    if (TLS13.has(name)) continue;
    const ossl = GO_TO_OPENSSL[name];
    if (ossl !== undefined && available.has(ossl)) picked.push(ossl);
    else dropped.push(name);
  }
  // No usable TLS <= 1.2 suite: only TLS 1.3 remains (Go's effect); OpenSSL refuses an empty
  // legacy list, so the caller also raises the minimum version to TLS 1.3.
  if (picked.length === 0) return { ciphers: TLS13_SUITES, dropped, tls13Only: true };
  return { ciphers: `${TLS13_SUITES}:${picked.join(':')}${seclevel}`, dropped, tls13Only: false };
}

/** `secureOptions` bit that turns session tickets off. */
export function noTicket(): number {
  return nodeCrypto().constants.SSL_OP_NO_TICKET;
}
