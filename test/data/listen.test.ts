import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartError } from '../../src/core/errors.js';
import { listenErrorText, resolveBind, splitHostPort } from '../../src/data/listen.js';
import { LogLimiter } from '../../src/data/rate-limit.js';

test('splitHostPort follows Go', () => {
  const ok: [string, string, string][] = [
    [':3000', '', '3000'],
    ['0.0.0.0:3000', '0.0.0.0', '3000'],
    ['[::]:3000', '::', '3000'],
    ['[::1]:0', '::1', '0'],
    ['localhost:80', 'localhost', '80'],
    ['host:', 'host', ''],
    ['[fe80::1%eth0]:22', 'fe80::1%eth0', '22'],
  ];
  for (const [input, host, port] of ok) assert.deepEqual(splitHostPort(input), [host, port], input);
  const bad: [string, string][] = [
    ['nocolon', 'address nocolon: missing port in address'],
    ['::1:3000', 'address ::1:3000: too many colons in address'],
    ['[::1]', 'address [::1]: missing port in address'],
    ['[::1]x:3000', 'address [::1]x:3000: missing port in address'],
    ['[::1', "address [::1: missing ']' in address"],
    ['a]:80', "address a]:80: unexpected ']' in address"],
    ['a[:80', "address a[:80: unexpected '[' in address"],
  ];
  for (const [input, why] of bad) assert.equal(splitHostPort(input), why, input);
});

test('resolveBind: wildcards, literals, names, port errors', async () => {
  assert.deepEqual(await resolveBind(':3000'), { host: '::', port: 3000, wildcard: true, display: ':3000' });
  assert.deepEqual(await resolveBind('0.0.0.0:3000'), { host: '::', port: 3000, wildcard: true, display: '0.0.0.0:3000' });
  assert.deepEqual(await resolveBind('[::]:3000'), { host: '::', port: 3000, wildcard: true, display: '[::]:3000' });
  assert.deepEqual(await resolveBind('127.0.0.1:0'), { host: '127.0.0.1', port: 0, wildcard: false, display: '127.0.0.1:0' });
  assert.deepEqual(await resolveBind('[::1]:8080'), { host: '::1', port: 8080, wildcard: false, display: '[::1]:8080' });
  assert.deepEqual(await resolveBind('localhost:5'), { host: '127.0.0.1', port: 5, wildcard: false, display: '127.0.0.1:5' });
  const fails: [string, string][] = [
    ['nocolon', 'listen tcp: address nocolon: missing port in address'],
    ['1.2.3.4:70000', 'listen tcp: address 70000: invalid port'],
    ['1.2.3.4:-1', 'listen tcp: address -1: invalid port'],
    ['1.2.3.4:http-alt-x', 'listen tcp: lookup tcp/http-alt-x: unknown port'],
    ['no-such-host.invalid:80', 'listen tcp: lookup no-such-host.invalid: no such host'],
  ];
  for (const [bind, message] of fails) {
    await assert.rejects(resolveBind(bind), (e: unknown) => e instanceof StartError && e.message === message, bind);
  }
});

test('listenErrorText: Go texts', () => {
  const t = { host: '::', port: 3000, wildcard: true, display: '0.0.0.0:3000' };
  const err = (code: string): Error => Object.assign(new Error(`listen ${code}`), { code });
  assert.equal(listenErrorText(err('EADDRINUSE'), t), 'listen tcp 0.0.0.0:3000: bind: address already in use');
  assert.equal(listenErrorText(err('EACCES'), t), 'listen tcp 0.0.0.0:3000: bind: permission denied');
  assert.equal(listenErrorText(err('EADDRNOTAVAIL'), t), 'listen tcp 0.0.0.0:3000: bind: cannot assign requested address');
  assert.equal(listenErrorText(err('EMFILE'), t), 'listen tcp 0.0.0.0:3000: socket: too many open files');
  assert.equal(listenErrorText(new Error('odd'), t), 'listen tcp 0.0.0.0:3000: odd');
});

test('LogLimiter: burst per window, then reports what it dropped', () => {
  let now = 0;
  const l = new LogLimiter(2, 1000, () => now);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), -1);
  assert.equal(l.take(), -1);
  now = 1000;
  assert.equal(l.take(), 2);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), -1);
});
