/**
 * Bounded fuzzing of the two config edges (issue 12): mutated configs fed to the real CLI as a
 * child process, and mutated JSON posted to `POST /servers/:name` of a real app. Whatever the
 * input: no stack trace, no error of more than one line, no hang, no 5xx.
 *
 * Deterministic by default (seeded PRNG); `FUZZ_SEED=<n>` replays another run, `FUZZ_MS` changes
 * the time budget of each half (default 8 s for the CLI, 5 s for the API).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { seededRandom } from '../../src/core/clock.js';
import { captureLog, LEVEL } from '../helpers/log.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { req } from '../api/http.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 12);
const BUDGET_MS = Number(process.env['FUZZ_MS'] ?? 0);
const CLI_BUDGET_MS = BUDGET_MS > 0 ? BUDGET_MS : 8_000;
const API_BUDGET_MS = BUDGET_MS > 0 ? BUDGET_MS : 5_000;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const WEIRD_STRINGS = [
  '', ' ', '0', '-1', '-5s', '1ns', '9999999999999h', '1e309', 'NaN', 'x\ny', '\u001b[31mred', '\u0000',
  '\u2028', '${HOME}', '%s%n', '../../etc/passwd', 'é', '🙂', '\ud800', 'a'.repeat(5000), 'tcp', 'udp', 'tls',
  'static', 'srv', 'exec', 'json', 'probe', 'ping', 'none', 'regexp', '(?P<host>', '[', 'healthy',
  '127.0.0.1:0', ':99999', 'a:b:c', '[::1]:0', 'localhost:0', '__proto__', 'constructor',
];
const WEIRD_BINDS = ['', ':99999', '127.0.0.1', '[::1]:0', '${X}:0', 'a:b:c', '127.0.0.1:-1', 'localhost:0', '\n:0', '127.0.0.1:0'];
const KEYS = [
  'bind', 'protocol', 'balance', 'max_connections', 'client_idle_timeout', 'backend_idle_timeout',
  'backend_connection_timeout', 'discovery', 'healthcheck', 'sni', 'tls', 'backends_tls', 'udp', 'access',
  'proxy_protocol', 'kind', 'interval', 'timeout', 'failpolicy', 'static_list', 'exec_command', 'fails', 'passes',
  'probe_protocol', 'probe_send', 'probe_recv', 'probe_strategy', 'probe_recv_len', 'initial_status', 'rules',
  'default', 'srv_lookup_server', 'srv_lookup_pattern', 'json_endpoint', 'plaintext_regex_pattern', '__proto__',
];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)] as T;
}

function randomValue(rnd: () => number, depth = 0): Json {
  switch (Math.floor(rnd() * 9)) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick(rnd, [0, -1, 1, 2 ** 31, -(2 ** 63), 2 ** 64, 1.5, 1e21, Number.MAX_SAFE_INTEGER + 2]);
    case 3:
    case 4: return pick(rnd, WEIRD_STRINGS);
    case 5: return depth > 2 ? [] : [randomValue(rnd, depth + 1), randomValue(rnd, depth + 1)];
    case 6: return depth > 2 ? {} : { [pick(rnd, KEYS)]: randomValue(rnd, depth + 1) };
    case 7: return pick(rnd, WEIRD_BINDS);
    default: return Math.floor(rnd() * 100_000) - 50_000;
  }
}

/** One structural mutation somewhere in `v` (a deep copy is returned). */
function mutate(rnd: () => number, v: Json, depth = 0): Json {
  if (v === null || typeof v !== 'object' || (depth > 0 && rnd() < 0.25)) return randomValue(rnd, depth);
  if (Array.isArray(v)) {
    const out = v.map((x) => x);
    if (out.length === 0 || rnd() < 0.3) out.push(randomValue(rnd, depth));
    else {
      const i = Math.floor(rnd() * out.length);
      out[i] = mutate(rnd, out[i] ?? null, depth + 1);
    }
    return out;
  }
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  const keys = Object.keys(out);
  const r = rnd();
  if (keys.length === 0 || r < 0.15) {
    Object.defineProperty(out, pick(rnd, KEYS), { value: randomValue(rnd, depth), enumerable: true, writable: true, configurable: true });
  } else if (r < 0.3) {
    delete out[pick(rnd, keys)];
  } else if (r < 0.4) {
    const k = pick(rnd, keys);
    const val = out[k] ?? null;
    delete out[k];
    out[k.toUpperCase()] = val; // keys are case-insensitive
  } else {
    const k = pick(rnd, keys);
    out[k] = mutate(rnd, out[k] ?? null, depth + 1);
  }
  return out;
}

/** Byte-level damage to a text: flips, cuts, inserted control and quote characters. */
function damageText(rnd: () => number, text: string): string {
  let s = text;
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 4)) {
      case 0: s = s.slice(0, at); break;
      case 1: s = s.slice(0, at) + pick(rnd, ['"', '\n', '[', ']', '{', '}', '=', '\u0000', '\\', ',']) + s.slice(at); break;
      case 2: s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 5)); break;
      default: s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x110)) + s.slice(at + 1);
    }
  }
  return s;
}

/** Servers that are valid as written, so that mutations land next to working config. */
function baseServers(): { [k: string]: Json } {
  return {
    a: {
      bind: '127.0.0.1:0', balance: 'roundrobin', max_connections: 10, client_idle_timeout: '10s',
      discovery: { kind: 'static', static_list: ['127.0.0.1:1 weight=2', '[::1]:2'] },
      healthcheck: { kind: 'ping', interval: '1s', timeout: '500ms', fails: 2, passes: 2 },
      access: { default: 'deny', rules: ['allow 127.0.0.1/32'] },
    },
    b: {
      bind: '127.0.0.1:0',
      discovery: { kind: 'srv', srv_lookup_server: '127.0.0.1:1', srv_lookup_pattern: 'x.test.', interval: '1h' },
      healthcheck: { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_send: 'PING\\n', probe_recv: 'PONG' },
    },
  };
}

function toToml(servers: { [k: string]: Json }): string {
  const lines: string[] = [];
  const scalar = (v: Json): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(scalar).join(', ')}]` : JSON.stringify(v));
  for (const [name, s] of Object.entries(servers)) {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) continue;
    lines.push(`[servers.${JSON.stringify(name)}]`);
    const tables: Array<[string, { [k: string]: Json }]> = [];
    for (const [k, v] of Object.entries(s)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) tables.push([k, v]);
      else if (v !== null) lines.push(`${k} = ${scalar(v)}`);
    }
    for (const [k, t] of tables) {
      lines.push(`[servers.${JSON.stringify(name)}.${k}]`);
      for (const [kk, vv] of Object.entries(t)) if (vv !== null && typeof vv !== 'object') lines.push(`${kk} = ${scalar(vv)}`);
      else if (Array.isArray(vv)) lines.push(`${kk} = ${scalar(vv)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** encodeURIComponent, with lone surrogates (which it refuses) replaced. */
function safeEncode(s: string): string {
  return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
}

const STACK = /\n\s+at .*(:\d+:\d+|\(native\))/;

describe('fuzz: mutated configs to the CLI', () => {
  const dir = tempDir('tsb-fuzz-');
  after(() => dir.remove());

  it(`never a stack trace, a multi-line error or a hang (seed ${SEED})`, { timeout: CLI_BUDGET_MS + 60_000 }, async () => {
    const rnd = seededRandom(SEED);
    const deadline = Date.now() + CLI_BUDGET_MS;
    let n = 0;
    const failures: string[] = [];
    const one = async (i: number): Promise<void> => {
      const root: { [k: string]: Json } = { servers: baseServers() };
      let text: string;
      let format: 'json' | 'toml';
      const mode = rnd();
      if (mode < 0.45) {
        format = 'json';
        text = JSON.stringify(mutate(rnd, mutate(rnd, root)));
      } else if (mode < 0.7) {
        format = 'toml';
        const m = mutate(rnd, root['servers'] ?? {});
        text = toToml(m !== null && typeof m === 'object' && !Array.isArray(m) ? m : {});
      } else {
        format = rnd() < 0.5 ? 'json' : 'toml';
        text = damageText(rnd, format === 'json' ? JSON.stringify(root) : toToml(baseServers()));
      }
      const file = dir.write(`m${i}.${format}`, text);
      const r = runCli(['-c', file, '-f', format]);
      const what = `mutant ${i} (${format}): ${JSON.stringify(text).slice(0, 300)}`;
      // Started (then stopped with SIGTERM) or exited on its own, within a generous bound.
      const started = r.waitFor(/Initialized|nothing to serve/, 30_000).then(() => true, () => false);
      const code = await Promise.race([r.exited, started.then(async (ok) => {
        if (ok) r.kill('SIGTERM');
        return r.exited;
      })]);
      const out = r.stdout() + r.stderr();
      const errLines = r.stderr().split('\n').filter((l) => l !== '' && !/^tsbetween v\d/.test(l));
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.kill('SIGKILL');
        failures.push(`hang: ${what}`);
      } else if (![0, 1].includes(code)) failures.push(`exit ${code}: ${what}\n${out}`);
      else if (STACK.test(out)) failures.push(`stack trace: ${what}\n${out}`);
      else if (/uncaught exception|unhandled rejection/i.test(out)) failures.push(`uncaught: ${what}\n${out}`);
      else if (code === 1 && !(errLines.length === 1 && errLines[0]?.startsWith('tsbetween: '))) failures.push(`not one error line: ${what}\n${r.stderr()}`);
    };
    // A few children at a time; stop starting new ones when the budget is spent.
    const workers = Array.from({ length: 3 }, async () => {
      while (Date.now() < deadline) await one(n++);
    });
    await Promise.all(workers);
    console.log(`# fuzz CLI: ${n} mutants, seed ${SEED}`);
    assert.ok(n >= 3, 'ran some mutants');
    assert.deepEqual(failures, []);
  });
});

describe('fuzz: mutated JSON to POST /servers/:name', () => {
  let app: App;
  let port: number;
  const captured = captureLog('warn');
  before(async () => {
    app = await startApp({
      config: decodeConfig(JSON.stringify({ api: { enabled: true, bind: '127.0.0.1:0' } }), 'json').config,
      source: { kind: 'file', path: 'fuzz' },
      log: captured.log,
      version: '0.8.2',
      startTime: new Date(),
    });
    assert.ok(app.apiAddress !== undefined);
    port = app.apiAddress.port;
  });
  after(() => app.close(0));

  it(`never a 5xx, a multi-line error or a hang (seed ${SEED})`, { timeout: API_BUDGET_MS + 60_000 }, async () => {
    const rnd = seededRandom(SEED + 1);
    const deadline = Date.now() + API_BUDGET_MS;
    const failures: string[] = [];
    let n = 0;
    const statuses = new Map<number, number>();
    while (Date.now() < deadline) {
      const i = n++;
      const servers = baseServers();
      let body: string;
      const base = pick(rnd, [servers['a'], servers['b']]) ?? null;
      if (rnd() < 0.75) {
        let m = mutate(rnd, base);
        if (rnd() < 0.5) m = mutate(rnd, m);
        body = JSON.stringify(m);
      } else {
        body = damageText(rnd, JSON.stringify(base));
      }
      const name = rnd() < 0.1 ? `${safeEncode(pick(rnd, WEIRD_STRINGS).slice(0, 50))}${i}` : `f${i}`;
      const what = `POST /servers/${name} ${body.slice(0, 300)}`;
      let reply;
      try {
        reply = await req(port, `/servers/${name}`, { method: 'POST', body, timeoutMs: 10_000 });
      } catch (err) {
        failures.push(`no answer (${String(err)}): ${what}`);
        continue;
      }
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status >= 500) failures.push(`${reply.status} ${reply.body}: ${what}`);
      else if (reply.status === 200) {
        await req(port, `/servers/${name}`, { method: 'DELETE', timeoutMs: 10_000 });
      } else if (reply.status !== 404) {
        let message: unknown;
        try {
          message = JSON.parse(reply.body);
        } catch {
          message = undefined;
        }
        if (typeof message !== 'string') failures.push(`${reply.status} body is not a JSON string: ${reply.body.slice(0, 200)}: ${what}`);
        else if (/[\n\r]/.test(message) || message.length > 5000) failures.push(`${reply.status} message not one bounded line: ${what}`);
        else if (STACK.test(message)) failures.push(`stack in body: ${what}`);
      }
    }
    console.log(`# fuzz API: ${n} bodies, seed ${SEED + 1}, statuses ${JSON.stringify([...statuses])}`);
    assert.ok(n >= 20, `ran ${n} bodies`);
    assert.deepEqual(failures, []);
    // the API still answers and nothing unexpected was logged at error
    assert.equal((await req(port, '/ping')).body, 'OK');
    const unexpected = captured.records.filter((r) => r.level >= LEVEL.error && /uncaught|unhandled|API request failed|handler failed/.test(r.msg));
    assert.deepEqual(unexpected.map((r) => r.msg), []);
    for (const r of captured.records) assert.ok(!/[\n\r]/.test(r.msg), `one-line log: ${r.msg.slice(0, 200)}`);
  });
});
