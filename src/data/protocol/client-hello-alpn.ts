/**
 * A pure, bounded reader of a TLS ClientHello's server name and ALPN list — just enough to tell an
 * ACME tls-alpn-01 validation (RFC 8737: the client offers exactly `acme-tls/1`) from an ordinary
 * client before the TLS stack picks a certificate. Node's `SNICallback` runs before ALPN is
 * negotiated and never sees the offered protocols, so the terminate stage peeks at them here.
 * The record walk and the parse are ./client-hello.ts's (the SNI-routing peek), asked for the
 * ALPN list too and for the name as sent (without Go's trailing-dot rule).
 *
 * Call it with every byte received so far (from the first byte of the connection); it answers
 * `more` (send more bytes), `done` or `error` (not a ClientHello, or larger than the cap). The
 * handshake message may span several records; it is never larger than `MAX_HELLO_BYTES`.
 */

import { CLIENT_HELLO_CAP, readClientHello } from './client-hello.js';

/** The largest ClientHello handshake message (with its 4-byte header) read. */
export const MAX_HELLO_BYTES = CLIENT_HELLO_CAP - 5;

export interface ClientHelloInfo {
  /** The SNI host name, '' when absent. */
  readonly servername: string;
  /** The ALPN protocols offered, in order (at most `MAX_ALPN_PROTOCOLS`, 32); empty when the extension is absent. */
  readonly alpn: readonly string[];
}

export type HelloResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly hello: ClientHelloInfo }
  | { readonly kind: 'error'; readonly reason: string };

const MORE: HelloResult = { kind: 'more' };
const NOT_TLS: HelloResult = { kind: 'error', reason: 'not a TLS handshake record' };

/** Reads the ClientHello at the start of `buf` (all bytes of the connection so far). */
export function parseClientHello(buf: Uint8Array): HelloResult {
  const alpn: string[] = [];
  const r = readClientHello(buf, alpn);
  switch (r.kind) {
    case 'more':
      return MORE;
    case 'not-tls':
      return NOT_TLS;
    case 'error':
      return r;
    case 'done':
      return { kind: 'done', hello: { servername: r.hostname, alpn } };
  }
}

/** RFC 8737 §3: a tls-alpn-01 validation offers `acme-tls/1` (and only it). */
export function isAcmeAlpnHello(hello: ClientHelloInfo): boolean {
  return hello.alpn.length === 1 && hello.alpn[0] === 'acme-tls/1';
}
