/**
 * Go duration strings (`time.ParseDuration`): an optional sign, then one or more
 * `<decimal><unit>` groups; units ns, us, µs, μs, ms, s, m, h. The bare "0" is valid.
 * Values are returned in milliseconds (fractional for sub-millisecond units).
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5
  'μs': 1e-3, // U+03BC
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const GROUP = /(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration. Returns undefined when the string is not valid Go syntax. */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  GROUP.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    GROUP.lastIndex = pos;
    const m = GROUP.exec(s);
    if (m === null || m.index !== pos) return undefined;
    const num = m[1] ?? '';
    if (num === '' || num === '.') return undefined;
    const unit = UNIT_MS[m[2] ?? ''];
    if (unit === undefined) return undefined;
    total += Number(num) * unit;
    pos = GROUP.lastIndex;
  }
  return sign * total;
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
