/**
 * `npm start` as a container or service command: SIGTERM to npm must reach tsbetween (the start
 * script execs the program, so npm's signal forwarding lands on it), which drains and exits 0,
 * and npm exits 0 with it, leaving no orphan listening on the port.
 * Runs package.json's real start script with npm, in a scratch directory whose
 * config.example.toml binds a free port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, echoBackend, freePort, request, tempDir } from '../helpers/cli.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => resolve(true));
    s.on('connect', () => { s.destroy(); resolve(false); });
  });
}

test('SIGTERM to `npm start` stops tsbetween cleanly (exit 0, port released)', async (t) => {
  if (!existsSync(join(ROOT, 'dist', 'app', 'cli.js'))) {
    t.skip('dist/ not built (npm ci builds it)');
    return;
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const start = pkg.scripts['start'];
  assert.ok(start !== undefined);
  const dir = tempDir('tsb-npm-start-');
  const backend = await echoBackend('b');
  const port = await freePort();
  dir.write('package.json', JSON.stringify({ name: 'tsb-npm-start', version: '0.0.0', private: true, scripts: { start } }));
  symlinkSync(join(ROOT, 'dist'), join(dir.path, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir.path, 'node_modules'));
  dir.write('config.example.toml', `[servers.s]\nbind = "127.0.0.1:${port}"\n[servers.s.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:${backend.port}"]\n`);
  // Own process group, so that whatever is left can be cleaned up whatever happens.
  const npm = spawn('npm', ['start'], { cwd: dir.path, env: { ...process.env, GOBETWEEN: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  npm.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
  npm.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
  const exited = once(npm, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  try {
    const end = Date.now() + 30_000;
    let reply = '';
    while (reply !== 'b:hi') {
      reply = await request(port, 'hi', '127.0.0.1', 1000).catch(() => '');
      if (reply === 'b:hi') break;
      if (npm.exitCode !== null || Date.now() > end) assert.fail(`npm start did not serve: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    npm.kill('SIGTERM'); // npm only, as `docker stop` signals PID 1
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output);
    assert.match(output, /SIGTERM: stopping/);
    // No orphan: the port is released (wait for it; the program may still be closing).
    const deadline = Date.now() + 10_000;
    while (!(await refused(port))) {
      assert.ok(Date.now() < deadline, 'port still accepting after npm exited: tsbetween survived npm');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    if (npm.pid !== undefined) {
      try { process.kill(-npm.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await backend.close();
    dir.remove();
  }
});
