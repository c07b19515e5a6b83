/**
 * Config output: the normalised server echoed by GET /servers[/:name] (control-plane §2.14, §3.6)
 * and the whole config written by GET /dump in JSON or TOML (§3.4.2).
 *
 * The builders walk decode.ts's field tables, whose key order is GoBetween's output order (§3.6),
 * so each key is listed once, there; this file has code only where the echo differs from "every
 * key in table order". They return plain objects; `goJson` writes them as GoBetween does, and the
 * TOML writer below lays them out like the BurntSushi v0.3.1 encoder GoBetween uses (scalars
 * before sub-tables, 2-space indentation per table depth, an empty line before each top-level
 * table, nulls omitted).
 *
 * Deliberate differences from GoBetween (documented in the README's compatibility section):
 * - `/dump` never reveals `api.basic_auth.password` (Q-32); it writes {@link REDACTED_PASSWORD}.
 * - `healthcheck.initial_status` is omitted from the echo while it is null, unless
 *   `nullInitialStatus` is asked for. GoBetween 0.8.1+ writes `"initial_status": null`, which
 *   changes the key set the OpenSVC janitor compares and makes it delete and re-create every
 *   server on each reconcile (opensvc.md §1.5). Without it the echo has GoBetween 0.8.0's shape.
 * - `[acme]`'s tsbetween-only keys (`directory_url`, `email`, `root_ca_cert_path`) appear only
 *   when set, so a GoBetween config dumps as GoBetween dumps it.
 */
import type { AcmeWire, ApiWire, ConfigWire, DiscoveryWire, HealthcheckWire, ServerWire } from './types.js';
import {
  configTable,
  discoveryShape,
  healthcheckShape,
  serverTable,
  type GroupedShape,
  type Shape,
  type TableShape,
} from './decode.js';
import { compareGoStrings, goJson, type JsonObject, type JsonValue } from './go-json.js';

/** What `/dump` writes instead of the basic-auth password (Q-32 fix). */
export const REDACTED_PASSWORD = '<redacted>';

export interface EchoOptions {
  /**
   * Write `"initial_status": null` when no initial status was configured (GoBetween 0.8.1+'s exact
   * shape, e.g. the sample GET output of control-plane §3.4.3). Default false: the key is omitted
   * while null, which keeps the OpenSVC janitor's key-set comparison stable (opensvc.md §1.5).
   */
  nullInitialStatus?: boolean;
}

export interface ConfigJsonOptions extends EchoOptions {
  /** Replace `api.basic_auth.password` with {@link REDACTED_PASSWORD}. Default true. */
  redactPassword?: boolean;
}

/**
 * Keys whose values are secrets: `consul_auth_password`, `consul_acl_token`,
 * `lxd_server_remote_password`, and any key naming a password, passphrase, secret or token (a
 * future TLS key passphrase is covered without a change here).
 */
export const SECRET_KEY = /password|passphrase|secret|token/i;

/**
 * A copy of a server with every non-empty secret (see {@link SECRET_KEY}) replaced by
 * {@link REDACTED_PASSWORD}; empty values stay empty, so the echo still says "not set". The
 * REST API echoes servers through this (GET /servers, GET /servers/:name, /dump).
 */
export function redactSecrets(server: ServerWire): ServerWire {
  return redactValue(server) as ServerWire;
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    const value = typeof val === 'string' && val !== '' && SECRET_KEY.test(k) ? REDACTED_PASSWORD : redactValue(val);
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Thrown by {@link dumpConfig} for a format other than `toml` / `json` (the API answers 500). */
export class UnknownFormatError extends Error {
  override readonly name = 'UnknownFormatError';
  readonly format: string;

  constructor(format: string) {
    super(`Unknown format ${format}`);
    this.format = format;
  }
}

/** Per-key replacements for {@link echoTable}: the key keeps its place, the value is computed. */
type Overrides = Readonly<Record<string, () => JsonValue>>;

/** A scalar, `null` or (copied, not shared) string array as JSON. */
function echoValue(v: unknown, path: string): JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const items: readonly unknown[] = v;
    return items.map((item, i) => echoValue(item, `${path}[${i}]`));
  }
  throw new TypeError(`echo: unexpected ${typeof v} at ${path}`);
}

function propOf(obj: object, key: string): unknown {
  return (obj as Readonly<Record<string, unknown>>)[key];
}

function asObject(v: unknown, path: string): object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`echo: expected an object at ${path}`);
  return v;
}

function echoShape(shape: Shape, v: unknown, path: string): JsonValue {
  if (v === null || shape.kind === 'value') return echoValue(v, path);
  const obj = asObject(v, path);
  return shape.kind === 'table' ? echoTable(shape.fields, obj, path) : echoGrouped(shape, obj, path);
}

/** Every key of `table`, in table order (GoBetween's), read from `obj`; null sections stay null. */
function echoTable(table: TableShape, obj: object, path: string, overrides: Overrides = {}): JsonObject {
  const o: JsonObject = {};
  for (const [key, field] of Object.entries(table)) {
    const override = Object.hasOwn(overrides, key) ? overrides[key] : undefined;
    if (override !== undefined) {
      o[key] = override();
      continue;
    }
    const v = propOf(obj, key);
    // Absent tsbetween-only keys (decode.ts `optional`) are not echoed.
    if (v !== undefined) o[key] = echoShape(field.shape, v, `${path}.${key}`);
  }
  return o;
}

/** The common keys, then every group present in `obj` flattened into the same object, in group order. */
function echoGrouped(shape: GroupedShape, obj: object, path: string): JsonObject {
  const o = echoTable(shape.common, obj, path);
  for (const [group, table] of Object.entries(shape.groups)) {
    const g = propOf(obj, group);
    if (g !== undefined && g !== null) Object.assign(o, echoTable(table, asObject(g, `${path}.${group}`), path));
  }
  return o;
}

/** `discovery`: common keys, then every supplied kind group flattened in §3.6 group order. */
export function discoveryToJson(d: DiscoveryWire): JsonObject {
  return echoGrouped(discoveryShape, d, 'discovery');
}

/**
 * `healthcheck`: common keys, then the probe group, then the exec group (§3.6); `initial_status`
 * omitted while null unless `nullInitialStatus`, the exec group's `exec_command` omitted when empty.
 */
export function healthcheckToJson(h: HealthcheckWire, opts: EchoOptions = {}): JsonObject {
  const o = echoGrouped(healthcheckShape, h, 'healthcheck');
  if (h.initial_status === null && opts.nullInitialStatus !== true) delete o['initial_status'];
  if (h.exec?.exec_command === '') delete o['exec_command'];
  return o;
}

/** The echoed server (GET /servers/:name), keys in GoBetween's order, absent sections as null. */
export function serverToJson(s: ServerWire, opts: EchoOptions = {}): JsonObject {
  const o = echoTable(serverTable, s, 'server', {
    healthcheck: () => healthcheckToJson(s.healthcheck, opts),
    udp: () => udpToJson(s.udp),
  });
  // tsbetween-only section: absent from GoBetween's shape unless configured.
  if (s.accept_proxy_protocol === null) delete o['accept_proxy_protocol'];
  return o;
}

/** `udp`: GoBetween's three keys; tsbetween's `max_sessions` only when it was set. */
function udpToJson(u: ServerWire['udp']): JsonValue {
  if (u === null) return null;
  const o: JsonObject = { max_requests: u.max_requests, max_responses: u.max_responses, transparent: u.transparent };
  if (u.max_sessions !== undefined) o['max_sessions'] = u.max_sessions;
  return o;
}

/** GET /servers: name → echoed server, names in Go's sorted map order (`{}` when none). */
export function serversToJson(servers: Readonly<Record<string, ServerWire>>, opts: EchoOptions = {}): JsonObject {
  // fromEntries defines own properties, so any name (even "__proto__") is a plain key.
  return Object.fromEntries(
    Object.keys(servers)
      .sort(compareGoStrings)
      .flatMap((name) => {
        const s = Object.prototype.hasOwnProperty.call(servers, name) ? servers[name] : undefined;
        return s === undefined ? [] : [[name, serverToJson(s, opts)] as const];
      }),
  );
}

/**
 * The `/dump` root object: the root sections as decoded (acme with its defaults as the caller
 * stored them) and `servers` replaced by the given current, normalised servers, sorted by name.
 */
export function configToJson(
  root: ConfigWire,
  servers: Readonly<Record<string, ServerWire>>,
  opts: ConfigJsonOptions = {},
): JsonObject {
  const auth = root.api.basic_auth;
  const api: ApiWire =
    auth !== null && (opts.redactPassword ?? true)
      ? { ...root.api, basic_auth: { ...auth, password: REDACTED_PASSWORD } }
      : root.api;
  return echoTable(configTable, { ...root, api }, 'config', {
    acme: () => acmeToJson(root.acme),
    servers: () => serversToJson(servers, opts),
  });
}

const ACME_TSBETWEEN_KEYS = ['directory_url', 'email', 'root_ca_cert_path'] as const;

/** `[acme]` as decoded, without the tsbetween-only keys that are not set. */
function acmeToJson(acme: AcmeWire | null): JsonValue {
  const field = configTable['acme'];
  if (acme === null || field === undefined) return null;
  const o = echoShape(field.shape, acme, 'config.acme');
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    for (const k of ACME_TSBETWEEN_KEYS) if (o[k] === null) delete o[k];
  }
  return o;
}

// ---- TOML ---------------------------------------------------------------------------------------

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** A TOML basic string (`"…"`) with every character TOML requires escaped. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (c) {
      case 0x08: out += '\\b'; break;
      case 0x09: out += '\\t'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0c: out += '\\f'; break;
      case 0x0d: out += '\\r'; break;
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      default:
        if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
        else if (c >= 0xd800 && c <= 0xdfff) out += '\uFFFD'; // lone surrogate: not encodable
        else out += ch;
    }
  }
  return out + '"';
}

function tomlKey(k: string): string {
  return BARE_KEY.test(k) ? k : tomlString(k);
}

function tomlNumber(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const s = String(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function tomlScalar(v: JsonValue, path: string): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number') return tomlNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) {
    return `[${v.map((e) => {
      if (e === null || typeof e === 'object') throw new TypeError(`toml: unsupported array element at ${path}`);
      return tomlScalar(e, path);
    }).join(', ')}]`;
  }
  throw new TypeError(`toml: unsupported value at ${path}`);
}

function isTable(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function writeTable(path: readonly string[], obj: JsonObject, out: string[]): void {
  const depth = path.length;
  if (depth === 1 && out.length > 0) out.push('\n');
  if (depth > 0) out.push(`${'  '.repeat(depth - 1)}[${path.map(tomlKey).join('.')}]\n`);
  const pad = '  '.repeat(depth);
  const subs: [string, JsonObject][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === null) continue;
    if (isTable(v)) subs.push([k, v]);
    else out.push(`${pad}${tomlKey(k)} = ${tomlScalar(v, [...path, k].join('.'))}\n`);
  }
  for (const [k, v] of subs) writeTable([...path, k], v, out);
}

/**
 * A TOML document for a JSON-shaped object in the BurntSushi v0.3.1 layout (§3.4.2): in each table
 * scalars first then sub-tables, both in the object's key order; `null` omitted; empty tables keep
 * their header; header at depth d indented 2×(d−1) spaces and its keys 2×d; an empty line before
 * each top-level table after the first.
 */
export function toToml(obj: JsonObject): string {
  const out: string[] = [];
  writeTable([], obj, out);
  return out.join('');
}

/**
 * GET /dump body: `json` → Go-style indented JSON, `toml` → TOML; the basic-auth password is
 * redacted unless `opts.redactPassword === false`. Other formats throw {@link UnknownFormatError}
 * (`Unknown format <x>`).
 */
export function dumpConfig(
  root: ConfigWire,
  servers: Readonly<Record<string, ServerWire>>,
  format: string,
  opts: ConfigJsonOptions = {},
): string {
  switch (format) {
    case 'json':
      return goJson(configToJson(root, servers, opts));
    case 'toml':
      return toToml(configToJson(root, servers, opts));
    default:
      throw new UnknownFormatError(format);
  }
}
