/** Shared helpers of the health-check tests. */
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { HealthcheckWire } from '../../src/config/types.js';
import type { ActiveHealthcheck, CheckResult, CheckTarget, CompiledHealthcheck } from '../../src/healthcheck/types.js';
export { sleep, waitFor } from '../helpers/wait.js';
export { captureLogger } from '../helpers/log.js';
export { closeServer } from '../helpers/net.js';

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
