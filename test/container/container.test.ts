/**
 * The container image, for real: podman builds the top-level Dockerfile on a base image made
 * offline (test/container/make-base.sh: Debian minbase + node and npm from the npm registry,
 * cached under /var/tmp), then runs it as the yyyar/gobetween image is run:
 *   - the image: no ENTRYPOINT, GoBetween's CMD, `gobetween`/`tsbetween` on PATH and /gobetween;
 *   - the default command in its own network namespace: serves, SIGTERM → exit 0;
 *   - the OpenSVC gateway: `gobetween from-file /etc/gobetween/config.json -f json` with
 *     --network=host on free ports, the janitor's replay (GET /, GET /servers, POST, no churn),
 *     traffic through the SRV-discovered backend, then SIGTERM while a connection is open: the
 *     connection keeps working, the listener is closed, the container exits 0 once it ends;
 *     then a restart with the GOBETWEEN environment form: new startTime, the janitor re-pushes.
 *
 * Slow (a build): it runs only when TSB_CONTAINER_TEST=1 (`npm run test:container`, a step of
 * .ci/run), and skips itself with the reason when it cannot run (not root, a tool missing).
 * Podman's settings for this machine go to the test's own temporary files (CONTAINERS_CONF,
 * CONTAINERS_STORAGE_CONF, XDG dirs); the system's configuration is never touched.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VERSION } from '../../src/version.js';
import { a, srv, startDnsServer, type TestDnsServer } from '../discovery/dns-server.js';
import { req, type Reply } from '../api/http.js';
import { freePort } from '../api/ports.js';
import { ROOT, echoBackend, request } from '../helpers/cli.js';
import { janitorCall, janitorEqual, type Json } from '../helpers/janitor.js';

const IMAGE = 'localhost/tsbetween:container-test';
const BASE = 'localhost/tsbetween-base:node24';
const NAME = '_80_svcweb';
const SRV_NAME = '_80._tcp.svcweb.default.svc.cluster7.';
const TARGET = '127-0-0-1.svcweb.default.svc.cluster7.';
const GRACE_MS = 10_000; // the CLI's default --shutdown-grace

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function skipReason(): string | undefined {
  if (process.env['TSB_CONTAINER_TEST'] !== '1') return 'slow: runs with `npm run test:container` (TSB_CONTAINER_TEST=1)';
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap and rootful podman)';
  for (const tool of ['podman', 'buildah', 'runc', 'debootstrap', 'npm']) if (!has(tool)) return `${tool} not installed`;
  return undefined;
}

/** This process's hard limit from /proc/self/limits (NaN when unlimited or unknown). */
function hardLimit(label: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(label));
  return Number(line?.slice(label.length).trim().split(/\s+/)[1]);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const SKIP = skipReason();

describe('container image (podman)', { skip: SKIP ?? false, timeout: 15 * 60_000 }, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const containers = new Set<string>();

  /** Runs a program with the test's podman environment; never throws on a non-zero exit. */
  function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.on('error', (err) => { clearTimeout(timer); reject(err); });
      child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    });
  }

  async function podman(args: string[], timeoutMs = 60_000): Promise<string> {
    const r = await run('podman', args, timeoutMs);
    assert.equal(r.code, 0, `podman ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** `podman run -d` with a unique name, removed (`podman rm -f`) after the test. */
  async function startContainer(name: string, args: string[]): Promise<string> {
    const full = `tsb-test-${name}-${process.pid}`;
    containers.add(full);
    await podman(['run', '-d', '--name', full, ...args]);
    return full;
  }

  /** Polls `podman logs` until `re` matches (the container must keep running meanwhile). */
  async function waitLogs(name: string, re: RegExp, ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const r = await run('podman', ['logs', name]);
      const text = r.stdout + r.stderr;
      if (re.test(text)) return text;
      if (Date.now() > end) throw new Error(`no ${re} in the logs of ${name}:\n${text}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** Writes podman's configuration for this machine into `dir` and returns the environment. */
  function configure(driver: 'overlay' | 'vfs'): NodeJS.ProcessEnv {
    const hardNofile = hardLimit('Max open files');
    const hardNproc = hardLimit('Max processes');
    // Within the hard limits (runc may not raise them); nproc below the hard limit, which some
    // kernels (gVisor) refuse to set even at its own value.
    const nofile = Number.isFinite(hardNofile) ? Math.min(hardNofile, 65536) : 65536;
    const nproc = Number.isFinite(hardNproc) ? Math.min(hardNproc - 1, 4096) : 4096;
    writeFileSync(join(dir, 'containers.conf'), [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `tmp_dir = "${join(dir, 'engine-tmp')}"`,
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'storage.conf'), [
      '[storage]',
      `driver = "${driver}"`,
      `runroot = "${join(dir, 'run')}"`,
      `graphroot = "${join(dir, 'storage')}"`,
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    for (const sub of ['xdg-runtime', 'xdg-config', 'xdg-data', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    return {
      ...process.env,
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      XDG_RUNTIME_DIR: join(dir, 'xdg-runtime'),
      XDG_CONFIG_HOME: join(dir, 'xdg-config'),
      XDG_DATA_HOME: join(dir, 'xdg-data'),
      TMPDIR: join(dir, 'tmp'),
    };
  }

  before(async () => {
    dir = mkdtempSync('/var/tmp/tsb-container-test-');
    env = configure('overlay');
    const base = await run(join(ROOT, 'test', 'container', 'make-base.sh'), [], 10 * 60_000);
    assert.equal(base.code, 0, `make-base.sh failed: ${base.stderr}`);
    const tarball = base.stdout.trim();
    let imported = await run('podman', ['import', tarball, BASE], 5 * 60_000);
    let probe = imported.code === 0 ? await run('podman', ['run', '--rm', '--network=none', BASE, 'node', '--version']) : imported;
    if (probe.code !== 0) {
      // overlay does not work on every filesystem: fall back to vfs (slower, always works).
      await run('podman', ['system', 'reset', '--force']);
      env = configure('vfs');
      imported = await run('podman', ['import', tarball, BASE], 5 * 60_000);
      assert.equal(imported.code, 0, `podman import: ${imported.stderr}`);
      probe = await run('podman', ['run', '--rm', '--network=none', BASE, 'node', '--version']);
    }
    assert.equal(probe.code, 0, `the base image does not run: ${probe.stderr}`);
    const build = await run('podman', ['build', '--pull=never', '--network=host', '--build-arg', `BASE=${BASE}`, '-t', IMAGE, ROOT], 10 * 60_000);
    assert.equal(build.code, 0, `podman build failed:\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`);
  }, { timeout: 12 * 60_000 });

  after(async () => {
    for (const name of containers) await run('podman', ['rm', '-f', '-t', '0', name]).catch(() => undefined);
    // Our own storage only (CONTAINERS_STORAGE_CONF points into `dir`): unmounts and removes it.
    await run('podman', ['system', 'reset', '--force'], 5 * 60_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, { timeout: 6 * 60_000 });

  it('is a drop-in for the yyyar/gobetween image: no ENTRYPOINT, its CMD, the program at /gobetween and on PATH', async (t) => {
    const config = JSON.parse(await podman(['image', 'inspect', IMAGE])) as Array<{ Size: number; Config: { Entrypoint?: string[] | null; Cmd?: string[] } }>;
    const image = config[0];
    assert.ok(image !== undefined);
    assert.ok(image.Config.Entrypoint === undefined || image.Config.Entrypoint === null || image.Config.Entrypoint.length === 0, 'no ENTRYPOINT');
    assert.deepEqual(image.Config.Cmd, ['/gobetween', '-c', '/etc/gobetween/conf/gobetween.toml']);
    // buildah reads the same image the same way.
    const viaBuildah = JSON.parse((await run('buildah', ['inspect', '--type', 'image', IMAGE])).stdout) as { OCIv1: { config: { Cmd?: string[]; Entrypoint?: string[] } } };
    assert.deepEqual(viaBuildah.OCIv1.config.Cmd, image.Config.Cmd);
    const baseSize = (JSON.parse(await podman(['image', 'inspect', BASE])) as Array<{ Size: number }>)[0]?.Size ?? 0;
    t.diagnostic(`image ${(image.Size / 1e6).toFixed(0)} MB; base ${(baseSize / 1e6).toFixed(0)} MB; tsbetween adds ${((image.Size - baseSize) / 1e6).toFixed(1)} MB`);
    for (const argv of [['gobetween', '-v'], ['tsbetween', '-v'], ['/gobetween', '-v']]) {
      assert.equal(await podman(['run', '--rm', '--network=none', IMAGE, ...argv]), `${VERSION}\n`, argv.join(' '));
    }
  });

  it('the default command serves its default config as PID 1 and exits 0 on SIGTERM', async () => {
    // Its own network namespace: the default config binds :8888 and :9284.
    const name = await startContainer('default', ['--network=none', IMAGE]);
    await waitLogs(name, /Starting HTTP server :8888/);
    const pid1 = await podman(['exec', name, 'cat', '/proc/1/cmdline']);
    assert.match(pid1, /node.*\/gobetween.*-c.*\/etc\/gobetween\/conf\/gobetween\.toml/s, 'tsbetween is PID 1');
    const t0 = Date.now();
    await podman(['kill', '--signal', 'TERM', name]);
    assert.equal((await podman(['wait', name], GRACE_MS + 30_000)).trim(), '0');
    assert.ok(Date.now() - t0 < GRACE_MS, `idle stop took ${Date.now() - t0} ms`);
    await waitLogs(name, /SIGTERM: stopping[\s\S]*Stopped/);
  });

  it('runs as the OpenSVC gateway: from-file config.json, janitor replay, traffic, SIGTERM drains and exits 0', async (t) => {
    const backend = await echoBackend('web');
    const dns: TestDnsServer = await startDnsServer((q) => {
      const question = q.questions?.[0];
      if (question?.type === 'SRV' && question.name.toLowerCase() === SRV_NAME.slice(0, -1)) {
        return { answers: [srv(SRV_NAME, TARGET, backend.port, 0, 10)], additionals: [a(TARGET, '127.0.0.1')] };
      }
      if (question?.type === 'A' && question.name.toLowerCase() === TARGET.slice(0, -1)) return { answers: [a(TARGET, '127.0.0.1')] };
      return { rcode: 3 };
    });
    const held: net.Socket[] = [];
    try {
      // The gateway's volume: config.json (our fixture, on a free port) mounted at /etc/gobetween/.
      const gateway = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'opensvc-gateway-config.json'), 'utf8')) as { api: { enabled: boolean; bind: string } };
      const apiPort = await freePort();
      const volume = join(dir, 'gateway-volume');
      mkdirSync(volume, { recursive: true });
      writeFileSync(join(volume, 'config.json'), JSON.stringify({ api: { ...gateway.api, bind: `:${apiPort}` } }));
      const desired = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'opensvc-janitor-post.json'), 'utf8')) as Record<string, Json>;
      const bindPort = await freePort();
      desired['bind'] = `0.0.0.0:${bindPort}`;
      (desired['discovery'] as Record<string, Json>)['srv_lookup_server'] = `127.0.0.1:${dns.port}`;
      t.diagnostic(`API :${apiPort}, server :${bindPort}, DNS 127.0.0.1:${dns.port}, backend 127.0.0.1:${backend.port}`);

      const name = await startContainer('gateway', [
        '--network=host', '-v', `${volume}:/etc/gobetween/`, IMAGE,
        'gobetween', 'from-file', '/etc/gobetween/config.json', '-f', 'json',
      ]);

      const call = (method: string, path: string, body?: Json): Promise<Reply> => janitorCall(apiPort, method, path, body);
      const servers = async (): Promise<Record<string, Record<string, Json>>> =>
        JSON.parse((await call('GET', '/servers')).body) as Record<string, Record<string, Json>>;
      const reconcile = async (): Promise<boolean> => {
        const current = (await servers())[NAME];
        if (current !== undefined && janitorEqual(desired, current)) return false;
        if (current !== undefined) await call('DELETE', `/servers/${NAME}`);
        assert.equal((await call('POST', `/servers/${NAME}`, desired)).body, 'null');
        return true;
      };

      /** GET / once the API is up: the janitor's startTime and GoBetween's configuration object. */
      const up = async (container: string): Promise<Record<string, Json>> => {
        const end = Date.now() + 30_000;
        for (;;) {
          const r = await req(apiPort, '/', { timeoutMs: 1000 }).catch(() => undefined);
          if (r?.status === 200) return JSON.parse(r.body) as Record<string, Json>;
          if (Date.now() > end) throw new Error(`API not up: ${(await run('podman', ['logs', container])).stderr}`);
          await new Promise((res) => setTimeout(res, 200));
        }
      };
      const traffic = async (): Promise<string> => {
        const deadline = Date.now() + 15_000;
        let reply = '';
        while (reply !== 'web:hi' && Date.now() < deadline) {
          reply = await request(bindPort, 'hi', '127.0.0.1', 1000).catch(() => '');
          if (reply !== 'web:hi') await new Promise((res) => setTimeout(res, 200));
        }
        return reply;
      };

      const info = await up(name);
      assert.deepEqual(info['configuration'], { kind: 'file', path: '/etc/gobetween/config.json' });
      assert.equal(typeof info['startTime'], 'string');
      assert.deepEqual(await servers(), {});
      assert.equal(await reconcile(), true, 'first pass creates the server');
      assert.equal(await reconcile(), false, 'second pass finds it equal: no churn');

      // Traffic through the container to the SRV-discovered backend.
      assert.equal(await traffic(), 'web:hi');
      assert.ok(dns.queries.some(({ q, proto }) => proto === 'tcp' && q.questions?.[0]?.type === 'SRV'), 'SRV query over TCP');

      // A connection open across SIGTERM: it keeps working, new ones are refused, and the
      // container exits 0 once it ends (well within the grace period).
      const client = net.connect({ port: bindPort, host: '127.0.0.1' });
      held.push(client);
      client.setEncoding('utf8');
      const nextData = (): Promise<string> => new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error('no reply')), 5000);
        client.once('data', (d: string) => { clearTimeout(timer); res(d); });
      });
      await new Promise<void>((res, rej) => { client.once('connect', res); client.once('error', rej); });
      client.write('one');
      assert.equal(await nextData(), 'web:one');

      const t0 = Date.now();
      await podman(['kill', '--signal', 'TERM', name]);
      await waitLogs(name, /SIGTERM: stopping/);
      const refused = await new Promise<boolean>((res) => {
        const s = net.connect({ port: bindPort, host: '127.0.0.1' });
        s.on('error', () => res(true));
        s.on('connect', () => { s.destroy(); res(false); });
      });
      assert.ok(refused, 'the listener is closed after SIGTERM');
      client.write('two');
      assert.equal(await nextData(), 'web:two', 'the open connection keeps flowing during the drain');
      client.end();
      assert.equal((await podman(['wait', name], GRACE_MS + 30_000)).trim(), '0', 'exit status 0');
      const took = Date.now() - t0;
      t.diagnostic(`SIGTERM → exit 0 in ${took} ms`);
      assert.ok(took < GRACE_MS, `stopped in ${took} ms, beyond the ${GRACE_MS} ms grace period`);

      // The gateway restarts, this time with GoBetween's other command line: the arguments in
      // the GOBETWEEN environment variable and the bare program as the command. New startTime,
      // no servers (API-created ones live in memory): the janitor re-pushes, then finds it equal.
      const again = await startContainer('gateway2', [
        '--network=host', '-v', `${volume}:/etc/gobetween/`,
        '-e', 'GOBETWEEN=["from-file","/etc/gobetween/config.json","-f","json"]', IMAGE, '/gobetween',
      ]);
      const info2 = await up(again);
      assert.notEqual(info2['startTime'], info['startTime'], 'a new startTime after the restart');
      assert.deepEqual(await servers(), {});
      assert.equal(await reconcile(), true);
      assert.equal(await reconcile(), false);
      assert.equal(await traffic(), 'web:hi');
      // `podman stop` (SIGTERM, then SIGKILL after -t seconds) with nothing open: exit 0.
      await podman(['stop', '-t', String(GRACE_MS / 1000 + 5), again], GRACE_MS + 30_000);
      assert.equal((await podman(['wait', again])).trim(), '0');
    } finally {
      for (const s of held) s.destroy();
      await dns.close();
      await backend.close();
    }
  });
});
