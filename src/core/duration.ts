/**
 * Go duration strings (`time.ParseDuration`): an optional sign, then one or more
 * `<decimal><unit>` groups; units ns, us, µs, μs, ms, s, m, h. The bare "0" is valid.
 * Values are returned in milliseconds (fractional for sub-millisecond units).
 */

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5
  'μs': 1_000n, // U+03BC
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const TWO_63 = 1n << 63n;

/** Result of {@link parseGoDuration}: nanoseconds, or Go's error text. */
export type GoDurationResult = { ok: true; ns: bigint } | { ok: false; error: string };

/** Go's `time` package quoting used in its error texts: `\xNN` for non-ASCII and control bytes. */
function goTimeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of Buffer.from(ch, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`;
    } else {
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
  }
  return `${out}"`;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/**
 * Go's `time.ParseDuration`, with its exact error texts (`time: invalid duration "5x"`,
 * `time: missing unit in duration "5"`, `time: unknown unit "d" in duration "1d"`), its
 * fraction arithmetic and its int64 nanosecond range.
 */
export function parseGoDuration(text: string): GoDurationResult {
  const invalid = (): GoDurationResult => ({ ok: false, error: `time: invalid duration ${goTimeQuote(text)}` });
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0n };
  if (s === '') return invalid();
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === '.' || isDigit(s[i]))) return invalid();
    // integer part
    const intStart = i;
    let v = 0n;
    while (isDigit(s[i])) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > TWO_63) return invalid();
      i++;
    }
    const pre = i > intStart;
    // fraction part: digits beyond int64 precision are ignored, as Go does
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      let overflow = false;
      while (isDigit(s[i])) {
        if (!overflow) {
          const next = f * 10n + BigInt(s.charCodeAt(i) - 48);
          if (f > (TWO_63 - 1n) / 10n || next > TWO_63) overflow = true;
          else {
            f = next;
            scale *= 10;
          }
        }
        i++;
      }
      post = i > fracStart;
    }
    if (!pre && !post) return invalid();
    // unit
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unitText = s.slice(unitStart, i);
    if (unitText === '') return { ok: false, error: `time: missing unit in duration ${goTimeQuote(text)}` };
    const unit = UNIT_NS[unitText];
    if (unit === undefined) {
      return { ok: false, error: `time: unknown unit ${goTimeQuote(unitText)} in duration ${goTimeQuote(text)}` };
    }
    if (v > TWO_63 / unit) return invalid();
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) return invalid();
    }
    total += v;
    if (total > TWO_63) return invalid();
  }
  if (neg) return { ok: true, ns: -total };
  if (total > TWO_63 - 1n) return invalid();
  return { ok: true, ns: total };
}

/** Parses a Go duration into milliseconds (fractional below 1 ms); undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const r = parseGoDuration(text);
  if (!r.ok) return undefined;
  return r.ns === 0n ? 0 : Number(r.ns) / 1e6;
}

/** Parses a duration or returns `fallback` for anything invalid (GoBetween's silent rule, Q-9). */
export function parseDurationOr(text: string | null | undefined, fallback: number): number {
  if (text === null || text === undefined) return fallback;
  const ms = parseDuration(text);
  return ms === undefined ? fallback : ms;
}

/** Formats milliseconds as Go's `Duration.String()` does ("1h2m3.5s", "850ms", "0s"). */
export function formatDuration(ms: number): string {
  // Work in integer nanoseconds to mirror Go exactly.
  let ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  if (neg) ns = -ns;
  let out: string;
  if (ns < 1_000_000_000n) {
    // Sub-second: use the largest of ns, µs, ms that keeps the integer part non-zero.
    let unit: string;
    let div: bigint;
    if (ns < 1000n) { unit = 'ns'; div = 1n; }
    else if (ns < 1_000_000n) { unit = 'µs'; div = 1000n; }
    else { unit = 'ms'; div = 1_000_000n; }
    out = fraction(ns, div) + unit;
  } else {
    const h = ns / 3_600_000_000_000n;
    const rem = ns % 3_600_000_000_000n;
    const m = rem / 60_000_000_000n;
    const sNs = rem % 60_000_000_000n;
    out = '';
    if (h > 0n) out += `${h}h`;
    if (h > 0n || m > 0n) out += `${m}m`;
    out += `${fraction(sNs, 1_000_000_000n)}s`;
  }
  return neg ? `-${out}` : out;
}

function fraction(value: bigint, div: bigint): string {
  const int = value / div;
  const frac = value % div;
  if (frac === 0n) return int.toString();
  const width = div.toString().length - 1;
  const digits = frac.toString().padStart(width, '0').replace(/0+$/, '');
  return `${int}.${digits}`;
}
