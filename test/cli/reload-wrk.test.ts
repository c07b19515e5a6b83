/**
 * Hot reload under load, with the real CLI: wrk sends requests through a server for 10 s (every
 * response closes its connection, so every request is a new connection through tsbetween) while
 * the config is reloaded 5 times — SIGHUP and POST /reload, once with a changed balancer, once
 * with a bad file. Zero failed requests; the new balancer is in effect; the bad reload is reported
 * (409 and the log) and ignored. Skipped when wrk is not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { req } from '../api/http.js';
import { freePort, runCli, tempDir } from '../helpers/cli.js';

const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

async function backend(name: string): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((rq, res) => {
    hits++;
    rq.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close', 'X-Backend': name });
    res.end(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}

function count(text: string, re: RegExp): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('wrk for 10 s through 5 reloads (changed balancer, bad file): zero failed requests', { timeout: 90_000 }, async (t) => {
  if (WRK === undefined) {
    t.skip('wrk not installed');
    return;
  }
  const wrk = WRK;
  const a = await backend('A');
  const b = await backend('B');
  const lb = await freePort();
  const api = await freePort();
  const dir = tempDir('tsb-reload-wrk-');
  const toml = (balance: string): string => `
[api]
enabled = true
bind = "127.0.0.1:${api}"

[metrics]
enabled = false

[servers.web]
bind = "127.0.0.1:${lb}"
balance = "${balance}"
backend_connection_timeout = "2s"
[servers.web.discovery]
kind = "static"
static_list = ["127.0.0.1:${a.port}", "127.0.0.1:${b.port}"]
`;
  const file = dir.write('tsbetween.toml', toml('roundrobin'));
  const cli = runCli(['-c', file]);
  try {
    await cli.waitFor(/Starting HTTP server/, 20_000);
    const reloaded = (): number => count(cli.stdout() + cli.stderr(), /Reloaded: /);

    const wrkDone = new Promise<string>((resolve, reject) => {
      execFile(wrk, ['-t1', '-c16', '-d10s', '--timeout', '5s', `http://127.0.0.1:${lb}/`], { timeout: 60_000 }, (err, stdout) => {
        if (err !== null) reject(new Error(err.message));
        else resolve(stdout);
      });
    });

    // 1: SIGHUP, nothing changed.
    await sleep(1200);
    cli.kill('SIGHUP');
    await cli.waitFor(/Reloaded: 0 added, 0 changed, 1 unchanged/, 10_000);
    // 2: SIGHUP with a changed balancer.
    await sleep(1200);
    dir.write('tsbetween.toml', toml('iphash'));
    cli.kill('SIGHUP');
    await cli.waitFor(/Reloaded: 0 added, 1 changed/, 10_000);
    // 3: POST /reload with a bad file: 409, reported, ignored.
    await sleep(1200);
    dir.write('tsbetween.toml', toml('iphash').replace('kind = "static"', 'kind = "nope"'));
    const bad = await req(api, '/reload', { method: 'POST' });
    assert.equal(bad.status, 409, bad.body);
    assert.match(JSON.parse(bad.body) as string, /servers\.web\.discovery/);
    await cli.waitFor(/reload refused, nothing changed/, 10_000);
    // 4: POST /reload with the good file again (unchanged: iphash).
    await sleep(1200);
    dir.write('tsbetween.toml', toml('iphash'));
    const good = await req(api, '/reload', { method: 'POST' });
    assert.equal(good.status, 200, good.body);
    assert.deepEqual((JSON.parse(good.body) as { unchanged: string[] }).unchanged, ['web']);
    // 5: SIGHUP, unchanged.
    await sleep(1200);
    const before = reloaded();
    cli.kill('SIGHUP');
    for (let i = 0; i < 200 && reloaded() === before; i++) await sleep(50);
    assert.equal(reloaded(), 4, 'four reloads applied (the bad one refused)');

    const out = await wrkDone;
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? '0');
    assert.ok(requests > 100, `wrk made requests (${requests})\n${out}`);
    assert.doesNotMatch(out, /Socket errors/, `no socket error (connect, read, write, timeout)\n${out}`);
    assert.doesNotMatch(out, /Non-2xx/, `no failed response\n${out}`);

    // The new balancer is in effect: iphash sends every connection from 127.0.0.1 to one backend.
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(String((await req(lb, '/')).headers['x-backend']));
    assert.equal(seen.size, 1, `iphash: one backend (${[...seen].join(',')})`);
    const cfg = JSON.parse((await req(api, '/servers/web')).body) as { balance: string };
    assert.equal(cfg.balance, 'iphash');
    t.diagnostic(`wrk: ${requests} requests in 10 s through 5 reloads, 0 errors; A ${a.hits()} B ${b.hits()}`);
  } finally {
    cli.kill('SIGTERM');
    await cli.exited;
    a.server.closeAllConnections();
    b.server.closeAllConnections();
    await Promise.all([a.server, b.server].map((s) => new Promise((r) => s.close(r))));
    dir.remove();
  }
});
