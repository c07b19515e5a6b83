/**
 * Hot reload (tsbetween-only) through the real composition root: `App.reload()` (what SIGHUP
 * runs) and `POST /reload` re-read the config file. Unchanged servers are untouched, a changed
 * one takes its new config for new connections while an open connection finishes on the old
 * one (same listener), a removed one stops accepting, an API-created one survives, drains
 * survive, and a bad file changes nothing and is reported.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApp } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { silentLogger } from '../../src/core/log.js';
import { ReloadError } from '../../src/core/errors.js';
import { req } from '../api/http.js';
import { freePort } from '../api/ports.js';
import { echo, greet, greetedBy, greeter, names } from '../helpers/greeting.js';
import { Handles, startBackend } from './tcp-helpers.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

test('reload: unchanged untouched, changed swapped in place, removed drained, API server kept, bad file ignored', { timeout: 60_000 }, async () => {
  const h = new Handles();
  const a = await startBackend(h, greeter('A'));
  const b = await startBackend(h, greeter('B'));
  const ports = { web: await freePort('127.0.0.1'), same: await freePort('127.0.0.1'), gone: await freePort('127.0.0.1'), api: await freePort('127.0.0.1'), extra: await freePort('127.0.0.1'), viaApi: await freePort('127.0.0.1') };
  const dir = mkdtempSync(join(tmpdir(), 'tsb-reload-'));
  const file = join(dir, 'config.json');
  const both = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
  const config = (web: Record<string, unknown>, withGone: boolean, extra = false): string => JSON.stringify({
    api: { enabled: true, bind: `127.0.0.1:${ports.api}` },
    metrics: { enabled: false },
    servers: {
      web: { bind: `127.0.0.1:${ports.web}`, discovery: { kind: 'static', static_list: both }, ...web },
      same: { bind: `127.0.0.1:${ports.same}`, discovery: { kind: 'static', static_list: both } },
      ...(withGone ? { gone: { bind: `127.0.0.1:${ports.gone}`, discovery: { kind: 'static', static_list: both } } } : {}),
      ...(extra ? { extra: { bind: `127.0.0.1:${ports.extra}`, discovery: { kind: 'static', static_list: both } } } : {}),
    },
  });
  writeFileSync(file, config({ balance: 'roundrobin' }, true));
  const load = async () => decodeConfig(readFileSync(file, 'utf8'), 'json');
  const app = await startApp({
    config: (await load()).config,
    source: { kind: 'file', path: file },
    log: silentLogger,
    version: '0.8.2',
    startTime: new Date(),
    loadConfig: load,
    reloadGraceMs: 60_000,
  });
  const held: Socket[] = [];
  try {
    // An API-created server, a drained backend, open connections to web (on A) and to gone.
    const created = await req(ports.api, '/servers/viaApi', {
      method: 'POST', body: JSON.stringify({ bind: `127.0.0.1:${ports.viaApi}`, balance: 'roundrobin', discovery: { kind: 'static', static_list: both } }),
    });
    assert.equal(created.status, 200, created.body);
    assert.deepEqual(new Set(await names(ports.web, 4)), new Set(['A', 'B']), 'roundrobin before');
    const onA = await greetedBy(ports.web, 'A');
    held.push(onA);
    const toGone = (await greet(ports.gone)).socket;
    held.push(toGone);
    app.manager.setDrain('same', `127.0.0.1:${b.port}`, true);
    const sameBefore = app.manager.get('same');
    const webBefore = app.manager.get('web');

    // Reload: web's balancer changes (iphash: one backend for every connection from 127.0.0.1),
    // gone is removed, extra is added, same is unchanged.
    writeFileSync(file, config({ balance: 'iphash' }, false, true));
    const r = await app.reload();
    assert.deepEqual(r, { added: ['extra'], changed: ['web'], unchanged: ['same'], removed: ['gone'], kept: ['viaApi'], failed: [] });
    assert.equal(app.manager.get('same'), sameBefore, 'unchanged server untouched');
    assert.notEqual(app.manager.get('web'), webBefore);
    assert.equal(app.manager.get('web')?.config.balance, 'iphash');
    const after = await names(ports.web, 8);
    assert.equal(new Set(after).size, 1, `the new balancer is in effect (${after.join(',')})`);
    assert.equal(await echo(onA, 'old generation'), 'old generation', 'the open connection continues on the old config');
    assert.equal(await echo(toGone, 'still'), 'still', 'a removed server lets its open connections finish');
    assert.equal(await refused(ports.gone), true, 'a removed server stops accepting');
    (await greet(ports.extra)).socket.destroy(); // the added server accepts
    assert.deepEqual(new Set(await names(ports.viaApi, 4)), new Set(['A', 'B']), 'the API-created server survived');
    assert.deepEqual(await names(ports.same, 4), ['A', 'A', 'A', 'A'], 'the drain survived');

    // A bad file: nothing changes, the error names the key.
    writeFileSync(file, config({ balance: 'nosuchbalancer' }, false, true));
    const webNow = app.manager.get('web');
    await assert.rejects(app.reload(), (e: unknown) => e instanceof ReloadError && /servers\.web\.balance/.test(e.message));
    assert.equal(app.manager.get('web'), webNow, 'nothing changed');
    writeFileSync(file, '{ not json');
    await assert.rejects(app.reload(), ReloadError);

    // Over the API: 409 with the reason, then 200 with the summary.
    const bad = await req(ports.api, '/reload', { method: 'POST' });
    assert.equal(bad.status, 409);
    assert.match(JSON.parse(bad.body) as string, /invalid JSON/);
    writeFileSync(file, config({ balance: 'roundrobin' }, false, true));
    const ok = await req(ports.api, '/reload', { method: 'POST' });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual((JSON.parse(ok.body) as { changed: string[] }).changed, ['web']);
    assert.deepEqual(new Set(await names(ports.web, 4)), new Set(['A', 'B']), 'roundrobin again');
    // The file now defines viaApi: it replaces the API-created server.
    const withApi = JSON.parse(config({ balance: 'roundrobin' }, false, true)) as { servers: Record<string, unknown> };
    withApi.servers['viaApi'] = { bind: `127.0.0.1:${ports.viaApi}`, balance: 'iphash', discovery: { kind: 'static', static_list: both } };
    writeFileSync(file, JSON.stringify(withApi));
    const r2 = await app.reload();
    assert.deepEqual([r2.changed, r2.kept], [['viaApi'], []]);
  } finally {
    for (const s of held) s.destroy();
    await app.close(0);
    await h.closeAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
