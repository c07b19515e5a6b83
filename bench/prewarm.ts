// `npm run bench:prewarm` (node dist/bench/prewarm.js): does `backend_prewarm` cut time to first
// byte by one backend round trip? (issue 8, item 6: keep the feature only if it does.)
//
// Needs root: it creates a network namespace with a veth pair (10.201.0.1/30 here, 10.201.0.2/30
// in the namespace) and `tc qdisc add dev <ns end> root netem delay 1ms` — packets leaving the
// namespace wait 1 ms, so the backend is one 1 ms round trip away (BENCH_NETEM_BOTH=1 delays both
// ends: 2 ms RTT). A small TCP backend runs in the namespace (`ip netns exec`), answering each
// request with a few bytes. Two tsbetween processes (one worker each) listen on 127.0.0.1: one
// with backend_prewarm = 0, one with backend_prewarm = N (BENCH_PREWARM_N, default 4). A client
// on 127.0.0.1 opens BENCH_CONNS (default 2,000) sequential connections to each, interleaved
// A, B, A, B, … (so drift hits both alike), and times connect -> write request -> first response
// byte. A direct column (client -> backend, no proxy) shows the raw cost of the path.
//
// Without sch_netem in the kernel (a minimal VM kernel: `tc` answers "Specified qdisc kind is
// unknown"), the veth pair is replaced by a pair of TUN devices with the same addresses (one here,
// one moved into the namespace) and a small relay (python3, inlined below) that
// copies packets between them, holding those that leave the namespace for 1 ms (both ways with
// BENCH_NETEM_BOTH=1): the same round trip as netem's, plus the relay's own tens of µs — the
// `direct` column shows the path's real cost either way.
//
// Skips with a message when not root or when the namespace cannot be set up. The namespace, the
// links and every child process are removed on exit, on error and on SIGINT/SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickPorts } from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const CLI = resolve(process.env['BENCH_TSBETWEEN_CLI'] ?? join(ROOT, 'dist', 'app', 'cli.js'));
const CONNS = Math.max(10, Number(process.env['BENCH_CONNS'] ?? '2000') || 2000);
const POOL = Math.max(1, Number(process.env['BENCH_PREWARM_N'] ?? '4') || 4);
const BOTH = process.env['BENCH_NETEM_BOTH'] === '1';
const tag = String(process.pid % 100000);
const NS = `tsbpw${tag}`;
const HOST_IF = `tsbpw${tag}a`;
const NS_IF = `tsbpw${tag}b`;
const HOST_IP = '10.201.0.1';
const NS_IP = '10.201.0.2';
const BACKEND_PORT = 9000;

const log = (msg: string): void => {
  process.stderr.write(`[bench-prewarm ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
let nsCreated = false;
let tmp = '';
/** How the delay is made: 'netem' (veth + tc netem) or 'tun relay'. */
let how = '';

function sh(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  if (nsCreated) {
    nsCreated = false;
    // Deleting the namespace deletes its veth end, and with it the peer.
    spawnSync('ip', ['netns', 'del', NS], { timeout: 10_000 });
    spawnSync('ip', ['link', 'del', HOST_IF], { timeout: 10_000, stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', NS_IF], { timeout: 10_000, stdio: 'ignore' });
  }
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  tmp = '';
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

const inNs = (args: readonly string[]): void => sh('ip', ['netns', 'exec', NS, ...args]);

/** Addresses on both ends, the namespace's end moved in first. */
function addresses(): void {
  sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
  sh('ip', ['addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF]);
  sh('ip', ['link', 'set', HOST_IF, 'up']);
  inNs(['ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF]);
  inNs(['ip', 'link', 'set', NS_IF, 'up']);
  inNs(['ip', 'link', 'set', 'lo', 'up']);
}

function setupNetem(): void {
  sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  addresses();
  inNs(['tc', 'qdisc', 'add', 'dev', NS_IF, 'root', 'netem', 'delay', '1ms']);
  if (BOTH) sh('tc', ['qdisc', 'add', 'dev', HOST_IF, 'root', 'netem', 'delay', '1ms']);
  how = 'veth + tc netem';
}

/** Copies IP packets between two TUN devices, holding each direction for its delay (ms). */
const RELAY_PY = `
import os, fcntl, struct, select, time, sys, collections
def tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
    return fd
def put(fd, p):
    try: os.write(fd, p)
    except OSError: pass  # the other end is not up yet: the packet is lost, as on a down link
a = tun(sys.argv[1]); b = tun(sys.argv[2])
dab = float(sys.argv[3]) / 1000; dba = float(sys.argv[4]) / 1000
qa = collections.deque(); qb = collections.deque()
sys.stdout.write('ready\\n'); sys.stdout.flush()
while True:
    now = time.monotonic()
    while qa and qa[0][0] <= now: put(b, qa.popleft()[1])
    while qb and qb[0][0] <= now: put(a, qb.popleft()[1])
    due = qa[0][0] if qa else None
    if qb and (due is None or qb[0][0] < due): due = qb[0][0]
    r, _, _ = select.select([a, b], [], [], None if due is None else max(0.0, due - time.monotonic()))
    now = time.monotonic()
    for fd in r:
        p = os.read(fd, 65536)
        if fd == a: qa.append((now + dab, p))
        else: qb.append((now + dba, p))
`;

async function setupTunRelay(): Promise<void> {
  sh('ip', ['tuntap', 'add', 'mode', 'tun', 'name', HOST_IF]);
  sh('ip', ['tuntap', 'add', 'mode', 'tun', 'name', NS_IF]);
  const relay = join(tmp, 'relay.py');
  writeFileSync(relay, RELAY_PY);
  // Both devices are attached here, then one is moved into the namespace (the fd stays attached).
  const c = startChild('relay', 'python3', [relay, HOST_IF, NS_IF, BOTH ? '1' : '0', '1']);
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error('the delay relay did not start')), 10_000);
    c.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        res();
      }
    });
    c.on('exit', () => rej(new Error('the delay relay exited (python3 missing?)')));
  });
  addresses();
  how = 'TUN pair + delay relay (no sch_netem in this kernel)';
}

async function setupNetwork(): Promise<void> {
  sh('ip', ['netns', 'add', NS]);
  nsCreated = true;
  try {
    setupNetem();
  } catch (err) {
    const msg = (err as Error).message;
    if (!/qdisc kind is unknown|netem/i.test(msg)) throw err;
    log(`no netem: ${msg.slice(0, 200)}; using a TUN pair and a delay relay`);
    spawnSync('ip', ['link', 'del', HOST_IF], { timeout: 10_000, stdio: 'ignore' });
    spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'del', NS_IF], { timeout: 10_000, stdio: 'ignore' });
    await setupTunRelay();
  }
}

/** The backend: answers the first bytes of each connection with a short response, then ends. */
const BACKEND_JS = `
const net = require('node:net');
net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => {});
  s.once('data', () => s.end('HTTP/1.0 200 OK\\r\\n\\r\\nok'));
}).listen(${BACKEND_PORT}, '${NS_IP}', () => process.stdout.write('ready\\n'));
`;

function startChild(name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(c);
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-4000);
  };
  c.stdout?.on('data', keep);
  c.stderr?.on('data', keep);
  c.on('exit', (code, signal) => {
    if (children.includes(c)) log(`${name} exited (${code ?? signal}): ${out.trim().slice(-500)}`);
  });
  return c;
}

async function waitPort(host: string, port: number, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect({ host, port, timeout: 1000 }, () => {
        s.destroy();
        res(true);
      });
      s.on('timeout', () => {
        s.destroy();
        res(false);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} not accepting after ${ms} ms`);
    await sleep(50);
  }
}

function tsbConfig(port: number, prewarm: number): string {
  return [
    '[logging]', 'level = "warn"', 'output = "stderr"', '',
    '[api]', 'enabled = false', '',
    '[servers.pw]', `bind = "127.0.0.1:${port}"`, 'protocol = "tcp"', 'balance = "roundrobin"',
    'backend_connection_timeout = "2s"', `backend_prewarm = ${prewarm}`, '',
    '[servers.pw.discovery]', 'kind = "static"', `static_list = ["${NS_IP}:${BACKEND_PORT}"]`, '',
  ].join('\n');
}

/** One connection: connect, write a request, time to the first response byte (ms); reads to EOF. */
function ttfb(host: string, port: number): Promise<number> {
  return new Promise((resolveT, reject) => {
    const t0 = process.hrtime.bigint();
    let first = -1;
    const s = net.connect({ host, port, noDelay: true }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', () => {
      if (first < 0) first = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    s.on('error', reject);
    s.on('close', () => (first < 0 ? reject(new Error(`no response from ${host}:${port}`)) : resolveT(first)));
  });
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    log('skipped: needs root on Linux (ip netns, veth, tc netem)');
    return;
  }
  tmp = mkdtempSync(join(os.tmpdir(), 'tsb-prewarm-'));
  try {
    await setupNetwork();
  } catch (err) {
    log(`skipped: cannot set up the namespace: ${(err as Error).message}`);
    cleanup();
    return;
  }
  const backendJs = join(tmp, 'backend.cjs');
  writeFileSync(backendJs, BACKEND_JS);
  startChild('backend', 'ip', ['netns', 'exec', NS, process.execPath, backendJs]);
  await waitPort(NS_IP, BACKEND_PORT);
  const [portOff, portOn] = await pickPorts(2);
  if (portOff === undefined || portOn === undefined) throw new Error('no free ports');
  const env = { ...process.env, TSBETWEEN_WORKERS: '1' };
  for (const [name, port, n] of [['tsbetween-off', portOff, 0], ['tsbetween-prewarm', portOn, POOL]] as const) {
    const cfg = join(tmp, `${name}.toml`);
    writeFileSync(cfg, tsbConfig(port, n));
    startChild(name, process.execPath, [CLI, '-c', cfg], env);
  }
  await waitPort('127.0.0.1', portOff);
  await waitPort('127.0.0.1', portOn);
  await sleep(500); // the pool fills
  const rtt = BOTH ? 2 : 1;
  log(`namespace ${NS} (${how}): backend ${NS_IP}:${BACKEND_PORT}, delay 1 ms ${BOTH ? 'each way' : 'one way'} (RTT ≈ ${rtt} ms); ${CONNS} connections per column, interleaved; prewarm N = ${POOL}; Node ${process.version}`);
  const cols: Record<'direct' | 'off' | 'prewarm', number[]> = { direct: [], off: [], prewarm: [] };
  // Warm-up (JIT, ARP): not recorded.
  for (let i = 0; i < 50; i++) {
    await ttfb(NS_IP, BACKEND_PORT);
    await ttfb('127.0.0.1', portOff);
    await ttfb('127.0.0.1', portOn);
  }
  for (let i = 0; i < CONNS; i++) {
    cols.off.push(await ttfb('127.0.0.1', portOff));
    cols.prewarm.push(await ttfb('127.0.0.1', portOn));
    if (i % 4 === 0) cols.direct.push(await ttfb(NS_IP, BACKEND_PORT));
  }
  const rows = Object.entries(cols).map(([k, v]) => {
    const s = [...v].sort((a, b) => a - b);
    return { column: k, n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99) };
  });
  const f = (x: number): string => x.toFixed(3).padStart(8);
  process.stdout.write(`\nTTFB (ms), client on 127.0.0.1, backend RTT ≈ ${rtt} ms\n`);
  process.stdout.write(`${'column'.padEnd(10)}${'n'.padStart(6)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}\n`);
  for (const r of rows) process.stdout.write(`${r.column.padEnd(10)}${String(r.n).padStart(6)} ${f(r.p50)} ${f(r.p90)} ${f(r.p99)}\n`);
  const off = rows.find((r) => r.column === 'off');
  const on = rows.find((r) => r.column === 'prewarm');
  if (off !== undefined && on !== undefined) {
    const gain = off.p50 - on.p50;
    const verdict = gain >= 0.7 * rtt ? 'KEEP: TTFB drops by about one backend round trip' : 'DROP?: TTFB does not drop by about one backend round trip';
    process.stdout.write(`\np50 gain ${gain.toFixed(3)} ms (${(gain / rtt).toFixed(2)} RTT), p99 gain ${(off.p99 - on.p99).toFixed(3)} ms -> ${verdict}\n`);
  }
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    cleanup();
    process.exit(1);
  },
);
