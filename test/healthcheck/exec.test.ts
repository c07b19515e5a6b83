import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { backendSpec } from '../../src/core/backend.js';
import { ConfigError } from '../../src/core/errors.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import type { ExecCheckGroup, HealthcheckWire } from '../../src/config/types.js';
import { compileHealthcheck, createHealthcheckRegistry, startHealthchecks } from '../../src/healthcheck/index.js';
import type { CheckResult, CheckTarget } from '../../src/healthcheck/types.js';
import { alive } from '../helpers/process.js';
import { captureLogger, hcWire, waitFor } from './helpers.js';

const registry = createHealthcheckRegistry();
let dir = '';

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function execWire(exec: Partial<ExecCheckGroup>, over: Partial<HealthcheckWire> = {}): HealthcheckWire {
  return hcWire({
    kind: 'exec',
    timeout: '2s',
    exec: { exec_command: '', exec_expected_positive_output: '1', exec_expected_negative_output: '0', ...exec },
    ...over,
  });
}

const target: CheckTarget = { host: '127.0.0.1', port: 8080, hostLabel: '127.0.0.1', portLabel: '8080' };

async function execOnce(wire: HealthcheckWire, t: CheckTarget = target): Promise<CheckResult & { ms: number }> {
  const compiled = compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp');
  assert.ok(compiled.enabled);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('health check timeout')), compiled.timeoutMs);
  const t0 = performance.now();
  try {
    return { ...(await compiled.run(t, ac.signal, compiled.timeoutMs)), ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-exec-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('exec: positive, negative and other output; exit status; arguments as GoBetween passes them', async () => {
  const pos = script('pos.sh', 'printf 1');
  const neg = script('neg.sh', 'printf 0');
  const other = script('other.sh', 'printf "1\\n"'); // not trimmed: "1\n" is neither
  const fail = script('fail.sh', 'printf 1; exit 3');
  const args = script('args.sh', 'printf "%s|%s|%s" "$#" "$1" "$2"');

  assert.equal((await execOnce(execWire({ exec_command: pos }))).status, 'healthy');
  const n = await execOnce(execWire({ exec_command: neg }));
  assert.equal(n.status, 'unhealthy');
  assert.equal(n.reason, 'exec output matched exec_expected_negative_output');
  const o = await execOnce(execWire({ exec_command: other }));
  assert.equal(o.status, 'unchanged');
  assert.equal(o.reason, 'unexpected exec output "1\\n"');
  const f = await execOnce(execWire({ exec_command: fail }));
  assert.equal(f.status, 'unhealthy');
  assert.match(f.reason, /exited with code 3/);
  const missing = await execOnce(execWire({ exec_command: join(dir, 'nope.sh') }));
  assert.equal(missing.status, 'unhealthy');
  assert.equal(missing.reason, 'exec ENOENT');

  // Host and port exactly as discovered; no shell (a space in the command is part of the path).
  assert.equal((await execOnce(execWire({ exec_command: args, exec_expected_positive_output: '2|127.0.0.1|8080' }))).status, 'healthy');
  const v6: CheckTarget = { host: '::1', port: 53, hostLabel: '[::1]', portLabel: '53' };
  assert.equal((await execOnce(execWire({ exec_command: args, exec_expected_positive_output: '2|[::1]|53' }), v6)).status, 'healthy');
  assert.equal((await execOnce(execWire({ exec_command: `${pos} extra` }))).status, 'unhealthy');
});

test('exec Q-20: no defaults for the expected outputs; empty positive = silent success is healthy', async () => {
  const silent = script('silent.sh', 'exit 0');
  const one = script('one.sh', 'printf 1');
  const empty = { exec_expected_positive_output: '', exec_expected_negative_output: '' };
  assert.equal((await execOnce(execWire({ exec_command: silent, ...empty }))).status, 'healthy');
  assert.equal((await execOnce(execWire({ exec_command: one, ...empty }))).status, 'unchanged');
});

test('exec: a hanging script is killed at the timeout (with its children) and counts as a failure', async () => {
  const pidFile = join(dir, 'pids');
  const hang = script('hang.sh', `sleep 30 &\necho "$$ $!" > ${pidFile}\nwait`);
  const r = await execOnce(execWire({ exec_command: hang }, { timeout: '300ms' }));
  assert.equal(r.status, 'unhealthy');
  assert.match(r.reason, /timeout .*killed/);
  assert.ok(r.ms >= 250 && r.ms < 2000, `settled at the timeout (${r.ms} ms)`);
  const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
  assert.equal(pids.length, 2);
  await waitFor(() => pids.every((p) => !alive(p)), 2000, 'script and its child gone');
});

test('exec through the scheduler: other output never flips a live backend; negative output does', async () => {
  const flag = join(dir, 'mode');
  // Replaced by rename: writeFileSync truncates first, and a check reading the empty file between
  // would print 1 (alive).
  const setMode = (mode: string): void => {
    writeFileSync(`${flag}.new`, mode);
    renameSync(`${flag}.new`, flag);
  };
  setMode('other');
  const cmd = script('mode.sh', `m=$(cat ${flag}); if [ "$m" = other ]; then printf maybe; elif [ "$m" = down ]; then printf 0; else printf 1; fi`);
  const wire = execWire({ exec_command: cmd }, { interval: '30ms', timeout: '1s' });
  const compiled = compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp');
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('127.0.0.1', '9')]);
  const { log, lines } = captureLogger();
  const hc = startHealthchecks(compiled, { serverName: 'web', pool, log });
  try {
    await waitFor(() => lines.filter((l) => l.level === 40).length >= 3, 5000, 'three warnings');
    assert.equal(pool.get('127.0.0.1:9')?.live, true);
    assert.match(lines.find((l) => l.level === 40)?.msg ?? '', /unexpected exec output "maybe"; live state unchanged/);
    setMode('down');
    await waitFor(() => pool.get('127.0.0.1:9')?.live === false, 5000, 'dead');
    assert.ok(lines.some((l) => l.msg === 'backend 127.0.0.1:9 of server web: live -> dead (1 consecutive failure: exec output matched exec_expected_negative_output)'));
    setMode('other');
    const warned = lines.filter((l) => l.level === 40).length;
    await waitFor(() => lines.filter((l) => l.level === 40).length >= warned + 2, 5000, 'two more checks with other output');
    assert.equal(pool.get('127.0.0.1:9')?.live, false, 'other output keeps it dead too');
  } finally {
    hc.stop();
  }
});

test('exec: exec_command is required', () => {
  assert.throws(
    () => compileHealthcheck(hcWire({ kind: 'exec' }), 'servers.web.healthcheck', registry, 'tcp'),
    (err: unknown) => err instanceof ConfigError && err.path === 'servers.web.healthcheck.exec_command',
  );
});
