/**
 * PROXY protocol header decoder (v1 text and v2 binary, auto-detected): a pure, bounded parser
 * over the bytes an upstream balancer sent so far. Call it again with the accumulated bytes each
 * time more arrive; it answers
 *
 * - `more`  — the header is not complete yet;
 * - `done`  — the header and its length (`consumed`; the bytes after it are the client's stream);
 * - `error` — not a PROXY header (judged as early as the first wrong byte), malformed, or longer
 *             than the cap (v1: 107 bytes, the protocol's own limit; v2: `PROXY_V2_CAP`).
 *
 * A `proxy` result carries the client (source) and the address it connected to (destination);
 * `local` (a v2 LOCAL command: health checks of the upstream itself) and `unknown` (v1 UNKNOWN,
 * v2 UNSPEC/UNIX/UDP) mean "keep the connection's own addresses". TLVs are skipped.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** v1 header limit from the protocol: 107 bytes including CRLF. */
export const PROXY_V1_CAP = 107;
/** v2: the 16-byte fixed part plus at most this much address/TLV data (the protocol allows 64 KiB). */
export const PROXY_V2_MAX_PAYLOAD = 4096 - 16;
export const PROXY_V2_CAP = 16 + PROXY_V2_MAX_PAYLOAD;

export const V2_SIGNATURE: Uint8Array = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V1_PREFIX: Uint8Array = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "

export type ProxyHeader =
  | {
      readonly version: 1 | 2;
      readonly command: 'proxy';
      readonly family: 'tcp4' | 'tcp6';
      readonly srcIp: string;
      readonly srcPort: number;
      readonly dstIp: string;
      readonly dstPort: number;
    }
  | { readonly version: 1 | 2; readonly command: 'local' | 'unknown' };

export type ProxyDecodeResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly header: ProxyHeader; readonly consumed: number }
  | { readonly kind: 'error'; readonly reason: string };

const MORE: ProxyDecodeResult = Object.freeze({ kind: 'more' });

function fail(reason: string): ProxyDecodeResult {
  return { kind: 'error', reason };
}

/** Decodes the PROXY header at the start of `input`; never reads beyond the v1/v2 caps. */
export function decodeProxyHeader(input: Uint8Array): ProxyDecodeResult {
  if (input.length === 0) return MORE;
  if (input[0] === 0x50) return decodeV1(input);
  if (input[0] === 0x0d) return decodeV2(input);
  return fail('no PROXY protocol header');
}

// ---- v1 -------------------------------------------------------------------------------------

function decodeV1(input: Uint8Array): ProxyDecodeResult {
  const n = Math.min(input.length, PROXY_V1_CAP);
  let lf = -1;
  for (let i = 0; i < n; i++) {
    const c = input[i] as number;
    if (i < V1_PREFIX.length) {
      if (c !== V1_PREFIX[i]) return fail('no PROXY protocol header');
      continue;
    }
    if (c === 0x0a) {
      lf = i;
      break;
    }
    // Printable ASCII only, and CR only right before LF.
    if (c === 0x0d) {
      if (i + 1 < n && input[i + 1] !== 0x0a) return fail('bad PROXY v1 line ending');
      continue;
    }
    if (c < 0x20 || c > 0x7e) return fail('bad character in PROXY v1 header');
  }
  if (lf < 0) return input.length >= PROXY_V1_CAP ? fail('PROXY v1 header longer than 107 bytes') : MORE;
  if (lf < 1 || input[lf - 1] !== 0x0d) return fail('PROXY v1 header not terminated by CRLF');
  let line = '';
  for (let i = V1_PREFIX.length; i < lf - 1; i++) line += String.fromCharCode(input[i] as number);
  const consumed = lf + 1;
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { kind: 'done', header: { version: 1, command: 'unknown' }, consumed };
  }
  const parts = line.split(' ');
  if (parts.length !== 5) return fail('malformed PROXY v1 header');
  const [proto, src, dst, sport, dport] = parts as [string, string, string, string, string];
  let family: 'tcp4' | 'tcp6';
  if (proto === 'TCP4') {
    if (!isIPv4(src) || !isIPv4(dst)) return fail('bad TCP4 address in PROXY v1 header');
    family = 'tcp4';
  } else if (proto === 'TCP6') {
    if (!isIPv6(src) || !isIPv6(dst) || src.includes('%') || dst.includes('%')) {
      return fail('bad TCP6 address in PROXY v1 header');
    }
    family = 'tcp6';
  } else {
    return fail('unknown protocol in PROXY v1 header');
  }
  const srcPort = v1Port(sport);
  const dstPort = v1Port(dport);
  if (srcPort < 0 || dstPort < 0) return fail('bad port in PROXY v1 header');
  return { kind: 'done', header: { version: 1, command: 'proxy', family, srcIp: src, srcPort, dstIp: dst, dstPort }, consumed };
}

/** A decimal port 0..65535 without sign or leading zeros; -1 when invalid. */
function v1Port(s: string): number {
  if (s.length === 0 || s.length > 5 || (s.length > 1 && s.charCodeAt(0) === 0x30)) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= 65535 ? v : -1;
}

// ---- v2 -------------------------------------------------------------------------------------

function decodeV2(input: Uint8Array): ProxyDecodeResult {
  const sig = Math.min(input.length, V2_SIGNATURE.length);
  for (let i = 0; i < sig; i++) if (input[i] !== V2_SIGNATURE[i]) return fail('no PROXY protocol header');
  if (input.length < 16) {
    if (input.length > 12 && ((input[12] as number) & 0xf0) !== 0x20) return fail('bad PROXY v2 version');
    return MORE;
  }
  const verCmd = input[12] as number;
  if ((verCmd & 0xf0) !== 0x20) return fail('bad PROXY v2 version');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return fail('bad PROXY v2 command');
  const famProto = input[13] as number;
  const len = ((input[14] as number) << 8) | (input[15] as number);
  if (len > PROXY_V2_MAX_PAYLOAD) return fail('PROXY v2 header longer than the 4 KiB cap');
  const consumed = 16 + len;
  if (input.length < consumed) return MORE;
  if (cmd === 0) return { kind: 'done', header: { version: 2, command: 'local' }, consumed };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family > 3 || transport > 2) return fail('bad PROXY v2 address family');
  if (family === 1 && transport === 1) {
    if (len < 12) return fail('PROXY v2 TCP4 address block too short');
    return {
      kind: 'done',
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp4',
        srcIp: formatIPv4(input, 16),
        dstIp: formatIPv4(input, 20),
        srcPort: u16(input, 24),
        dstPort: u16(input, 26),
      },
      consumed,
    };
  }
  if (family === 2 && transport === 1) {
    if (len < 36) return fail('PROXY v2 TCP6 address block too short');
    return {
      kind: 'done',
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp6',
        srcIp: formatIPv6(input, 16),
        dstIp: formatIPv6(input, 32),
        srcPort: u16(input, 48),
        dstPort: u16(input, 50),
      },
      consumed,
    };
  }
  // UNSPEC, UNIX, or a datagram family: the receiver keeps the connection's own addresses.
  return { kind: 'done', header: { version: 2, command: 'unknown' }, consumed };
}

function u16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

function formatIPv4(b: Uint8Array, o: number): string {
  return `${b[o] as number}.${b[o + 1] as number}.${b[o + 2] as number}.${b[o + 3] as number}`;
}

/** RFC 5952 text of the 16 bytes at `b[o]` (longest run of ≥ 2 zero groups compressed). */
export function formatIPv6(b: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, o + 2 * i));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, o + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number): string => (x as number).toString(16);
  if (bestStart < 0) return g.map(hex).join(':');
  const head = g.slice(0, bestStart).map(hex).join(':');
  const tail = g.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}
