/**
 * The real CLI as a child process: version/help, exit codes and one-line errors, GOBETWEEN env,
 * ${VAR} substitution, the pidfile, serving traffic, and graceful shutdown on SIGTERM.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { after, test } from 'node:test';
import { VERSION } from '../../src/version.js';
import { ROOT, echoBackend, freePort, request, runCli, tempDir } from '../helpers/cli.js';
import { freePort as freeLowPort } from '../api/ports.js';
import { waitFor } from '../helpers/wait.js';

const dir = tempDir('tsb-cli-');
after(() => dir.remove());

test('-v prints the version and exits 0; --help exits 0', async () => {
  const v = runCli(['-v']);
  assert.equal(await v.exited, 0);
  assert.equal(v.stdout(), `${VERSION}\n`);
  const h = runCli(['--help']);
  assert.equal(await h.exited, 0);
  assert.match(h.stdout(), /from-consul/);
  const none = runCli([]);
  assert.equal(await none.exited, 0);
  assert.match(none.stdout(), /Usage:/);
});

test('usage errors exit 2 with a one-line error naming the argument', async () => {
  const r = runCli(['--bogus']);
  assert.equal(await r.exited, 2);
  assert.match(r.stderr(), /unknown flag: --bogus/);
});

test('bad config exits 1 and prints the key path and GoBetween message', async () => {
  const file = dir.write('bad.toml', '[servers.x]\nbind = "127.0.0.1:0"\nprotocol = "foo"\n[servers.x.discovery]\nkind = "static"\nstatic_list = []\n');
  const r = runCli(['-c', file]);
  assert.equal(await r.exited, 1);
  assert.match(r.stderr(), /servers\.x\.protocol: Not supported protocol foo/);
});

test('type error in config exits 1 naming the key', async () => {
  const file = dir.write('type.toml', '[servers.x]\nbind = "127.0.0.1:0"\nmax_connections = "10"\n');
  const r = runCli(['-c', file]);
  assert.equal(await r.exited, 1);
  assert.match(r.stderr(), /servers\.x\.max_connections/);
});

test('missing config file exits 1 naming the path', async () => {
  const r = runCli(['from-file', '/nonexistent/tsb.toml']);
  assert.equal(await r.exited, 1);
  assert.match(r.stderr(), /\/nonexistent\/tsb\.toml/);
});

test('unsupported feature is refused by name', async () => {
  const file = dir.write('udp.toml', '[servers.u]\nbind = "127.0.0.1:0"\nprotocol = "udp"\nclient_idle_timeout = "1s"\n[servers.u.udp]\ntransparent = true\n[servers.u.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:53"]\n');
  const r = runCli(['-c', file]);
  assert.equal(await r.exited, 1);
  assert.match(r.stderr(), /servers\.u\.udp\.transparent: udp\.transparent = true is not supported/);
});

test('GOBETWEEN env together with arguments is a usage error: exit 2 (GoBetween: 1)', async () => {
  const r = runCli(['-v'], { env: { GOBETWEEN: '["-v"]' } });
  assert.equal(await r.exited, 2);
  assert.match(r.stderr(), /only one allowed/);
  const ok = runCli([], { env: { GOBETWEEN: '["-v"]' } });
  assert.equal(await ok.exited, 0);
  assert.equal(ok.stdout(), `${VERSION}\n`);
});

test('serves traffic; -e substitutes ${VAR}; pidfile written and removed; SIGTERM drains and exits 0', async () => {
  const backend = await echoBackend('b1');
  const port = await freePort();
  const pidfile = `${dir.path}/tsb.pid`;
  const file = dir.write(
    'ok.toml',
    [
      '[logging]',
      'level = "info"',
      '[servers.web]',
      'bind = "${TSB_BIND}"',
      '[servers.web.discovery]',
      'kind = "static"',
      `static_list = ["127.0.0.1:${backend.port}"]`,
      '',
    ].join('\n'),
  );
  const r = runCli(['from-file', file, '-e', '-p', pidfile, '--shutdown-grace', '5s'], {
    env: { TSB_BIND: `127.0.0.1:${port}` },
  });
  try {
    await r.waitFor(/Creating 'web'/);
    // the listener is open once "Creating" is logged and the process stays up
    let reply = '';
    for (let i = 0; i < 50 && reply === ''; i++) {
      reply = await request(port, 'hello').catch(() => '');
      if (reply === '') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(reply, 'b1:hello');
    assert.equal(readFileSync(pidfile, 'utf8'), String(r.child.pid));

    // An open connection survives SIGTERM and keeps working during the grace period.
    const held = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => { held.once('connect', () => res()); held.once('error', rej); });
    held.write('first');
    await new Promise<void>((res) => held.once('data', () => res()));
    r.kill('SIGTERM');
    await r.waitFor(/SIGTERM: stopping/);
    // New connections are refused once the listener is closed.
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      refused = await new Promise<boolean>((res) => {
        const s = net.connect({ port, host: '127.0.0.1' });
        s.once('error', () => res(true));
        s.once('connect', () => { s.destroy(); res(false); });
      });
      if (!refused) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(refused, 'listener closed after SIGTERM');
    const second = new Promise<string>((res) => held.once('data', (d) => res(d.toString())));
    held.write('second');
    assert.equal(await second, 'b1:second');
    held.end();
    assert.equal(await r.exited, 0);
    assert.equal(existsSync(pidfile), false, 'pidfile removed');
  } finally {
    r.kill('SIGKILL');
    await backend.close();
  }
});

test('GoBetween sample JSON config starts (API, metrics, static server)', async () => {
  // The sample binds fixed ports (8888, 9284, 3000): only run when they are free.
  const busy = await Promise.all([8888, 9284, 3000].map((p) => new Promise<boolean>((res) => {
    const s = net.createServer();
    s.once('error', () => res(true));
    s.listen(p, () => s.close(() => res(false)));
  })));
  if (busy.some(Boolean)) return;
  const r = runCli(['from-file', 'test/fixtures/gobetween-sample.json', '-f', 'json']);
  try {
    await r.waitFor(/Creating 'sample'/);
    await r.waitFor(/Starting (HTTP|up API)/i);
  } finally {
    r.kill('SIGTERM');
    assert.equal(await r.exited, 0);
  }
});

// GoBetween's sample TOML (with its udp server) runs in test/data/udp/gobetween-sample.test.ts,
// inside a network namespace: it binds fixed ports.

test('the package executables: npx tsbetween and npx gobetween (built dist/)', async (t) => {
  const { existsSync: exists } = await import('node:fs');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  if (!exists(`${ROOT}dist/app/cli.js`)) {
    t.skip('dist/ not built (npm ci builds it)');
    return;
  }
  const run = promisify(execFile);
  for (const bin of ['tsbetween', 'gobetween']) {
    const { stdout } = await run('npx', ['--no-install', bin, '-v'], { cwd: ROOT, env: { ...process.env, GOBETWEEN: '' }, timeout: 30_000 });
    assert.equal(stdout, `${VERSION}\n`, bin);
  }
  // and -c FILE serves: start the built binary on a config, then stop it. The port is picked
  // free and may be taken by another test before the program binds it: then start again on
  // another port (the program exits 1 naming the bind), and wait for the program's own log line,
  // not a fixed number of polls.
  const backend = await echoBackend('npx');
  const { spawn } = await import('node:child_process');
  try {
    let served = false;
    for (let attempt = 0; attempt < 5 && !served; attempt++) {
      const port = await freeLowPort();
      const file = dir.write('npx.toml', `[servers.n]\nbind = "127.0.0.1:${port}"\n[servers.n.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:${backend.port}"]\n`);
      // npx runs the program as a grandchild: give it its own process group and stop the group.
      const child = spawn('npx', ['--no-install', 'gobetween', '-c', file], { cwd: ROOT, env: { ...process.env, GOBETWEEN: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      let gone = false;
      void exited.then(() => { gone = true; });
      try {
        await waitFor(() => gone || /Initialized/.test(out), 30_000, 'the program to start');
        if (gone) {
          assert.match(out, /address already in use/, out); // lost the port race: try another
          continue;
        }
        assert.equal(await request(port, 'x'), 'npx:x');
        served = true;
      } finally {
        if (!gone && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
      // the program itself closed its listener on SIGTERM
      await waitFor(async () => !(await request(port, 'y', '127.0.0.1', 500).then(() => true, () => false)), 10_000, 'the listener to close');
    }
    assert.ok(served, 'served through the npx executable');
  } finally {
    await backend.close();
  }
});
