/**
 * What the multi-core port asks of one worker thread for one server version, as plain messages
 * (messages.ts) over the thread's ordered channel: start it, swap it in by a hot reload, drain or
 * close every version of a name, publish to the threads that run it. Membership of a version's
 * `on` (the threads that run it or still finish connections of it) changes here and in
 * versions.ts only.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { StartedServer } from '../core/port.js';
import type { ToWorker } from './messages.js';
import type { WorkerThread } from './thread.js';
import type { ServerEntry } from './versions.js';

/** After a hot reload, how long a worker thread's connections of the old version may finish. */
export const RELOAD_GRACE_MS = 10_000;

/** Starts version `e` in thread `t` (once it is ready); resolves with where it listens. */
export async function startOn(t: WorkerThread, e: ServerEntry): Promise<StartedServer> {
  await t.ready;
  // Counted as running from the moment the start is posted: updates posted after it arrive
  // after it (one ordered channel), so the worker never misses a snapshot.
  e.on.add(t.column);
  try {
    const reply = await t.request((id) => ({ type: 'start', id, gen: e.gen, plan: e.plan, snapshot: e.snapshot,
      shared: e.shared, rates: e.rates, reusePort: true }));
    if (reply.type !== 'started') throw new Error(`worker ${t.column}: unexpected reply ${reply.type}`);
    return { address: reply.address, port: reply.port };
  } catch (err) {
    e.on.delete(t.column);
    throw err;
  }
}

/**
 * A thread's part of a hot reload to version `next`. The replaced version stays in its `on` until
 * the thread says it `ended` there (its connections finished) or the thread dies. A server that
 * becomes main-thread only (`mainOnly`) drains its thread copy instead.
 */
export async function moveOn(t: WorkerThread, next: ServerEntry, mainOnly: boolean, log: Logger): Promise<void> {
  const name = next.plan.name;
  if (mainOnly) {
    // The thread's copy stops accepting and its connections finish.
    await t.request((id) => ({ type: 'drain', id, name, graceMs: RELOAD_GRACE_MS })).catch(() => undefined);
    return;
  }
  // Swapped in place in the thread too: closing a SO_REUSEPORT listener would reset the
  // connections waiting in its accept queue. Updates posted from now on reach the thread.
  next.on.add(t.column);
  const w = t.worker;
  try {
    const reply = await t.request((id) => ({ type: 'replace', id, gen: next.gen, plan: next.plan, snapshot: next.snapshot,
      shared: next.shared, rates: next.rates, reusePort: true }));
    if (reply.type !== 'started') throw new Error(`unexpected reply ${reply.type}`);
  } catch (err) {
    // A thread that died meanwhile was taken out already (and its restart gets the new version).
    if (t.worker === w) next.on.delete(t.column);
    log.error(`worker ${t.column}: server ${name} did not take the reloaded config: ${errorMessage(err)}`);
  }
}

/** Drains or closes every version of `name` in thread `t`; resolves once all are released. */
export async function stopOn(t: WorkerThread, name: string, how: 'drain' | 'close', graceMs: number): Promise<void> {
  if (t.worker === null) return;
  try {
    await t.request((id) => (how === 'drain' ? { type: 'drain', id, name, graceMs } : { type: 'close', id, name }));
  } catch {
    // the worker died meanwhile: its connections are gone and its leases were taken back
  }
}

/** Posts `msg` to every thread that runs version `e`. */
export function broadcast(threads: readonly WorkerThread[], e: ServerEntry, msg: ToWorker): void {
  for (const column of e.on) threads[column - 1]?.post(msg);
}
