import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { ConfigError } from '../../src/core/errors.js';
import type { BackendsTlsWire, HealthcheckWire, ProbeGroup } from '../../src/config/types.js';
import { compileHealthcheck, createHealthcheckRegistry } from '../../src/healthcheck/index.js';
import type { CheckResult } from '../../src/healthcheck/types.js';
import { closeServer, hcWire, sleep } from './helpers.js';

const registry = createHealthcheckRegistry();

function probeWire(probe: Partial<ProbeGroup>, over: Partial<HealthcheckWire> = {}): HealthcheckWire {
  return hcWire({
    kind: 'probe',
    timeout: '2s',
    probe: { probe_protocol: 'tcp', probe_strategy: 'starts_with', probe_send: 'PING\\n', probe_recv: 'PONG', probe_recv_len: 0, ...probe },
    ...over,
  });
}

/** Compiles the probe and runs one check against 127.0.0.1:port. */
async function probeOnce(wire: HealthcheckWire, port: number, backendsTls: BackendsTlsWire | null = null): Promise<CheckResult & { ms: number }> {
  const compiled = compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp', backendsTls);
  assert.ok(compiled.enabled);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('health check timeout')), compiled.timeoutMs);
  const t0 = performance.now();
  try {
    const r = await compiled.run({ host: '127.0.0.1', port, hostLabel: '127.0.0.1', portLabel: String(port) }, ac.signal, compiled.timeoutMs);
    return { ...r, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `parts` with a delay between them (a reply split across segments). */
async function writeSplit(s: Socket, parts: Array<string | Buffer>, delayMs = 15): Promise<void> {
  for (const p of parts) {
    if (s.destroyed) return;
    s.write(p);
    await sleep(delayMs);
  }
}

/** A stream server that answers the first data it receives with `reply` parts. */
async function streamServer(
  reply: Array<string | Buffer>,
  opts: { end?: boolean; received?: Buffer[] } = {},
  make: (h: (s: Socket) => void) => Server = (h) => createServer(h),
): Promise<{ server: Server; port: number }> {
  const server = make((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      opts.received?.push(d);
      void writeSplit(s, reply).then(() => {
        if (opts.end === true && !s.destroyed) s.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

test('probe tcp starts_with: reply split across segments, extra bytes ignored', async () => {
  const received: Buffer[] = [];
  const { server, port } = await streamServer(['P', 'ON', 'GXtra'], { received });
  try {
    const r = await probeOnce(probeWire({}), port);
    assert.equal(r.status, 'healthy', r.reason);
    assert.deepEqual(received[0], Buffer.from('PING\n'), 'Go escapes of probe_send decoded');
  } finally {
    await closeServer(server);
  }
});

test('probe tcp starts_with: mismatch, short reply + EOF, silence', async () => {
  const bad = await streamServer(['PANG']);
  const short = await streamServer(['PO'], { end: true });
  const silent = await streamServer([]);
  try {
    const r1 = await probeOnce(probeWire({}), bad.port);
    assert.equal(r1.status, 'unhealthy');
    assert.match(r1.reason, /did not match/);
    const r2 = await probeOnce(probeWire({}), short.port);
    assert.equal(r2.status, 'unhealthy');
    assert.match(r2.reason, /EOF after 2 of 4 bytes/);
    const r3 = await probeOnce(probeWire({}, { timeout: '80ms' }), silent.port);
    assert.equal(r3.status, 'unhealthy');
    assert.match(r3.reason, /read health check timeout \(0 of 4 bytes read\)/);
    assert.ok(r3.ms >= 70 && r3.ms < 1000, `bounded by the timeout (${r3.ms} ms)`);
  } finally {
    await Promise.all([closeServer(bad.server), closeServer(short.server), closeServer(silent.server)]);
  }
});

test('probe tcp: binary escapes in send and recv are raw bytes', async () => {
  const received: Buffer[] = [];
  const { server, port } = await streamServer([Buffer.from([0xfe]), Buffer.from([0x01, 0x0a])], { received });
  try {
    const r = await probeOnce(probeWire({ probe_send: '\\x00\\xff\\377', probe_recv: '\\xfe\\001\\n' }), port);
    assert.equal(r.status, 'healthy', r.reason);
    assert.deepEqual(received[0], Buffer.from([0x00, 0xff, 0xff]));
  } finally {
    await closeServer(server);
  }
});

test('probe tcp regexp: reads probe_recv_len bytes across segments, unanchored match', async () => {
  const { server, port } = await streamServer(['HTTP/1.1 ', '20', '0 OK\r\n']);
  try {
    const ok = await probeOnce(probeWire({ probe_strategy: 'regexp', probe_recv: '1\\.[01] 2\\d\\d', probe_recv_len: 12 }), port);
    assert.equal(ok.status, 'healthy', ok.reason);
    const no = await probeOnce(probeWire({ probe_strategy: 'regexp', probe_recv: '^1\\.1', probe_recv_len: 12 }), port);
    assert.equal(no.status, 'unhealthy');
    // Asking for more bytes than will ever come: unhealthy at the deadline.
    const long = await probeOnce(probeWire({ probe_strategy: 'regexp', probe_recv: 'OK', probe_recv_len: 100 }, { timeout: '150ms' }), port);
    assert.equal(long.status, 'unhealthy');
  } finally {
    await closeServer(server);
  }
});

test('probe tcp: connection refused is unhealthy', async () => {
  const { server, port } = await streamServer([]);
  await closeServer(server);
  const r = await probeOnce(probeWire({}), port);
  assert.equal(r.status, 'unhealthy');
  assert.equal(r.reason, 'connect ECONNREFUSED');
});

async function udpServer(reply: (msg: Buffer) => Array<string | Buffer>): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    void (async () => {
      for (const p of reply(msg)) {
        socket.send(p, rinfo.port, rinfo.address);
        await sleep(10);
      }
    })();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { socket, port: socket.address().port };
}

test('probe udp: starts_with over several datagrams, oversize datagram truncated, regexp, ICMP refused', async () => {
  const split = await udpServer((m) => (m.toString() === 'PING\n' ? ['PO', 'NG'] : ['NO']));
  const big = await udpServer(() => ['PONG and much more']);
  const re = await udpServer(() => ['status=', 'ready;']);
  try {
    const wire = probeWire({ probe_protocol: 'udp' });
    assert.equal((await probeOnce(wire, split.port)).status, 'healthy');
    assert.equal((await probeOnce(wire, big.port)).status, 'healthy');
    // Over UDP each datagram gives at most the missing bytes: 'PO' + 'NO' != 'PONG'.
    const mismatch = await probeOnce(probeWire({ probe_protocol: 'udp', probe_send: 'other' }), split.port);
    assert.equal(mismatch.status, 'unhealthy');
    const rw = probeWire({ probe_protocol: 'udp', probe_strategy: 'regexp', probe_recv: 'status=(ready|ok)', probe_recv_len: 12 });
    assert.equal((await probeOnce(rw, re.port)).status, 'healthy');
    const silent = await probeOnce(probeWire({ probe_protocol: 'udp', probe_recv: 'PONGPONG' }, { timeout: '120ms' }), split.port);
    assert.equal(silent.status, 'unhealthy');
  } finally {
    split.socket.close();
    big.socket.close();
    re.socket.close();
  }
  // Nobody listens any more: the kernel's port-unreachable turns into a read error.
  const refused = await probeOnce(probeWire({ probe_protocol: 'udp' }, { timeout: '500ms' }), split.port);
  assert.equal(refused.status, 'unhealthy');
  assert.match(refused.reason, /ECONNREFUSED/);
});

let dir = '';
let certPem = '';
let keyPem = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore', timeout: 20_000 });
  certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  keyPem = readFileSync(join(dir, 'key.pem'), 'utf8');
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function backendsTls(over: Partial<BackendsTlsWire>): BackendsTlsWire {
  return { ignore_verify: false, root_ca_cert_path: null, cert_path: null, key_path: null, ciphers: null, min_version: '', max_version: '', session_tickets: false, ...over };
}

test('probe tls: self-signed fails like GoBetween by default; backends_tls ignore_verify or root CA make it pass', async () => {
  const { server, port } = await streamServer(['PO', 'N', 'G'], {}, (h) => createTlsServer({ cert: certPem, key: keyPem }, h));
  try {
    const wire = probeWire({ probe_protocol: 'tls' });
    const def = await probeOnce(wire, port);
    assert.equal(def.status, 'unhealthy');
    assert.match(def.reason, /SELF_SIGNED|self.signed/i);
    const ignore = await probeOnce(wire, port, backendsTls({ ignore_verify: true }));
    assert.equal(ignore.status, 'healthy', ignore.reason);
    const ca = await probeOnce(wire, port, backendsTls({ root_ca_cert_path: join(dir, 'cert.pem') }));
    assert.equal(ca.status, 'healthy', ca.reason);
    const re = await probeOnce(
      probeWire({ probe_protocol: 'tls', probe_strategy: 'regexp', probe_recv: 'O.G', probe_recv_len: 4 }),
      port,
      backendsTls({ ignore_verify: true }),
    );
    assert.equal(re.status, 'healthy', re.reason);
  } finally {
    await closeServer(server);
  }
});

test('probe: config errors name the key path', () => {
  const cases: Array<[Partial<ProbeGroup> | undefined, string, string]> = [
    [{ probe_protocol: 'sctp' }, 'probe_protocol', 'Unsupported probe_protocol'],
    [{ probe_recv: '' }, 'probe_recv', 'probe healthcheck should have both probe_send and probe_recv specified'],
    [{ probe_send: '' }, 'probe_send', 'probe healthcheck should have both probe_send and probe_recv specified'],
    [{ probe_strategy: 'contains' }, 'probe_strategy', 'Unsupported probe_strategy contains'],
    [{ probe_send: 'bad\\q' }, 'probe_send', 'probe_send has invalid syntax invalid syntax'],
    [{ probe_recv: 'bad\\q' }, 'probe_recv', 'probe_recv has invalid syntax invalid syntax'],
    [{ probe_recv_len: 3 }, 'probe_recv_len', "probe_recv_len is redundant for 'starts_with' strategy"],
    [{ probe_strategy: 'regexp' }, 'probe_recv_len', 'probe_recv_len required'],
    [{ probe_strategy: 'regexp', probe_recv_len: -1 }, 'probe_recv_len', 'probe_recv_len required'],
  ];
  for (const [probe, key, message] of cases) {
    assert.throws(
      () => compileHealthcheck(probeWire(probe ?? {}), 'servers.web.healthcheck', registry, 'tcp'),
      (err: unknown) => err instanceof ConfigError && err.path === `servers.web.healthcheck.${key}` && err.message === message,
      `${key}: ${message}`,
    );
  }
  assert.throws(
    () => compileHealthcheck(hcWire({ kind: 'probe' }), 'servers.web.healthcheck', registry, 'tcp'),
    (err: unknown) => err instanceof ConfigError && err.path === 'servers.web.healthcheck' && err.message === 'probe healthcheck requires probe_protocol, probe_send and probe_recv',
  );
  assert.throws(
    () => compileHealthcheck(probeWire({ probe_strategy: 'regexp', probe_recv: '(', probe_recv_len: 2 }), 'servers.web.healthcheck', registry, 'tcp'),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('probe_recv has invalid syntax'),
  );
  assert.throws(
    () => compileHealthcheck(probeWire({ probe_protocol: 'tls' }), 'servers.web.healthcheck', registry, 'tcp', backendsTls({ root_ca_cert_path: '/nonexistent/ca.pem' })),
    (err: unknown) => err instanceof ConfigError && err.path === 'servers.web.backends_tls.root_ca_cert_path',
  );
});
