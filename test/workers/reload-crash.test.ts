/**
 * A worker thread that dies around a hot reload (src/workers/): each version of a server keeps
 * its own counts. The connections of the replaced version are booked to that version, the new
 * version's stats and metrics count exactly the connections the clients made through it, never
 * go negative when a worker dies, and return to 0 once everything closed; no lease stays held in
 * the shared counts of any version.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import {
  Handles, echoBackend, getText, hold, metric, startWorkersApp, threadsUnavailable, waitFor, webStats, type StatsJson, type WorkersApp,
} from './helpers.js';

const noThreads = await threadsUnavailable();


/** The server's stats; fails the test at once if any active count is negative. */
async function stats(w: WorkersApp): Promise<StatsJson> {
  const s = await webStats(w.apiPort);
  assert.ok(s.active_connections >= 0, `server active_connections ${s.active_connections}`);
  for (const b of s.backends) assert.ok(b.stats.active_connections >= 0, `backend ${b.port} active_connections ${b.stats.active_connections}`);
  return s;
}

/** `n` client connections held open (each proved to reach a backend). */
async function holdMany(h: Handles, port: number, n: number): Promise<Socket[]> {
  const all = await Promise.all(Array.from({ length: n }, () => hold(h, port)));
  return all.map((s) => {
    assert.notEqual(s, 'refused');
    return s as Socket;
  });
}

const section = (port: number, balance: string, max = ''): Record<string, unknown> => ({
  balance, discovery: { kind: 'static', static_list: [`127.0.0.1:${port}${max}`] },
});

/**
 * After a reload to backend `to`: connections one at a time until `run` in a row reached `to`
 * (with SO_REUSEPORT spreading them, every worker runs the new version then). Those that reached
 * the old backend (a thread not swapped yet) go to `old`.
 */
async function untilAllSwapped(h: Handles, port: number, to: { open: () => number }, old: Socket[], run = 30): Promise<Socket[]> {
  const fresh: Socket[] = [];
  let inRow = 0;
  for (let i = 0; i < 500 && inRow < run; i++) {
    const before = to.open();
    const s = await hold(h, port);
    assert.notEqual(s, 'refused');
    if (to.open() > before) {
      fresh.push(s as Socket);
      inRow++;
    } else {
      old.push(s as Socket);
      inRow = 0;
    }
  }
  assert.equal(inRow, run, 'every worker took the reloaded config');
  return fresh;
}


/** `n` connections held open through `port`, once both workers hold some of them (version 1). */
async function holdOnBothWorkers(h: Handles, port: number, dp: { connectionsPerWorker(): number[] }, n: number): Promise<Awaited<ReturnType<typeof holdMany>>> {
  const held = await holdMany(h, port, n);
  await waitFor(() => {
    const per = dp.connectionsPerWorker();
    return per.every((c) => c > 0) && per.reduce((x, y) => x + y, 0) === n;
  }, 10_000, () => `both workers to hold version 1 connections (${dp.connectionsPerWorker().join('/')})`);
  return held;
}

test('2 workers: a worker killed after a hot reload leaves the new version\'s counts exact (never negative, back to 0)',
  { skip: noThreads ?? false, timeout: 90_000 }, async () => {
    const h = new Handles();
    try {
      const a = await echoBackend(h);
      const b = await echoBackend(h);
      let current = section(a.port, 'roundrobin');
      const w = await startWorkersApp(h, 2, current, () => current);
      const dp = w.threaded!;
      // Version 1: connections held open in both workers.
      const old = await holdOnBothWorkers(h, w.port, dp, 40);

      // Version 2: another backend and balancer.
      current = section(b.port, 'leastconn');
      assert.deepEqual((await w.app.reload()).changed, ['web']);
      const fresh = await untilAllSwapped(h, w.port, b, old);
      // The old connections keep talking (booked to version 1, not to the new stats).
      for (const s of old) s.write(Buffer.alloc(100, 1));
      let last = '';
      const settled = async (open: number, total: number): Promise<boolean> => {
        const s = await stats(w);
        last = `want ${open} open of ${total}, have ${JSON.stringify(s)}`;
        const be = s.backends.find((x) => x.port === String(b.port));
        return s.backends.length === 1 && s.active_connections === open && be?.stats.active_connections === open &&
          be.stats.total_connections === total && s.rx_total === total && s.tx_total === total;
      };
      await waitFor(() => settled(fresh.length, fresh.length), 10_000, () => `version 2 stats to count its connections: ${last}`);

      // Worker 1 dies: its connections (of both versions) are cut, and it is restarted.
      const ids = dp.threadIds();
      await dp.kill(1);
      await waitFor(() => dp.threadIds().length === 1 && dp.threadIds()[0] !== ids[0], 15_000, 'worker 1 to restart');
      const alive = (): number => fresh.filter((s) => !s.closed).length;
      await waitFor(() => old.some((s) => s.closed) && alive() < fresh.length, 10_000, 'the killed worker\'s clients to close');
      await waitFor(async () => settled(alive(), fresh.length), 10_000, () => `version 2 stats to drop the killed worker's connections: ${last}`);

      // Everything closes: version 2 counts return to exactly 0; the totals stay what clients saw.
      for (const s of [...old, ...fresh]) s.destroy();
      await waitFor(() => settled(0, fresh.length), 10_000, () => `version 2 stats back to 0: ${last}`);
      const text = await getText(w.metricsPort, '/metrics');
      assert.equal(metric(text, 'gobetween_server_active_connections', 'server="web"'), 0);
      assert.equal(metric(text, 'gobetween_backend_active_connections', `port="${b.port}"`), 0);
      assert.equal(metric(text, 'gobetween_backend_total_connections', `port="${b.port}"`), fresh.length);
      await waitFor(() => dp.heldLeases('web') === 0, 10_000, () => `no lease held (${dp.heldLeases('web')})`);
      // Still exactly 0 a moment later (no late report of either version lands in the new stats).
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(await settled(0, fresh.length));
    } finally {
      await h.close();
    }
  });

for (const when of ['as the reload begins', 'while the threads swap'] as const) {
    test(`2 workers: a worker killed ${when}: no lease stays held, the new version counts exactly`,
    { skip: noThreads ?? false, timeout: 90_000 }, async () => {
      const h = new Handles();
      try {
        const a = await echoBackend(h);
        const b = await echoBackend(h);
        let current = section(a.port, 'roundrobin');
        const w = await startWorkersApp(h, 2, current, () => current);
        const dp = w.threaded!;
        const old = await holdOnBothWorkers(h, w.port, dp, 40);

        // Version 2 allows 20 connections to its backend. Clients keep coming while the reload
        // runs, and worker 1 dies in the middle of it.
        current = section(b.port, 'leastconn', ' max_connections=20');
        const ids = dp.threadIds();
        if (when === 'while the threads swap') {
          // Worker 0 has swapped and the threads were just asked to: worker 1 dies now.
          const replace = dp.replace.bind(dp);
          dp.replace = async (...args) => {
            const started = await replace(...args);
            await dp.kill(1);
            return started;
          };
        }
        const reloading = w.app.reload();
        const during = Promise.all(Array.from({ length: 10 }, () => hold(h, w.port)));
        if (when === 'as the reload begins') await dp.kill(1);
        assert.deepEqual((await reloading).changed, ['web']);
        const mid = (await during).filter((s): s is Socket => s !== 'refused');
        await waitFor(() => dp.threadIds().length === 1 && dp.threadIds()[0] !== ids[0], 15_000, 'worker 1 to restart');
        assert.match(w.logs(), /worker 1 exited/);

        // Everything of that time closes: version 2's counts return to exactly 0.
        for (const s of [...old, ...mid]) s.destroy();
        let last = '';
        const idle = async (): Promise<number | null> => {
          const s = await stats(w);
          last = JSON.stringify(s);
          const be = s.backends.find((x) => x.port === String(b.port));
          return s.active_connections === 0 && be?.stats.active_connections === 0 ? be.stats.total_connections : null;
        };
        await waitFor(async () => (await idle()) !== null, 10_000, () => `version 2 back to 0: ${last}`);
        await waitFor(() => dp.heldLeases('web') === 0, 10_000, () => `no lease held (${dp.heldLeases('web')})`);

        // The restarted worker serves version 2 too (batches until both workers took some).
        const base = dp.connectionsPerWorker();
        await waitFor(async () => {
          const batch = await Promise.all(Array.from({ length: 10 }, () => hold(h, w.port)));
          for (const s of batch) {
            assert.notEqual(s, 'refused');
            (s as Socket).destroy();
          }
          return dp.connectionsPerWorker().every((c, i) => c > (base[i] ?? 0));
        }, 20_000, () => `both workers to take connections (${base.join('/')} -> ${dp.connectionsPerWorker().join('/')})`);
        await waitFor(async () => (await idle()) !== null, 10_000, () => `version 2 back to 0: ${last}`);
        const total = (await idle()) as number;

        // No lease stayed held: the backend takes exactly its 20 again, across both workers.
        const held: Socket[] = [];
        for (let i = 0; i < 200 && held.length < 20; i++) {
          const s = await hold(h, w.port);
          if (s !== 'refused') held.push(s);
        }
        assert.equal(held.length, 20);
        for (let i = 0; i < 5; i++) assert.equal(await hold(h, w.port), 'refused');
        assert.equal(b.open(), 20);
        await waitFor(async () => {
          const s = await stats(w);
          last = JSON.stringify(s);
          const be = s.backends.find((x) => x.port === String(b.port));
          return s.active_connections === 20 && be?.stats.active_connections === 20 && be.stats.total_connections === total + 20;
        }, 10_000, () => `20 active of ${total + 20}: ${last}`);
        for (const s of held) s.destroy();
        await waitFor(async () => (await idle()) === total + 20, 10_000, () => `version 2 back to 0: ${last}`);
        await waitFor(() => dp.heldLeases('web') === 0, 10_000, () => `no lease held (${dp.heldLeases('web')})`);
      } finally {
        await h.close();
      }
    });
}
