import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGoRegexp, GoRegexpError } from '../../src/healthcheck/go-regexp.js';

const matches: Array<[string, string, boolean]> = [
  ['OK', 'xxOKxx', true], // unanchored
  ['^OK', 'xxOK', false],
  ['^HTTP/1\\.[01] 200', 'HTTP/1.1 200 OK', true],
  ['(?i)ok', 'OK', true],
  ['(?s)a.b', 'a\nb', true],
  ['a.b', 'a\nb', false],
  ['(?P<code>\\d{3})', 'code 204', true],
  ['\\Aab', 'ab', true],
  ['\\Aab', 'cab', false],
  ['ab\\z', 'cab', true],
  ['ab\\z', 'ab\n', false],
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

const invalid = ['(', 'a)', '[a', '\\1', 'a**', '(?=a)', '(?!a)', '(?<=a)b', '\\C', 'a(?i)b', '(?i:a)', '\\k', '\\'];
for (const pattern of invalid) {
  test(`go-regexp: ${JSON.stringify(pattern)} is rejected`, () => {
    assert.throws(() => compileGoRegexp(pattern), GoRegexpError);
  });
}
