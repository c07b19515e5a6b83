/**
 * JSON text the way GoBetween's REST API writes it: Go's `json.MarshalIndent(v, "", "    ")` as
 * gin renders it (control-plane §3.1) — 4-space indentation, no trailing newline, `"key": value`,
 * `[]` / `{}` for empty containers, `null` kept, HTML-sensitive characters (`<` `>` `&`) and
 * U+2028/U+2029 escaped as `\u003c` …, object keys in insertion order.
 */

/** A JSON value as our echo builders produce it (plain data, key order significant). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

const HEX = '0123456789abcdef';

/** Go's `encoding/json` string escaping (with HTML escaping on, as gin uses it). */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20) {
      switch (c) {
        case 0x08: esc = '\\b'; break;
        case 0x09: esc = '\\t'; break;
        case 0x0a: esc = '\\n'; break;
        case 0x0c: esc = '\\f'; break;
        case 0x0d: esc = '\\r'; break;
        default: esc = `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
      }
    } else if (c === 0x22) {
      esc = '\\"';
    } else if (c === 0x5c) {
      esc = '\\\\';
    } else if (c === 0x3c || c === 0x3e || c === 0x26) {
      esc = `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
    } else if (c === 0x2028 || c === 0x2029) {
      esc = `\\u${c.toString(16)}`;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A valid surrogate pair passes through; a lone surrogate is invalid UTF-8 for Go → U+FFFD.
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = '\\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`json: unsupported value: ${String(n)}`);
  if (Object.is(n, -0)) return '-0';
  // JS and Go agree on integers (no exponent below 1e21) and on the shortest round-trip digits;
  // both switch to exponent form below 1e-6 and from 1e21 (`1e+21`, `1e-7`).
  return String(n);
}

function encode(value: unknown, indent: string, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(goJsonString(value));
      return;
    case 'number':
      out.push(goJsonNumber(value));
      return;
    case 'bigint':
      out.push(value.toString());
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
  const inner = indent + '    ';
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    if (items.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[\n');
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out.push(',\n');
      out.push(inner);
      encode(items[i], inner, out);
    }
    out.push('\n', indent, ']');
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{\n');
  let first = true;
  for (const [k, v] of entries) {
    if (!first) out.push(',\n');
    first = false;
    out.push(inner, goJsonString(k), ': ');
    encode(v, inner, out);
  }
  out.push('\n', indent, '}');
}

/**
 * Encodes `value` like Go's `json.MarshalIndent(v, "", "    ")` (HTML-escaping on, no trailing
 * newline). Object members whose value is `undefined` are skipped (like `omitempty`); `undefined`
 * elsewhere is written as `null`. Non-finite numbers throw, as in Go.
 */
export function goJson(value: unknown): string {
  const out: string[] = [];
  encode(value, '', out);
  return out.join('');
}

/** Go's string ordering (bytewise UTF-8), used for sorted map keys in JSON and TOML output. */
export function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
