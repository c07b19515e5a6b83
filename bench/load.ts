// Load generators: iperf3 (bulk throughput) and wrk, or autocannon where wrk is absent (HTTP request
// rate). Each run is bounded: the tool's own duration plus a kill timeout.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseAutocannonJson, parseIperfJson, parseWrk } from './parse.js';
import type { HttpResult, IperfResult } from './parse.js';
import type { Supervisor } from './procs.js';
import { which } from './procs.js';

/** Extra time a tool gets beyond its nominal duration before it is killed. */
const KILL_SLACK_MS = 15_000;

export interface IperfOptions {
  readonly port: number;
  readonly seconds: number;
  readonly streams: number;
  readonly reverse: boolean;
}

export async function runIperf(sup: Supervisor, iperf3: string, o: IperfOptions): Promise<IperfResult> {
  const args = ['-c', '127.0.0.1', '-p', String(o.port), '-t', String(o.seconds), '-P', String(o.streams),
    '-J', '--connect-timeout', '3000'];
  if (o.reverse) args.push('-R');
  const r = await sup.run(iperf3, args, o.seconds * 1000 + KILL_SLACK_MS);
  if (r.timedOut) throw new Error(`iperf3 ${args.join(' ')} timed out`);
  // iperf3 -J reports its own errors inside the JSON (and exits 1); the parser raises them.
  return parseIperfJson(r.stdout);
}

export interface HttpOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  /** A new TCP connection per request (`Connection: close`). */
  readonly close: boolean;
}

export interface HttpLoadGen {
  readonly name: 'wrk' | 'autocannon';
  readonly caveat: string | null;
  run(sup: Supervisor, o: HttpOptions): Promise<HttpResult>;
}

function wrkGen(bin: string): HttpLoadGen {
  return {
    name: 'wrk',
    caveat: null,
    async run(sup, o) {
      const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency'];
      if (o.close) args.push('-H', 'Connection: close');
      args.push(o.url);
      const r = await sup.run(bin, args, o.seconds * 1000 + KILL_SLACK_MS);
      if (r.timedOut) throw new Error(`wrk ${args.join(' ')} timed out`);
      if (r.code !== 0) throw new Error(`wrk exited with ${String(r.code)}: ${r.stderr || r.stdout}`);
      return parseWrk(r.stdout);
    },
  };
}

/** autocannon's CLI script, when the package is installed (a devDependency). */
function autocannonCli(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('autocannon/package.json');
    const pkg: unknown = JSON.parse(readFileSync(pkgPath, 'utf8'));
    let bin = 'autocannon.js';
    if (typeof pkg === 'object' && pkg !== null && 'bin' in pkg) {
      const b = (pkg).bin;
      if (typeof b === 'string') bin = b;
      else if (typeof b === 'object' && b !== null && 'autocannon' in b) {
        const named = (b).autocannon;
        if (typeof named === 'string') bin = named;
      }
    }
    return join(dirname(pkgPath), bin);
  } catch {
    return null;
  }
}

function autocannonGen(script: string): HttpLoadGen {
  return {
    name: 'autocannon',
    caveat: 'autocannon runs in Node and saturates its own core at about half of wrk\'s rate ' +
      '(perf-anchors.md: 71.6k against 141k req/s direct), so HTTP figures understate every target; ' +
      'compare ratios, not absolute rates, with the anchors. Its latencies have 1 ms resolution, ' +
      'and none are shown for the connection-per-request test.',
    async run(sup, o) {
      const args = [script, '-c', String(o.connections), '-d', String(o.seconds), '-j', '-n'];
      // The backend then closes after each response and autocannon reconnects. (Its -D 1
      // "reconnect rate" sent no request at all with autocannon 9.0.0.)
      if (o.close) args.push('-H', 'Connection=close');
      args.push(o.url);
      const r = await sup.run(process.execPath, args, o.seconds * 1000 + KILL_SLACK_MS);
      if (r.timedOut) throw new Error(`autocannon ${args.join(' ')} timed out`);
      if (r.code !== 0) throw new Error(`autocannon exited with ${String(r.code)}: ${r.stderr || r.stdout}`);
      const result = parseAutocannonJson(r.stdout);
      if (result.requests === 0) throw new Error('autocannon completed no request');
      // With Connection: close, autocannon 9.0.0's percentiles contradict its own rate (p50 in the
      // hundreds of ms at 50 connections and ~10k req/s, where Little's law allows ~5 ms): drop them.
      return o.close ? { ...result, p50Ms: null, p99Ms: null } : result;
    },
  };
}

/**
 * Chooses the HTTP load generator: `BENCH_LOADGEN=wrk|autocannon` forces one; otherwise wrk when
 * installed, then autocannon when its package is present. Null when neither is available.
 */
export function chooseHttpLoadGen(preference: string | undefined): HttpLoadGen | null {
  const wrk = which('wrk');
  const ac = autocannonCli();
  if (preference === 'wrk') {
    if (wrk === null) throw new Error('BENCH_LOADGEN=wrk but wrk is not installed');
    return wrkGen(wrk);
  }
  if (preference === 'autocannon') {
    if (ac === null) throw new Error('BENCH_LOADGEN=autocannon but the autocannon package is not installed');
    return autocannonGen(ac);
  }
  if (preference !== undefined && preference !== '') throw new Error(`BENCH_LOADGEN: unknown "${preference}" (wrk | autocannon)`);
  if (wrk !== null) return wrkGen(wrk);
  if (ac !== null) return autocannonGen(ac);
  return null;
}
