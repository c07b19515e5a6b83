// Go (RE2) regexps: the single translator behind load-time validation (config/prepare.ts),
// `plaintext_regex_pattern` (discovery/plaintext.ts) and the `regexp` probe (healthcheck/probe.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGoRegexp, GoRegexpError, translateGoRegexp } from '../../src/config/go-regexp.js';
import { DEFAULT_BACKEND_PATTERN } from '../../src/core/backend-line.js';

// ---- matching ------------------------------------------------------------------------------

const matches: Array<[string, string, boolean]> = [
  ['OK', 'xxOKxx', true], // unanchored
  ['^OK', 'xxOK', false],
  ['^HTTP/1\\.[01] 200', 'HTTP/1.1 200 OK', true],
  ['(?i)ok', 'OK', true],
  ['(?i)^PONG', 'pong!', true],
  ['(?s)a.b', 'a\nb', true],
  ['a.b', 'a\nb', false],
  ['(?P<code>\\d{3})', 'code 204', true],
  ['\\Aab', 'ab', true],
  ['\\Aab', 'cab', false],
  ['ab\\z', 'cab', true],
  ['ab\\z', 'ab\n', false],
  ['ok\\z', 'ok\n', false],
  ['\\Q.*+\\E', 'x.*+y', true],
  ['\\Q.*+\\E', 'xaay', false],
  ['[[:digit:]]+', 'abc123', true],
  ['[[:alpha:]]', '123', false],
  ['\\pL', 'é', true],
  ['\\p{Greek}', 'λ', true],
  ['\\x{3bb}', 'λ', true],
  ['\\x41', 'A', true],
  ['\\101', 'A', true],
  ['\\#\\-\\!', '#-!', true],
  ['[\\-a]', '-', true],
  ['\\s', '\u00a0', false], // RE2 \s is ASCII only
  ['\\s', '\t', true],
  ['a{2}', 'aa', true],
  ['a{', 'a{', true], // literal brace
  ['x}', 'x}', true],
  ['[]a]', ']', true],
  ['\\a', '\u0007', true],
];

for (const [pattern, input, want] of matches) {
  test(`go-regexp: ${JSON.stringify(pattern)} on ${JSON.stringify(input)} -> ${want}`, () => {
    assert.equal(compileGoRegexp(pattern).test(input), want);
  });
}

// ---- rejected patterns ---------------------------------------------------------------------

const invalid = ['(', 'a)', '[a', '\\1', 'a**', '(?=a)', '(?!a)', '(?<=a)b', '\\C', 'a(?i)b', '(?i:a)', '\\k', '\\', '(unclosed'];
for (const pattern of invalid) {
  test(`go-regexp: ${JSON.stringify(pattern)} is rejected`, () => {
    assert.throws(
      () => compileGoRegexp(pattern),
      (err: unknown) => err instanceof GoRegexpError && err instanceof SyntaxError && err.message.startsWith('error parsing regexp: '),
    );
  });
}

test('go-regexp: errors from the JS engine are GoRegexpErrors in Go form too', () => {
  // `x{2,1}` passes the translator; V8 refuses the range.
  assert.throws(
    () => compileGoRegexp('x{2,1}'),
    (err: unknown) => err instanceof GoRegexpError && /^error parsing regexp: (?!Invalid regular expression)/.test(err.message),
  );
});

// ---- translation ---------------------------------------------------------------------------
// (These asserted the old lenient config translator's output: `\S` kept as is, flags without `u`,
// `\(` kept; the single translator spells RE2's ASCII `\S` out, always adds `u` and writes
// escaped punctuation as `\xNN`. The meaning of each pattern is unchanged.)

test('translateGoRegexp', () => {
  assert.deepEqual(translateGoRegexp('(?P<host>\\S+):(?P<port>\\d+)'), { source: '(?<host>[^\\t\\n\\f\\r ]+):(?<port>\\d+)', flags: 'u' });
  assert.deepEqual(translateGoRegexp('(?i)^ok\\z'), { source: '^ok(?![\\s\\S])', flags: 'ui' });
  assert.deepEqual(translateGoRegexp('\\Aa[]b]'), { source: '(?<![\\s\\S])a[\\]b]', flags: 'u' });
  assert.deepEqual(translateGoRegexp('[(?P<x>)]\\(?P<y>'), { source: '[(?P<x>)]\\x28?P<y>', flags: 'u' });
});

test('compileGoRegexp: extraFlags are added once', () => {
  const re = compileGoRegexp('(?i)a', 'gi');
  assert.equal(re.flags, 'giu');
  assert.deepEqual('aAb'.match(re), ['a', 'A']);
});

test('the default plaintext pattern keeps RE2 ASCII whitespace', () => {
  const re = compileGoRegexp(DEFAULT_BACKEND_PATTERN);
  assert.equal(re.exec('h:80 weight=2')?.groups?.['weight'], '2');
  assert.equal(re.exec('h:80\u00a0weight=2'), null);
});
