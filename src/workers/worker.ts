/**
 * A data-plane worker thread: runs the in-process data plane (src/data/in-process.ts) for every
 * server the primary starts here, with
 * - a listener bound with SO_REUSEPORT (every worker listens on the same port),
 * - the server's active counts in shared memory (shared-active.ts, this worker's column),
 * - counters batched into `CounterDeltas` (delta-sink.ts) per server version and posted every
 *   `reportIntervalMs` while they change, and at once on `flush`, before a drain/close reply; a
 *   version replaced by a hot reload keeps reporting (under its own `gen`) until its last
 *   connection here ended, then says `ended`,
 * - logs as JSON lines (pino's records) posted to the primary, which logs them through its own logger.
 * Nothing but plain data (messages.ts) crosses.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createBalancerRegistry } from '../balance/index.js';
import { mathRandom } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { createLineLogger } from '../core/log.js';
import { settleHeap } from '../core/settle.js';
import { InProcessDataPlane } from '../data/in-process.js';
import type { CounterDeltas } from '../core/snapshot.js';
import { DeltaSink } from './delta-sink.js';
import type { FromWorker, ToWorker, WorkerInit } from './messages.js';
import { SharedActiveTable } from './shared-active.js';

const port = parentPort;
if (port === null) throw new Error('src/workers/worker.ts runs as a worker thread only');
const init = workerData as WorkerInit;

const post = (m: FromWorker): void => port.postMessage(m);

const log = createLineLogger(init.logLevel, (line) => post({ type: 'log', line }));

// A bad client or a bug in one connection must not take the worker (and its connections) down,
// as in the single-thread process (cli.ts).
process.on('uncaughtException', (err) => log.error({ name: 'process' }, `uncaught exception: ${errorMessage(err)}`));

/** One version of a server here: its counters. */
interface Version {
  readonly name: string;
  readonly gen: number;
  readonly sink: DeltaSink;
}

const shared = new Map<string, SharedArrayBuffer>();
/** The version each running server runs now, by name. */
const current = new Map<string, Version>();
/** Versions replaced by a reload whose connections have not all ended yet, by gen. */
const replaced = new Map<number, Version>();
let reportTimer: NodeJS.Timeout | null = null;

function report(): void {
  if (reportTimer !== null) clearTimeout(reportTimer);
  reportTimer = null;
  const gens: number[] = [];
  const deltas: CounterDeltas[] = [];
  for (const map of [current, replaced]) {
    for (const v of map.values()) {
      const d = v.sink.take();
      if (d === null) continue;
      gens.push(v.gen);
      deltas.push(d);
    }
  }
  if (deltas.length > 0) post({ type: 'counters', gens, deltas });
}

/** A replaced version is done here: its last counters, then `ended`. */
function end(v: Version): void {
  if (!replaced.delete(v.gen)) return;
  const d = v.sink.take();
  if (d !== null) post({ type: 'counters', gens: [v.gen], deltas: [d] });
  post({ type: 'ended', gen: v.gen });
}

function schedule(): void {
  reportTimer ??= setTimeout(report, init.reportIntervalMs);
}

const dataPlane = new InProcessDataPlane({
  balancers: createBalancerRegistry(),
  random: mathRandom,
  log,
  reusePort: true,
  activeTable: (plan) => {
    const sab = shared.get(plan.name);
    if (sab === undefined) throw new Error(`no shared counters for server ${plan.name}`);
    return new SharedActiveTable(sab, init.columns, init.column);
  },
});

async function stop(id: number, name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } finally {
    // Every connection of every version of the name has been released.
    report();
    for (const v of [...replaced.values()]) if (v.name === name) end(v);
    const v = current.get(name);
    if (v !== undefined) {
      current.delete(name);
      post({ type: 'ended', gen: v.gen });
    }
    shared.delete(name);
    post({ type: 'done', id });
  }
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'start':
    case 'replace': {
      const name = m.plan.name;
      const before = shared.get(name);
      const prev = current.get(name);
      const prevRuntime = dataPlane.runtime(name);
      shared.set(name, m.shared);
      const sink = new DeltaSink(name, schedule);
      try {
        const started = m.type === 'replace'
          ? await dataPlane.replace(m.plan, m.snapshot, sink)
          : await dataPlane.start(m.plan, m.snapshot, sink);
        current.set(name, { name, gen: m.gen, sink });
        if (prev !== undefined) {
          // The replaced version's open connections finish on it, and report to it.
          replaced.set(prev.gen, prev);
          void (prevRuntime?.whenEmpty(Infinity) ?? Promise.resolve()).then(() => end(prev));
        }
        if (m.rates !== null) dataPlane.rates(name, m.rates.slots, m.rates.bandwidth);
        post({ type: 'started', id: m.id, address: started.address, port: started.port });
      } catch (err) {
        if (before !== undefined && m.type === 'replace') shared.set(name, before);
        else shared.delete(name);
        post({ type: 'failed', id: m.id, error: { kind: err instanceof Error ? err.name : 'Error', message: errorMessage(err) } });
      }
      return;
    }
    case 'update':
      dataPlane.update(m.name, m.snapshot);
      return;
    case 'rates':
      dataPlane.rates(m.name, m.slots, m.bandwidth);
      return;
    case 'flush':
      report();
      return;
    case 'drain':
      await stop(m.id, m.name, () => dataPlane.drain(m.name, m.graceMs));
      return;
    case 'close':
      await stop(m.id, m.name, () => dataPlane.close(m.name));
      return;
  }
}

port.on('message', (m: ToWorker) => {
  handle(m).catch((err: unknown) => log.error({ name: 'worker' }, `message ${m.type}: ${errorMessage(err)}`));
});
post({ type: 'ready' });
// Once the primary's start-up has started this thread's servers: one memory-reducing collection.
setTimeout(settleHeap, 1000).unref();
