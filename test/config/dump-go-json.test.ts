import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareGoStrings, goJson, goJsonString } from '../../src/config/go-json.js';

test('goJson: scalars, null, empty containers', () => {
  assert.equal(goJson(null), 'null');
  assert.equal(goJson(undefined), 'null');
  assert.equal(goJson(true), 'true');
  assert.equal(goJson(false), 'false');
  assert.equal(goJson(0), '0');
  assert.equal(goJson(42), '42');
  assert.equal(goJson(-7), '-7');
  assert.equal(goJson(18446744073709551615n), '18446744073709551615');
  assert.equal(goJson(1.5), '1.5');
  assert.equal(goJson(1e21), '1e+21');
  assert.equal(goJson(1e-7), '1e-7');
  assert.equal(goJson(123456789012), '123456789012');
  assert.equal(goJson([]), '[]');
  assert.equal(goJson({}), '{}');
  assert.equal(goJson(''), '""');
  assert.throws(() => goJson(Number.NaN), /unsupported value/);
  assert.throws(() => goJson(Infinity), /unsupported value/);
});

test('goJson: 4-space indentation, insertion order, nulls kept, no trailing newline', () => {
  const v = { b: 1, a: [1, 'x', null, { z: {}, y: [] }], c: null, d: { e: false }, skipped: undefined };
  const expected = [
    '{',
    '    "b": 1,',
    '    "a": [',
    '        1,',
    '        "x",',
    '        null,',
    '        {',
    '            "z": {},',
    '            "y": []',
    '        }',
    '    ],',
    '    "c": null,',
    '    "d": {',
    '        "e": false',
    '    }',
    '}',
  ].join('\n');
  assert.equal(goJson(v), expected);
});

test('goJson: Go string escaping (HTML, line separators, controls)', () => {
  const table: [string, string][] = [
    ['<a href="x">&</a>', '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"'],
    ['back\\slash', '"back\\\\slash"'],
    ['\n\r\t', '"\\n\\r\\t"'],
    ['\b\f', '"\\b\\f"'],
    ['\u0000\u0001\u001f', '"\\u0000\\u0001\\u001f"'],
    ['\u007f', '"\u007f"'],
    ['a\u2028b\u2029c', '"a\\u2028b\\u2029c"'],
    ['héllo €', '"héllo €"'],
    ['😀', '"😀"'],
    ['lone \ud800 surrogate', '"lone \\ufffd surrogate"'],
    ['lone \udc00', '"lone \\ufffd"'],
    ["'single'", '"\'single\'"'],
    ['/slash', '"/slash"'],
  ];
  for (const [input, expected] of table) {
    assert.equal(goJsonString(input), expected, JSON.stringify(input));
    assert.equal(goJson(input), expected);
    // Whatever we write must decode back to the same string (lone surrogates excepted).
    if (!/[\ud800-\udfff]/.test(input.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
      assert.equal(JSON.parse(expected), input);
    }
  }
});

test('goJson: keys are escaped like strings', () => {
  assert.equal(goJson({ 'a<b': 1 }), '{\n    "a\\u003cb": 1\n}');
});

test('compareGoStrings: bytewise UTF-8 order', () => {
  assert.deepEqual(['b', 'a', 'B', '_x', 'a1'].sort(compareGoStrings), ['B', '_x', 'a', 'a1', 'b']);
  // U+FF61 sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 code units.
  assert.deepEqual(['😀', '\uff61'].sort(compareGoStrings), ['\uff61', '😀']);
  assert.equal(compareGoStrings('x', 'x'), 0);
});
