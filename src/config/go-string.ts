/**
 * Go string-literal escapes, as GoBetween interprets `probe_send` / `probe_recv`: the value is
 * read as the body of a double-quoted Go string (control-plane §2.7).
 *
 * Supported: `\a \b \f \n \r \t \v \\ \" \'`, `\xNN` (one raw byte), `\NNN` (three octal digits,
 * one raw byte, at most `\377`), `\uNNNN` and `\UNNNNNNNN` (a Unicode code point written as
 * UTF-8; surrogates and values above U+10FFFF are rejected). Everything else is copied as UTF-8.
 *
 * Like Go, a raw newline or an unescaped `"` in the body is a syntax error. One deliberate leniency:
 * Go rejects `\'` inside a double-quoted string; we accept it as `'` (it cannot be misread).
 */

/** Go's `strconv.ErrSyntax`; `message` is Go's text, `invalid syntax`. */
export class GoSyntaxError extends Error {
  override readonly name = 'GoSyntaxError';
  /** Offset (UTF-16 index) of the offending character in the input. */
  readonly offset: number;

  constructor(offset: number) {
    super('invalid syntax');
    this.offset = offset;
  }
}

const SIMPLE: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  '"': 0x22,
  "'": 0x27,
};

function hexValue(s: string, from: number, count: number): number | undefined {
  if (from + count > s.length) return undefined;
  const digits = s.slice(from, from + count);
  if (!/^[0-9a-fA-F]+$/.test(digits)) return undefined;
  return parseInt(digits, 16);
}

/** Decodes the Go escapes of `s` into bytes; throws {@link GoSyntaxError} on bad syntax. */
export function unescapeGo(s: string): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === '\n' || c === '"') throw new GoSyntaxError(i);
    if (c !== '\\') {
      const cp = s.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) out.push(b);
      i += ch.length;
      continue;
    }
    const start = i;
    const e = s[i + 1];
    if (e === undefined) throw new GoSyntaxError(start);
    const simple = SIMPLE[e];
    if (simple !== undefined) {
      out.push(simple);
      i += 2;
      continue;
    }
    if (e === 'x') {
      const v = hexValue(s, i + 2, 2);
      if (v === undefined) throw new GoSyntaxError(start);
      out.push(v);
      i += 4;
      continue;
    }
    if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const v = hexValue(s, i + 2, n);
      if (v === undefined || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new GoSyntaxError(start);
      for (const b of Buffer.from(String.fromCodePoint(v), 'utf8')) out.push(b);
      i += 2 + n;
      continue;
    }
    if (e >= '0' && e <= '7') {
      const digits = s.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(digits)) throw new GoSyntaxError(start);
      const v = parseInt(digits, 8);
      if (v > 255) throw new GoSyntaxError(start);
      out.push(v);
      i += 4;
      continue;
    }
    throw new GoSyntaxError(start);
  }
  return Buffer.from(out);
}

/** The Go error text for `s` (`invalid syntax`), or undefined when it unescapes cleanly. */
export function goStringError(s: string): string | undefined {
  try {
    unescapeGo(s);
    return undefined;
  } catch (err) {
    if (err instanceof GoSyntaxError) return err.message;
    throw err;
  }
}
