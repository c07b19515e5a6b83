// `npm run build && node dist/bench/tls.js`: TLS termination, tsbetween beside HAProxy with the same
// certificate (EC P-256, made with openssl in a temp dir), both in front of one node:http backend.
// Two figures per balancer, and their ratio tsbetween/HAProxy:
//   - new TLS connections per second: `openssl s_time -new` (a full handshake per connection, then
//     close; the balancer opens a backend connection for each);
//   - throughput: wrk over HTTPS keep-alive, 64 KiB responses (requests/s and MB/s).
// Environment: BENCH_SECONDS (default 10), BENCH_HAPROXY=0 to leave HAProxy out.
// Writes dist/bench-results/tls.json. Figures on a shared box move by ±10–20 %: compare the ratios
// within one run.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECONDS = Math.min(60, Math.max(1, Number(process.env.BENCH_SECONDS ?? 10) || 10));

function which(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function run(cmd: string, args: string[], timeoutMs: number): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
}

/** Asynchronous: the backend runs in this process and must keep serving meanwhile. */
async function load(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });
  return stdout;
}

/** `openssl s_time -new`: completed connections per wall-clock second. */
async function newConnections(openssl: string, port: number): Promise<number | null> {
  const out = await load(openssl, ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(SECONDS)], (SECONDS + 30) * 1000);
  const m = /(\d+) connections in ([\d.]+)s/.exec(out);
  return m === null ? null : Number(m[1]) / Number(m[2]);
}

/** wrk over HTTPS keep-alive: requests/s and MB/s. */
async function throughput(wrk: string, port: number): Promise<{ rps: number; mbps: number } | null> {
  const out = await load(wrk, ['-t1', '-c20', `-d${SECONDS}s`, `https://127.0.0.1:${port}/`], (SECONDS + 30) * 1000);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const tr = /Transfer\/sec:\s+([\d.]+)(KB|MB|GB)/.exec(out);
  if (rps === null || tr === null) {
    console.error(`wrk output not understood:\n${out}`);
    return null;
  }
  const mult = tr[2] === 'GB' ? 1024 : tr[2] === 'KB' ? 1 / 1024 : 1;
  return { rps: Number(rps[1]), mbps: Number(tr[1]) * mult };
}

async function main(): Promise<void> {
  const openssl = which('openssl');
  const wrk = which('wrk');
  const haproxy = process.env.BENCH_HAPROXY === '0' ? null : which('haproxy');
  if (openssl === null) throw new Error('openssl is required');
  const dir = mkdtempSync(join(tmpdir(), 'tsb-bench-tls-'));
  const children: ChildProcess[] = [];
  const body = Buffer.alloc(64 * 1024, 'x');
  const backend = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  try {
    const crt = join(dir, 'bench.crt');
    const key = join(dir, 'bench.key');
    run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt,
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'], 20000);
    execFileSync('sh', ['-c', `cat '${crt}' '${key}' > '${join(dir, 'combined.pem')}'`]);
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const bport = (backend.address() as net.AddressInfo).port;

    const targets: Array<{ name: string; port: number }> = [];
    const tport = await freePort();
    writeFileSync(join(dir, 'tsb.toml'), [
      '[logging]', 'level = "error"', '',
      '[servers.tls]', `bind = "127.0.0.1:${tport}"`, 'protocol = "tls"', 'balance = "roundrobin"',
      '  [servers.tls.tls]', `  cert_path = "${crt}"`, `  key_path = "${key}"`, '  session_tickets = false',
      '  [servers.tls.discovery]', '  kind = "static"', `  static_list = ["127.0.0.1:${bport}"]`, '',
    ].join('\n'));
    const tsb = spawn(process.execPath, [join(ROOT, 'dist', 'app', 'cli.js'), '-c', join(dir, 'tsb.toml')], { stdio: 'ignore' });
    children.push(tsb);
    await waitPort(tport, tsb, 'tsbetween');
    targets.push({ name: 'tsbetween', port: tport });
    if (haproxy !== null) {
      const hport = await freePort();
      writeFileSync(join(dir, 'haproxy.cfg'), [
        'global', '  nbthread 1', '  maxconn 6000', '  tune.ssl.default-dh-param 2048', '',
        'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s', '',
        'frontend tls', `  bind 127.0.0.1:${hport} ssl crt ${join(dir, 'combined.pem')} no-tls-tickets`, '  default_backend be', '',
        'backend be', `  server b 127.0.0.1:${bport}`, '',
      ].join('\n'));
      const ha = spawn(haproxy, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
      children.push(ha);
      await waitPort(hport, ha, 'haproxy');
      targets.push({ name: 'HAProxy', port: hport });
    }

    const results: Record<string, { newConnPerSec: number | null; rps: number | null; mbps: number | null }> = {};
    for (const t of targets) {
      const nc = await newConnections(openssl, t.port);
      const tp = wrk === null ? null : await throughput(wrk, t.port);
      results[t.name] = { newConnPerSec: nc, rps: tp?.rps ?? null, mbps: tp?.mbps ?? null };
    }
    const fmt = (v: number | null, d = 0): string => (v === null ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
    const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? 'n/a' : (a / b).toFixed(2));
    const ts = results['tsbetween'];
    const hp = results['HAProxy'];
    const rows: Array<[string, number | null, number | null, number]> = [
      ['TLS termination: new connections/s (s_time -new)', ts?.newConnPerSec ?? null, hp?.newConnPerSec ?? null, 0],
      ['TLS termination: HTTPS keep-alive req/s (64 KiB, wrk -c20)', ts?.rps ?? null, hp?.rps ?? null, 0],
      ['TLS termination: HTTPS keep-alive MB/s', ts?.mbps ?? null, hp?.mbps ?? null, 1],
    ];
    console.log(`TLS termination bench (${SECONDS}s per run, same EC P-256 certificate, one backend)\n`);
    console.log('| test | tsbetween | HAProxy | tsbetween/HAProxy |');
    console.log('|:--|--:|--:|--:|');
    for (const [name, a, b, d] of rows) console.log(`| ${name} | ${fmt(a, d)} | ${fmt(b, d)} | ${ratio(a, b)} |`);
    const outDir = join(ROOT, 'dist', 'bench-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'tls.json'), `${JSON.stringify({ seconds: SECONDS, results }, null, 2)}\n`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    backend.close();
    backend.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
