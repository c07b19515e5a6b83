/**
 * TLS ClientHello peek (data-plane §5.2, fix D4): a pure, bounded parser over the bytes a client
 * sent so far. Call it again with the accumulated bytes each time more arrive; it answers
 *
 * - `more`    — the ClientHello is not complete yet (the caller keeps reading, within its timeout);
 * - `done`    — the ClientHello is complete: `hostname` is the first `host_name` of the
 *               `server_name` extension ('' when there is none, or when it ends with a dot, as Go
 *               reports it), `consumed` the bytes up to the end of the record that completed it;
 * - `not-tls` — the first bytes are not a TLS handshake record (plain-text client);
 * - `error`   — a TLS handshake record that is malformed or larger than the cap.
 *
 * The ClientHello may span several records (post-quantum key shares make it ~1.8 KB, more than one
 * segment; a TLS stack may also split it into several records). The parser never reads beyond
 * `CLIENT_HELLO_CAP` bytes of input, and never asks for more than that: a record or a handshake
 * message that would need more is an `error`. Nothing is copied unless the message spans records.
 */

/** One full TLS plaintext record: 16 KiB of payload plus its 5-byte header. */
export const CLIENT_HELLO_CAP = 16384 + 5;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST = 0;
/** At most this many offered ALPN protocols are reported by `readClientHello`. */
export const MAX_ALPN_PROTOCOLS = 32;

export type ClientHelloResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly hostname: string; readonly consumed: number }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'error'; readonly reason: string };

const MORE: ClientHelloResult = Object.freeze({ kind: 'more' });
const NOT_TLS: ClientHelloResult = Object.freeze({ kind: 'not-tls' });

function fail(reason: string): ClientHelloResult {
  return { kind: 'error', reason };
}

/**
 * Parses the ClientHello at the start of `input` (the bytes received so far, from the first byte
 * of the connection). Only `input[0 .. min(input.length, CLIENT_HELLO_CAP))` is ever read.
 */
export function peekClientHello(input: Uint8Array): ClientHelloResult {
  const r = readClientHello(input);
  // Go refuses a name ending with a dot and then reports none (data-plane §5.2).
  return r.kind === 'done' && r.hostname.endsWith('.') ? { kind: 'done', hostname: '', consumed: r.consumed } : r;
}

/**
 * The record walk and ClientHello parse behind `peekClientHello` (and ./client-hello-alpn.ts):
 * the same answers, except that `hostname` is the first `host_name` as sent (a trailing dot kept),
 * and, when `alpn` is given, the protocols of the ALPN extension (at most `MAX_ALPN_PROTOCOLS`)
 * are appended to it once the ClientHello is complete.
 */
export function readClientHello(input: Uint8Array, alpn?: string[]): ClientHelloResult {
  const avail = Math.min(input.length, CLIENT_HELLO_CAP);
  if (avail === 0) return MORE;
  if (input[0] !== RECORD_HANDSHAKE) return NOT_TLS;
  if (avail < 2) return MORE;
  if (input[1] !== 3) return NOT_TLS;

  // Walk the records, collecting the handshake fragments until the whole message is there.
  let pos = 0;
  let fragments: Uint8Array[] | undefined;
  let first: Uint8Array | undefined;
  let have = 0; // handshake bytes collected
  let need = -1; // handshake message length incl. its 4-byte header, once known
  for (;;) {
    if (pos + 5 > avail) return pos + 5 > CLIENT_HELLO_CAP ? fail('ClientHello larger than 16 KiB') : MORE;
    if (input[pos] !== RECORD_HANDSHAKE) return fail('non-handshake record inside the ClientHello');
    if (input[pos + 1] !== 3) return fail('bad record version');
    const len = ((input[pos + 3] as number) << 8) | (input[pos + 4] as number);
    if (len === 0) return fail('empty handshake record');
    if (len > 16384) return fail('record larger than 16 KiB');
    const end = pos + 5 + len;
    if (end > CLIENT_HELLO_CAP) return fail('ClientHello larger than 16 KiB');
    if (end > avail) {
      // Not complete yet; but reject early what can already be judged.
      if (need < 0 && have === 0 && avail > pos + 5 && input[pos + 5] !== HANDSHAKE_CLIENT_HELLO) {
        return fail('first handshake message is not a ClientHello');
      }
      if (need < 0 && have === 0 && len >= 4 && avail >= pos + 9) {
        const n = 4 + (((input[pos + 6] as number) << 16) | ((input[pos + 7] as number) << 8) | (input[pos + 8] as number));
        if (n + 5 > CLIENT_HELLO_CAP) return fail('ClientHello larger than 16 KiB');
      }
      return MORE;
    }
    const frag = input.subarray(pos + 5, end);
    if (first === undefined) {
      if (frag[0] !== HANDSHAKE_CLIENT_HELLO) return fail('first handshake message is not a ClientHello');
      first = frag;
    } else (fragments ??= [first]).push(frag);
    have += len;
    pos = end;
    if (need < 0 && have >= 4) {
      const hs = fragments === undefined ? frag : concat(fragments, have);
      need = 4 + (((hs[1] as number) << 16) | ((hs[2] as number) << 8) | (hs[3] as number));
      // Bounded by the cap: the records carrying it need at least one 5-byte header.
      if (need + 5 > CLIENT_HELLO_CAP) return fail('ClientHello larger than 16 KiB');
    }
    if (need >= 0 && have >= need) {
      const hs = fragments === undefined ? (first) : concat(fragments, have);
      const r = parseHello(hs, 4, need, alpn);
      return typeof r === 'string' ? { kind: 'done', hostname: r, consumed: pos } : r;
    }
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Parses the ClientHello body `b[start, end)`; returns the first host name ('' when none) or an
 * error result. Without `alpn` it stops at the server_name extension; with it, it reads on and
 * appends the offered ALPN protocols.
 */
function parseHello(b: Uint8Array, start: number, end: number, alpn: string[] | undefined): string | ClientHelloResult {
  let p = start;
  const u8 = (): number => (p < end ? (b[p++] as number) : -1);
  const u16 = (): number => {
    if (p + 2 > end) return -1;
    const v = ((b[p] as number) << 8) | (b[p + 1] as number);
    p += 2;
    return v;
  };
  if (p + 2 + 32 > end) return fail('truncated ClientHello');
  p += 2 + 32; // legacy_version, random
  const sidLen = u8();
  if (sidLen < 0 || sidLen > 32 || p + sidLen > end) return fail('bad session id');
  p += sidLen;
  const csLen = u16();
  if (csLen < 2 || (csLen & 1) !== 0 || p + csLen > end) return fail('bad cipher suites');
  p += csLen;
  const cmLen = u8();
  if (cmLen < 1 || p + cmLen > end) return fail('bad compression methods');
  p += cmLen;
  if (p === end) return ''; // no extensions
  const extLen = u16();
  if (extLen < 0 || p + extLen !== end) return fail('bad extensions length');
  let hostname: string | undefined;
  while (p < end) {
    const type = u16();
    const len = u16();
    if (type < 0 || len < 0 || p + len > end) return fail('bad extension');
    const extEnd = p + len;
    if (type === EXT_SERVER_NAME && hostname === undefined) {
      const listLen = u16();
      if (listLen < 0 || p + listLen !== extEnd) return fail('bad server_name list');
      hostname = '';
      while (p < extEnd) {
        const nameType = u8();
        const nameLen = u16();
        if (nameType < 0 || nameLen < 0 || p + nameLen > extEnd) return fail('bad server_name entry');
        if (nameType === NAME_TYPE_HOST) {
          if (nameLen === 0) return fail('empty server_name');
          hostname = latin1(b, p, p + nameLen);
          break;
        }
        p += nameLen;
      }
      if (alpn === undefined) return hostname;
    } else if (type === EXT_ALPN && alpn !== undefined) {
      const listLen = u16();
      if (listLen < 0 || p + listLen !== extEnd) return fail('bad ALPN list');
      while (p < extEnd) {
        const protoLen = u8();
        if (protoLen < 1 || p + protoLen > extEnd) return fail('bad ALPN list');
        if (alpn.length < MAX_ALPN_PROTOCOLS) alpn.push(latin1(b, p, p + protoLen));
        p += protoLen;
      }
    }
    p = extEnd;
  }
  return hostname ?? '';
}

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i] as number);
  return s;
}
