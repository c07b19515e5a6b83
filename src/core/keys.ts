/**
 * Config key schemas for the extension points (DESIGN rule 1): a discovery kind or a health-check
 * kind declares its key group as a zod object built with {@link key}. From that one declaration
 * come the decoder's field table (config/decode.ts: names, Go types, zero values, output order),
 * the echo and `/dump` (same order), and the machine-readable configuration reference
 * ({@link describeGroup}, config/reference.ts).
 *
 * Each key carries, as zod metadata: its description, its Go type (`string`, `duration`, `int`,
 * `bool`, `[]string`) and, when validation fills one in, its effective default (the zod
 * `.default()` is GoBetween's zero value, which the decoder writes when the key is absent).
 */
import { z } from 'zod';

export type GoType = 'string' | 'duration' | 'int' | 'bool' | '[]string';

export interface KeyMeta {
  readonly description: string;
  readonly goType: GoType;
  /** What validation fills in when the key is empty/absent (`"udp"`, `"eth0"`); absent = the zero value. */
  readonly effectiveDefault?: string | number | boolean;
}

type KeyOpts = Omit<KeyMeta, 'goType' | 'description'>;

function withMeta<T extends z.ZodType>(schema: T, goType: GoType, description: string, opts: KeyOpts): T {
  return schema.meta({ description, goType, ...opts });
}

/** Builders for the key types GoBetween's config uses. */
export const key = {
  string: (description: string, opts: KeyOpts = {}) => withMeta(z.string().default(''), 'string', description, opts),
  duration: (description: string, opts: KeyOpts = {}) => withMeta(z.string().default(''), 'duration', description, opts),
  int: (description: string, opts: KeyOpts = {}) => withMeta(z.number().int().default(0), 'int', description, opts),
  bool: (description: string, opts: KeyOpts = {}) => withMeta(z.boolean().default(false), 'bool', description, opts),
  strings: (description: string, opts: KeyOpts = {}) => withMeta(z.array(z.string()).default([]), '[]string', description, opts),
};

/** A kind's key group: key name → schema, in GoBetween's output order. */
export type KeyGroupSchema = z.ZodObject<Record<string, z.ZodType>>;

/** One key, as the configuration reference lists it. */
export interface KeyInfo {
  readonly name: string;
  readonly type: GoType;
  /** The effective default (what validation fills in), else the decoder's zero value. */
  readonly default: string | number | boolean | readonly string[];
  readonly description: string;
}

/** The metadata of one key schema built with {@link key}. */
export function keyMeta(schema: z.ZodType): KeyMeta {
  const meta = schema.meta() as Partial<KeyMeta> | undefined;
  if (meta?.goType === undefined || meta.description === undefined) {
    throw new Error('config key schema without metadata: build it with key.*()');
  }
  return meta as KeyMeta;
}

/** The zero value of a key (its zod default). */
export function keyZero(schema: z.ZodType): string | number | boolean | string[] {
  const parsed: unknown = schema.parse(undefined);
  if (Array.isArray(parsed)) return parsed.map(String);
  if (typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean') return parsed;
  throw new Error('config key schema without a scalar default');
}

/** Every key of a group, in declaration order. */
export function describeGroup(schema: KeyGroupSchema): KeyInfo[] {
  return Object.entries(schema.shape).map(([name, s]) => {
    const meta = keyMeta(s);
    return { name, type: meta.goType, default: meta.effectiveDefault ?? keyZero(s), description: meta.description };
  });
}
