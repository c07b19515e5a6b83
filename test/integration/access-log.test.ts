/**
 * `[access_log]` (tsbetween-only) through the real composition root and TCP data path: one JSON
 * line per connection with the right server, client, backend, bytes and end reason — client
 * close, backend close, idle timeout, refused, access denied, no backend — written to a file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAppFromJson } from '../helpers/app.js';
import { freePort } from '../api/ports.js';
import { Handles, closedPort, echoHandler, startBackend } from './tcp-helpers.js';

/** Connects, writes `payload` (if any), ends after `endAfter` bytes came back, resolves on close. */
function session(port: number, payload: string, opts: { endAfter?: number; silent?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      got += c.toString();
      if (opts.endAfter !== undefined && got.length >= opts.endAfter) s.end();
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    if (!opts.silent && payload !== '') s.write(payload);
    if (opts.endAfter === undefined && !opts.silent) s.end();
  });
}

interface Line {
  time: string;
  server: string;
  client: string;
  backend: string;
  rx: number;
  tx: number;
  duration_ms: number;
  end: string;
  retries: number;
}

test('one line per connection with bytes and how it ended', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-access-'));
  const file = join(dir, 'access.log');
  const h = new Handles();
  const echo = await startBackend(h, echoHandler);
  const closer = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    s.end('bye\n');
  });
  const dead = await closedPort();
  const ports = {
    echo: await freePort('127.0.0.1'),
    closer: await freePort('127.0.0.1'),
    denied: await freePort('127.0.0.1'),
    nobk: await freePort('127.0.0.1'),
    refused: await freePort('127.0.0.1'),
    idle: await freePort('127.0.0.1'),
  };
  const srv = (port: number, backend: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    bind: `127.0.0.1:${port}`,
    discovery: { kind: 'static', static_list: [backend] },
    ...extra,
  });
  const app = await startAppFromJson(JSON.stringify({
    api: { enabled: false },
    metrics: { enabled: false },
    access_log: { enabled: true, output: file, format: 'json', rate_limit: 0 },
    servers: {
      echo: srv(ports.echo, `127.0.0.1:${echo.port}`),
      closer: srv(ports.closer, `127.0.0.1:${closer.port}`),
      denied: srv(ports.denied, `127.0.0.1:${echo.port}`, { access: { default: 'deny' } }),
      nobk: srv(ports.nobk, `127.0.0.1:${dead}`, {
        healthcheck: { kind: 'ping', interval: '1m', timeout: '1s', initial_status: 'unhealthy' },
      }),
      refused: srv(ports.refused, `127.0.0.1:${dead}`),
      idle: srv(ports.idle, `127.0.0.1:${echo.port}`, { client_idle_timeout: '200ms' }),
    },
  }), 'test.json');
  let closed = false;
  try {
    assert.equal(await session(ports.echo, 'hello world', { endAfter: 11 }), 'hello world');
    assert.equal(await session(ports.closer, '', { silent: true }), 'bye\n');
    await session(ports.denied, 'x');
    await session(ports.nobk, 'x');
    await session(ports.refused, 'x');
    await session(ports.idle, '', { silent: true });
    await app.close(0);
    closed = true;
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
    const byServer = new Map(lines.map((l) => [l.server, l]));
    assert.equal(lines.length, 6, readFileSync(file, 'utf8'));
    const e = byServer.get('echo');
    assert.deepEqual(
      e && [e.end, e.backend, e.rx, e.tx, e.retries],
      ['client_close', `127.0.0.1:${echo.port}`, 11, 11, 0],
    );
    assert.match(e?.client ?? '', /^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):\d+$/);
    assert.ok(!Number.isNaN(Date.parse(e?.time ?? '')));
    assert.ok((e?.duration_ms ?? -1) >= 0);
    assert.deepEqual([byServer.get('closer')?.end, byServer.get('closer')?.rx], ['backend_close', 4]);
    assert.deepEqual([byServer.get('denied')?.end, byServer.get('denied')?.backend], ['access_denied', '']);
    assert.equal(byServer.get('nobk')?.end, 'no_backend');
    assert.deepEqual([byServer.get('refused')?.end, byServer.get('refused')?.backend], ['refused', '']);
    const idle = byServer.get('idle');
    assert.equal(idle?.end, 'client_idle_timeout');
    assert.ok((idle?.duration_ms ?? 0) >= 150, `idle duration ${idle?.duration_ms}`);
  } finally {
    if (!closed) await app.close(0);
    await h.closeAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
