/**
 * Hashing helpers for `iphash` and `iphash1`: 32-bit FNV-1a over the bytes GoBetween hashes for a
 * client IP string (data-plane §1.6, §9.5, §9.6); the parser is core/ip.ts.
 *
 * Byte form, chosen per string so that the mapping follows the listener type as Go's does:
 * - dotted IPv4 (`1.2.3.4`, what Node reports on an IPv4 listener) -> 4 bytes;
 * - anything containing ':' (`2001:db8::1`, and `::ffff:1.2.3.4`, what Node reports for IPv4
 *   clients of a dual-stack listener) -> 16 bytes. A zone (`fe80::1%eth0`) is ignored, as Go
 *   keeps it outside the IP bytes.
 * - anything unparsable -> 0 bytes (Go hashes a nil IP the same way: the hash is the offset basis).
 */

import { ipBytes } from '../core/ip.js';

export const FNV32_OFFSET = 0x811c9dc5; // 2166136261
const FNV32_PRIME = 0x01000193; // 16777619

/**
 * Continues an FNV-1a-32 hash over `len` bytes of `bytes`. Returns an int32-coerced value;
 * apply `>>> 0` for the unsigned hash.
 */
export function fnv1aBytes(hash: number, bytes: Uint8Array, len: number): number {
  let h = hash | 0;
  for (let i = 0; i < len; i++) {
    h = Math.imul(h ^ (bytes[i] as number), FNV32_PRIME);
  }
  return h;
}

/**
 * Continues an FNV-1a-32 hash over the UTF-8 bytes of `s` (ASCII for every realistic
 * `host:port`), encoding on the fly without allocating. Lone surrogates hash as U+FFFD, like
 * TextEncoder. Returns an int32-coerced value.
 */
export function fnv1aUtf8(hash: number, s: string): number {
  let h = hash | 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV32_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV32_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV32_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV32_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
  }
  return h;
}

/** Scratch for the hashing balancers: pick is synchronous, so one buffer per module suffices. */
const scratch = new Uint8Array(16);

/** Set by `hashDotted`: whether the scanned text was a well-formed dotted quad. */
let dottedOk = false;

/**
 * Continues `h` over the 4 bytes of the dotted quad `ip[start..]`, scanning once. Sets
 * `dottedOk` to false (and returns garbage) unless the text is four parts 0..255 without leading
 * zeros — the general parser then decides.
 */
function hashDotted(ip: string, start: number, hash: number): number {
  const n = ip.length;
  let h = hash;
  let value = 0;
  let digits = 0;
  let dots = 0;
  dottedOk = false;
  for (let i = start; i < n; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return 0;
      h = Math.imul(h ^ value, FNV32_PRIME);
      dots++;
      value = 0;
      digits = 0;
      continue;
    }
    const d = c - 0x30;
    // Not a digit, or a digit after a leading zero, or a part over 255.
    if (d < 0 || d > 9 || (digits > 0 && value === 0)) return 0;
    value = value * 10 + d;
    digits++;
    if (value > 255) return 0;
  }
  if (dots !== 3 || digits === 0) return 0;
  dottedOk = true;
  return Math.imul(h ^ value, FNV32_PRIME);
}

/** FNV-1a state after the 12 prefix bytes of an IPv4-mapped IPv6 address (`::ffff:`). */
const MAPPED_PREFIX_HASH = fnv1aBytes(FNV32_OFFSET, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 12);

function startsWithMapped(ip: string): boolean {
  return ip.length > 7 && ip.charCodeAt(0) === 0x3a && ip.charCodeAt(1) === 0x3a
    && (ip.charCodeAt(2) | 0x20) === 0x66 && (ip.charCodeAt(3) | 0x20) === 0x66
    && (ip.charCodeAt(4) | 0x20) === 0x66 && (ip.charCodeAt(5) | 0x20) === 0x66
    && ip.charCodeAt(6) === 0x3a;
}

/**
 * FNV-1a-32 over the client IP bytes (int32-coerced; `>>> 0` for the unsigned value).
 * The two forms Node reports for IPv4 clients — `a.b.c.d` and `::ffff:a.b.c.d` — are hashed
 * while they are scanned (several times faster than parse-then-hash); anything else (IPv6,
 * leading zeros, garbage) takes the general path.
 */
export function ipHash(ip: string): number {
  const mapped = startsWithMapped(ip);
  const h = mapped ? hashDotted(ip, 7, MAPPED_PREFIX_HASH) : hashDotted(ip, 0, FNV32_OFFSET | 0);
  if (dottedOk) return h;
  const len = ipBytes(ip, scratch);
  return fnv1aBytes(FNV32_OFFSET, scratch, len);
}
