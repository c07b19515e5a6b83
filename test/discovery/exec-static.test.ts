import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigError } from '../../src/core/errors.js';
import { execKind } from '../../src/discovery/exec.js';
import { compileDiscovery, createDiscoveryRegistry, startDiscovery } from '../../src/discovery/index.js';
import { staticKind } from '../../src/discovery/static.js';
import { captureLogger, discoveryWire, fetchCtx, keys, recorder, sleep, waitFor } from './helpers.js';
import { alive } from '../helpers/process.js';

const P = 'servers.web.discovery';
let dir: string;

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function exec(cmd: string[]) {
  return execKind.parse(discoveryWire('exec', { exec: { exec_command: cmd } }), P);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsb-exec-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('exec: stdout lines parsed with the line grammar, args passed as given (no shell), bad lines skipped', async () => {
  const p = script('ok.sh', [
    'echo "127.0.0.1:8000 weight=5"',
    'echo ""',
    'echo "[::1]:8001 weight=2 priority=3 max_connections=4 sni=x.test"',
    'echo "garbage line"',
    'echo "$1:$2"',
    'echo "to stderr" >&2',
  ].join('\n'));
  const c = fetchCtx();
  const specs = await execKind.fetch(exec([p, '10.0.0.9', '9000; rm -rf /']), c);
  assert.deepEqual(specs.map((s) => `${s.host}:${s.port} w${s.weight} p${s.priority} m${s.maxConnections} ${s.sni}`), [
    '127.0.0.1:8000 w5 p1 m0 ', '[::1]:8001 w2 p3 m4 x.test',
  ]);
  // "10.0.0.9:9000; rm -rf /" does not match the grammar: arguments are not shell-interpreted
  // one warning per fetch (issue 12): the count and the first bad line
  assert.deepEqual(c.lines.filter((l) => l.level === 40).map((l) => l.msg), ['2 lines skipped, first: Cant parse garbage line']);
  const ok2 = await execKind.fetch(exec([p, '10.0.0.9', '9000']), fetchCtx());
  assert.deepEqual(keys(ok2), ['10.0.0.9:9000', '127.0.0.1:8000', '[::1]:8001']);
});

test('exec: non-zero exit, missing program and garbage output', async () => {
  await assert.rejects(execKind.fetch(exec([script('fail.sh', 'echo 1.2.3.4:5\nexit 3')]), fetchCtx()), /exited with status 3/);
  await assert.rejects(execKind.fetch(exec([join(dir, 'does-not-exist')]), fetchCtx()), /ENOENT/);
  const c = fetchCtx();
  assert.deepEqual(await execKind.fetch(exec([script('junk.sh', 'printf "\\001\\002\\nzzz"')]), c), []);
  assert.deepEqual(c.lines.filter((l) => l.level === 40).map((l) => l.msg), ['2 lines skipped, first: Cant parse \\x01\\x02']);
});

test('exec: a hanging command is killed on timeout (runner), then failpolicy applies', async () => {
  const pidFile = join(dir, 'hang.pid');
  const p = script('hang.sh', `sleep 30 &\necho $! > ${pidFile}\nwait`);
  const compiled = compileDiscovery(discoveryWire('exec', {
    failpolicy: 'setempty', timeout: '200ms', exec: { exec_command: [p] },
  }), P, createDiscoveryRegistry());
  const rec = recorder();
  const cap = captureLogger();
  const h = startDiscovery(compiled, { serverName: 'web', log: cap.log, onResult: rec.onResult, retryWaitMs: 10_000 });
  try {
    await waitFor(() => rec.results.length === 1, 3000, 'setempty after timeout');
    assert.deepEqual(rec.last(), []);
    assert.ok(cap.lines.some((l) => l.level === 50 && /^exec error timeout after 200ms retrying in 10s$/.test(l.msg)));
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    await waitFor(() => !alive(pid), 2000, 'child killed');
  } finally {
    h.stop();
  }
});

test('exec: stop() kills the running command', async () => {
  const pidFile = join(dir, 'stop.pid');
  const p = script('stop.sh', `echo $$ > ${pidFile}\nexec sleep 30`);
  const compiled = compileDiscovery(discoveryWire('exec', { exec: { exec_command: [p] } }), P, createDiscoveryRegistry());
  assert.equal(compiled.timeoutMs, 5000, 'default exec timeout when "0"');
  const rec = recorder();
  const h = startDiscovery(compiled, { serverName: 'web', log: captureLogger().log, onResult: rec.onResult });
  let pid = 0;
  await waitFor(() => {
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      return pid > 0;
    } catch {
      return false;
    }
  });
  h.stop();
  await waitFor(() => !alive(pid), 2000, 'child killed on stop');
  await sleep(20);
  assert.equal(rec.results.length, 0);
});

test('exec: config validation', () => {
  assert.throws(() => execKind.parse(discoveryWire('exec'), P), (e: ConfigError) => e.path === `${P}.exec_command` && e.message === 'required');
  assert.throws(() => exec([]), (e: ConfigError) => e.path === `${P}.exec_command`);
});

test('static: lines parsed once, bad ones warned (Cant parse), one-shot through the runner', async () => {
  const compiled = compileDiscovery(discoveryWire('static', {
    interval: '10ms', static: { static_list: ['localhost:8000 weight=5 sni=example.com', 'localhost:8001', 'bad line'] },
  }), P, createDiscoveryRegistry());
  const rec = recorder();
  const cap = captureLogger();
  const h = startDiscovery(compiled, { serverName: 'web', log: cap.log, onResult: rec.onResult });
  try {
    await waitFor(() => rec.results.length === 1);
    await sleep(60);
    assert.equal(rec.results.length, 1, 'static never refetches');
    assert.deepEqual(rec.last(), [
      { host: 'localhost', port: '8000', weight: 5, priority: 1, maxConnections: 0, sni: 'example.com' },
      { host: 'localhost', port: '8001', weight: 1, priority: 1, maxConnections: 0, sni: '' },
    ]);
    assert.ok(cap.lines.some((l) => l.level === 40 && l.msg === 'Cant parse bad line'));
    assert.ok(!cap.lines.some((l) => /never refreshed/.test(l.msg)));
  } finally {
    h.stop();
  }
  assert.throws(() => staticKind.parse(discoveryWire('static'), P), (e: ConfigError) => e.path === `${P}.static_list`);
  assert.deepEqual(staticKind.parse(discoveryWire('static', { static: { static_list: [] } }), P).specs, []);
});
