/**
 * A pure, bounded reader of a TLS ClientHello's server name and ALPN list — just enough to tell an
 * ACME tls-alpn-01 validation (RFC 8737: the client offers exactly `acme-tls/1`) from an ordinary
 * client before the TLS stack picks a certificate. Node's `SNICallback` runs before ALPN is
 * negotiated and never sees the offered protocols, so the terminate stage peeks at them here.
 * (./client-hello.ts is the SNI-routing peek: it stops at the name and follows Go's rules.)
 *
 * Call it with every byte received so far (from the first byte of the connection); it answers
 * `more` (send more bytes), `done` or `error` (not a ClientHello, or larger than the cap). The
 * handshake message may span several records; it is never larger than `MAX_HELLO_BYTES`.
 */

export const MAX_HELLO_BYTES = 16384;

export interface ClientHelloInfo {
  /** The SNI host name, '' when absent. */
  readonly servername: string;
  /** The ALPN protocols offered, in order; empty when the extension is absent. */
  readonly alpn: readonly string[];
}

export type HelloResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly hello: ClientHelloInfo }
  | { readonly kind: 'error'; readonly reason: string };

const MORE: HelloResult = { kind: 'more' };
const fail = (reason: string): HelloResult => ({ kind: 'error', reason });

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/** Collects the handshake bytes carried by the leading records of `buf`; null on a bad record. */
function handshakeBytes(buf: Uint8Array): { bytes: Uint8Array; complete: boolean } | string {
  const parts: Uint8Array[] = [];
  let total = 0;
  let off = 0;
  let need = -1; // handshake message length incl. its 4-byte header, once known
  while (off + 5 <= buf.length) {
    if (buf[off] !== RECORD_HANDSHAKE) return 'not a TLS handshake record';
    if (buf[off + 1] !== 3) return 'not a TLS record version';
    const len = ((buf[off + 3] ?? 0) << 8) | (buf[off + 4] ?? 0);
    if (len === 0 || len > 16384 + 256) return 'bad TLS record length';
    const end = Math.min(off + 5 + len, buf.length);
    parts.push(buf.subarray(off + 5, end));
    total += end - off - 5;
    if (need < 0 && total >= 4) {
      const first = parts.length === 1 ? parts[0] : concat(parts, total);
      if (first === undefined || first[0] !== HANDSHAKE_CLIENT_HELLO) return 'not a ClientHello';
      need = 4 + (((first[1] ?? 0) << 16) | ((first[2] ?? 0) << 8) | (first[3] ?? 0));
      if (need > MAX_HELLO_BYTES) return 'ClientHello too large';
    }
    if (need >= 0 && total >= need) return { bytes: concat(parts, total).subarray(0, need), complete: true };
    if (end < off + 5 + len) break; // record still arriving
    off = end;
  }
  if (off > MAX_HELLO_BYTES + 1024) return 'ClientHello too large';
  return { bytes: new Uint8Array(0), complete: false };
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Reads the ClientHello at the start of `buf` (all bytes of the connection so far). */
export function parseClientHello(buf: Uint8Array): HelloResult {
  if (buf.length > 0 && buf[0] !== RECORD_HANDSHAKE) return fail('not a TLS handshake record');
  const hs = handshakeBytes(buf);
  if (typeof hs === 'string') return fail(hs);
  if (!hs.complete) return MORE;
  return readHello(hs.bytes);
}

/** Parses a complete ClientHello handshake message (with its 4-byte header). */
function readHello(m: Uint8Array): HelloResult {
  const end = m.length;
  let p = 4 + 2 + 32; // header, client_version, random
  const u8 = (at: number): number => m[at] ?? 0;
  const u16 = (at: number): number => (u8(at) << 8) | u8(at + 1);
  if (p + 1 > end) return fail('truncated ClientHello');
  p += 1 + u8(p); // session_id
  if (p + 2 > end) return fail('truncated ClientHello');
  p += 2 + u16(p); // cipher_suites
  if (p + 1 > end) return fail('truncated ClientHello');
  p += 1 + u8(p); // compression_methods
  if (p > end) return fail('truncated ClientHello');
  let servername = '';
  const alpn: string[] = [];
  if (p === end) return { kind: 'done', hello: { servername, alpn } };
  if (p + 2 > end) return fail('truncated extensions');
  const extEnd = p + 2 + u16(p);
  if (extEnd > end) return fail('truncated extensions');
  p += 2;
  while (p + 4 <= extEnd) {
    const type = u16(p);
    const len = u16(p + 2);
    const dataStart = p + 4;
    const dataEnd = dataStart + len;
    if (dataEnd > extEnd) return fail('truncated extension');
    if (type === EXT_SERVER_NAME && len >= 2) {
      let q = dataStart + 2;
      const listEnd = Math.min(dataStart + 2 + u16(dataStart), dataEnd);
      while (q + 3 <= listEnd) {
        const nameType = u8(q);
        const nameLen = u16(q + 1);
        if (q + 3 + nameLen > listEnd) return fail('truncated server_name');
        if (nameType === 0 && servername === '') servername = latin1(m, q + 3, q + 3 + nameLen);
        q += 3 + nameLen;
      }
    } else if (type === EXT_ALPN && len >= 2) {
      let q = dataStart + 2;
      const listEnd = Math.min(dataStart + 2 + u16(dataStart), dataEnd);
      while (q + 1 <= listEnd) {
        const protoLen = u8(q);
        if (protoLen === 0 || q + 1 + protoLen > listEnd) return fail('bad ALPN list');
        if (alpn.length < 32) alpn.push(latin1(m, q + 1, q + 1 + protoLen));
        q += 1 + protoLen;
      }
    }
    p = dataEnd;
  }
  return { kind: 'done', hello: { servername, alpn } };
}

function latin1(m: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(m[i] ?? 0);
  return s;
}

/** RFC 8737 §3: a tls-alpn-01 validation offers `acme-tls/1` (and only it). */
export function isAcmeAlpnHello(hello: ClientHelloInfo): boolean {
  return hello.alpn.length === 1 && hello.alpn[0] === 'acme-tls/1';
}
