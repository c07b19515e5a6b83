/**
 * The backend line grammar shared by `static_list`, exec discovery output and the default
 * plaintext pattern:
 *   <host>:<port>[ weight=N][ priority=N][ max_connections=N][ sni=NAME]
 * options in this order, each after exactly one whitespace character.
 */
import { type BackendSpec, backendSpec } from './backend.js';

/** GoBetween's default pattern, in Go RE2 syntax (also the default `plaintext_regex_pattern`). */
export const DEFAULT_BACKEND_PATTERN =
  '^(?P<host>\\S+):(?P<port>\\d+)(\\sweight=(?P<weight>\\d+))?(\\spriority=(?P<priority>\\d+))?(\\smax_connections=(?P<max_connections>\\d+))?(\\ssni=(?P<sni>[^\\s]+))?$';

// RE2's `\s` is ASCII whitespace only ([\t\n\f\r ]), unlike JS's Unicode-aware `\s`: spell it out.
const LINE =
  /^(?<host>[^\t\n\f\r ]+):(?<port>[0-9]+)(?:[\t\n\f\r ]weight=(?<weight>[0-9]+))?(?:[\t\n\f\r ]priority=(?<priority>[0-9]+))?(?:[\t\n\f\r ]max_connections=(?<max_connections>[0-9]+))?(?:[\t\n\f\r ]sni=(?<sni>[^\t\n\f\r ]+))?$/;

// Go's strings.TrimSpace (unicode.IsSpace): differs from String.prototype.trim on U+0085 / U+FEFF.
const GO_SPACE_EDGES =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

const INT64_MAX = 9223372036854775807n;

/** Decimal digits to a number; undefined when it would overflow Go's int (then the default applies). */
export function parseUintField(digits: string | undefined): number | undefined {
  if (digits === undefined || digits === '') return undefined;
  if (!/^\d+$/.test(digits)) return undefined;
  if (digits.length > 18 && BigInt(digits) > INT64_MAX) return undefined;
  return Number(digits);
}

/** Parses one line; undefined when it does not match (GoBetween logs `Cant parse <line>`). */
export function parseBackendLine(line: string): BackendSpec | undefined {
  const m = LINE.exec(line.replace(GO_SPACE_EDGES, ''));
  if (m === null || m.groups === undefined) return undefined;
  const g = m.groups;
  const host = g['host'] ?? '';
  const port = g['port'] ?? '';
  return backendSpec(host, port, {
    weight: parseUintField(g['weight']) ?? 1,
    priority: parseUintField(g['priority']) ?? 1,
    maxConnections: parseUintField(g['max_connections']) ?? 0,
    sni: g['sni'] ?? '',
  });
}
