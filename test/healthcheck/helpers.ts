/** Shared helpers of the health-check tests. */
import { Writable } from 'node:stream';
import { createServer, type AddressInfo, type Server } from 'node:net';
import pino from 'pino';
import type { Logger } from '../../src/core/log.js';
import type { HealthcheckWire } from '../../src/config/types.js';
import type { ActiveHealthcheck, CheckResult, CheckTarget, CompiledHealthcheck } from '../../src/healthcheck/types.js';

export function hcWire(over: Partial<HealthcheckWire> = {}): HealthcheckWire {
  return {
    kind: 'ping',
    interval: '50ms',
    passes: 1,
    fails: 1,
    timeout: '40ms',
    initial_status: null,
    ...over,
  };
}

export interface LogLine {
  level: number;
  msg: string;
}

/** A pino logger at debug level whose records are kept in `lines`. */
export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text === '') continue;
        const rec = JSON.parse(text) as { level: number; msg: string };
        lines.push({ level: rec.level, msg: rec.msg });
      }
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every 5 ms until it holds or `timeoutMs` passes (then throws). */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A TCP listener on 127.0.0.1 that closes every accepted socket at once. */
export async function listenTcp(port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface Recorded {
  key: string;
  result: CheckResult;
  start: number;
  end: number;
}

/** Wraps a compiled check: records every result and tracks the checks in flight per target. */
export function recording(compiled: CompiledHealthcheck): {
  compiled: ActiveHealthcheck;
  results: Recorded[];
  maxInFlight: () => number;
} {
  if (!compiled.enabled) throw new Error('not an active health check');
  const results: Recorded[] = [];
  const inFlight = new Map<string, number>();
  let max = 0;
  const run = async (t: CheckTarget, signal: AbortSignal, ms: number): Promise<CheckResult> => {
    const key = `${t.hostLabel}:${t.portLabel}`;
    const n = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, n);
    max = Math.max(max, n);
    const start = performance.now();
    try {
      const result = await compiled.run(t, signal, ms);
      results.push({ key, result, start, end: performance.now() });
      return result;
    } finally {
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    }
  };
  return { compiled: { ...compiled, run }, results, maxInFlight: () => max };
}

/** A compiled health check around an arbitrary function (scheduler tests). */
export function fakeCheck(
  fn: (t: CheckTarget, signal: AbortSignal) => Promise<CheckResult>,
  opts: { intervalMs: number; timeoutMs: number; passes?: number; fails?: number },
): ActiveHealthcheck {
  return {
    enabled: true,
    kind: 'fake',
    intervalMs: opts.intervalMs,
    timeoutMs: opts.timeoutMs,
    passes: opts.passes ?? 1,
    fails: opts.fails ?? 1,
    run: (t, signal) => fn(t, signal),
  };
}
