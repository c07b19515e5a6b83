import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BackendSpec, backendSpec } from '../../src/core/backend.js';
import { DiscoveryRunner } from '../../src/discovery/runner.js';
import type { DiscoveryKind, FailPolicy, FetchContext } from '../../src/discovery/types.js';
import { captureLogger, keys, recorder, sleep, waitFor } from './helpers.js';
import { FakeTimers } from '../helpers/fake-timers.js';

type FetchFn = (ctx: FetchContext, n: number) => Promise<BackendSpec[]>;

function fakeKind(fetch: FetchFn, extra: Partial<DiscoveryKind<null>> = {}): DiscoveryKind<null> & { calls: number; concurrent: number; maxConcurrent: number } {
  const k = {
    kind: 'fake',
    defaultTimeoutMs: 1000,
    retryWaitMs: 50,
    calls: 0,
    concurrent: 0,
    maxConcurrent: 0,
    parse: () => null,
    async fetch(_s: null, ctx: FetchContext): Promise<BackendSpec[]> {
      k.calls++;
      k.concurrent++;
      k.maxConcurrent = Math.max(k.maxConcurrent, k.concurrent);
      try {
        return await fetch(ctx, k.calls);
      } finally {
        k.concurrent--;
      }
    },
    ...extra,
  };
  return k;
}

function runner(kind: DiscoveryKind<null>, o: { interval?: number; timeout?: number; failpolicy?: FailPolicy; retry?: number; timers?: FakeTimers } = {}) {
  const rec = recorder();
  const cap = captureLogger();
  const r = new DiscoveryRunner({
    serverName: 'web',
    kind,
    settings: null,
    intervalMs: o.interval ?? 0,
    timeoutMs: o.timeout ?? 0,
    failpolicy: o.failpolicy ?? 'keeplast',
    onResult: rec.onResult,
    log: cap.log,
    ...(o.retry !== undefined ? { retryWaitMs: o.retry } : {}),
    ...(o.timers !== undefined ? { timers: o.timers } : {}),
  });
  return { r, rec, cap };
}

const A = backendSpec('127.0.0.1', '1001');
const B = backendSpec('127.0.0.1', '1002');

test('first fetch is deferred, then interval 0 stops after the first success with a warning', async () => {
  const kind = fakeKind(async () => [A]);
  const timers = new FakeTimers();
  const { r, rec, cap } = runner(kind, { timers });
  r.start();
  assert.equal(kind.calls, 0, 'start() must not fetch synchronously');
  await timers.advance(0);
  assert.equal(rec.results.length, 1);
  await timers.advance(60_000);
  assert.equal(timers.size, 0, 'nothing scheduled any more');
  assert.equal(kind.calls, 1);
  assert.equal(r.state, 'done');
  assert.deepEqual(keys(rec.last()), ['127.0.0.1:1001']);
  assert.ok(cap.lines.some((l) => l.level === 40 && /never refreshed/.test(l.msg)));
  assert.ok(cap.lines.some((l) => l.level === 30 && l.msg === 'fake fetched 1 backend(s)' && l.server === 'web' && l.name === 'discovery/fake'));
  r.stop();
});

test('one-shot kinds (static) do not warn about interval 0', async () => {
  const kind = fakeKind(async () => [A], { oneShot: true });
  const timers = new FakeTimers();
  const { r, rec, cap } = runner(kind, { interval: 50, timers });
  r.start();
  await timers.advance(0);
  assert.equal(rec.results.length, 1);
  await timers.advance(10 * 50);
  assert.equal(kind.calls, 1);
  assert.ok(!cap.lines.some((l) => /never refreshed/.test(l.msg)));
  r.stop();
});

test('interval refetches and publishes each result', async () => {
  const kind = fakeKind(async (_c, n) => (n % 2 === 1 ? [A] : [A, B]));
  const { r, rec } = runner(kind, { interval: 40 });
  r.start();
  await waitFor(() => rec.results.length >= 3);
  r.stop();
  assert.deepEqual(keys(rec.results[0]), ['127.0.0.1:1001']);
  assert.deepEqual(keys(rec.results[1]), ['127.0.0.1:1001', '127.0.0.1:1002']);
});

test('failure before the first success is retried after the retry wait even with interval 0', async () => {
  const kind = fakeKind(async (_c, n) => {
    if (n < 3) throw new Error('boom');
    return [A];
  });
  const { r, rec, cap } = runner(kind, { retry: 30 });
  const t0 = Date.now();
  r.start();
  await waitFor(() => rec.results.length === 1);
  assert.ok(Date.now() - t0 >= 55, 'two retry waits');
  assert.equal(kind.calls, 3);
  const errs = cap.lines.filter((l) => l.level === 50);
  assert.equal(errs.length, 2);
  assert.equal(errs[0]?.msg, 'fake error boom retrying in 30ms');
  assert.equal(errs[0]?.server, 'web');
  r.stop();
});

test('keeplast publishes nothing on failure; setempty publishes []', async () => {
  for (const failpolicy of ['keeplast', 'setempty'] as const) {
    const kind = fakeKind(async (_c, n) => {
      if (n === 1) return [A];
      throw new Error('down');
    });
    const { r, rec } = runner(kind, { interval: 20, retry: 20, failpolicy });
    r.start();
    await waitFor(() => kind.calls >= 4);
    r.stop();
    assert.deepEqual(keys(rec.results[0]), ['127.0.0.1:1001']);
    if (failpolicy === 'keeplast') assert.equal(rec.results.length, 1);
    else {
      assert.ok(rec.results.length >= 3);
      assert.deepEqual(rec.results.slice(1).map((x) => x.length), rec.results.slice(1).map(() => 0));
    }
  }
});

test('a hanging fetch that ignores the signal is timed out and counted as a failure', async () => {
  const kind = fakeKind(async (_c, n) => {
    if (n === 1) return new Promise<BackendSpec[]>(() => undefined); // never settles
    return [B];
  });
  const { r, rec, cap } = runner(kind, { timeout: 50, retry: 10, failpolicy: 'setempty' });
  r.start();
  await waitFor(() => rec.results.length === 2);
  r.stop();
  assert.deepEqual(rec.results[0], []);
  assert.deepEqual(keys(rec.results[1]), ['127.0.0.1:1002']);
  assert.ok(cap.lines.some((l) => l.level === 50 && /timeout after 50ms/.test(l.msg)));
});

test('the fetch sees its signal aborted on timeout', async () => {
  let sawAbort = false;
  const kind = fakeKind(async (ctx) => new Promise<BackendSpec[]>((_res, rej) => {
    ctx.signal.addEventListener('abort', () => { sawAbort = true; rej(new Error('aborted')); });
  }));
  const { r } = runner(kind, { timeout: 30, retry: 1000 });
  r.start();
  await waitFor(() => sawAbort);
  r.stop();
});

test('single-flight: a slow fetch is never overlapped, whatever the interval', async () => {
  const kind = fakeKind(async () => {
    await sleep(60);
    return [A];
  });
  const { r, rec } = runner(kind, { interval: 5 });
  r.start();
  await waitFor(() => rec.results.length >= 3);
  r.stop();
  assert.equal(kind.maxConcurrent, 1);
});

test('stop() aborts the fetch in flight and drops its late result', async () => {
  let signal: AbortSignal | undefined;
  let release: ((s: BackendSpec[]) => void) | undefined;
  const kind = fakeKind(async (ctx) => {
    signal = ctx.signal;
    return new Promise<BackendSpec[]>((res) => { release = res; });
  });
  const timers = new FakeTimers();
  const { r, rec } = runner(kind, { interval: 10, timers });
  r.start();
  await timers.advance(0);
  assert.ok(release !== undefined);
  r.stop();
  assert.equal(signal?.aborted, true);
  release?.([A]);
  await timers.advance(1000);
  assert.equal(rec.results.length, 0);
  assert.equal(kind.calls, 1);
  assert.equal(r.state, 'stopped');
});

test('stop() before the first fetch prevents it', async () => {
  const kind = fakeKind(async () => [A]);
  const timers = new FakeTimers();
  const { r, rec } = runner(kind, { timers });
  r.start();
  r.stop();
  await timers.advance(1000);
  assert.equal(timers.size, 0);
  assert.equal(kind.calls, 0);
  assert.equal(rec.results.length, 0);
});

test('a kind that throws synchronously, or an onResult that throws, does not escape', async () => {
  const kind: DiscoveryKind<null> = {
    kind: 'sync', defaultTimeoutMs: 0, retryWaitMs: 10, parse: () => null,
    fetch: () => { throw new Error('sync throw'); },
  };
  const { r, cap } = runner(kind, { retry: 10 });
  r.start();
  await waitFor(() => cap.lines.filter((l) => /sync throw/.test(l.msg)).length >= 2);
  r.stop();

  const ok = fakeKind(async () => [A]);
  const cap2 = captureLogger();
  const r2 = new DiscoveryRunner({
    serverName: 'x', kind: ok, settings: null, intervalMs: 20, timeoutMs: 0, failpolicy: 'keeplast',
    onResult: () => { throw new Error('pool exploded'); }, log: cap2.log,
  });
  r2.start();
  await waitFor(() => ok.calls >= 2);
  r2.stop();
  assert.ok(cap2.lines.some((l) => /pool exploded/.test(l.msg)));
});

test('onResult may stop the runner', async () => {
  const kind = fakeKind(async () => [A]);
  const cap = captureLogger();
  const timers = new FakeTimers();
  const r: DiscoveryRunner<null> = new DiscoveryRunner({
    serverName: 'x', kind, settings: null, intervalMs: 10, timeoutMs: 0, failpolicy: 'keeplast',
    onResult: () => r.stop(), log: cap.log, timers,
  });
  r.start();
  await timers.advance(0);
  assert.equal(kind.calls, 1);
  await timers.advance(1000);
  assert.equal(kind.calls, 1);
  assert.equal(r.state, 'stopped');
});
