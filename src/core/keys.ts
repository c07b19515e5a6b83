/**
 * Config key schemas for the extension points (DESIGN rule 1): a discovery kind or a health-check
 * kind declares its key group with {@link keyGroup} and {@link key}. From that one declaration
 * come the decoder's field table (config/decode.ts: names, Go types, zero values, output order),
 * the echo and `/dump` (same order), and the machine-readable configuration reference
 * ({@link describeGroup}, config/reference.ts).
 *
 * Each key carries its description, its Go type (`string`, `duration`, `int`, `bool`,
 * `[]string`), its zero value (GoBetween's, which the decoder writes when the key is absent) and,
 * when validation fills one in, its effective default.
 *
 * Plain frozen objects rather than a schema library: these tables are read at start-up by the
 * decoder and by the reference, never used to validate; zod cost about +18 MB of idle RSS on
 * Node 24 for that (issue 8 item 8).
 */
export type GoType = 'string' | 'duration' | 'int' | 'bool' | '[]string';

export interface KeyMeta {
  readonly description: string;
  readonly goType: GoType;
  /** What validation fills in when the key is empty/absent (`"udp"`, `"eth0"`); absent = the zero value. */
  readonly effectiveDefault?: string | number | boolean;
}

/** One key: its metadata and its Go zero value. */
export interface KeySchema extends KeyMeta {
  readonly zero: string | number | boolean | readonly string[];
}

type KeyOpts = Omit<KeyMeta, 'goType' | 'description'>;

function keySchema(goType: GoType, zero: KeySchema['zero'], description: string, opts: KeyOpts): KeySchema {
  return Object.freeze({ description, goType, zero, ...opts });
}

/** Builders for the key types GoBetween's config uses. */
export const key = {
  string: (description: string, opts: KeyOpts = {}) => keySchema('string', '', description, opts),
  duration: (description: string, opts: KeyOpts = {}) => keySchema('duration', '', description, opts),
  int: (description: string, opts: KeyOpts = {}) => keySchema('int', 0, description, opts),
  bool: (description: string, opts: KeyOpts = {}) => keySchema('bool', false, description, opts),
  strings: (description: string, opts: KeyOpts = {}) => keySchema('[]string', Object.freeze([]), description, opts),
};

/** A kind's key group: key name → schema, in GoBetween's output order. */
export interface KeyGroupSchema {
  readonly shape: Readonly<Record<string, KeySchema>>;
}

/** Declares a key group (declaration order is the output order). */
export function keyGroup(shape: Record<string, KeySchema>): KeyGroupSchema {
  return Object.freeze({ shape: Object.freeze({ ...shape }) });
}

/** One key, as the configuration reference lists it. */
export interface KeyInfo {
  readonly name: string;
  readonly type: GoType;
  /** The effective default (what validation fills in), else the decoder's zero value. */
  readonly default: string | number | boolean | readonly string[];
  readonly description: string;
}

/** The metadata of one key schema built with {@link key}. */
export function keyMeta(schema: KeySchema): KeyMeta {
  return schema;
}

/** The zero value of a key. */
export function keyZero(schema: KeySchema): string | number | boolean | string[] {
  return Array.isArray(schema.zero) ? [...(schema.zero as readonly string[])] : (schema.zero as string | number | boolean);
}

/** Every key of a group, in declaration order. */
export function describeGroup(schema: KeyGroupSchema): KeyInfo[] {
  return Object.entries(schema.shape).map(([name, s]) => ({
    name,
    type: s.goType,
    default: s.effectiveDefault ?? keyZero(s),
    description: s.description,
  }));
}
