/**
 * Issue 8 item 8 (idle memory): a process loads only what its config uses. The real CLI runs as a
 * child with a module-resolution hook (test/fixtures/module-trace/) that records every module our
 * code imports; after start-up the trace must not hold the REST API, the metrics (prom-client),
 * the profiler, node:https / node:tls / node:child_process, an ESM import of node:http (whose
 * namespace loads undici on Node >= 22), zod, pino, the UDP session logic nor srv's DNS client. A
 * second run with [api] and [metrics] enabled shows that the trace does see them when they are
 * used (so the first check can fail).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { CLI, ROOT, freePort, startUntil, tempDir } from '../helpers/cli.js';

const REGISTER = join(ROOT, 'test', 'fixtures', 'module-trace', 'register.mjs');
const SRC = pathToFileURL(join(ROOT, 'src')).href + '/';

interface Resolution {
  readonly url: string;
  readonly parent: string;
}

/** Starts the CLI with `config`, waits for the end of start-up, stops it; returns what our code imported. */
async function traceStartup(config: string, ready: RegExp): Promise<Resolution[]> {
  const dir = tempDir('tsb-lazy-');
  const cfg = dir.write('tsb.toml', config);
  const trace = dir.write('trace.txt', '');
  try {
    const started = await startUntil(['--import', 'tsx', '--import', REGISTER, CLI, '-c', cfg], { GOBETWEEN: '', TSB_MODULE_TRACE: trace }, ready);
    await started.stop();
    return readFileSync(trace, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [url = '', parent = ''] = line.split('\t');
        return { url, parent };
      })
      .filter((r) => r.parent.startsWith(SRC));
  } finally {
    dir.remove();
  }
}

function serverConfig(port: number): string {
  return `
[servers.web]
bind = "127.0.0.1:${port}"
protocol = "tcp"
  [servers.web.discovery]
  kind = "static"
  static_list = ["127.0.0.1:1 weight=1"]
  [servers.web.healthcheck]
  kind = "ping"
  interval = "1h"
  timeout = "1s"
`;
}

const HEAVY: Array<[string, RegExp]> = [
  ['the REST API', /\/src\/api\//],
  ['the metrics', /\/src\/metrics\//],
  ['prom-client', /\/node_modules\/prom-client\//],
  ['node:https', /^node:https$/],
  ['node:tls', /^node:tls$/],
  ['node:child_process', /^node:child_process$/],
  ['node:http as ESM', /^node:http$/],
  ['zod', /\/node_modules\/zod\//],
  ['the UDP session logic', /\/src\/data\/udp\//],
  ['lru-cache', /\/node_modules\/lru-cache\//],
  ['pino (replaced by src/core/log.ts)', /\/node_modules\/pino\//],
  ["srv discovery's DNS client", /\/src\/discovery\/dns-client\.[jt]s$/],
];

test('static discovery, ping check, no api/metrics/profiler: none of the heavy modules is loaded', async () => {
  const port = await freePort();
  const seen = await traceStartup(
    `[api]\nenabled = false\n[metrics]\nenabled = false\n${serverConfig(port)}`,
    /\(api\): API disabled/,
  );
  const urls = seen.map((r) => r.url);
  // The hook works: it saw the composition root, the static kind and node:net.
  assert.ok(urls.some((u) => /\/src\/app\.[jt]s$/.test(u)), `trace misses src/app: ${urls.join(' ')}`);
  assert.ok(urls.some((u) => /\/src\/discovery\/static\.[jt]s$/.test(u)), 'trace misses the static kind');
  assert.ok(urls.includes('node:net'), 'trace misses node:net');
  for (const [what, re] of HEAVY) {
    const hit = seen.find((r) => re.test(r.url));
    assert.equal(hit, undefined, `${what} was loaded: ${hit?.url ?? ''} from ${hit?.parent ?? ''}`);
  }
});

test('with [api] and [metrics] enabled the trace does hold them (the check above can fail)', async () => {
  const [port, apiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const seen = await traceStartup(
    `[api]\nenabled = true\nbind = "127.0.0.1:${apiPort}"\n[metrics]\nenabled = true\nbind = "127.0.0.1:${metricsPort}"\n${serverConfig(port)}`,
    /Starting HTTP server/,
  );
  const urls = seen.map((r) => r.url);
  assert.ok(urls.some((u) => /\/src\/api\/server\.[jt]s$/.test(u)), 'api not loaded');
  assert.ok(urls.some((u) => /\/node_modules\/prom-client\//.test(u)), 'prom-client not loaded');
  assert.equal(urls.includes('node:http'), false, 'node:http imported as ESM');
});
