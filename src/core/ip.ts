/**
 * IP address text to bytes with Go's `net.ParseIP` rules (no leading zeros in IPv4 parts, at most
 * four hex digits per IPv6 group, one `::`, an IPv4 tail only in the last 32 bits), without
 * allocating. Shared by the hashing balancers and the access rules.
 */

/**
 * Writes the bytes of the dotted IPv4 `s[start, end)` to `out[off..off+4)`. Go's rules: exactly
 * four decimal parts 0..255, no leading zeros.
 */
function parseV4(s: string, start: number, end: number, out: Uint8Array, off: number): boolean {
  let part = 0;
  let digits = 0;
  let value = 0;
  let leadingZero = false;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 0x2e; // a virtual '.' closes the last part
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[off + part] = value;
      part++;
      digits = 0;
      value = 0;
      leadingZero = false;
      continue;
    }
    if (c < 0x30 || c > 0x39) return false;
    if (leadingZero) return false;
    if (digits === 0 && c === 0x30) leadingZero = true;
    value = value * 10 + (c - 0x30);
    digits++;
    if (value > 255) return false;
  }
  return part === 4;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Writes the 16 bytes of the IPv6 literal `s[0, end)` to `out`. */
function parseV6(s: string, end: number, out: Uint8Array): boolean {
  let i = 0; // index in s
  let n = 0; // bytes written
  let ellipsis = -1; // byte index of '::'
  if (end >= 2 && s.charCodeAt(0) === 0x3a && s.charCodeAt(1) === 0x3a) {
    ellipsis = 0;
    i = 2;
    if (i === end) {
      out.fill(0, 0, 16);
      return true;
    }
  }
  while (n < 16) {
    // One group: up to 4 hex digits, or an embedded IPv4 tail.
    let value = 0;
    let j = i;
    while (j < end && j - i < 5) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j === i || j - i > 4) {
      // Possibly an IPv4 tail: digits followed by '.'.
      if (j - i > 4 || j >= end || s.charCodeAt(j) !== 0x2e) return false;
    }
    if (j < end && s.charCodeAt(j) === 0x2e) {
      if (n > 12 || (ellipsis < 0 && n !== 12)) return false;
      if (!parseV4(s, i, end, out, n)) return false;
      n += 4;
      i = end;
      break;
    }
    out[n] = value >> 8;
    out[n + 1] = value & 0xff;
    n += 2;
    i = j;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a || i + 1 === end) return false;
    i++;
    if (s.charCodeAt(i) === 0x3a) {
      if (ellipsis >= 0) return false;
      ellipsis = n;
      i++;
      if (i === end) break;
    }
  }
  if (i !== end) return false;
  if (ellipsis >= 0) {
    const gap = 16 - n;
    if (gap <= 0) return false;
    for (let k = n - 1; k >= ellipsis; k--) out[k + gap] = out[k] as number;
    out.fill(0, ellipsis, ellipsis + gap);
  } else if (n !== 16) {
    return false;
  }
  return true;
}

/**
 * Parses `ip` into `out` (at least 16 bytes long) and returns how many bytes were written:
 * 4 for a dotted IPv4 string, 16 for a string containing ':', 0 when unparsable.
 * Allocation-free; `out` is overwritten.
 */
export function ipBytes(ip: string, out: Uint8Array): 0 | 4 | 16 {
  let end = ip.length;
  let colon = false;
  for (let i = 0; i < end; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x3a) colon = true;
    else if (c === 0x25) {
      end = i; // zone
      break;
    }
  }
  if (colon) return parseV6(ip, end, out) ? 16 : 0;
  return end === ip.length && parseV4(ip, 0, end, out, 0) ? 4 : 0;
}

