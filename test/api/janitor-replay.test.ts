/**
 * The OpenSVC janitor's sequence (opensvc.md §1) replayed against the real CLI:
 * `tsbetween from-file <the gateway fixture (test/fixtures), on a free port> -f json`, then
 * GET / → GET /servers → POST the janitor's body (srv discovery pointed at a test DNS server over
 * TCP) → GET /servers compared with the janitor's equality rule (no churn) → traffic through the
 * SRV-discovered backend → DELETE → restart → new startTime → re-POST → equal again.
 * Every call must answer 200 within the janitor's 1 s timeout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { a, srv, startDnsServer, type TestDnsServer } from '../discovery/dns-server.js';
import { ROOT, echoBackend, request, runCli, tempDir, type CliRun, type TempDir } from '../helpers/cli.js';
import { janitorCall, janitorEqual, type Json } from '../helpers/janitor.js';
import { req, type Reply } from './http.js';
import { freePort } from './ports.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const GATEWAY_CONFIG = join(FIXTURES, 'opensvc-gateway-config.json');
const JANITOR_POST = join(FIXTURES, 'opensvc-janitor-post.json');
const NAME = '_80_svcweb';
const SRV_NAME = '_80._tcp.svcweb.default.svc.cluster7.';
const TARGET = '127-0-0-1.svcweb.default.svc.cluster7.';

describe('OpenSVC janitor replay against the CLI', () => {
  let dns: TestDnsServer;
  let backend: Awaited<ReturnType<typeof echoBackend>>;
  let tmp: TempDir;
  let configPath = '';
  let apiPort = 0;
  let cli: CliRun | undefined;
  const desired = JSON.parse(readFileSync(JANITOR_POST, 'utf8')) as Record<string, Json>;

  before(async () => {
    backend = await echoBackend('web');
    dns = await startDnsServer((q) => {
      const question = q.questions?.[0];
      if (question?.type === 'SRV' && question.name.toLowerCase() === SRV_NAME.slice(0, -1)) {
        // OpenSVC cluster DNS: priority 0, weight = node score, port = exposed port, target = dashed-IP name.
        return { answers: [srv(SRV_NAME, TARGET, backend.port, 0, 10)], additionals: [a(TARGET, '127.0.0.1')] };
      }
      if (question?.type === 'A' && question.name.toLowerCase() === TARGET.slice(0, -1)) return { answers: [a(TARGET, '127.0.0.1')] };
      return { rcode: 3 };
    });
    tmp = tempDir('tsb-janitor-');
    // The fixture binds ":8888" on every address. Other test runs on this shared machine may hold
    // that port, so the CLI reads an exact copy of the fixture with only the port changed (still
    // ":<port>", every address).
    const fixture = JSON.parse(readFileSync(GATEWAY_CONFIG, 'utf8')) as { api: { enabled: boolean; bind: string } };
    assert.deepEqual(fixture, { api: { enabled: true, bind: ':8888' } });
    apiPort = await freePort();
    configPath = tmp.write('config.json', JSON.stringify({ api: { ...fixture.api, bind: `:${apiPort}` } }));
    // The janitor's body, with its DNS server pointed at ours and a free listen port.
    const bindPort = await freePort();
    const discovery = desired['discovery'] as Record<string, Json>;
    discovery['srv_lookup_server'] = `127.0.0.1:${dns.port}`;
    desired['bind'] = `0.0.0.0:${bindPort}`;
  });

  after(async () => {
    if (cli !== undefined) {
      cli.kill('SIGKILL');
      await cli.exited;
    }
    await dns.close();
    await backend.close();
    tmp.remove();
  });

  async function start(): Promise<CliRun> {
    const run = runCli(['from-file', configPath, '-f', 'json']);
    const end = Date.now() + 20_000;
    for (;;) {
      // Up, and really ours: GET / names our (unique) config file.
      const ok = await req(apiPort, '/', { timeoutMs: 500 }).then(
        (r) => r.status === 200 && r.body.includes(JSON.stringify(configPath)),
        () => false,
      );
      if (ok) return run;
      if (run.child.exitCode !== null || Date.now() > end) {
        run.kill('SIGKILL');
        throw new Error(`CLI did not come up: ${run.stderr()} ${run.stdout()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop(run: CliRun): Promise<void> {
    run.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  }

  /** One janitor call (must be 200 within 1 s). */
  function call(method: string, path: string, body?: Json): Promise<Reply> {
    return janitorCall(apiPort, method, path, body);
  }

  async function startTime(): Promise<string> {
    const info = JSON.parse((await call('GET', '/')).body) as Record<string, Json>;
    assert.equal(typeof info['startTime'], 'string');
    assert.deepEqual(info['configuration'], { kind: 'file', path: configPath });
    return info['startTime'] as string;
  }

  async function servers(): Promise<Record<string, Record<string, Json>>> {
    const body = JSON.parse((await call('GET', '/servers')).body) as Json;
    assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), 'GET /servers is an object');
    return body as Record<string, Record<string, Json>>;
  }

  /** The reconcile step: POST unless present and equal; returns whether it posted. */
  async function reconcile(): Promise<boolean> {
    const current = (await servers())[NAME];
    if (current !== undefined && janitorEqual(desired, current)) return false;
    if (current !== undefined) await call('DELETE', `/servers/${NAME}`);
    const r = await call('POST', `/servers/${NAME}`, desired);
    assert.equal(r.body, 'null');
    return true;
  }

  it('replays init, reconcile (no churn), traffic, delete, restart and re-sync', async (t) => {
    t.diagnostic(`config ${configPath}, API port ${apiPort}`);
    cli = await start();
    const first = await startTime();
    assert.equal(await startTime(), first, 'startTime is fixed for the life of the process');
    assert.deepEqual(await servers(), {});

    assert.equal(await reconcile(), true, 'first pass creates the server');
    const echoed = (await servers())[NAME];
    assert.ok(echoed !== undefined);
    assert.ok(janitorEqual(desired, echoed), `echo equals the janitor's body: ${JSON.stringify(echoed)}`);
    const desiredBind = typeof desired['bind'] === 'string' ? desired['bind'] : '';
    const echoedBind = typeof echoed['bind'] === 'string' ? echoed['bind'] : '';
    assert.equal(echoedBind.endsWith(`:${desiredBind.split(':')[1]}`), true);
    assert.equal(await reconcile(), false, 'second pass finds it equal: no DELETE/POST churn');

    // SRV discovery through the test DNS server (TCP), then traffic to the discovered backend.
    const bindPort = Number(desiredBind.split(':')[1]);
    const end = Date.now() + 8000;
    let reply = '';
    while (Date.now() < end) {
      reply = await request(bindPort, 'hi', '127.0.0.1', 1000).catch(() => '');
      if (reply === 'web:hi') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(reply, 'web:hi');
    assert.ok(dns.queries.some(({ q, proto }) => proto === 'tcp' && q.questions?.[0]?.type === 'SRV'));
    const stats = JSON.parse((await call('GET', `/servers/${NAME}/stats`)).body) as { backends: Array<Record<string, Json>> };
    assert.equal(stats.backends.length, 1);
    const b = stats.backends[0];
    assert.deepEqual(
      { host: b?.['host'], port: b?.['port'], priority: b?.['priority'], weight: b?.['weight'], sni: b?.['sni'] },
      { host: '127.0.0.1', port: String(backend.port), priority: 0, weight: 10, sni: TARGET.slice(0, -1) },
    );

    // Service deleted: DELETE then the server is gone; a re-create works at once.
    assert.equal((await call('DELETE', `/servers/${NAME}`)).body, 'null');
    assert.deepEqual(await servers(), {});
    assert.equal((await call('DELETE', `/servers/${NAME}`)).body, 'null', 'DELETE of an unknown name is 200 null');
    assert.equal(await reconcile(), true);

    // Gateway restart: new startTime → the janitor re-pushes every server.
    await stop(cli);
    cli = undefined;
    cli = await start();
    const second = await startTime();
    assert.notEqual(second, first);
    assert.deepEqual(await servers(), {}, 'API-created servers are in memory only');
    assert.equal(await reconcile(), true);
    assert.equal(await reconcile(), false);
    await stop(cli);
    cli = undefined;
  });
});
