// `npm run bench`: direct / tsbetween / haproxy / nginx / GoBetween side by side on loopback, in the
// manner of ../shared/spec/perf-anchors.md. Starts its own backends (two node:http servers,
// iperf3 -s), tsbetween (the real CLI, dist/app/cli.js; one column per worker count of a sweep),
// haproxy and nginx stream when installed, and a GoBetween-compatible binary when given; runs
// iperf3 1 and 8 streams and an HTTP load (keep-alive, and a new connection per request); measures
// the balancers' CPU (also per proxied connection / request / GiB) and RSS; prints the tables and
// writes dist/bench-results/latest.json.
//
// Environment:
//   BENCH_SECONDS=10      seconds per load run (1-10)        BENCH_QUICK=1   3-second runs
//   BENCH_ROUNDS=1        rounds (tables show medians)       BENCH_TESTS=iperf1,iperf1r,iperf8,http_ka,http_close
//                         (iperf1r: iperf3 -R, backend->client)
//   BENCH_HAPROXY=0       leave haproxy out                  BENCH_LOADGEN=wrk|autocannon
//   BENCH_NGINX=0         leave nginx stream out
//   BENCH_GOBETWEEN=PATH  a GoBetween-compatible binary, as a "gobetween" column (same TOML as tsbetween)
//   BENCH_NODE=PATH       the Node binary tsbetween (and alt) run under (default: the harness's own)
//   BENCH_WORKERS=1,2,auto  a workers sweep: one tsbetween column per entry (TSBETWEEN_WORKERS=entry);
//                         unset: one "tsbetween" column with tsbetween's default
//   BENCH_TSBETWEEN_CLI   another tsbetween entry point (default dist/app/cli.js)
//   BENCH_ALT_CLI         a second tsbetween entry point, measured as an extra "alt" column in the
//                         same interleaved run (A/B of a data-path change on a noisy shared box)
//   BENCH_ALT_ENV         "NAME=value ..." extra environment for the alt process; alone, it runs
//                         the same CLI as tsbetween with that environment
//   BENCH_TIMEOUT         hard overall timeout in seconds (default: from the number of runs)
//   BENCH_WARMUP=2        seconds of HTTP load (keep-alive, then new connections) each target gets
//                         once, before the first round (JIT warm-up; 0: none)
//   BENCH_WAIT_QUIET=0    wait up to this many seconds, before the load, for the box's background
//                         CPU to fall to BENCH_QUIET_PCT (default 50; 100 = one core)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseHttpLoadGen } from './load.js';
import { parseEnvPairs } from './parse.js';
import type { HttpLoadGen } from './load.js';
import { runIperf } from './load.js';
import { findStreamModule, gobetweenToml, haproxyCfg, nginxConf, parseWorkersList } from './configs.js';
import type { BenchBackends, ListenPorts } from './configs.js';
import { Supervisor, logTail, pickPorts, waitListening, which } from './procs.js';
import type { Managed } from './procs.js';
import { TESTS, summarise } from './report.js';
import type { IdleUsage, Sample, TargetInfo, TargetName, TargetRole, TestDef } from './report.js';
import { BoxSampler, TreeSampler } from './sampler.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const RESULTS_DIR = join(ROOT, 'dist', 'bench-results');
const HTTP_CONNECTIONS = 50;
const SETTLE_MS = 1000;
const STARTUP_TIMEOUT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

interface Settings {
  readonly seconds: number;
  readonly rounds: number;
  readonly tests: readonly TestDef[];
  readonly withHaproxy: boolean;
  readonly withNginx: boolean;
  readonly loadgenPref: string | undefined;
  readonly cli: string;
  /** The Node binary tsbetween runs under. */
  readonly node: string;
  /** A GoBetween-compatible binary (BENCH_GOBETWEEN), or null. */
  readonly gobetween: string | null;
  /** Worker counts to sweep; empty = one column with tsbetween's default. */
  readonly workers: readonly string[];
  /** Set when an "alt" column is wanted (BENCH_ALT_CLI and/or BENCH_ALT_ENV). */
  readonly altCli: string | null;
  readonly altEnv: Readonly<Record<string, string>>;
  readonly hardTimeoutS: number | null;
  readonly waitQuietS: number;
  readonly warmupS: number;
  readonly quietPct: number;
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer in ${min}-${max}, got "${raw}"`);
  return n;
}

function altEnvFromEnv(): Record<string, string> {
  try {
    return parseEnvPairs(process.env['BENCH_ALT_ENV'] ?? '');
  } catch (e) {
    throw new Error(`BENCH_ALT_ENV: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function readSettings(): Settings {
  const quick = process.env['BENCH_QUICK'] === '1';
  const seconds = intEnv('BENCH_SECONDS', quick ? 3 : 10, 1, 10);
  const rounds = intEnv('BENCH_ROUNDS', 1, 1, 5);
  const filter = (process.env['BENCH_TESTS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const f of filter) {
    if (!TESTS.some((t) => t.id === f)) throw new Error(`BENCH_TESTS: unknown test "${f}" (${TESTS.map((t) => t.id).join(', ')})`);
  }
  const tests = filter.length === 0 ? TESTS.filter((t) => t.byDefault) : TESTS.filter((t) => filter.includes(t.id));
  const cli = resolve(process.env['BENCH_TSBETWEEN_CLI'] ?? join(ROOT, 'dist', 'app', 'cli.js'));
  let workers: string[];
  try {
    workers = parseWorkersList(process.env['BENCH_WORKERS'] ?? '');
  } catch (e) {
    throw new Error(`BENCH_WORKERS: ${e instanceof Error ? e.message : String(e)}`);
  }
  const optPath = (name: string): string | null => {
    const v = process.env[name];
    return v === undefined || v === '' ? null : resolve(v);
  };
  return { seconds, rounds, tests, withHaproxy: process.env['BENCH_HAPROXY'] !== '0',
    withNginx: process.env['BENCH_NGINX'] !== '0',
    loadgenPref: process.env['BENCH_LOADGEN'], cli, node: optPath('BENCH_NODE') ?? process.execPath,
    gobetween: optPath('BENCH_GOBETWEEN'), workers,
    altCli: process.env['BENCH_ALT_CLI'] ? resolve(process.env['BENCH_ALT_CLI'])
      : process.env['BENCH_ALT_ENV'] ? cli : null,
    altEnv: altEnvFromEnv(),
    hardTimeoutS: process.env['BENCH_TIMEOUT'] ? intEnv('BENCH_TIMEOUT', 0, 5, 3600) : null,
    warmupS: intEnv('BENCH_WARMUP', 2, 0, 10),
    waitQuietS: intEnv('BENCH_WAIT_QUIET', 0, 0, 1800), quietPct: intEnv('BENCH_QUIET_PCT', 50, 1, 400) };
}

/** The first line a tool prints about itself (stdout, or stderr for tools such as nginx -v). */
function firstLine(cmd: string, args: readonly string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  // wrk -v exits 1 after printing its version.
  const text = (r.stdout ?? '').trim() !== '' ? r.stdout : (r.stderr ?? '');
  const line = text.split('\n')[0]?.trim() ?? '';
  return line === '' ? null : line;
}

/** One GET through `port`; resolves with the status and body, rejects after 3 s. */
function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port} timed out`)));
    req.on('error', reject);
  });
}

async function smoke(name: string, port: number): Promise<void> {
  // Two requests, so that both backends of a round-robin balancer answer.
  for (let i = 0; i < 2; i++) {
    const r = await httpGet(port);
    if (r.status !== 200 || r.body !== 'hello\n') throw new Error(`${name}: GET / answered ${r.status} ${JSON.stringify(r.body)}`);
  }
}

interface Target {
  readonly name: TargetName;
  readonly role: TargetRole;
  readonly httpPort: number;
  readonly iperfPort: number;
  /** The balancer process (CPU/RSS are sampled on its tree); null for direct. */
  readonly proc: Managed | null;
}

interface Tools {
  readonly iperf3: string | null;
  readonly haproxy: string | null;
  readonly nginx: string | null;
  readonly loadgen: HttpLoadGen | null;
}

async function measure(sup: Supervisor, tools: Tools, test: TestDef, target: Target, seconds: number,
  round: number): Promise<Sample> {
  const lbSampler = target.proc === null ? null : new TreeSampler(target.proc.pid);
  const box = new BoxSampler(os.cpus().length);
  const base = { test: test.id, target: target.name, round };
  const empty = { gbps: null, retransmits: null, rps: null, p50Ms: null, p99Ms: null, socketErrors: null, non2xx: null };
  lbSampler?.start();
  box.start();
  let result: Omit<Sample, 'lbCpuPct' | 'lbUserPct' | 'lbSysPct' | 'lbPeakRssMb' | 'boxBusyPct'>;
  try {
    if (test.kind === 'iperf') {
      if (tools.iperf3 === null) throw new Error('iperf3 not installed');
      const r = await runIperf(sup, tools.iperf3, { port: target.iperfPort, seconds, streams: test.streams,
        reverse: test.reverse });
      result = { ...base, ...empty, error: null, gbps: r.bitsPerSecond / 1e9, retransmits: r.retransmits };
    } else {
      if (tools.loadgen === null) throw new Error('no HTTP load generator');
      const r = await tools.loadgen.run(sup, { url: `http://127.0.0.1:${target.httpPort}/`, seconds,
        connections: HTTP_CONNECTIONS, close: test.close });
      result = { ...base, ...empty, error: null, rps: r.requestsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms,
        socketErrors: r.socketErrors, non2xx: r.non2xx };
    }
  } catch (e) {
    result = { ...base, ...empty, error: e instanceof Error ? e.message : String(e) };
  }
  const usage = lbSampler?.stop() ?? null;
  const boxUsage = box.stop();
  return {
    ...result,
    lbCpuPct: usage?.cpuPct ?? null,
    lbUserPct: usage?.userPct ?? null,
    lbSysPct: usage?.sysPct ?? null,
    lbPeakRssMb: usage?.peakRssMb ?? null,
    boxBusyPct: boxUsage?.busyPct ?? null,
  };
}

function describe(s: Sample): string {
  if (s.error !== null) return `ERROR ${s.error.split('\n')[0] ?? ''}`;
  const parts: string[] = [];
  if (s.gbps !== null) parts.push(`${s.gbps.toFixed(2)} Gbit/s`);
  if (s.rps !== null) parts.push(`${Math.round(s.rps)} req/s p50 ${s.p50Ms?.toFixed(2) ?? '?'} ms p99 ${s.p99Ms?.toFixed(2) ?? '?'} ms`);
  if (s.lbCpuPct !== null) parts.push(`LB CPU ${s.lbCpuPct.toFixed(0)}% RSS ${s.lbPeakRssMb?.toFixed(0) ?? '?'} MB`);
  if (s.boxBusyPct !== null) parts.push(`box ${s.boxBusyPct.toFixed(0)}%`);
  return parts.join(', ');
}

/** The balancers to start: name, role, and how to start one on its own ports. */
interface Plan {
  readonly name: TargetName;
  readonly role: TargetRole;
  start(listen: ListenPorts): Managed;
}

async function main(sup: Supervisor, tmp: string, settings: Settings): Promise<number> {
  const { seconds, rounds, tests } = settings;
  const tools: Tools = {
    iperf3: which('iperf3'),
    haproxy: settings.withHaproxy ? which('haproxy') : null,
    nginx: settings.withNginx ? which('nginx') : null,
    loadgen: chooseHttpLoadGen(settings.loadgenPref),
  };
  const notes: string[] = [];
  if (tools.iperf3 === null) notes.push('iperf3 is not installed: the iperf3 tests are skipped.');
  if (tools.loadgen === null) notes.push('neither wrk nor autocannon is available: the HTTP tests are skipped.');
  if (tools.loadgen?.caveat) notes.push(tools.loadgen.caveat);
  if (tools.haproxy === null) notes.push(settings.withHaproxy ? 'haproxy is not installed: no haproxy column.' : 'haproxy left out (BENCH_HAPROXY=0).');
  const runnable = tests.filter((t) => (t.kind === 'iperf' ? tools.iperf3 !== null : tools.loadgen !== null));
  if (!existsSync(settings.cli)) {
    throw new Error(`tsbetween CLI not found at ${settings.cli}: run "npm run build" (or set BENCH_TSBETWEEN_CLI)`);
  }
  if (!existsSync(settings.node)) throw new Error(`BENCH_NODE: ${settings.node} not found`);
  if (settings.gobetween !== null && !existsSync(settings.gobetween)) throw new Error(`BENCH_GOBETWEEN: ${settings.gobetween} not found`);
  if (settings.altCli !== null && !existsSync(settings.altCli)) throw new Error(`BENCH_ALT_CLI: ${settings.altCli} not found`);
  const nodeVersion = firstLine(settings.node, ['--version']) ?? '?';

  const [b1, b2, iperfB] = await pickPorts(3);
  if (b1 === undefined || b2 === undefined || iperfB === undefined) throw new Error('port selection failed');
  const backends: BenchBackends = { http: [b1, b2], iperf: iperfB };

  // Backends.
  const backendScript = join(HERE, 'http-backend.js');
  const be1 = sup.start('http-backend-1', process.execPath, [backendScript, String(b1), '--exit-on-stdin-close'], { stdin: 'pipe' });
  const be2 = sup.start('http-backend-2', process.execPath, [backendScript, String(b2), '--exit-on-stdin-close'], { stdin: 'pipe' });
  await waitListening(be1, [b1], STARTUP_TIMEOUT_MS);
  await waitListening(be2, [b2], STARTUP_TIMEOUT_MS);
  if (tools.iperf3 !== null) {
    const ip = sup.start('iperf3-server', tools.iperf3, ['-s', '-B', '127.0.0.1', '-p', String(iperfB)]);
    await waitListening(ip, [iperfB], STARTUP_TIMEOUT_MS);
  }
  await smoke('direct', b1);

  // The balancers, each on its own pair of ports.
  const plans: Plan[] = [];
  const columns = settings.workers.length === 0 ? [null] : settings.workers;
  for (const w of columns) {
    const name = w === null ? 'tsbetween' : `tsbetween ${w === 'auto' ? 'auto' : `w${w}`}`;
    const file = name.replace(/\s+/g, '-');
    plans.push({ name, role: 'tsbetween', start: (listen) => {
      const toml = join(tmp, `${file}.toml`);
      writeFileSync(toml, gobetweenToml(listen, backends));
      const env = w === null ? process.env : { ...process.env, TSBETWEEN_WORKERS: w };
      return sup.start(file, settings.node, [settings.cli, '-c', toml], { env });
    } });
  }
  if (tools.haproxy !== null) {
    const haproxy = tools.haproxy;
    plans.push({ name: 'haproxy', role: 'reference', start: (listen) => {
      const cfg = join(tmp, 'haproxy.cfg');
      writeFileSync(cfg, haproxyCfg(listen, backends));
      return sup.start('haproxy', haproxy, ['-db', '-f', cfg]);
    } });
  }
  if (tools.nginx !== null) {
    const nginx = tools.nginx;
    const nginxV = (() => {
      try {
        return execFileSync(nginx, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
      } catch (e) {
        const err = (e as { stderr?: unknown }).stderr;
        return typeof err === 'string' ? err : '';
      }
    })();
    // nginx -V prints to stderr.
    const module = findStreamModule(nginxV, existsSync);
    if (module === undefined) {
      notes.push('nginx has no stream module (Debian: libnginx-mod-stream): no nginx column.');
    } else {
      plans.push({ name: 'nginx', role: 'reference', start: (listen) => {
        const prefix = join(tmp, 'nginx');
        mkdirSync(prefix, { recursive: true });
        const conf = join(prefix, 'nginx.conf');
        writeFileSync(conf, nginxConf(listen, backends, { streamModule: module, prefix }));
        return sup.start('nginx', nginx, ['-p', prefix, '-e', join(prefix, 'nginx-error.log'), '-c', conf]);
      } });
    }
  } else if (!settings.withNginx) {
    notes.push('nginx left out (BENCH_NGINX=0).');
  } else {
    notes.push('nginx is not installed (Debian: nginx-light + libnginx-mod-stream): no nginx column.');
  }
  if (settings.gobetween !== null) {
    const bin = settings.gobetween;
    plans.push({ name: 'gobetween', role: 'reference', start: (listen) => {
      const toml = join(tmp, 'gobetween.toml');
      writeFileSync(toml, gobetweenToml(listen, backends));
      return sup.start('gobetween', bin, ['-c', toml]);
    } });
    const v = firstLine(bin, ['-v']);
    notes.push(`gobetween = ${bin}${v === null ? '' : ` (${v})`}`);
  }
  if (settings.altCli !== null) {
    const altCli = settings.altCli;
    plans.push({ name: 'alt', role: 'alt', start: (listen) => {
      const toml = join(tmp, 'alt.toml');
      writeFileSync(toml, gobetweenToml(listen, backends));
      return sup.start('alt', settings.node, [altCli, '-c', toml], { env: { ...process.env, ...settings.altEnv } });
    } });
    const envText = Object.entries(settings.altEnv).map(([k, v]) => `${k}=${v}`).join(' ');
    notes.push(`alt = ${envText === '' ? '' : `${envText} `}${altCli}`);
  }

  const listenPorts = await pickPorts(plans.length * 2);
  const targets: Target[] = [{ name: 'direct', role: 'direct', httpPort: b1, iperfPort: iperfB, proc: null }];
  for (const [i, plan] of plans.entries()) {
    const http = listenPorts[2 * i];
    const iperf = listenPorts[2 * i + 1];
    if (http === undefined || iperf === undefined) throw new Error('port selection failed');
    const proc = plan.start({ http, iperf });
    await waitListening(proc, [http, iperf], STARTUP_TIMEOUT_MS);
    await smoke(plan.name, http);
    targets.push({ name: plan.name, role: plan.role, httpPort: http, iperfPort: iperf, proc });
  }
  log(`ports: backends ${b1},${b2} iperf3 ${iperfB}; ` +
    targets.filter((t) => t.proc !== null).map((t) => `${t.name} ${t.httpPort}/${t.iperfPort}`).join('; ') +
    `; ${seconds}s runs, ${rounds} round(s), load generator ${tools.loadgen?.name ?? 'none'}`);

  // What the rest of the box is doing before any load: other tenants share these cores.
  const idle = new BoxSampler(os.cpus().length);
  const idleLbs = targets.flatMap((t) => (t.proc === null ? [] : [{ name: t.name, sampler: new TreeSampler(t.proc.pid) }]));
  let background: number | null = null;
  const waitUntil = Date.now() + settings.waitQuietS * 1000;
  for (;;) {
    idle.start();
    for (const l of idleLbs) l.sampler.start();
    await sleep(2000);
    background = idle.stop()?.busyPct ?? null;
    if (background === null || background <= settings.quietPct || Date.now() >= waitUntil) break;
    for (const l of idleLbs) l.sampler.stop();
    log(`box ${background.toFixed(0)}% busy, waiting for it to drop to ${settings.quietPct}% ` +
      `(up to ${Math.max(0, Math.round((waitUntil - Date.now()) / 1000))} s more)`);
    await sleep(3000);
  }
  const idleUsage: Record<string, IdleUsage> = Object.fromEntries(idleLbs.map((l) => {
    const u = l.sampler.stop();
    return [l.name, { rssMb: Math.round(u.peakRssMb * 10) / 10, cpuPct: Math.round(u.cpuPct * 10) / 10 }];
  }));
  notes.push(`idle, before any load: ${idleLbs.map((l) => `${l.name} ${idleUsage[l.name]?.rssMb.toFixed(0) ?? '?'} MB RSS, ` +
    `${idleUsage[l.name]?.cpuPct.toFixed(1) ?? '?'}% CPU`).join('; ')}.`);
  if (background !== null) {
    log(`background CPU before the load: ${background.toFixed(0)}% of ${os.cpus().length * 100}%`);
    if (background > settings.quietPct) {
      notes.push(`the box was already ${background.toFixed(0)}% busy (of ${os.cpus().length * 100}%) before ` +
        'any load: other work shares these cores, so absolute figures are low and noisy; read the ratios.');
    }
  }

  // Warm-up: a running balancer is warm; Node's JIT is not in the first seconds of a fresh process.
  const loadgen = tools.loadgen;
  if (settings.warmupS > 0 && loadgen !== null && runnable.some((t) => t.kind === 'http')) {
    for (const target of targets) {
      for (const close of [false, true]) {
        await loadgen.run(sup, { url: `http://127.0.0.1:${target.httpPort}/`, seconds: settings.warmupS,
          connections: HTTP_CONNECTIONS, close }).catch(() => undefined);
      }
    }
    log(`warm-up: ${settings.warmupS} s keep-alive + ${settings.warmupS} s new connections per target`);
  }

  // The matrix: for each round, for each test, each target in turn (drift hits all alike).
  const samples: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const test of runnable) {
      for (const target of targets) {
        if (target.proc !== null && target.proc.exit !== null) {
          samples.push({ test: test.id, target: target.name, round, error: `${target.name} is not running`,
            gbps: null, retransmits: null, rps: null, p50Ms: null, p99Ms: null, socketErrors: null, non2xx: null,
            lbCpuPct: null, lbUserPct: null, lbSysPct: null, lbPeakRssMb: null, boxBusyPct: null });
          continue;
        }
        await sleep(SETTLE_MS);
        const s = await measure(sup, tools, test, target, seconds, round);
        samples.push(s);
        log(`round ${round} ${test.id.padEnd(10)} ${target.name.padEnd(9)} ${describe(s)}`);
        if (target.proc !== null && target.proc.exit !== null) {
          log(`${target.name} exited during ${test.id}:\n${logTail(target.proc.logPath)}`);
        }
      }
    }
  }

  const crashed = targets.filter((t) => t.role === 'tsbetween' && t.proc !== null && t.proc.exit !== null);
  const infos: TargetInfo[] = targets.map((t) => ({ name: t.name, role: t.role }));
  const summary = summarise(samples, runnable, infos, idleUsage);
  const harnessNode = settings.node === process.execPath ? '' : ` (harness ${process.version})`;
  const header = `tsbetween benchmark — ${new Date().toISOString()} — ${seconds}s per run, ${rounds} round(s)` +
    `${rounds > 1 ? ' (medians)' : ''}, HTTP load: ${tools.loadgen?.name ?? 'none'} ` +
    `(${tools.loadgen?.name === 'wrk' ? '-t1 ' : ''}-c${HTTP_CONNECTIONS}), ` +
    `${os.cpus().length} CPUs, tsbetween on node ${nodeVersion}${harnessNode}`;
  const out = [header, '', summary.comparison, ''];
  if (summary.ratios !== '') out.push('Ratios (each tsbetween column ÷ the column named; > 1 is better except p99):', '', summary.ratios, '');
  out.push('Load balancer CPU (100% = one core), CPU per unit of work, and memory:', '', summary.resources, '');
  out.push('Direct HTTP goes to one node:http backend; the balancers spread over two.' +
    (tools.loadgen?.name === 'wrk' ? ' wrk\'s latency excludes connect time.' : '') +
    ' CPU µs/conn = the balancer\'s CPU time per proxied connection (new connection per request).');
  for (const n of notes) out.push(`Note: ${n}`);
  for (const p of summary.problems) out.push(`Problem: ${p}`);
  for (const t of crashed) if (t.proc !== null) out.push(`Problem: ${t.name} exited during the run:\n${logTail(t.proc.logPath)}`);
  process.stdout.write(`${out.join('\n')}\n`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const doc = {
    date: new Date().toISOString(),
    settings: { seconds, rounds, tests: runnable.map((t) => t.id), httpConnections: HTTP_CONNECTIONS,
      loadgen: tools.loadgen?.name ?? null, cli: settings.cli, node: settings.node, workers: settings.workers,
      gobetween: settings.gobetween, altCli: settings.altCli, altEnv: settings.altEnv },
    machine: { cpus: os.cpus().length, kernel: os.release(), loadavg: os.loadavg(), backgroundBusyPct: background },
    idle: idleUsage,
    versions: {
      node: nodeVersion,
      harnessNode: process.version,
      nginx: tools.nginx === null ? null : firstLine(tools.nginx, ['-v']),
      iperf3: tools.iperf3 === null ? null : firstLine(tools.iperf3, ['--version']),
      wrk: tools.loadgen?.name === 'wrk' ? firstLine('wrk', ['-v']) : null,
      haproxy: tools.haproxy === null ? null : firstLine(tools.haproxy, ['-v']),
      commit: firstLine('git', ['-C', ROOT, 'rev-parse', 'HEAD']),
    },
    ports: Object.fromEntries(targets.map((t) => [t.name, { http: t.httpPort, iperf: t.iperfPort }])),
    notes,
    problems: summary.problems,
    samples,
    tables: { comparison: summary.comparison, ratios: summary.ratios, resources: summary.resources },
  };
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  writeFileSync(join(RESULTS_DIR, `bench-${doc.date.replace(/[:.]/g, '-')}.json`), json);
  log(`results written to ${join(RESULTS_DIR, 'latest.json')}`);
  const failed = samples.some((s) => s.error !== null) || crashed.length > 0;
  return failed ? 1 : 0;
}

async function entry(): Promise<void> {
  let settings: Settings;
  try {
    settings = readSettings();
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  const tmp = mkdtempSync(join(os.tmpdir(), 'tsbetween-bench-'));
  const sup = new Supervisor(tmp);
  let finishing = false;
  const finish = async (code: number): Promise<never> => {
    if (!finishing) {
      finishing = true;
      try {
        await sup.stopAll();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    process.exit(code);
  };
  process.on('exit', () => sup.killAllSync());
  process.once('SIGINT', () => {
    log('interrupted: stopping every child process');
    void finish(130);
  });
  process.once('SIGTERM', () => {
    log('terminated: stopping every child process');
    void finish(143);
  });
  // Hard overall timeout: every run plus its settle time and slack, plus start-up and shutdown.
  const columns = 3 + Math.max(1, settings.workers.length) + (settings.altCli === null ? 0 : 1) +
    (settings.gobetween === null ? 0 : 1);
  const runs = settings.rounds * settings.tests.length * columns;
  const budgetMs = settings.hardTimeoutS !== null ? settings.hardTimeoutS * 1000
    : runs * (settings.seconds * 1000 + SETTLE_MS + 8000) + 90_000 + settings.waitQuietS * 1000;
  const hard = setTimeout(() => {
    log(`hard timeout after ${Math.round(budgetMs / 1000)} s: stopping every child process`);
    void finish(124);
  }, budgetMs);
  hard.unref();
  let code: number;
  try {
    code = await main(sup, tmp, settings);
  } catch (e) {
    log(`failed: ${e instanceof Error ? e.message : String(e)}`);
    code = 1;
  }
  clearTimeout(hard);
  await finish(code);
}

void entry();
