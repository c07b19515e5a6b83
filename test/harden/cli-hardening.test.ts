/**
 * Issue 12 defects seen from the command line: nothing to serve keeps running (1), one-line
 * errors whatever a value holds (2), GOBETWEEN env errors are usage errors (9), every bind is
 * checked before anything listens (8), listen errors name the key (7).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { freePort, request, runCli, tempDir, echoBackend } from '../helpers/cli.js';

const dir = tempDir('tsb-harden-cli-');
after(() => dir.remove());

/** stderr without the `tsbetween vX` banner. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^tsbetween v\d/.test(l));
}

for (const [name, text, format] of [
  ['empty file', '', 'toml'],
  ['null', 'null', 'json'],
  ['servers null', '{"servers":null}', 'json'],
] as const) {
  test(`nothing to serve (${name}) keeps running and logs why; SIGTERM exits 0`, async () => {
    const file = dir.write(`nothing-${name.replace(/ /g, '-')}.${format}`, text);
    const r = runCli(['-c', file, '-f', format]);
    try {
      await r.waitFor(/nothing to serve/, 20_000);
      assert.equal(r.child.exitCode, null, 'still running');
    } finally {
      r.kill('SIGTERM');
    }
    assert.equal(await r.exited, 0);
  });
}

test('a value with a newline still gives exactly one error line (exit 1)', async () => {
  const file = dir.write('newline.toml', '[servers.x]\nbind = "127.0.0.1:0"\n[servers.x.discovery]\nkind = "x\\ny\\u001b[31m"\n');
  const r = runCli(['-c', file]);
  assert.equal(await r.exited, 1);
  const lines = errorLines(r.stderr());
  assert.equal(lines.length, 1, r.stderr());
  assert.match(lines[0] ?? '', /servers\.x\.discovery\.kind: Not supported discovery type x\\ny\\x1b\[31m/);
  // no raw control byte anywhere on stderr or stdout
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(r.stderr() + r.stdout(), /[\u0000-\u0009\u000b-\u001f]/);
});

test('a server name with a newline gives one error line too', async () => {
  const file = dir.write('newline-name.json', JSON.stringify({ servers: { 'a\nb': { bind: '', discovery: { kind: 'static', static_list: [] } } } }));
  const r = runCli(['-c', file, '-f', 'json']);
  assert.equal(await r.exited, 1);
  const lines = errorLines(r.stderr());
  assert.equal(lines.length, 1, r.stderr());
  assert.match(lines[0] ?? '', /servers\.a\\nb\.bind: No bind specified for server a\\nb/);
});

test('GOBETWEEN env errors are usage errors: exit 2', async () => {
  const both = runCli(['-v'], { env: { GOBETWEEN: '["-v"]' } });
  assert.equal(await both.exited, 2);
  assert.match(both.stderr(), /only one allowed/);
  const bad = runCli([], { env: { GOBETWEEN: 'not json' } });
  assert.equal(await bad.exited, 2);
  assert.match(bad.stderr(), /Error converting env var to parameters/);
});

test('an invalid bind on one server fails validation before any server listens', async () => {
  const backend = await echoBackend('b');
  const port = await freePort();
  // `a` sorts first and is valid; `b` has an out-of-range port.
  const file = dir.write('bind.toml', [
    '[servers.a]', `bind = "127.0.0.1:${port}"`, '[servers.a.discovery]', 'kind = "static"', `static_list = ["127.0.0.1:${backend.port}"]`,
    '[servers.b]', 'bind = "127.0.0.1:99999"', '[servers.b.discovery]', 'kind = "static"', `static_list = ["127.0.0.1:${backend.port}"]`,
  ].join('\n'));
  const r = runCli(['-c', file]);
  try {
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), /servers\.b\.bind: listen tcp: address 99999: invalid port/);
    assert.doesNotMatch(r.stdout(), /Creating 'a'/, 'server a never started');
  } finally {
    await backend.close();
  }
  // an unresolved ${VAR} is named too
  const file2 = dir.write('bind-var.toml', '[servers.c]\nbind = "${HOST}:3000"\n[servers.c.discovery]\nkind = "static"\nstatic_list = []\n');
  const r2 = runCli(['-c', file2]);
  assert.equal(await r2.exited, 1);
  assert.match(r2.stderr(), /servers\.c\.bind: .*\$\{HOST\}/);
});

test('a listen error names the server bind key and keeps Go\'s text', async () => {
  const blocker = net.createServer();
  blocker.listen(0, '127.0.0.1');
  await new Promise((res) => blocker.once('listening', res));
  const port = (blocker.address() as net.AddressInfo).port;
  const backend = await echoBackend('x');
  try {
    const file = dir.write('inuse.toml', `[servers.web]\nbind = "127.0.0.1:${port}"\n[servers.web.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:${backend.port}"]\n`);
    const r = runCli(['-c', file]);
    assert.equal(await r.exited, 1);
    const lines = errorLines(r.stderr());
    assert.equal(lines.length, 1, r.stderr());
    assert.equal(lines[0], `tsbetween: servers.web.bind: listen tcp 127.0.0.1:${port}: bind: address already in use`);
  } finally {
    blocker.close();
    await backend.close();
  }
});

test('api.bind in use is named; a missing [api.tls] certificate names api.tls.cert_path, no stack', async () => {
  const blocker = net.createServer();
  blocker.listen(0, '127.0.0.1');
  await new Promise((res) => blocker.once('listening', res));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const file = dir.write('api-inuse.toml', `[api]\nenabled = true\nbind = "127.0.0.1:${port}"\n`);
    const r = runCli(['-c', file]);
    assert.equal(await r.exited, 1);
    assert.match(r.stderr(), new RegExp(`tsbetween: api\\.bind: listen tcp 127\\.0\\.0\\.1:${port}: bind: address already in use`));
  } finally {
    blocker.close();
  }
  const apiPort = await freePort();
  const file = dir.write('api-tls.toml', `[api]\nenabled = true\nbind = "127.0.0.1:${apiPort}"\n[api.tls]\ncert_path = "/nonexistent/cert.pem"\nkey_path = "/nonexistent/key.pem"\n`);
  const r = runCli(['-c', file]);
  assert.equal(await r.exited, 1);
  assert.equal(errorLines(r.stderr()).at(-1), 'tsbetween: api.tls.cert_path: open /nonexistent/cert.pem: no such file or directory');
  assert.doesNotMatch(r.stdout() + r.stderr(), /\n\s+at /, 'no stack trace');
  // nothing listened on the API port meanwhile
  assert.equal(await request(apiPort, 'x', '127.0.0.1', 1000).then(() => true, () => false), false);
});
