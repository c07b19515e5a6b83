/**
 * The path syntax of json discovery patterns (GoBetween uses gojq + gosplitargs): segments
 * separated by `.`, single or double quotes group characters (a key containing dots), a segment
 * `[N]` indexes an array. `key[N]` is also accepted as `key` then `[N]`.
 */

export type PathSegment = string | number;

/** Splits a pattern into keys and array indexes; throws on an unterminated quote. */
export function parseJsonPath(pattern: string): PathSegment[] {
  const raw: { text: string; quoted: boolean }[] = [];
  let cur = '';
  let quoted = false;
  let quote: string | undefined;
  for (const ch of pattern) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      quoted = true;
    } else if (ch === '.') {
      raw.push({ text: cur, quoted });
      cur = '';
      quoted = false;
    } else {
      cur += ch;
    }
  }
  if (quote !== undefined) throw new Error(`unterminated quote in ${pattern}`);
  raw.push({ text: cur, quoted });

  const out: PathSegment[] = [];
  for (const { text, quoted: q } of raw) {
    if (q) {
      out.push(text);
      continue;
    }
    if (text === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])+)$/.exec(text);
    if (m === null) {
      out.push(text);
      continue;
    }
    if (m[1] !== undefined && m[1] !== '') out.push(m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** Follows `path` from `root`; `found: false` when a key is missing or a type does not fit. */
export function lookupJson(root: unknown, path: readonly PathSegment[]): { found: true; value: unknown } | { found: false } {
  let v: unknown = root;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(v) || seg >= v.length) return { found: false };
      v = v[seg] as unknown;
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, seg)) return { found: false };
      v = (v as Record<string, unknown>)[seg];
    }
  }
  return { found: true, value: v };
}
