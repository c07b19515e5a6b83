/**
 * Go (RE2) regular expressions on JavaScript's engine: the one translator used wherever a config
 * carries a Go regexp, so load-time validation (config/prepare.ts), `plaintext_regex_pattern`
 * (discovery/plaintext.ts) and `probe_recv` with the `regexp` probe strategy
 * (healthcheck/probe.ts) accept and reject exactly the same patterns.
 *
 * The pattern is rewritten into an equivalent JS source compiled with the `u` flag (both engines
 * work on code points; the probe decodes the bytes read as UTF-8, and invalid bytes become U+FFFD
 * exactly as RE2 sees them).
 *
 * Translated: leading flag groups `(?i)` `(?s)` `(?m)` (and their combinations, `-` negation);
 * `(?P<name>…)` named groups; `\A` and `\z`; `\Q…\E` literals; POSIX classes `[[:alpha:]]`;
 * `\pL` / `\p{Greek}` (scripts become `Script=…`); `\x{10FFFF}`; Go octal escapes `\012`; `\a`;
 * escaped punctuation (`\#`, `\-`, which the `u` flag refuses); RE2's narrow `\s` (`[\t\n\f\r ]`);
 * literal braces and `]` where they are not syntax. Rejected like RE2 does: lookarounds,
 * backreferences, possessive/atomic syntax, `\C`; rejected because Node 20 cannot express
 * them: flag groups after the start (`(?i:…)`, `a(?i)b`), the `U` flag and negated POSIX classes.
 *
 * Errors are GoRegexpError (a SyntaxError) whose message reads like Go's:
 * `error parsing regexp: <detail>`.
 */

/** An invalid (or unsupported) Go regexp; the message is `error parsing regexp: <detail>`. */
export class GoRegexpError extends SyntaxError {
  override readonly name = 'GoRegexpError';

  constructor(detail: string, options?: ErrorOptions) {
    super(`error parsing regexp: ${detail}`, options);
  }
}

export interface TranslatedRegexp {
  source: string;
  flags: string;
}

const POSIX: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Unicode general categories (`\pL`, `\p{Lu}`); other names are scripts. */
const CATEGORIES = new Set([
  'C', 'Cc', 'Cf', 'Co', 'Cs', 'L', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn',
  'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps',
  'S', 'Sc', 'Sk', 'Sm', 'So', 'Z', 'Zl', 'Zp', 'Zs',
]);

const RE2_SPACE = '\\t\\n\\f\\r ';

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function isWordChar(c: string): boolean {
  return /^[0-9A-Za-z_]$/.test(c);
}

/**
 * Compiles a Go regexp as a JS RegExp (flag `u`, plus `extraFlags`, e.g. `g`).
 * Throws GoRegexpError on invalid or unsupported syntax.
 */
export function compileGoRegexp(pattern: string, extraFlags = ''): RegExp {
  const t = translateGoRegexp(pattern);
  let flags = t.flags;
  for (const f of extraFlags) if (!flags.includes(f)) flags += f;
  try {
    return new RegExp(t.source, flags);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new GoRegexpError(detail, { cause: err });
  }
}

/** Rewrites a Go regexp into JS RegExp source and flags. Throws GoRegexpError on invalid syntax. */
export function translateGoRegexp(pattern: string): TranslatedRegexp {
  const p = [...pattern]; // code points
  let i = 0;
  const flags = new Set<string>();

  // Leading flag group(s): (?i) (?ims) (?s-m)
  for (;;) {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(p.slice(i).join(''));
    if (m === null || (m[1] === '' && (m[2] ?? '') === '')) break;
    for (const f of m[1] ?? '') flags.add(f);
    for (const f of m[2] ?? '') flags.delete(f);
    i += [...m[0]].length;
  }
  if (flags.has('U')) throw new GoRegexpError('ungreedy flag (?U) is not supported');

  let out = '';
  let depth = 0;

  const peek = (k = 0): string | undefined => p[i + k];

  /** Reads an escape after a backslash (i points after it); returns the JS text. */
  const escape = (inClass: boolean): string => {
    const c = p[i++];
    if (c === undefined) throw new GoRegexpError('trailing backslash at end of expression');
    switch (c) {
      case 'a': return '\\x07';
      case 'f': case 'n': case 'r': case 't': case 'v': return `\\${c}`;
      case 'd': case 'D': case 'w': case 'W': return `\\${c}`;
      case 's': return inClass ? RE2_SPACE : `[${RE2_SPACE}]`;
      case 'S': return inClass ? '\\S' : `[^${RE2_SPACE}]`;
      case 'b': case 'B':
        if (inClass) throw new GoRegexpError(`invalid escape sequence: \\${c}`);
        return `\\${c}`;
      case 'A':
        if (inClass) throw new GoRegexpError('invalid escape sequence: \\A');
        return '(?<![\\s\\S])';
      case 'z':
        if (inClass) throw new GoRegexpError('invalid escape sequence: \\z');
        return '(?![\\s\\S])';
      case 'x': {
        if (peek() === '{') {
          let j = i + 1;
          let digits = '';
          while (p[j] !== undefined && p[j] !== '}') digits += p[j++];
          if (p[j] !== '}' || !/^[0-9A-Fa-f]+$/.test(digits)) throw new GoRegexpError('invalid escape sequence: \\x{');
          const cp = parseInt(digits, 16);
          if (cp > 0x10ffff) throw new GoRegexpError('invalid escape sequence: \\x{');
          i = j + 1;
          return hex(cp);
        }
        const h = `${p[i] ?? ''}${p[i + 1] ?? ''}`;
        if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new GoRegexpError('invalid escape sequence: \\x');
        i += 2;
        return hex(parseInt(h, 16));
      }
      case 'p': case 'P': {
        let name: string;
        if (peek() === '{') {
          let j = i + 1;
          name = '';
          while (p[j] !== undefined && p[j] !== '}') name += p[j++];
          if (p[j] !== '}') throw new GoRegexpError(`invalid character class range: \\${c}{`);
          i = j + 1;
        } else {
          name = p[i++] ?? '';
        }
        let neg = c === 'P';
        if (name.startsWith('^')) {
          neg = !neg;
          name = name.slice(1);
        }
        if (name === 'Any') return neg ? '[^\\s\\S]' : '[\\s\\S]';
        if (!/^[A-Za-z_]+$/.test(name)) throw new GoRegexpError(`invalid character class range: \\${c}${name}`);
        const prop = CATEGORIES.has(name) ? name : `Script=${name}`;
        return `\\${neg ? 'P' : 'p'}{${prop}}`;
      }
      case 'C': throw new GoRegexpError('invalid escape sequence: \\C (any byte) is not supported');
      default: break;
    }
    if (c >= '0' && c <= '7') {
      // Go: \0 starts an octal escape; \1-\7 only when followed by another octal digit
      // (a lone \1 would be a backreference, which RE2 does not have).
      const next = peek();
      if (c !== '0' && (next === undefined || next < '0' || next > '7')) {
        throw new GoRegexpError(`invalid escape sequence: \\${c}`);
      }
      let digits = c;
      while (digits.length < 3 && p[i] !== undefined && (p[i] ?? '') >= '0' && (p[i] ?? '') <= '7') digits += p[i++];
      return hex(parseInt(digits, 8));
    }
    const cp = c.codePointAt(0) ?? 0;
    if (cp < 0x80 && !isWordChar(c)) return `\\x${cp.toString(16).padStart(2, '0')}`;
    throw new GoRegexpError(`invalid escape sequence: \\${c}`);
  };

  const quoteLiteral = (c: string): string => {
    const cp = c.codePointAt(0) ?? 0;
    return cp < 0x80 && !isWordChar(c) && c !== ' ' ? `\\x${cp.toString(16).padStart(2, '0')}` : c;
  };

  const readClass = (): string => {
    // i points after '['
    let s = '[';
    if (peek() === '^') {
      s += '^';
      i++;
    }
    let first = true;
    for (;;) {
      const c = p[i];
      if (c === undefined) throw new GoRegexpError(`missing closing ]: \`${pattern}\``);
      if (c === ']' && !first) {
        i++;
        return `${s}]`;
      }
      first = false;
      if (c === '[' && peek(1) === ':') {
        const rest = p.slice(i).join('');
        const m = /^\[:(\^?)([a-z]+):\]/.exec(rest);
        if (m !== null) {
          const body = POSIX[m[2] ?? ''];
          if (body === undefined) throw new GoRegexpError(`invalid character class range: ${m[0]}`);
          if (m[1] === '^') throw new GoRegexpError(`negated POSIX class ${m[0]} is not supported`);
          s += body;
          i += [...m[0]].length;
          continue;
        }
      }
      i++;
      if (c === '\\') s += escape(true);
      else if (c === '[' || c === ']' || c === '/') s += `\\${c}`;
      else s += c;
    }
  };

  while (i < p.length) {
    const c = p[i++] ?? '';
    switch (c) {
      case '\\': {
        if (peek() === 'Q') {
          i++;
          while (i < p.length && !(p[i] === '\\' && p[i + 1] === 'E')) out += quoteLiteral(p[i++] ?? '');
          if (i < p.length) i += 2;
          break;
        }
        out += escape(false);
        break;
      }
      case '[':
        out += readClass();
        break;
      case '(': {
        depth++;
        if (peek() !== '?') {
          out += '(';
          break;
        }
        const rest = p.slice(i).join('');
        const named = /^\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
        if (named !== null) {
          out += `(?<${named[1] ?? ''}>`;
          i += [...named[0]].length;
        } else if (rest.startsWith('?:')) {
          out += '(?:';
          i += 2;
        } else if (/^\?[imsU-]*[:)]/.test(rest)) {
          throw new GoRegexpError('flag groups other than a leading (?flags) are not supported');
        } else {
          throw new GoRegexpError(`invalid or unsupported Perl syntax: \`(${rest.slice(0, 3)}\``);
        }
        break;
      }
      case ')':
        if (depth === 0) throw new GoRegexpError(`unexpected ): \`${pattern}\``);
        depth--;
        out += ')';
        break;
      case '{': {
        const m = /^(\d+)(,(\d*))?\}/.exec(p.slice(i).join(''));
        if (m !== null && out !== '') {
          out += `{${m[0]}`;
          i += m[0].length;
          if (peek() === '+') throw new GoRegexpError('invalid nested repetition operator: `}+`');
        } else {
          out += '\\{';
        }
        break;
      }
      case '}':
      case ']':
      case '/':
        out += `\\${c}`;
        break;
      case '*': case '+': case '?':
        out += c;
        if (peek() === '*' || peek() === '+') throw new GoRegexpError(`invalid nested repetition operator: \`${c}${peek() ?? ''}\``);
        break;
      default:
        out += c;
    }
  }
  if (depth !== 0) throw new GoRegexpError(`missing closing ): \`${pattern}\``);
  let jsFlags = 'u';
  if (flags.has('i')) jsFlags += 'i';
  if (flags.has('m')) jsFlags += 'm';
  if (flags.has('s')) jsFlags += 's';
  return { source: out, flags: jsFlags };
}
