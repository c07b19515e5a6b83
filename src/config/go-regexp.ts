/**
 * Go (RE2) regular expressions from the config, compiled as JavaScript RegExps: used for
 * `plaintext_regex_pattern` (data-plane §1.4) and the `regexp` probe strategy's `probe_recv`.
 *
 * The translation covers what configs in the wild use: named groups `(?P<name>…)` → `(?<name>…)`,
 * leading flag groups `(?i)`, `(?s)`, `(?m)` → RegExp flags, `\A` / `\z` anchors, and `]` as the
 * first member of a character class (`[]a]`). Other RE2-only syntax (POSIX classes, `\Q…\E`,
 * mid-pattern flag groups) is passed through and may be rejected by the JS engine. The pattern is
 * compiled without the `u` flag, which is the more lenient JS mode (RE2 accepts `\-`, `\_`, …).
 */

export interface TranslatedRegexp {
  source: string;
  flags: string;
}

/** Rewrites Go RE2 syntax into JavaScript RegExp syntax (see the file header for the scope). */
export function translateGoRegexp(pattern: string): TranslatedRegexp {
  let flags = '';
  let rest = pattern;
  const lead = /^\(\?([ims]+)\)/.exec(rest);
  if (lead !== null) {
    for (const f of lead[1] ?? '') if (!flags.includes(f)) flags += f;
    rest = rest.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < rest.length) {
    const c = rest[i] as string;
    if (c === '\\') {
      const n = rest[i + 1];
      if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else out += c + (n ?? '');
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      if (rest[i] === '^') {
        out += '^';
        i++;
      }
      if (rest[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (rest.startsWith('(?P<', i)) {
      out += '(?<';
      i += 4;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags };
}

/**
 * Compiles a Go pattern. Throws a SyntaxError whose message reads like Go's
 * (`error parsing regexp: …`) when the pattern is invalid.
 */
export function compileGoRegexp(pattern: string, extraFlags = ''): RegExp {
  const t = translateGoRegexp(pattern);
  let flags = t.flags;
  for (const f of extraFlags) if (!flags.includes(f)) flags += f;
  try {
    return new RegExp(t.source, flags);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new SyntaxError(`error parsing regexp: ${detail}`, { cause: err });
  }
}
