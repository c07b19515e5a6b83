// Small grammars the config relies on: Go durations (§2.2), the backend line (§2.9), Go string
// escapes (probe_send / probe_recv, §2.7). Go regexps are in go-regexp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, parseGoDuration } from '../../src/core/duration.js';
import { DEFAULT_BACKEND_PATTERN, parseBackendLine } from '../../src/core/backend-line.js';
import { GoSyntaxError, goStringError, unescapeGo } from '../../src/config/go-string.js';
import { compileGoRegexp } from '../../src/config/go-regexp.js';

// ---- durations -----------------------------------------------------------------------------

const ACCEPTED: Array<[string, number]> = [
  ['0', 0],
  ['+0', 0],
  ['-0', 0],
  ['0s', 0],
  ['5s', 5000],
  ['+5s', 5000],
  ['-5s', -5000],
  ['1.5s', 1500],
  ['.5s', 500],
  ['5.s', 5000],
  ['1h30m', 5_400_000],
  ['1h0m0.5s', 3_600_500],
  ['500ms', 500],
  ['2m', 120_000],
  ['1us', 0.001],
  ['1µs', 0.001], // U+00B5
  ['1μs', 0.001], // U+03BC
  ['1500ns', 0.0015],
  ['2562047h', 9_223_369_200_000],
];

const REJECTED: Array<[string, string]> = [
  ['', 'time: invalid duration ""'],
  ['5', 'time: missing unit in duration "5"'],
  ['00', 'time: missing unit in duration "00"'],
  ['1.5', 'time: missing unit in duration "1.5"'],
  ['1d', 'time: unknown unit "d" in duration "1d"'],
  ['1H', 'time: unknown unit "H" in duration "1H"'],
  ['1S', 'time: unknown unit "S" in duration "1S"'],
  [' 5s', 'time: invalid duration " 5s"'],
  ['5s ', 'time: unknown unit "s " in duration "5s "'],
  ['-', 'time: invalid duration "-"'],
  ['+', 'time: invalid duration "+"'],
  ['.', 'time: invalid duration "."'],
  ['.s', 'time: invalid duration ".s"'],
  ['s', 'time: invalid duration "s"'],
  ['1h-5m', 'time: unknown unit "h-" in duration "1h-5m"'],
  ['9999999h', 'time: invalid duration "9999999h"'],
  ['10é', 'time: unknown unit "\\xc3\\xa9" in duration "10\\xc3\\xa9"'],
  ['"1s"', 'time: invalid duration "\\"1s\\""'],
];

for (const [text, ms] of ACCEPTED) {
  test(`duration accepted: ${JSON.stringify(text)}`, () => {
    assert.equal(parseDuration(text), ms);
    assert.equal(parseGoDuration(text).ok, true);
  });
}

for (const [text, error] of REJECTED) {
  test(`duration rejected: ${JSON.stringify(text)}`, () => {
    assert.equal(parseDuration(text), undefined);
    assert.deepEqual(parseGoDuration(text), { ok: false, error });
  });
}

test('duration: int64 nanosecond bounds', () => {
  assert.deepEqual(parseGoDuration('-2562047h47m16.854775808s'), { ok: true, ns: -(2n ** 63n) });
  assert.deepEqual(parseGoDuration('2562047h47m16.854775807s'), { ok: true, ns: 2n ** 63n - 1n });
  assert.equal(parseGoDuration('2562047h47m16.854775808s').ok, false);
  // digits beyond nanosecond precision are ignored, not an error
  assert.deepEqual(parseGoDuration('1.0000000000000000000001s'), { ok: true, ns: 1_000_000_000n });
});

test('formatDuration round-trips common values', () => {
  for (const [ms, text] of [[0, '0s'], [850, '850ms'], [3_723_500, '1h2m3.5s'], [60_000, '1m0s']] as const) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});

// ---- backend lines (§2.9) ------------------------------------------------------------------

const LINES: Array<[string, { host: string; port: string; weight: number; priority: number; maxConnections: number; sni: string } | undefined]> = [
  ['localhost:8000', { host: 'localhost', port: '8000', weight: 1, priority: 1, maxConnections: 0, sni: '' }],
  ['localhost:8002 weight=100 priority=0 max_connections=10', { host: 'localhost', port: '8002', weight: 100, priority: 0, maxConnections: 10, sni: '' }],
  ['localhost:8001 sni=www.foo.com', { host: 'localhost', port: '8001', weight: 1, priority: 1, maxConnections: 0, sni: 'www.foo.com' }],
  ['localhost:8000 priority=2 weight=5', undefined],
  ['localhost:8000  weight=5', undefined],
  ['host:80 weight=-1', undefined],
  ['host:80 weight=5 priority=2 max_connections=3 sni=a.b', { host: 'host', port: '80', weight: 5, priority: 2, maxConnections: 3, sni: 'a.b' }],
  ['[::1]:80', { host: '[::1]', port: '80', weight: 1, priority: 1, maxConnections: 0, sni: '' }],
  ['a:b:80', { host: 'a:b', port: '80', weight: 1, priority: 1, maxConnections: 0, sni: '' }],
  ['  h:80 weight=0\t', { host: 'h', port: '80', weight: 0, priority: 1, maxConnections: 0, sni: '' }],
  ['h:80\tweight=2', { host: 'h', port: '80', weight: 2, priority: 1, maxConnections: 0, sni: '' }],
  ['h:80 weight=99999999999999999999', { host: 'h', port: '80', weight: 1, priority: 1, maxConnections: 0, sni: '' }],
  ['h:99999', { host: 'h', port: '99999', weight: 1, priority: 1, maxConnections: 0, sni: '' }],
  ['h:80\u00a0weight=2', undefined], // RE2's \s is ASCII-only
  ['h:80 weight=2 foo=1', undefined],
  ['h:', undefined],
  [':80', undefined],
  ['h:http', undefined],
  ['', undefined],
];

for (const [line, expected] of LINES) {
  test(`backend line ${JSON.stringify(line)}`, () => {
    assert.deepEqual(parseBackendLine(line), expected);
  });
}

test('the default plaintext pattern compiles and agrees with parseBackendLine', () => {
  const re = compileGoRegexp(DEFAULT_BACKEND_PATTERN);
  const m = re.exec('localhost:8002 weight=100 priority=0 max_connections=10');
  assert.equal(m?.groups?.['host'], 'localhost');
  assert.equal(m?.groups?.['max_connections'], '10');
  assert.equal(re.exec('localhost:8000 priority=2 weight=5'), null);
});

// ---- Go string escapes ---------------------------------------------------------------------

const ESCAPES: Array<[string, number[] | string]> = [
  ['PING\\xFF\\n', [0x50, 0x49, 0x4e, 0x47, 0xff, 0x0a]],
  ['\\a\\b\\f\\n\\r\\t\\v\\\\\\"', [7, 8, 12, 10, 13, 9, 11, 0x5c, 0x22]],
  ["\\'", [0x27]],
  ['\\101\\000\\377', [0x41, 0, 0xff]],
  ['\\u00e9', [0xc3, 0xa9]],
  ['\\U0001F600', [0xf0, 0x9f, 0x98, 0x80]],
  ['é', [0xc3, 0xa9]],
  ['😀', [0xf0, 0x9f, 0x98, 0x80]],
  ['tab\there', 'tab\there'],
  ['', ''],
];

for (const [input, bytes] of ESCAPES) {
  test(`unescapeGo ${JSON.stringify(input)}`, () => {
    const expected = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    assert.deepEqual(unescapeGo(input), expected);
    assert.equal(goStringError(input), undefined);
  });
}

const BAD_ESCAPES = ['\\q', '\\', 'a\\x4', '\\xZZ', '\\400', '\\12', '\\8', '\\uD800', '\\U00110000', '\\u12', 'say "hi"', 'two\nlines'];

for (const input of BAD_ESCAPES) {
  test(`unescapeGo rejects ${JSON.stringify(input)}`, () => {
    assert.throws(() => unescapeGo(input), GoSyntaxError);
    assert.equal(goStringError(input), 'invalid syntax');
  });
}
