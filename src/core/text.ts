/**
 * Untrusted text on its way to a log line or an error message: control characters escaped (a
 * value can never split a line or drive a terminal) and long values truncated with a count of
 * what was cut. Printable text, including non-ASCII letters, passes unchanged, so the GoBetween
 * message texts stay byte-identical for ordinary values.
 */

/** Default cap, in UTF-16 code units, for one untrusted value in a log line. */
export const LOG_VALUE_CAP = 256;

/** Cap for a whole error message (CLI stderr line, 409 body). */
export const MESSAGE_CAP = 4096;

const HEX = '0123456789abcdef';

/** C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function escapeChar(c: number): string {
  switch (c) {
    case 0x09: return '\\t';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    default:
      return c <= 0xff ? `\\x${HEX[c >> 4]}${HEX[c & 0xf]}` : `\\u${c.toString(16).padStart(4, '0')}`;
  }
}

/** Escapes control characters (`\n`, `\x1b`, `\u2028`, …); everything else unchanged. */
export function escapeControls(text: string): string {
  if (!UNSAFE.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 ? escapeChar(c) : text[i];
  }
  return out;
}

/** `text` cut to `cap` code units (never inside a surrogate pair), with `…(+N chars)` appended. */
export function truncate(text: string, cap: number): string {
  if (text.length <= cap) return text;
  let end = cap;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…(+${text.length - end} chars)`;
}

/** One untrusted value for a log line: escaped, then capped at `cap`. */
export function logText(value: string, cap = LOG_VALUE_CAP): string {
  return truncate(escapeControls(value), cap);
}

/** A whole message (error text) made one line and bounded. */
export function oneLine(message: string, cap = MESSAGE_CAP): string {
  return truncate(escapeControls(message), cap);
}
