/**
 * Many distinct client ports against one tsbetween process (the real CLI, a child process, so
 * its RSS and descriptors can be read from /proc):
 *
 * - 100,000 distinct client addresses (127.0.0.1 and ::1 x explicit ports, through a dual-stack
 *   wildcard bind) in a bounded burst with `udp.max_sessions = 10000`: the cap evicts, the
 *   descriptors and RSS stay bounded, the process keeps answering. Opt-in (about 20-40 s):
 *   TSB_UDP_BURST=1. Without it the same test runs with 12,000 addresses and a cap of 2,000.
 * - The default cap (100,000) above the open-file limit (`ulimit -n 256`): EMFILE evicts the
 *   least recently active session and the new session retries with the freed descriptor.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../helpers/cli.js';
import { freeUdpPort, sleep, waitFor, udpBackend } from './helpers.js';

interface Child {
  readonly proc: ChildProcess;
  readonly udpPort: number;
  readonly apiPort: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the child on free ports; tries again (up to 3 times) when a port was taken between the
 * check and the child's bind (other test files run at the same time and bind UDP ports too).
 */
async function startChild(ulimit: number, udp: Record<string, unknown>, backendPort: number): Promise<Child> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startChildOnce(ulimit, udp, backendPort);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function startChildOnce(ulimit: number, udp: Record<string, unknown>, backendPort: number): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-udp-burst-'));
  const udpPort = await freeUdpPort();
  const apiPort = await freePort();
  const config = {
    api: { enabled: true, bind: `127.0.0.1:${apiPort}` },
    servers: {
      u: {
        bind: `:${udpPort}`,
        protocol: 'udp',
        client_idle_timeout: '60s',
        udp,
        discovery: { kind: 'static', static_list: [`127.0.0.1:${backendPort}`] },
      },
    },
  };
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify(config));
  const proc = spawn('bash', ['-c', `ulimit -n ${ulimit} && exec "${process.execPath}" --import tsx src/cli.ts -f json -c "${file}"`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const child: Child = {
    proc,
    udpPort,
    apiPort,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Started once the REST API reports the server.
  const end = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`tsbetween exited: ${out}`);
    }
    const ok = await fetch(`http://127.0.0.1:${apiPort}/servers/u/stats`).then((r) => r.ok, () => false);
    if (ok) return child;
    if (Date.now() > end) {
      await child.stop();
      throw new Error(`tsbetween did not start: ${out}`);
    }
    await sleep(100);
  }
}

async function stats(c: Child): Promise<{ active: number; total: number }> {
  const res = await fetch(`http://127.0.0.1:${c.apiPort}/servers/u/stats`);
  const j = (await res.json()) as { active_connections: number; backends: { stats: { total_connections: number } }[] };
  return { active: j.active_connections, total: j.backends.reduce((n, b) => n + b.stats.total_connections, 0) };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Sends one datagram from each of `count` distinct client addresses: explicit ports on
 * 127.0.0.1, then on ::1, `batch` sockets at a time (ports in use elsewhere are skipped);
 * `onBatch` runs after each batch with the number sent so far.
 */
async function burst(port: number, count: number, batch: number, onBatch: (sent: number) => Promise<void>): Promise<number> {
  let done = 0;
  for (const [type, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
    for (let p = 1024; p <= 65535 && done < count; ) {
      const jobs: Promise<boolean>[] = [];
      for (; jobs.length < batch && p <= 65535 && done + jobs.length < count; p++) {
        const local = p;
        jobs.push(
          new Promise<boolean>((resolve) => {
            const s = dgram.createSocket(type);
            s.once('error', () => {
              try {
                s.close();
              } catch {
                // never bound
              }
              resolve(false);
            });
            s.bind({ port: local, address: host, exclusive: true }, () => {
              s.send('x', port, host, (err) => {
                s.close();
                resolve(err === null || err === undefined);
              });
            });
          }),
        );
      }
      const ok = await Promise.all(jobs);
      done += ok.filter(Boolean).length;
      await onBatch(done);
    }
  }
  return done;
}

const BIG = process.env['TSB_UDP_BURST'] === '1';

test(`${BIG ? '100,000' : '12,000'} distinct client addresses: the cap evicts, fds and RSS stay bounded, nothing crashes`, { timeout: 180_000 }, async (t) => {
  const count = BIG ? 100_000 : 12_000;
  const cap = BIG ? 10_000 : 2_000;
  const be = await udpBackend('be', { replies: 0 });
  const child = await startChild(20_000, { max_requests: 0, max_responses: 0, max_sessions: cap }, be.port);
  try {
    const pid = child.proc.pid as number;
    const rss0 = rssMb(pid);
    let peakRss = rss0;
    let peakFds = fds(pid);
    const started = Date.now();
    // Closed loop: the next batch goes once the backend has (nearly) all datagrams so far, so
    // that the kernel's receive buffer of the listening socket is not what drops them.
    const sent = await burst(child.udpPort, count, 250, async (n) => {
      await waitFor(() => be.received.length >= n - 5, 'the backend to catch up', 10_000).catch(() => undefined);
      peakRss = Math.max(peakRss, rssMb(pid));
      peakFds = Math.max(peakFds, fds(pid));
    });
    assert.equal(sent, count, 'enough free ports for the burst');
    await waitFor(() => be.received.length >= count * 0.99, `the backend to receive ~${count} datagrams (got ${be.received.length})`, 60_000);
    const s = await stats(child);
    peakRss = Math.max(peakRss, rssMb(pid));
    peakFds = Math.max(peakFds, fds(pid));
    t.diagnostic(`${count} addresses in ${Date.now() - started} ms; sessions ${s.active} (cap ${cap}), created ${s.total}; RSS ${rss0.toFixed(0)} -> peak ${peakRss.toFixed(0)} MB; peak fds ${peakFds}`);
    assert.ok(s.active <= cap, `active ${s.active} <= cap ${cap}`);
    assert.ok(s.total >= count * 0.99, 'a session per client address (the kernel may drop a few datagrams)');
    assert.ok(peakFds <= cap + 100, `fds bounded by the cap: ${peakFds}`);
    assert.ok(peakRss - rss0 < (BIG ? 300 : 150), `RSS growth bounded: ${rss0.toFixed(0)} -> ${peakRss.toFixed(0)} MB`);
    assert.equal(child.proc.exitCode, null, 'still running');
  } finally {
    await child.stop();
    await be.close();
  }
});

test('default cap above the open-file limit: EMFILE evicts the least recently active session, new clients are served', { timeout: 120_000 }, async (t) => {
  const be = await udpBackend('be');
  const child = await startChild(256, { max_responses: 0 }, be.port);
  try {
    // Closed loop, as above: the next batch once the backend has (nearly) all datagrams so far.
    const sent = await burst(child.udpPort, 1500, 100, (n) =>
      waitFor(() => be.received.length >= n - 3, 'the backend to catch up', 3000).catch(() => undefined),
    );
    assert.equal(sent, 1500);
    await sleep(200);
    const pid = child.proc.pid as number;
    const s = await stats(child);
    t.diagnostic(`1500 addresses with ulimit -n 256: sessions ${s.active}, created ${s.total}, fds ${fds(pid)}`);
    assert.ok(fds(pid) <= 256);
    assert.ok(s.active < 256, `sessions bounded by the descriptors: ${s.active}`);
    // Each EMFILE evicts the least recently active session and the new one retries once: the
    // clients keep getting sessions (the kernel may drop a few datagrams on a loaded box).
    assert.ok(s.total >= 1500 * 0.95, `a session for (nearly) every client: ${s.total}`);
    // A new client is still served (a descriptor is freed for it).
    const c = dgram.createSocket('udp4');
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
    const replies: string[] = [];
    c.on('message', (m: Buffer) => replies.push(m.toString()));
    try {
      for (let i = 0; i < 20 && replies.length === 0; i++) {
        c.send('late', child.udpPort, '127.0.0.1');
        await sleep(100);
      }
      assert.ok(replies.includes('be:late'), `a reply for a new client: ${replies.join(',')} ${child.output().slice(-500)}`);
    } finally {
      c.close();
    }
    assert.equal(child.proc.exitCode, null, 'still running');
  } finally {
    await child.stop();
    await be.close();
  }
});
