/**
 * End to end: servers created from a config file (the real composition root: config decoding and
 * validation, server manager, discovery runner, TCP data path) with every discovery kind route
 * client connections to the backends their source announces, and follow changes of the source.
 * Backends are loopback TCP servers that greet each client with their name.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { App } from '../../src/app.js';
import { startAppFromJson } from '../helpers/app.js';
import { DNSMASQ, Dnsmasq, freeDnsPort } from '../discovery/dnsmasq.js';
import { a, srv as srvRecord, startDnsServer, type TestDnsServer } from '../discovery/dns-server.js';
import { listenLoopback, sendJson, startHttpServer, type TestHttpServer, waitFor } from '../discovery/helpers.js';

interface Backend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  readonly sockets: Set<Socket>;
}

const backends: Backend[] = [];
const httpServers: TestHttpServer[] = [];
let dir: string;
let dnsmasq: Dnsmasq | undefined;
let dnsServer: TestDnsServer | undefined;
let app: App | undefined;

async function startGreeter(name: string): Promise<Backend> {
  const sockets = new Set<Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.end(`${name}\n`);
  });
  const b = { name, port: await listenLoopback(server), server, sockets };
  backends.push(b);
  return b;
}

/** A TCP port free on 127.0.0.1, below the ephemeral range (busy with outgoing connections). */
async function freeTcpPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise<void>((r) => s.close(() => r()));
      return port;
    }
  }
}

/** Connects through the balancer and returns the greeting ('' when the connection is refused/closed). */
function greet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => s.destroy(), 2000);
    s.on('data', (c: Buffer) => { got += c.toString(); });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve(got.trim());
    });
  });
}

async function greetsWith(port: number, names: string[], what: string): Promise<void> {
  const want = new Set(names);
  const seen = new Set<string>();
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline) {
    const g = await greet(port);
    if (want.has(g)) {
      seen.add(g);
      if (seen.size === want.size) return;
    } else if (g !== '') {
      assert.fail(`${what}: reached ${g}, expected one of ${names.join(', ')}`);
    } else {
      await new Promise((r) => setTimeout(r, 30));
    }
  }
  assert.fail(`${what}: saw ${[...seen].join(', ') || 'nothing'}, expected ${names.join(', ')}`);
}

const ports: Record<string, number> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsb-disc-e2e-'));
  const b = Object.fromEntries(await Promise.all(
    ['static', 'srv1', 'srv2', 'srv3', 'json', 'plain', 'exec', 'consul', 'docker', 'lxd'].map(async (n) => [n, await startGreeter(n)] as const),
  )) as Record<string, Backend>;
  const port = (n: string): number => {
    const x = b[n];
    assert.ok(x !== undefined);
    return x.port;
  };

  // srv: a real dnsmasq when installed, else the scripted dns-packet server
  let srvServer: string;
  if (DNSMASQ !== undefined) {
    dnsmasq = new Dnsmasq(await freeDnsPort());
    dnsmasq.writeHosts('127.0.0.1 b1.svc.test\n127.0.0.1 b2.svc.test\n');
    await dnsmasq.start([`--srv-host=_web._tcp.svc.test,b1.svc.test,${port('srv1')},0,10`, `--srv-host=_web._tcp.svc.test,b2.svc.test,${port('srv2')},0,10`]);
    srvServer = `127.0.0.1:${dnsmasq.port}`;
  } else {
    dnsServer = await startDnsServer((q) => (q.questions?.[0]?.type === 'SRV'
      ? { answers: [srvRecord('_web._tcp.svc.test', 'b1.svc.test', port('srv1')), srvRecord('_web._tcp.svc.test', 'b2.svc.test', port('srv2'))], additionals: [a('b1.svc.test', '127.0.0.1'), a('b2.svc.test', '127.0.0.1')] }
      : {}));
    srvServer = `127.0.0.1:${dnsServer.port}`;
  }

  const json = await startHttpServer((_req, res) => sendJson(res, [{ host: '127.0.0.1', port: port('json') }]));
  const plain = await startHttpServer((_req, res) => res.end(`127.0.0.1:${port('plain')} weight=2\n`));
  const consul = await startHttpServer((_req, res) => sendJson(res, [
    { Node: { Node: 'n', Address: '127.0.0.1' }, Service: { ID: 'c', Service: 'web', Tags: [], Address: '', Port: port('consul') } },
  ]));
  const dockerSock = join(dir, 'docker.sock');
  const docker = await startHttpServer((_req, res) => sendJson(res, [
    { Id: 'x', Names: ['/web'], Labels: {}, Ports: [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: port('docker'), Type: 'tcp' }] },
  ]), dockerSock);
  const lxdSock = join(dir, 'lxd.sock');
  const lxd = await startHttpServer((_req, res) => sendJson(res, { type: 'sync', status_code: 200, metadata: [
    { name: 'c1', status: 'Running', config: {}, state: { network: { eth0: { addresses: [{ family: 'inet', address: '127.0.0.1', scope: 'global' }] } } } },
  ] }), lxdSock);
  httpServers.push(json, plain, consul, docker, lxd);

  const script = join(dir, 'backends.sh');
  writeFileSync(script, `#!/bin/sh\necho "127.0.0.1:${port('exec')} weight=3"\n`);
  chmodSync(script, 0o755);

  const disc: Record<string, Record<string, unknown>> = {
    static: { kind: 'static', static_list: [`127.0.0.1:${port('static')}`] },
    srv: { kind: 'srv', interval: '200ms', timeout: '1s', srv_lookup_server: srvServer, srv_lookup_pattern: '_web._tcp.svc.test.', srv_dns_protocol: 'tcp' },
    json: { kind: 'json', interval: '1s', json_endpoint: json.url },
    plaintext: { kind: 'plaintext', plaintext_endpoint: plain.url },
    exec: { kind: 'exec', exec_command: [script] },
    consul: { kind: 'consul', consul_host: `127.0.0.1:${consul.port}`, consul_service_name: 'web' },
    docker: { kind: 'docker', docker_endpoint: `unix://${dockerSock}`, docker_container_private_port: 80 },
    lxd: { kind: 'lxd', lxd_server_address: `unix://${lxdSock}`, lxd_container_port: port('lxd') },
  };
  // Listen ports are picked below the ephemeral range; a busy machine may still take one
  // between the check and the bind, so the start is retried with fresh ports.
  for (let attempt = 1; ; attempt++) {
    const servers: Record<string, unknown> = {};
    for (const [kind, d] of Object.entries(disc)) {
      ports[kind] = await freeTcpPort();
      servers[kind] = { bind: `127.0.0.1:${ports[kind]}`, protocol: 'tcp', discovery: d };
    }
    const text = JSON.stringify({ logging: { level: 'error' }, api: { enabled: false }, servers });
    try {
      app = await startAppFromJson(text, 'discovery.json');
      return;
    } catch (err) {
      if (attempt >= 5 || !/address already in use/.test(String(err))) throw err;
    }
  }
});

after(async () => {
  await app?.close(0);
  await dnsmasq?.dispose();
  await dnsServer?.close();
  await Promise.all(httpServers.map((s) => s.close()));
  for (const b of backends) for (const s of b.sockets) s.destroy();
  await Promise.all(backends.map((b) => new Promise<void>((r) => b.server.close(() => r()))));
  rmSync(dir, { recursive: true, force: true });
});

test('every discovery kind routes traffic to what it discovered', async () => {
  const expected: Record<string, string[]> = {
    static: ['static'], srv: ['srv1', 'srv2'], json: ['json'], plaintext: ['plain'], exec: ['exec'],
    consul: ['consul'], docker: ['docker'], lxd: ['lxd'],
  };
  for (const [kind, names] of Object.entries(expected)) {
    const p = ports[kind];
    assert.ok(p !== undefined);
    await greetsWith(p, names, kind);
  }
  const srvView = app?.manager.get('srv');
  assert.deepEqual(srvView?.pool.eligible.map((x) => x.sni).sort(), ['b1.svc.test', 'b2.svc.test']);
});

test('srv: traffic follows a change of the DNS records within the interval', { skip: DNSMASQ === undefined ? 'dnsmasq binary not installed' : false }, async () => {
  const d = dnsmasq;
  const srv3 = backends.find((b) => b.name === 'srv3');
  const p = ports['srv'];
  assert.ok(d !== undefined && srv3 !== undefined && p !== undefined);
  await d.stop();
  await d.start([`--srv-host=_web._tcp.svc.test,b1.svc.test,${srv3.port},0,10`]);
  await waitFor(() => app?.manager.get('srv')?.pool.eligible.map((x) => x.port).join() === String(srv3.port), 3000, 'new SRV set');
  for (let i = 0; i < 5; i++) assert.equal(await greet(p), 'srv3');
});
