/**
 * Config decoding with GoBetween's rules (control-plane §2.1): TOML (smol-toml) or JSON into
 * {@link ConfigWire}; a REST POST body into {@link ServerInput}.
 *
 * - Keys match case-insensitively, an exact match preferred (`Bind` works). When two spellings of
 *   one key appear, the later one wins.
 * - Unknown keys are ignored, as GoBetween does, but each is reported in `warnings` with its full
 *   path: `unknown key servers.sample.discovery.docker_cache_ttl`.
 * - Type mismatches throw `DecodeError(path, message)`, e.g.
 *   `servers.web.max_connections: expected an integer, got string`. Floats into integer fields
 *   and numbers into duration fields are errors. Durations are only type-checked here; their
 *   grammar is checked by `prepareServer`.
 * - Deliberate difference: a negative value for the unsigned `udp.max_requests`/`max_responses` is
 *   an error in both formats (GoBetween's TOML decoder wraps it to a huge number).
 * - Leniencies: JSON numbers are read after `JSON.parse`, so `1.0` and `1e2` are accepted as
 *   integers (Go's JSON decoder refuses them); TOML is parsed as TOML 1.0 (dotted keys, mixed
 *   arrays), a superset of the TOML 0.4 GoBetween reads.
 * - JSON `null` means "absent": value sections and scalars keep their zero value, pointer sections
 *   (`acme`, `profiler`, `basic_auth`, `tls`, `sni`, `backends_tls`, `udp`, `access`,
 *   `proxy_protocol`, `accept_proxy_protocol`, `discovery`, `healthcheck`) and the four connection options stay null.
 * - A discovery/healthcheck key group exists iff one of its keys was given (even as null); it is
 *   then zero-filled.
 * - An empty (or whitespace-only) document is an empty config, in both formats.
 * - `consul_service_datacenter` (the name in GoBetween's sample config, which GoBetween
 *   ignores) is read as `consul_datacenter`, with a warning.
 *
 * The decoding rules are the descriptor tables below rather than a schema library's parsing
 * (case-insensitive key matching, unknown-key reporting and Go's type vocabulary are needed). The
 * discovery and health-check key groups, though, are built from each kind's key schema (see {@link kindGroups}): adding a kind adds its keys here without touching this file.
 *
 * The tables are also the one list of GoBetween's keys: their key order is GoBetween's output
 * order (control-plane §3.6), and dump.ts writes the echo and `/dump` from them
 * ({@link serverTable}, {@link configTable}, {@link discoveryShape}, {@link healthcheckShape}).
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { DecodeError } from '../core/errors.js';
import { keyMeta, type KeyGroupSchema, type KeySchema } from '../core/keys.js';
import { createDiscoveryRegistry } from '../discovery/index.js';
import { createHealthcheckRegistry } from '../healthcheck/index.js';
import type {
  AccessLogWire,
  AccessWire,
  AcmeWire,
  AcceptProxyProtocolWire,
  ApiTlsWire,
  ApiWire,
  BackendsTlsWire,
  BasicAuthWire,
  ConfigWire,
  DefaultsWire,
  DiscoveryWire,
  HealthcheckWire,
  LoggingWire,
  MetricsWire,
  ProfilerWire,
  ProxyProtocolWire,
  ServerInput,
  SniWire,
  TlsWire,
  UdpWire,
} from './types.js';

export type ConfigFormat = 'toml' | 'json';

interface Ctx {
  readonly format: ConfigFormat;
  readonly warnings: string[];
}

/**
 * What a writer needs to know of a field (dump.ts): a plain value (scalar or string array; also the
 * root `servers` map, which the writer handles itself), a nested table, or a table of common keys
 * plus optional key groups (see {@link grouped}). Key order is GoBetween's output order (§3.6).
 */
export type Shape = ValueShape | TableOfShape | GroupedShape;
export interface ValueShape {
  readonly kind: 'value';
}
export interface TableOfShape {
  readonly kind: 'table';
  readonly fields: TableShape;
}
export interface GroupedShape {
  readonly kind: 'grouped';
  readonly common: TableShape;
  /** Group name → its keys, in GoBetween's group order. */
  readonly groups: Readonly<Record<string, TableShape>>;
}
export interface FieldShape {
  readonly shape: Shape;
}
/** Key → field, in GoBetween's output order. */
export type TableShape = Readonly<Record<string, FieldShape>>;

interface Field<V> extends FieldShape {
  zero(): V;
  decode(value: unknown, path: string, ctx: Ctx): V;
}

type Fields<T> = { [K in keyof T]-?: Field<T[K]> };

const VALUE: ValueShape = { kind: 'value' };

type Obj = Record<string, unknown>;

// ---- value helpers -------------------------------------------------------------------------

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function typeName(v: unknown, ctx: Ctx): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') {
    if (ctx.format === 'toml') return 'float';
    return Number.isInteger(v) ? 'integer' : 'float';
  }
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'datetime';
  return ctx.format === 'toml' ? 'table' : 'object';
}

function tableNoun(ctx: Ctx): string {
  return ctx.format === 'toml' ? 'a table' : 'an object';
}

function mismatch(path: string, expected: string, v: unknown, ctx: Ctx): DecodeError {
  return new DecodeError(path, `expected ${expected}, got ${typeName(v, ctx)}`);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Object keys that are safe to assign (`__proto__` would otherwise set the prototype). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An integer value (TOML bigint, JSON integral number) as a number, or undefined. */
function integerOf(v: unknown, ctx: Ctx): number | bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && ctx.format === 'json' && Number.isInteger(v)) return v;
  return undefined;
}

// ---- field descriptors ---------------------------------------------------------------------

function stringField(expected: string): Field<string> {
  return {
    shape: VALUE,
    zero: () => '',
    decode(v, path, ctx) {
      if (v === null) return '';
      if (typeof v !== 'string') throw mismatch(path, expected, v, ctx);
      return v;
    },
  };
}

function nullable<V>(inner: Field<V>): Field<V | null> {
  return {
    shape: inner.shape,
    zero: () => null,
    decode: (v, path, ctx) => (v === null ? null : inner.decode(v, path, ctx)),
  };
}

/**
 * A tsbetween-only key: `undefined` (absent) unless given, and then not echoed by dump.ts, so a
 * GoBetween config keeps GoBetween's key set in GET /servers and /dump.
 */
function optional<V>(inner: Field<V>): Field<V | undefined> {
  return {
    shape: inner.shape,
    zero: () => undefined,
    decode: (v, path, ctx) => (v === null ? undefined : inner.decode(v, path, ctx)),
  };
}

const str = stringField('a string');
const dur = stringField('a duration string');
const nstr = nullable(str);
const ndur = nullable(dur);

function intField(unsigned: boolean): Field<number> {
  const expected = unsigned ? 'a non-negative integer' : 'an integer';
  return {
    shape: VALUE,
    zero: () => 0,
    decode(v, path, ctx) {
      if (v === null) return 0;
      const n = integerOf(v, ctx);
      if (n === undefined) throw mismatch(path, expected, v, ctx);
      const big = typeof n === 'bigint' ? n : BigInt(n);
      if (big < INT64_MIN || big > INT64_MAX) throw new DecodeError(path, `integer ${big} out of range`);
      if (unsigned && big < 0n) throw new DecodeError(path, `expected ${expected}, got ${big}`);
      return Number(big);
    },
  };
}

const int = intField(false);
const uint = intField(true);
const nint = nullable(int);

const bool: Field<boolean> = {
  shape: VALUE,
  zero: () => false,
  decode(v, path, ctx) {
    if (v === null) return false;
    if (typeof v !== 'boolean') throw mismatch(path, 'a boolean', v, ctx);
    return v;
  },
};

function decodeStringArray(v: unknown, path: string, ctx: Ctx): string[] {
  if (!Array.isArray(v)) throw mismatch(path, 'an array of strings', v, ctx);
  return v.map((item: unknown, i) => {
    if (typeof item !== 'string') throw mismatch(`${path}[${i}]`, 'a string', item, ctx);
    return item;
  });
}

const strs: Field<string[]> = {
  shape: VALUE,
  zero: () => [],
  decode: (v, path, ctx) => (v === null ? [] : decodeStringArray(v, path, ctx)),
};
const nstrs = nullable<string[]>({ shape: VALUE, zero: () => [], decode: decodeStringArray });

function matchKey(names: readonly string[], key: string): string | undefined {
  if (names.includes(key)) return key;
  const lower = key.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower);
}

function zeroOf<T extends object>(fields: Fields<T>): T {
  const out: Partial<T> = {};
  for (const name of Object.keys(fields) as (keyof T & string)[]) {
    const z = fields[name].zero();
    if (z !== undefined) out[name] = z;
  }
  return out as T;
}

function expectObject(v: unknown, path: string, ctx: Ctx): Obj {
  if (!isObject(v)) throw mismatch(path, tableNoun(ctx), v, ctx);
  return v;
}

/** Decodes the keys of `raw` into a zero-filled T; unknown keys become warnings. */
function decodeFields<T extends object>(raw: Obj, path: string, fields: Fields<T>, ctx: Ctx): T {
  const out = zeroOf(fields);
  const names = Object.keys(fields) as (keyof T & string)[];
  for (const [key, value] of Object.entries(raw)) {
    const name = matchKey(names, key) as (keyof T & string) | undefined;
    if (name === undefined) {
      ctx.warnings.push(`unknown key ${join(path, key)}`);
      continue;
    }
    const decoded = fields[name].decode(value, join(path, name), ctx);
    if (decoded === undefined) delete out[name];
    else out[name] = decoded;
  }
  return out;
}

function struct<T extends object>(fields: Fields<T>): Field<T> {
  return {
    shape: { kind: 'table', fields },
    zero: () => zeroOf(fields),
    decode: (v, path, ctx) => (v === null ? zeroOf(fields) : decodeFields(expectObject(v, path, ctx), path, fields, ctx)),
  };
}

/**
 * A table whose keys are split between common fields and optional key groups (GoBetween's
 * embedded pointer structs): a group is created, zero-filled, as soon as one of its keys appears.
 */
function grouped<C extends object, G extends object>(
  common: Fields<C>,
  groups: { [K in keyof G]-?: Fields<G[K] & object> },
  aliases: Readonly<Record<string, string>> = {},
): Field<(C & Partial<G>) | null> & { readonly shape: GroupedShape } {
  const lookup = new Map<string, { group: (keyof G & string) | null; field: Field<unknown> }>();
  for (const name of Object.keys(common) as (keyof C & string)[]) {
    lookup.set(name, { group: null, field: common[name] });
  }
  for (const g of Object.keys(groups) as (keyof G & string)[]) {
    const gf = groups[g] as Record<string, Field<unknown>>;
    for (const name of Object.keys(gf)) lookup.set(name, { group: g, field: gf[name] as Field<unknown> });
  }
  for (const [alias, target] of Object.entries(aliases)) {
    const entry = lookup.get(target);
    if (entry !== undefined) lookup.set(alias, entry);
  }
  const names = [...lookup.keys()];
  return {
    shape: { kind: 'grouped', common, groups },
    zero: () => null,
    decode(v, path, ctx) {
      if (v === null) return null;
      const raw = expectObject(v, path, ctx);
      const base = zeroOf(common) as Record<string, unknown>;
      const present = new Map<string, Record<string, unknown>>();
      for (const [key, value] of Object.entries(raw)) {
        const name = matchKey(names, key);
        const entry = name === undefined ? undefined : lookup.get(name);
        if (name === undefined || entry === undefined) {
          ctx.warnings.push(`unknown key ${join(path, key)}`);
          continue;
        }
        const aliasOf = Object.hasOwn(aliases, name) ? aliases[name] : undefined;
        if (aliasOf !== undefined) {
          ctx.warnings.push(`${join(path, key)}: read as ${aliasOf} (GoBetween ignores this documented alias)`);
        }
        const canonical = aliasOf ?? name;
        const decoded = entry.field.decode(value, join(path, canonical), ctx);
        if (entry.group === null) {
          base[canonical] = decoded;
        } else {
          let target = present.get(entry.group);
          if (target === undefined) {
            target = zeroOf(groups[entry.group]) as Record<string, unknown>;
            present.set(entry.group, target);
          }
          target[canonical] = decoded;
        }
      }
      // Groups in declaration order (GoBetween's output order).
      for (const g of Object.keys(groups)) {
        const target = present.get(g);
        if (target !== undefined) base[g] = target;
      }
      return base as C & Partial<G>;
    },
  };
}

// ---- schema --------------------------------------------------------------------------------

const loggingFields: Fields<LoggingWire> = { level: str, output: str, format: str };
const basicAuthFields: Fields<BasicAuthWire> = { login: str, password: str };
const apiTlsFields: Fields<ApiTlsWire> = { cert_path: str, key_path: str };
const apiFields: Fields<ApiWire> = {
  enabled: bool,
  bind: str,
  basic_auth: nullable(struct(basicAuthFields)),
  tls: nullable(struct(apiTlsFields)),
  cors: bool,
};
const metricsFields: Fields<MetricsWire> = { enabled: bool, bind: str };
const defaultsFields: Fields<DefaultsWire> = {
  max_connections: nint,
  client_idle_timeout: ndur,
  backend_idle_timeout: ndur,
  backend_connection_timeout: ndur,
};
const acmeFields: Fields<AcmeWire> = {
  challenge: str,
  http_bind: str,
  cache_dir: str,
  directory_url: nstr,
  email: nstr,
  root_ca_cert_path: nstr,
};
const profilerFields: Fields<ProfilerWire> = { enabled: bool, bind: str };
const accessLogFields: Fields<AccessLogWire> = { enabled: bool, output: str, format: str, rate_limit: nint };

const sniFields: Fields<SniWire> = {
  hostname_matching_strategy: str,
  unexpected_hostname_strategy: str,
  read_timeout: dur,
};
const tlsFields: Fields<TlsWire> = {
  acme_hosts: nstrs,
  cert_path: str,
  key_path: str,
  ciphers: nstrs,
  min_version: str,
  max_version: str,
  session_tickets: bool,
};
const backendsTlsFields: Fields<BackendsTlsWire> = {
  ignore_verify: bool,
  root_ca_cert_path: nstr,
  cert_path: nstr,
  key_path: nstr,
  ciphers: nstrs,
  min_version: str,
  max_version: str,
  session_tickets: bool,
};
// `max_sessions` is tsbetween's (the UDP session cap): no property unless given.
const udpFields: Fields<UdpWire> = { max_requests: uint, max_responses: uint, transparent: bool, max_sessions: optional(uint) };
const accessFields: Fields<AccessWire> = { default: str, rules: nstrs };
const proxyProtocolFields: Fields<ProxyProtocolWire> = { version: str };
const acceptProxyProtocolFields: Fields<AcceptProxyProtocolWire> = { from: nstrs, timeout: dur };

// Discovery and health-check key groups come from the kinds themselves (DESIGN rule 1): each
// kind declares its keys as a key group (core/keys.ts); a group is named after its kind, and
// the registries' registration order is GoBetween's group order in the echo (§3.6).

/** The decoder field for one key schema, by its Go type. */
function fieldOf(schema: KeySchema): Field<unknown> {
  switch (keyMeta(schema).goType) {
    case 'string': return str;
    case 'duration': return dur;
    case 'int': return int;
    case 'bool': return bool;
    case '[]string': return strs;
  }
}

function groupFields(schema: KeyGroupSchema): Record<string, Field<unknown>> {
  const out: Record<string, Field<unknown>> = {};
  for (const [name, s] of Object.entries(schema.shape)) out[name] = fieldOf(s);
  return out;
}

interface KindKeys {
  readonly kind: string;
  readonly schema?: KeyGroupSchema;
  readonly aliases?: Readonly<Record<string, string>>;
}

/** Key groups (kind → fields) and key aliases of the kinds that declare keys. */
function kindGroups(kinds: readonly KindKeys[]): { groups: Record<string, Fields<object>>; aliases: Record<string, string> } {
  const groups: Record<string, Fields<object>> = {};
  const aliases: Record<string, string> = {};
  for (const k of kinds) {
    if (k.schema === undefined || Object.keys(k.schema.shape).length === 0) continue;
    groups[k.kind] = groupFields(k.schema);
    Object.assign(aliases, k.aliases ?? {});
  }
  return { groups, aliases };
}

type DiscoveryCommon = Pick<DiscoveryWire, 'kind' | 'failpolicy' | 'interval' | 'timeout'>;
type DiscoveryGroups = Omit<DiscoveryWire, keyof DiscoveryCommon>;

const discoveryKinds = kindGroups(createDiscoveryRegistry().list());
const discovery = grouped<DiscoveryCommon, DiscoveryGroups>(
  { kind: str, failpolicy: str, interval: dur, timeout: dur },
  discoveryKinds.groups as unknown as { [K in keyof DiscoveryGroups]-?: Fields<DiscoveryGroups[K] & object> },
  discoveryKinds.aliases,
);

type HealthcheckCommon = Pick<HealthcheckWire, 'kind' | 'interval' | 'passes' | 'fails' | 'timeout' | 'initial_status'>;
type HealthcheckGroups = Omit<HealthcheckWire, keyof HealthcheckCommon>;

const healthcheckKinds = kindGroups(createHealthcheckRegistry().list());
const healthcheck = grouped<HealthcheckCommon, HealthcheckGroups>(
  { kind: str, interval: dur, passes: int, fails: int, timeout: dur, initial_status: nstr },
  healthcheckKinds.groups as unknown as { [K in keyof HealthcheckGroups]-?: Fields<HealthcheckGroups[K] & object> },
  healthcheckKinds.aliases,
);

const serverFields: Fields<ServerInput> = {
  max_connections: nint,
  client_idle_timeout: ndur,
  backend_idle_timeout: ndur,
  backend_connection_timeout: ndur,
  bind: str,
  protocol: str,
  balance: str,
  sni: nullable(struct(sniFields)),
  tls: nullable(struct(tlsFields)),
  backends_tls: nullable(struct(backendsTlsFields)),
  udp: nullable(struct(udpFields)),
  access: nullable(struct(accessFields)),
  proxy_protocol: nullable(struct(proxyProtocolFields)),
  discovery,
  healthcheck,
  accept_proxy_protocol: nullable(struct(acceptProxyProtocolFields)),
  backend_connection_retries: optional(int),
  backend_prewarm: optional(int),
  passive_health_fails: optional(int),
  passive_health_down_time: optional(dur),
};

const server = struct(serverFields);

const servers: Field<Record<string, ServerInput> | null> = {
  shape: VALUE,
  zero: () => null,
  decode(v, path, ctx) {
    if (v === null) return null;
    const raw = expectObject(v, path, ctx);
    const out: Record<string, ServerInput> = {};
    for (const [name, value] of Object.entries(raw)) {
      const p = join(path, name);
      setOwn(out, name, server.decode(value, p, ctx));
    }
    return out;
  },
};

const rootFields: Fields<ConfigWire> = {
  logging: struct(loggingFields),
  api: struct(apiFields),
  metrics: struct(metricsFields),
  defaults: struct(defaultsFields),
  acme: nullable(struct(acmeFields)),
  profiler: nullable(struct(profilerFields)),
  servers,
  access_log: optional(struct(accessLogFields)),
};

// The writer's view of the schema (dump.ts); every key order is GoBetween's output order (§3.6).
/** A server's keys (GET /servers/:name). */
export const serverTable: TableShape = serverFields;
/** The root config's sections (`/dump`); `servers` is written by the caller. */
export const configTable: TableShape = rootFields;
/** `discovery`: common keys, then the key groups in GoBetween's group order. */
export const discoveryShape: GroupedShape = discovery.shape;
/** `healthcheck`: common keys, then the probe group, then the exec group. */
export const healthcheckShape: GroupedShape = healthcheck.shape;

// ---- entry points --------------------------------------------------------------------------

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos !== null) {
      const offset = Number(pos[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = ` (line ${line}, column ${column})`;
    }
    throw new DecodeError('', `invalid JSON: ${msg}${where}`, { cause: err });
  }
}

function parseTomlText(text: string): unknown {
  try {
    return parseToml(text, { integersAsBigInt: true });
  } catch (err) {
    if (err instanceof TomlError) {
      const first = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new DecodeError('', `invalid TOML at line ${err.line}, column ${err.column}: ${first}`, { cause: err });
    }
    throw err;
  }
}

/** Decodes a whole config file. Throws DecodeError on syntax or type errors. */
export function decodeConfig(text: string, format: string): { config: ConfigWire; warnings: string[] } {
  if (format !== 'toml' && format !== 'json') throw new DecodeError('', `Unknown format ${format}`);
  const ctx: Ctx = { format, warnings: [] };
  let raw: unknown;
  if (text.trim() === '') raw = {};
  else raw = format === 'toml' ? parseTomlText(text) : parseJsonText(text);
  if (raw === null) raw = {};
  const config = decodeFields(expectObject(raw, '', ctx), '', rootFields, ctx);
  return { config, warnings: ctx.warnings };
}

/**
 * Decodes one server object, e.g. the already JSON.parse'd body of `POST /servers/:name`.
 * `null` is an empty server (validation then reports the missing bind). `path` prefixes the
 * key paths in errors and warnings (e.g. `servers.web`).
 */
export function decodeServer(body: unknown, path = ''): { server: ServerInput; warnings: string[] } {
  const ctx: Ctx = { format: 'json', warnings: [] };
  const decoded = server.decode(body, path, ctx);
  return { server: decoded, warnings: ctx.warnings };
}

/** A server section with every field at its decoded zero value (useful for tests and callers). */
export function emptyServerInput(): ServerInput {
  return server.zero();
}
