/**
 * Issue 8 item 8 (idle memory): the built program (`dist/`, as `npm start` runs it) with
 * config.example.toml, once started and idle, stays under an RSS bound, and each extra worker
 * thread costs at most 20 MB more.
 *
 * Bounds: the figures measured on the 2-core development box (VmRSS, one worker, the bundle in
 * dist/app: Node 24 58 MB with API and metrics, 54 MB without; Node 20 54 / 51 MB) plus a margin
 * for another machine, but under what the program used before the bundle (Node 24: 71 / 66 MB;
 * Node 20: 62 / 59 MB), so that losing it fails here. Node 22 was not measured: its bound is
 * generous.
 * The RSS is sampled until it is under the bound (the start-up collection runs 1 s after start-up),
 * for at most 10 s; the lowest sample is reported.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ROOT, freePort, startUntil, tempDir } from '../helpers/cli.js';
import { reusePortSupported } from '../../src/workers/reuse-port.js';

const DIST_CLI = join(ROOT, 'dist', 'app', 'cli.js');
const MAJOR = Number(process.versions.node.split('.')[0]);
/** One worker, config.example.toml (API and metrics on), MB. */
const BOUND_MB = MAJOR >= 24 ? 63 : MAJOR >= 22 ? 80 : 59;
/** The same with [api] and [metrics] off. */
const BOUND_NO_API_MB = MAJOR >= 24 ? 59 : MAJOR >= 22 ? 75 : 56;
/** Each worker thread beyond the first (issue 8 item 8). */
const PER_WORKER_MB = 20;

/** Why the test cannot measure here, or undefined. */
function cannotMeasure(): string | undefined {
  if (process.platform !== 'linux') return 'VmRSS is read from /proc (Linux only)';
  if (!existsSync(DIST_CLI)) return 'dist/ not built (npm ci builds it)';
  const built = statSync(DIST_CLI).mtimeMs;
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
  if (newest(join(ROOT, 'src')) > built) return 'dist/ is older than src/ (npm run build first)';
  return undefined;
}

/** config.example.toml with free ports; without [api] and [metrics] when `apiOff`. */
async function exampleConfig(apiOff: boolean): Promise<string> {
  let text = readFileSync(join(ROOT, 'config.example.toml'), 'utf8');
  for (const port of ['3000', '8888', '9284']) {
    assert.ok(text.includes(`127.0.0.1:${port}`), `config.example.toml no longer binds 127.0.0.1:${port}`);
    text = text.replaceAll(`127.0.0.1:${port}`, `127.0.0.1:${await freePort()}`);
  }
  if (apiOff) text = text.replace(/(\[api\]\nenabled = )true/, '$1false').replace(/(\[metrics\]\nenabled = )true/, '$1false');
  return text;
}

/** Starts the built CLI on `config`, waits for `ready`, runs `measure` on it, then stops it. */
async function withProgram<T>(
  config: string,
  workers: number,
  ready: RegExp,
  measure: (status: (field: string) => number, alive: () => void) => Promise<T>,
): Promise<T> {
  const dir = tempDir('tsb-idle-');
  const cfg = dir.write('tsb.toml', config);
  const started = await startUntil([DIST_CLI, '-c', cfg], { GOBETWEEN: '', TSBETWEEN_WORKERS: String(workers) }, ready)
    .catch((err: unknown) => {
      dir.remove();
      throw err;
    });
  const { child } = started;
  /** A numeric field of /proc/PID/status (the main thread's, for per-thread fields). */
  const status = (field: string): number => {
    const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const n = Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
    assert.ok(Number.isFinite(n), `no ${field} in /proc/${child.pid}/status`);
    return n;
  };
  const alive = (): void => assert.ok(child.exitCode === null, `exited: ${started.output()}`);
  try {
    return await measure(status, alive);
  } finally {
    await started.stop();
    dir.remove();
  }
}

/** Samples VmRSS once start-up is over; returns the lowest sample in MB. */
function idleRss(config: string, workers: number, ready: RegExp, boundMb: number): Promise<number> {
  return withProgram(config, workers, ready, async (status, alive) => {
    const settled = Date.now() + 2000;
    const deadline = Date.now() + 10_000;
    let lowest = Infinity;
    for (;;) {
      alive();
      const kb = status('VmRSS');
      assert.ok(kb > 0, 'VmRSS is 0');
      lowest = Math.min(lowest, kb / 1024);
      if ((Date.now() >= settled && lowest <= boundMb) || Date.now() >= deadline) return lowest;
      await new Promise((r) => setTimeout(r, 250));
    }
  });
}

/**
 * The main thread's voluntary context switches per second while idle (each is a wake-up from
 * epoll or a lock), over 3 s once start-up is over.
 */
function idleWakeupsPerSecond(config: string, ready: RegExp): Promise<number> {
  return withProgram(config, 1, ready, async (status, alive) => {
    await new Promise((r) => setTimeout(r, 2000)); // start-up, its collection, the first checks
    const t0 = Date.now();
    const n0 = status('voluntary_ctxt_switches');
    await new Promise((r) => setTimeout(r, 3000));
    alive();
    return (status('voluntary_ctxt_switches') - n0) / ((Date.now() - t0) / 1000);
  });
}

function skipIfCannot(t: TestContext): boolean {
  const why = cannotMeasure();
  if (why !== undefined) t.skip(why);
  return why !== undefined;
}

test(`config.example.toml, 1 worker: idle RSS <= ${BOUND_MB} MB`, { timeout: 60_000 }, async (t) => {
  if (skipIfCannot(t)) return;
  const mb = await idleRss(await exampleConfig(false), 1, /Starting HTTP server/, BOUND_MB);
  t.diagnostic(`idle RSS ${mb.toFixed(1)} MB (Node ${process.versions.node})`);
  assert.ok(mb <= BOUND_MB, `idle RSS ${mb.toFixed(1)} MB > ${BOUND_MB} MB`);
});

test(`without [api] and [metrics], 1 worker: idle RSS <= ${BOUND_NO_API_MB} MB`, { timeout: 60_000 }, async (t) => {
  if (skipIfCannot(t)) return;
  const mb = await idleRss(await exampleConfig(true), 1, /\(api\): API disabled/, BOUND_NO_API_MB);
  t.diagnostic(`idle RSS ${mb.toFixed(1)} MB (Node ${process.versions.node})`);
  assert.ok(mb <= BOUND_NO_API_MB, `idle RSS ${mb.toFixed(1)} MB > ${BOUND_NO_API_MB} MB`);
});

test(`a second worker thread costs <= ${PER_WORKER_MB} MB of idle RSS`, { timeout: 90_000 }, async (t) => {
  if (skipIfCannot(t)) return;
  if (!(await reusePortSupported())) {
    t.skip(`Node ${process.versions.node} runs one worker (no reusePort)`);
    return;
  }
  const config = await exampleConfig(false);
  const one = await idleRss(config, 1, /Starting HTTP server/, BOUND_MB);
  const two = await idleRss(config, 2, /Starting HTTP server/, one + PER_WORKER_MB);
  t.diagnostic(`idle RSS 1 worker ${one.toFixed(1)} MB, 2 workers ${two.toFixed(1)} MB (Node ${process.versions.node})`);
  assert.ok(two - one <= PER_WORKER_MB, `the second worker costs ${(two - one).toFixed(1)} MB`);
});

test('idle with API and metrics on, the main thread wakes at most 50 times a second', { timeout: 60_000 }, async (t) => {
  if (skipIfCannot(t)) return;
  // prom-client's event-loop lag sampler at its default 10 ms woke it about 200 times a second.
  const rate = await idleWakeupsPerSecond(await exampleConfig(false), /Starting HTTP server/);
  t.diagnostic(`${rate.toFixed(1)} wake-ups/s (Node ${process.versions.node})`);
  assert.ok(rate <= 50, `${rate.toFixed(1)} wake-ups per second while idle`);
});
