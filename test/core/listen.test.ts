import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { StartError } from '../../src/core/errors.js';
import { closeServer, listenErrorText, listenOn, resolveBind, splitHostPort } from '../../src/core/listen.js';

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

// Formerly metrics/listen.ts's parseBind test, on the merged module. Where the two disagreed the
// Go-faithful behaviour won: only an empty bind gets the protocol's default port (`host:` is
// port 0, as in Go's http.Server), and a non-numeric port is `unknown port`, not `invalid port`.
test('resolveBind for HTTP listeners: empty bind = default port, Go host:port rules', async () => {
  assert.deepEqual(await resolveBind('', { defaultPort: 80 }), { host: '::', port: 80, wildcard: true, display: ':80' });
  assert.deepEqual(await resolveBind('', { defaultPort: 443 }), { host: '::', port: 443, wildcard: true, display: ':443' });
  assert.deepEqual(await resolveBind(':8888', { defaultPort: 80 }), { host: '::', port: 8888, wildcard: true, display: ':8888' });
  assert.deepEqual(await resolveBind('0.0.0.0:9284', { defaultPort: 80 }), {
    host: '::',
    port: 9284,
    wildcard: true,
    display: '0.0.0.0:9284',
  });
  assert.deepEqual(await resolveBind('[::]:1', { defaultPort: 80 }), { host: '::', port: 1, wildcard: true, display: '[::]:1' });
  assert.deepEqual(await resolveBind('127.0.0.1:0', { defaultPort: 80 }), {
    host: '127.0.0.1',
    port: 0,
    wildcard: false,
    display: '127.0.0.1:0',
  });
  assert.deepEqual(await resolveBind('[::1]:6060', { defaultPort: 80 }), { host: '::1', port: 6060, wildcard: false, display: '[::1]:6060' });
  assert.deepEqual(await resolveBind('localhost:', { defaultPort: 443 }), {
    host: '127.0.0.1',
    port: 0,
    wildcard: false,
    display: '127.0.0.1:0',
  });
  // Without a default port an empty bind is just a string without a port (TCP servers).
  await assert.rejects(resolveBind(''), { message: 'listen tcp: address : missing port in address' });
  await assert.rejects(resolveBind('8888', { defaultPort: 80 }), /missing port in address/);
  await assert.rejects(resolveBind('::1:80', { defaultPort: 80 }), /too many colons/);
  await assert.rejects(resolveBind(':99999', { defaultPort: 80 }), /invalid port/);
  await assert.rejects(resolveBind(':http', { defaultPort: 80 }), { message: 'listen tcp: lookup tcp/http: unknown port' });
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

test('listenOn prefers IPv4 for host names; errors read like Go', async () => {
  const s = createServer();
  const addr = await listenOn(s, await resolveBind('localhost:0'));
  try {
    assert.equal(addr.address, '127.0.0.1');
    const other = createServer();
    const err = await listenOn(other, await resolveBind(`127.0.0.1:${addr.port}`)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StartError);
    assert.equal(err.message, `listen tcp 127.0.0.1:${addr.port}: bind: address already in use`);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
    await closeServer(other);
  } finally {
    await closeServer(s);
  }
});

test('listenOn: a wildcard listens dual-stack (or on 0.0.0.0 without IPv6)', async () => {
  const s = createServer();
  const addr = await listenOn(s, await resolveBind(':0'));
  try {
    assert.ok(addr.address === '::' || addr.address === '0.0.0.0', addr.address);
    assert.ok(addr.port > 0);
  } finally {
    await closeServer(s);
  }
  assert.equal(s.listening, false);
  await closeServer(s); // closing twice never rejects
});
