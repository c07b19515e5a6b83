import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileAccess, parseIp } from '../../src/data/access.js';
import { ConfigError } from '../../src/core/errors.js';

test('parseIp follows net.ParseIP', () => {
  const ok: [string, string][] = [
    ['1.2.3.4', '4:16909060'],
    ['0.0.0.0', '4:0'],
    ['255.255.255.255', '4:4294967295'],
    ['::ffff:1.2.3.4', '4:16909060'],
    ['::FFFF:102:304', '4:16909060'],
    ['0:0:0:0:0:ffff:1.2.3.4', '4:16909060'],
    ['::', '6:0,0,0,0'],
    ['::1', '6:0,0,0,1'],
    ['1::', '6:65536,0,0,0'],
    ['2001:db8::1', '6:536939960,0,0,1'],
    ['1:2:3:4:5:6:7:8', '6:65538,196612,327686,458760'],
    ['1:2:3:4:5:6:7::', '6:65538,196612,327686,458752'],
    ['::1.2.3.4', '6:0,0,0,16909060'],
    ['1:2:3:4:5:6:1.2.3.4', '6:65538,196612,327686,16909060'],
  ];
  for (const [text, want] of ok) {
    const p = parseIp(text);
    assert.ok(p !== null, text);
    const got = p.family === 4 ? `4:${p.v4}` : `6:${p.w.join(',')}`;
    assert.equal(got, want, text);
  }
  const bad = [
    '', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.4 ', 'localhost', '1.2.3.0/24',
    ':1', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::', 'fe80::1%eth0',
    '1:2:3:4:5:6:7:1.2.3.4', '::ffff:01.2.3.4', '::g', '1:', '[::1]', '1.2.3.4-1.2.3.5',
  ];
  for (const text of bad) assert.equal(parseIp(text), null, text);
});

test('compileAccess: GoBetween error texts and paths', () => {
  const cases: [string, string[] | null, string, string][] = [
    ['Allow', [], 'servers.a.access.default', 'AccessConfig Unexpected Default: Allow'],
    ['reject', null, 'servers.a.access.default', 'AccessConfig Unexpected Default: reject'],
    ['allow', ['deny'], 'servers.a.access.rules', 'Bad access rule format: deny'],
    ['allow', [''], 'servers.a.access.rules', 'Bad access rule format: '],
    ['allow', ['deny  1.2.3.4'], 'servers.a.access.rules', 'Bad access rule format: deny  1.2.3.4'],
    ['allow', [' deny 1.2.3.4'], 'servers.a.access.rules', 'Bad access rule format:  deny 1.2.3.4'],
    ['allow', ['deny 1.2.3.4 '], 'servers.a.access.rules', 'Bad access rule format: deny 1.2.3.4 '],
    ['allow', ['Deny 1.2.3.4'], 'servers.a.access.rules', 'Cant parse rule definition Deny 1.2.3.4'],
    ['allow', ['block 1.2.3.4'], 'servers.a.access.rules', 'Cant parse rule definition block 1.2.3.4'],
    ['allow', ['deny example.com'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: example.com'],
    ['allow', ['deny '], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: '],
    ['allow', ['deny 1.2.3.0/33'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: 1.2.3.0/33'],
    ['allow', ['deny ::/129'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: ::/129'],
    ['allow', ['deny 1.2.3.0/+8'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: 1.2.3.0/+8'],
    ['allow', ['deny 1.2.3.0/'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: 1.2.3.0/'],
    ['allow', ['deny fe80::1%eth0'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: fe80::1%eth0'],
    ['allow', ['deny 10.0.0.1-10.0.0.9'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: 10.0.0.1-10.0.0.9'],
    ['allow', ['allow 1.2.3.4', 'deny x'], 'servers.a.access.rules', 'Cant parse acces rule target, not an ip or cidr: x'],
  ];
  for (const [def, rules, path, message] of cases) {
    assert.throws(
      () => compileAccess({ default: def, rules }, 'servers.a.access'),
      (e: unknown) => e instanceof ConfigError && e.path === path && e.message === message,
      `${def} ${JSON.stringify(rules)}`,
    );
  }
});

test('compileAccess: defaults', () => {
  assert.equal(compileAccess({ default: '', rules: null }, 'p').allows('1.2.3.4'), true);
  assert.equal(compileAccess({ default: 'allow', rules: [] }, 'p').allows('::1'), true);
  assert.equal(compileAccess({ default: 'deny', rules: [] }, 'p').allows('1.2.3.4'), false);
  // Leading zeros in the prefix length are accepted by Go's dtoi.
  assert.equal(compileAccess({ default: 'allow', rules: ['deny 10.0.0.0/0008'] }, 'p').allows('10.9.9.9'), false);
});

test('compileAccess: first match wins, IPv4-mapped normalisation (table)', () => {
  // [default, rules, client, allowed]
  const table: [string, string[], string, boolean][] = [
    // single IPs
    ['deny', ['allow 1.2.3.4'], '1.2.3.4', true],
    ['deny', ['allow 1.2.3.4'], '::ffff:1.2.3.4', true],
    ['deny', ['allow 1.2.3.4'], '1.2.3.5', false],
    ['deny', ['allow ::ffff:1.2.3.4'], '1.2.3.4', true],
    ['deny', ['allow ::ffff:1.2.3.4'], '::ffff:1.2.3.4', true],
    ['deny', ['allow ::1.2.3.4'], '1.2.3.4', false],
    ['deny', ['allow ::1.2.3.4'], '::1.2.3.4', true],
    ['deny', ['allow ::1'], '::1', true],
    ['deny', ['allow ::1'], '0:0:0:0:0:0:0:1', true],
    ['deny', ['allow ::1'], '127.0.0.1', false],
    ['deny', ['allow 2001:DB8::1'], '2001:db8::1', true],
    // IPv4 networks; host bits ignored
    ['deny', ['allow 192.168.1.5/24'], '192.168.1.200', true],
    ['deny', ['allow 192.168.1.5/24'], '::ffff:192.168.1.200', true],
    ['deny', ['allow 192.168.1.5/24'], '192.168.2.1', false],
    ['deny', ['allow 0.0.0.0/0'], '8.8.8.8', true],
    ['deny', ['allow 0.0.0.0/0'], '::1', false],
    ['deny', ['allow 0.0.0.0/0'], '2001:db8::1', false],
    ['allow', ['deny 10.0.0.0/8'], '10.255.0.1', false],
    ['allow', ['deny 10.0.0.0/8'], '11.0.0.1', true],
    ['allow', ['deny 128.0.0.0/1'], '200.0.0.1', false],
    ['allow', ['deny 128.0.0.0/1'], '100.0.0.1', true],
    ['allow', ['deny 255.255.255.255/32'], '255.255.255.255', false],
    // IPv6 networks
    ['deny', ['allow 2001:db8::/32'], '2001:db8:ffff::1', true],
    ['deny', ['allow 2001:db8::/32'], '2001:db9::1', false],
    ['deny', ['allow ::/0'], '2001:db8::1', true],
    ['deny', ['allow ::/0'], '1.2.3.4', false],
    ['deny', ['allow ::/0'], '::ffff:1.2.3.4', false],
    ['deny', ['allow ::ffff:0:0/80'], '1.2.3.4', false],
    // Go's networkNumberAndMask: a mapped network number makes an IPv4 network
    ['deny', ['allow ::ffff:0:0/96'], '1.2.3.4', true],
    ['deny', ['allow ::ffff:0:0/96'], '::ffff:9.9.9.9', true],
    ['deny', ['allow ::ffff:0:0/96'], '::1', false],
    ['deny', ['allow ::ffff:10.0.0.0/104'], '10.1.2.3', true],
    ['deny', ['allow ::ffff:10.0.0.0/104'], '11.1.2.3', false],
    // order: first match decides
    ['allow', ['deny 10.0.0.1', 'allow 10.0.0.0/8'], '10.0.0.1', false],
    ['allow', ['deny 10.0.0.1', 'allow 10.0.0.0/8'], '10.0.0.2', true],
    ['deny', ['allow 10.0.0.0/8', 'deny 10.0.0.1'], '10.0.0.1', true],
    ['deny', ['deny ::1', 'allow 127.0.0.1', 'allow ::/0'], '::1', false],
    ['deny', ['deny ::1', 'allow 127.0.0.1', 'allow ::/0'], '::2', true],
    ['deny', ['deny ::1', 'allow 127.0.0.1', 'allow ::/0'], '::ffff:127.0.0.1', true],
    // odd client strings fall to the default
    ['deny', ['allow 0.0.0.0/0'], '', false],
    ['allow', ['deny 0.0.0.0/0'], 'garbage', true],
    ['deny', ['allow fe80::1'], 'fe80::1%eth0', true],
  ];
  for (const [def, rules, client, want] of table) {
    const m = compileAccess({ default: def, rules }, 'servers.a.access');
    assert.equal(m.allows(client), want, `${def} ${JSON.stringify(rules)} ${client}`);
  }
});
