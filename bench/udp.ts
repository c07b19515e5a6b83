// `npm run bench:udp` (node dist/bench/udp.js): UDP rows, direct / tsbetween / nginx stream side
// by side on loopback, with the built-in load generators of ./udp-load.ts:
//
//   dns      DNS queries per second for BENCH_SECONDS, to two dnsmasq (direct: the first dnsmasq
//            alone); through the balancers with roundrobin and max_responses = 1 (nginx:
//            proxy_responses 1). Load: dnsperf (Debian package dnsperf) when installed, 8 client
//            ports x 256 queries in flight; else the built-in generator, 8 ports x 32 in flight
//            (BENCH_DNS_LOADGEN=builtin forces it).
//   udp1400  UDP throughput: 1,400-byte datagrams from 4 client ports as fast as they go, to a
//            counting sink; the figure is what the sink received (Gbit/s), with the loss.
//
// Environment: BENCH_SECONDS (1-30, default 5), BENCH_NGINX=0 leaves nginx out,
// BENCH_TSBETWEEN_CLI (default dist/app/cli.js). Prints a table, writes
// dist/bench-results/udp.json. Numbers on a shared 2-core box move by 10-20 %: compare the ratios
// within one run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickPorts, which } from './procs.js';
import { TreeSampler } from './sampler.js';
import { dnsLoad, udpBlast, udpSink, type Sink } from './udp-load.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => {
  process.stderr.write(`[bench-udp ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

const SECONDS = Math.min(30, Math.max(1, Number(process.env['BENCH_SECONDS'] ?? '5') || 5));
const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => existsSync(p));
const NGINX = process.env['BENCH_NGINX'] === '0' ? null : which('nginx');
const NGINX_STREAM = '/usr/lib/nginx/modules/ngx_stream_module.so';
const DNSPERF = process.env['BENCH_DNS_LOADGEN'] === 'builtin' ? null : which('dnsperf');
const CLI = resolve(process.env['BENCH_TSBETWEEN_CLI'] ?? join(ROOT, 'dist', 'app', 'cli.js'));

interface Row {
  test: string;
  target: string;
  value: number | null;
  unit: string;
  lossPct: number | null;
  lbCpuPct: number | null;
  lbPeakRssMb: number | null;
  error: string | null;
}

const children: ChildProcess[] = [];
function start(cmd: string, args: readonly string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  c.stderr?.on('data', () => undefined);
  children.push(c);
  return c;
}

function stopAll(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

function tsbConfig(p: { dns: number; udp: number; dns1: number; dns2: number; sink: number }): string {
  return `[logging]
level = "warn"

[servers.dns]
bind = "127.0.0.1:${p.dns}"
protocol = "udp"
balance = "roundrobin"
client_idle_timeout = "30s"
  [servers.dns.udp]
  max_responses = 1
  [servers.dns.discovery]
  kind = "static"
  static_list = ["127.0.0.1:${p.dns1}", "127.0.0.1:${p.dns2}"]

[servers.udp]
bind = "127.0.0.1:${p.udp}"
protocol = "udp"
client_idle_timeout = "30s"
  [servers.udp.discovery]
  kind = "static"
  static_list = ["127.0.0.1:${p.sink}"]
`;
}

function nginxConfig(dir: string, p: { dns: number; udp: number; dns1: number; dns2: number; sink: number }): string {
  return `load_module ${NGINX_STREAM};
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 65536; }
stream {
  upstream dns { server 127.0.0.1:${p.dns1}; server 127.0.0.1:${p.dns2}; }
  upstream sink { server 127.0.0.1:${p.sink}; }
  # rcvbuf as tsbetween asks for its listening socket; no proxy_responses on the throughput
  # server: sessions then live until proxy_timeout, as tsbetween's with only client_idle_timeout.
  server { listen 127.0.0.1:${p.dns} udp rcvbuf=4m; proxy_pass dns; proxy_responses 1; proxy_timeout 30s; }
  server { listen 127.0.0.1:${p.udp} udp rcvbuf=4m; proxy_pass sink; proxy_timeout 30s; }
}
`;
}

async function measure(test: string, target: string, pid: number | null, port: number, sink: Sink): Promise<Row> {
  const sampler = pid === null ? null : new TreeSampler(pid);
  sampler?.start();
  const row: Row = { test, target, value: null, unit: '', lossPct: null, lbCpuPct: null, lbPeakRssMb: null, error: null };
  try {
    if (test === 'dns' && DNSPERF !== null) {
      const r = await runDnsperf(DNSPERF, port);
      row.value = r.qps;
      row.unit = 'queries/s (dnsperf)';
      row.lossPct = r.lossPct;
    } else if (test === 'dns') {
      const r = await dnsLoad({ host: '127.0.0.1', port, name: 'svc.bench', sockets: 8, inflight: 32, total: Infinity, seconds: SECONDS, timeoutMs: 1000 });
      row.value = r.qps;
      row.unit = 'queries/s';
      row.lossPct = r.sent === 0 ? null : (r.lost / r.sent) * 100;
    } else {
      const before = await sink.count();
      const r = await udpBlast({ host: '127.0.0.1', port, sockets: 4, size: 1400, seconds: SECONDS });
      await sleep(300);
      const after = await sink.count();
      const got = after.datagrams - before.datagrams;
      row.value = ((after.bytes - before.bytes) * 8) / (r.elapsedMs / 1000) / 1e9;
      row.unit = 'Gbit/s received';
      row.lossPct = r.sent === 0 ? null : ((r.sent - got) / r.sent) * 100;
    }
  } catch (e) {
    row.error = e instanceof Error ? e.message : String(e);
  }
  const u = sampler?.stop();
  row.lbCpuPct = u?.cpuPct ?? null;
  row.lbPeakRssMb = u?.peakRssMb ?? null;
  return row;
}

/** One dnsperf run against `port`: queries/s and the lost share. */
function runDnsperf(bin: string, port: number): Promise<{ qps: number; lossPct: number }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tsb-dnsperf-'));
  const file = join(dir, 'queries');
  writeFileSync(file, 'svc.bench A\n');
  return new Promise((resolvePromise, reject) => {
    const c = spawn(bin, ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), '-c', '8', '-q', '256'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), (SECONDS + 30) * 1000);
    c.on('error', reject);
    c.on('close', () => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const qps = /Queries per second:\s+([0-9.]+)/.exec(out);
      const lost = /Queries lost:\s+\d+ \(([0-9.]+)%\)/.exec(out);
      if (qps === null) reject(new Error(`dnsperf: no result (${out.slice(-300)})`));
      else resolvePromise({ qps: Number(qps[1]), lossPct: lost === null ? 0 : Number(lost[1]) });
    });
  });
}

async function main(): Promise<void> {
  if (DNSMASQ === undefined) throw new Error('dnsmasq not installed');
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build`);
  const dir = mkdtempSync(join(os.tmpdir(), 'tsb-bench-udp-'));
  const sink = await udpSink();
  try {
    const [dns1, dns2, tDns, tUdp, nDns, nUdp] = await pickPorts(6);
    const ports = (dns: number, udp: number): { dns: number; udp: number; dns1: number; dns2: number; sink: number } =>
      ({ dns, udp, dns1: dns1 as number, dns2: dns2 as number, sink: sink.port });
    for (const [i, p] of [dns1, dns2].entries()) {
      start(DNSMASQ, ['--no-daemon', '--log-facility=-', `--port=${p}`, '--listen-address=127.0.0.1', '--bind-interfaces',
        '--no-resolv', '--no-hosts', '--conf-file=/dev/null', `--pid-file=${join(dir, `dnsmasq${i}.pid`)}`, '--user=root',
        `--address=/svc.bench/10.0.0.${i + 1}`]);
    }
    writeFileSync(join(dir, 'tsb.toml'), tsbConfig(ports(tDns as number, tUdp as number)));
    const tsb = start(process.execPath, [CLI, '-c', join(dir, 'tsb.toml')]);
    let nginx: ChildProcess | null = null;
    if (NGINX !== null && existsSync(NGINX_STREAM)) {
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, ports(nDns as number, nUdp as number)));
      nginx = start(NGINX, ['-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')]);
    } else {
      log('nginx with the stream module not found: nginx column left out');
    }
    await sleep(2000);
    const targets: [string, number | null, number, number][] = [
      ['direct', null, dns1 as number, sink.port],
      ['tsbetween', tsb.pid ?? null, tDns as number, tUdp as number],
      ...(nginx !== null ? [['nginx', nginx.pid ?? null, nDns as number, nUdp as number] as [string, number | null, number, number]] : []),
    ];
    const rows: Row[] = [];
    for (const test of ['dns', 'udp1400']) {
      for (const [name, pid, dnsPort, udpPort] of targets) {
        log(`${test} ${name}`);
        const row = await measure(test, name, pid, test === 'dns' ? dnsPort : udpPort, sink);
        rows.push(row);
        log(row.error ?? `${row.value?.toFixed(test === 'dns' ? 0 : 2)} ${row.unit}, loss ${row.lossPct?.toFixed(2)} %`);
        await sleep(500);
      }
    }
    printTable(rows, targets.map((t) => t[0]));
    const out = join(ROOT, 'dist', 'bench-results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'udp.json'), JSON.stringify({ seconds: SECONDS, node: process.version, rows }, null, 2));
  } finally {
    stopAll();
    await sink.close();
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: readonly Row[], targets: readonly string[]): void {
  const get = (test: string, t: string): Row | undefined => rows.find((r) => r.test === test && r.target === t);
  const fmt = (v: number | null | undefined, d: number): string => (v === null || v === undefined ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
  const ratio = (a: Row | undefined, b: Row | undefined): string =>
    a?.value != null && b?.value != null && b.value > 0 ? (a.value / b.value).toFixed(2) : '-';
  const head = ['test', ...targets, 'tsbetween/direct', ...(targets.includes('nginx') ? ['tsbetween/nginx'] : []), 'tsbetween CPU %', 'tsbetween RSS MB'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const [test, label, d] of [['dns', 'DNS (queries/s)', 0], ['udp1400', 'UDP 1,400-byte datagrams (Gbit/s received)', 2]] as const) {
    const ts = get(test, 'tsbetween');
    const cells = [label, ...targets.map((t) => fmt(get(test, t)?.value, d)), ratio(ts, get(test, 'direct'))];
    if (targets.includes('nginx')) cells.push(ratio(ts, get(test, 'nginx')));
    cells.push(fmt(ts?.lbCpuPct, 0), fmt(ts?.lbPeakRssMb, 0));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const losses = rows.map((r) => `${r.test}/${r.target} ${r.error ?? `${fmt(r.lossPct, 2)} %`}`).join(', ');
  process.stdout.write(`${lines.join('\n')}\n\nloss: ${losses}\n`);
}

process.on('exit', stopAll);
main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
