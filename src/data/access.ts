/**
 * Access rules (`[servers.X.access]`, data-plane §8, control-plane §2.6.5).
 *
 * Grammar and error texts are GoBetween's: `default` is `allow` (also when empty) or `deny`;
 * each rule is exactly `<allow|deny> <ip-or-cidr>` split on single spaces; the target is first
 * tried as one IP, then as a CIDR. Evaluation: rules in order, the first match decides, else
 * the default.
 *
 * Matching follows Go's `net.IP.Equal` / `net.IPNet.Contains`, which normalise IPv4-mapped
 * addresses (`::ffff:a.b.c.d`) to IPv4:
 * - a single-IP rule written as IPv4 or as IPv4-mapped IPv6 matches that IPv4 client in both
 *   forms;
 * - an IPv4 network matches IPv4 clients (plain or mapped), never a real IPv6 client;
 * - an IPv6 network never matches an IPv4 client, EXCEPT when its masked network number is
 *   itself IPv4-mapped (prefix >= 96 inside `::ffff:0:0/96`): Go then treats it as the IPv4
 *   network of the last 32 bits with `prefix - 96` bits, so `::ffff:10.0.0.0/104` behaves as
 *   `10.0.0.0/8` and `::ffff:0:0/96` matches every IPv4 client. (Spec §8 says such networks never
 *   match; Go's `networkNumberAndMask` says otherwise, and the code wins.)
 *
 * Everything is compiled once into 32-bit word masks; `allows()` parses the client address
 * (a dotted quad in the common case) and scans the rules of its family.
 */
import type { AccessWire } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { ipBytes } from '../core/ip.js';

export interface AccessMatcher {
  /** Whether a client with this address (as Node reports it) may connect. */
  allows(ip: string): boolean;
}

/** A parsed address: IPv4 (`v4`, unsigned 32 bits) or IPv6 (four unsigned 32-bit words). */
export type ParsedIp =
  | { readonly family: 4; readonly v4: number }
  | { readonly family: 6; readonly w: readonly [number, number, number, number] };

// ---- parsing (Go's net.ParseIP rules, via core/ip.ts; zones are not addresses) -----------------

const CH_0 = 48;
const CH_9 = 57;

/** Scratch for parsing: everything here is synchronous. */
const bytes = new Uint8Array(16);

/** Big-endian 32-bit word of `bytes` at `off`, unsigned. */
function word(off: number): number {
  return (
    ((bytes[off] as number) * 0x1000000 +
      ((bytes[off + 1] as number) << 16) +
      ((bytes[off + 2] as number) << 8) +
      (bytes[off + 3] as number)) >>>
    0
  );
}

/** Parses `s` into `bytes` (4 or 16 of them), or 0 when it is not an IP (a zone makes it none). */
function parseBytes(s: string): 0 | 4 | 16 {
  return s.indexOf('%') >= 0 ? 0 : ipBytes(s, bytes);
}

function isMapped(w0: number, w1: number, w2: number): boolean {
  return w0 === 0 && w1 === 0 && w2 === 0xffff;
}

/**
 * Parses an IP address with Go's `net.ParseIP` rules; IPv4-mapped IPv6 addresses are returned
 * as IPv4 (Go's `To4`). Returns null for anything else (host names, zones, ranges...).
 */
export function parseIp(s: string): ParsedIp | null {
  const len = parseBytes(s);
  if (len === 0) return null;
  if (len === 4) return { family: 4, v4: word(0) };
  const w0 = word(0);
  const w1 = word(4);
  const w2 = word(8);
  const w3 = word(12);
  if (isMapped(w0, w1, w2)) return { family: 4, v4: w3 };
  return { family: 6, w: [w0, w1, w2, w3] };
}

/** Go's `dtoi` as used by ParseCIDR: decimal digits only (leading zeros allowed), at least one. */
function parsePrefix(s: string): number {
  if (s.length === 0) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return -1;
    n = n * 10 + (c - CH_0);
    if (n >= 0xffffff) return -1;
  }
  return n;
}

/** A 32-bit mask with `bits` leading ones (0..32), unsigned. */
function mask32(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

// ---- compiled rules ---------------------------------------------------------------------------

interface V4Rule {
  readonly allow: boolean;
  /** Signed 32-bit forms, compared with `(ip & mask) === net`. */
  readonly net: number;
  readonly mask: number;
}

interface V6Rule {
  readonly allow: boolean;
  readonly n0: number;
  readonly n1: number;
  readonly n2: number;
  readonly n3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
}

type Rule = { readonly family: 4; readonly rule: V4Rule } | { readonly family: 6; readonly rule: V6Rule };

function v4Rule(allow: boolean, addr: number, mask: number): V4Rule {
  return { allow, net: (addr & mask) | 0, mask: mask | 0 };
}

function v6Rule(allow: boolean, w: readonly [number, number, number, number], m: readonly [number, number, number, number]): V6Rule {
  return {
    allow,
    n0: w[0] & m[0], n1: w[1] & m[1], n2: w[2] & m[2], n3: w[3] & m[3],
    m0: m[0] | 0, m1: m[1] | 0, m2: m[2] | 0, m3: m[3] | 0,
  };
}

/** Parses one rule target as Go does (IP first, then CIDR), or returns null. */
function parseTarget(allow: boolean, target: string): Rule | null {
  const ip = parseIp(target);
  if (ip !== null) {
    if (ip.family === 4) return { family: 4, rule: v4Rule(allow, ip.v4, 0xffffffff) };
    return { family: 6, rule: v6Rule(allow, ip.w, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]) };
  }
  const slash = target.indexOf('/');
  if (slash < 0) return null;
  const addrText = target.slice(0, slash);
  const prefix = parsePrefix(target.slice(slash + 1));
  if (prefix < 0) return null;
  const len = parseBytes(addrText);
  if (len === 0) return null;
  if (len === 4) {
    if (prefix > 32) return null;
    return { family: 4, rule: v4Rule(allow, word(0), mask32(prefix)) };
  }
  if (prefix > 128) return null;
  const w: [number, number, number, number] = [word(0), word(4), word(8), word(12)];
  const m: [number, number, number, number] = [
    mask32(prefix), mask32(prefix - 32), mask32(prefix - 64), mask32(prefix - 96),
  ];
  const n0 = (w[0] & m[0]) >>> 0;
  const n1 = (w[1] & m[1]) >>> 0;
  const n2 = (w[2] & m[2]) >>> 0;
  if (isMapped(n0, n1, n2)) {
    // Go: the network number is IPv4-mapped, so the network is IPv4 with the last 32 mask bits.
    return { family: 4, rule: v4Rule(allow, w[3], m[3]) };
  }
  return { family: 6, rule: v6Rule(allow, w, m) };
}

class CompiledAccess implements AccessMatcher {
  constructor(
    private readonly allowDefault: boolean,
    private readonly v4: readonly V4Rule[],
    private readonly v6: readonly V6Rule[],
  ) {}

  allows(ip: string): boolean {
    const p = clientIp(ip);
    if (p === null) return this.allowDefault;
    if (p.family === 4) {
      const a = p.v4 | 0;
      const rules = this.v4;
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i] as V4Rule;
        if ((a & r.mask) === r.net) return r.allow;
      }
      return this.allowDefault;
    }
    const [a0, a1, a2, a3] = p.w;
    const rules = this.v6;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as V6Rule;
      if ((a0 & r.m0) === r.n0 && (a1 & r.m1) === r.n1 && (a2 & r.m2) === r.n2 && (a3 & r.m3) === r.n3) {
        return r.allow;
      }
    }
    return this.allowDefault;
  }
}

class ConstantAccess implements AccessMatcher {
  constructor(private readonly allow: boolean) {}
  allows(): boolean {
    return this.allow;
  }
}

/** Client addresses: strips a zone suffix if Node ever reports one, then parses. */
function clientIp(ip: string): ParsedIp | null {
  const pct = ip.indexOf('%');
  return parseIp(pct < 0 ? ip : ip.slice(0, pct));
}

/**
 * Compiles an `[access]` section. Throws `ConfigError` with GoBetween's texts; `path` is the
 * section's key path (e.g. `servers.web.access`), suffixed with `.default` or `.rules`.
 */
export function compileAccess(wire: AccessWire, path: string): AccessMatcher {
  const def = wire.default;
  if (def !== '' && def !== 'allow' && def !== 'deny') {
    throw new ConfigError(`${path}.default`, `AccessConfig Unexpected Default: ${def}`);
  }
  const allowDefault = def !== 'deny';
  const v4: V4Rule[] = [];
  const v6: V6Rule[] = [];
  for (const text of wire.rules ?? []) {
    const parts = text.split(' ');
    if (parts.length !== 2) throw new ConfigError(`${path}.rules`, `Bad access rule format: ${text}`);
    const verb = parts[0] as string;
    const target = parts[1] as string;
    if (verb !== 'allow' && verb !== 'deny') {
      throw new ConfigError(`${path}.rules`, `Cant parse rule definition ${text}`);
    }
    const rule = parseTarget(verb === 'allow', target);
    if (rule === null) {
      throw new ConfigError(`${path}.rules`, `Cant parse acces rule target, not an ip or cidr: ${target}`);
    }
    if (rule.family === 4) v4.push(rule.rule);
    else v6.push(rule.rule);
  }
  if (v4.length === 0 && v6.length === 0) return new ConstantAccess(allowDefault);
  return new CompiledAccess(allowDefault, v4, v6);
}
