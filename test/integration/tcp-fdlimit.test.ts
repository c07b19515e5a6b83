import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net, { type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { Handles, echoHandler, readAll, startBackend, waitFor } from './tcp-helpers.js';

interface Stats {
  active: number;
  connections: number;
  backendActive: number;
  refused: number;
  total: number;
}

test('the listener keeps serving after hitting the file-descriptor limit (D1)', { timeout: 60_000 }, async () => {
  const h = new Handles();
  const be = await startBackend(h, echoHandler);
  const child = spawn(
    'bash',
    ['-c', `ulimit -n 64 && exec "${process.execPath}" --import tsx test/integration/tcp-fdlimit-child.ts ${be.port}`],
    { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    wake?.();
  });
  const nextLine = async (ms: number): Promise<string> => {
    const end = Date.now() + ms;
    while (lines.length === 0) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no output from child; stderr: ${stderr.slice(0, 2000)}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    return lines.shift() as string;
  };
  const stats = async (): Promise<Stats> => {
    child.stdin.write('stats\n');
    return JSON.parse(await nextLine(5000)) as Stats;
  };
  const clients: Socket[] = [];
  try {
    const { port } = JSON.parse(await nextLine(30_000)) as { port: number };

    // Exhaust the child's descriptors: every relayed connection costs it two.
    let closedByProxy = 0;
    for (let i = 0; i < 120; i++) {
      const c = h.socket(net.connect({ host: '127.0.0.1', port }));
      c.on('error', () => undefined);
      c.on('close', () => closedByProxy++);
      c.on('connect', () => c.write('hold'));
      clients.push(c);
    }
    // libuv absorbs EMFILE on accept (it accepts and closes the excess with a reserved
    // descriptor), and dials that hit EMFILE count as refused: either way some of our clients are
    // closed by the proxy while others stay relayed.
    await waitFor(() => closedByProxy > 0, 15_000, 'the proxy to shed connections at the fd limit');
    await new Promise((r) => setTimeout(r, 300));
    const busy = await stats();
    assert.ok(busy.active > 0, 'some connections are being relayed');
    assert.ok(busy.active < clients.length, `not all relayed (${JSON.stringify(busy)})`);

    // Release everything.
    for (const c of clients) c.destroy();
    let s = busy;
    for (let i = 0; i < 100 && s.active !== 0; i++) {
      s = await stats();
      if (s.active !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(s.active, 0, `active back to 0 (${JSON.stringify(s)})`);
    assert.equal(s.backendActive, 0);
    assert.equal(child.exitCode, null, 'child still running');

    // A new connection works end to end.
    const fresh = h.socket(net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }));
    fresh.on('error', () => undefined);
    const reply = readAll(fresh);
    fresh.end('ping after EMFILE');
    assert.equal((await reply).toString(), 'ping after EMFILE');
    const after = await stats();
    assert.ok(after.total > busy.total, 'the new connection reached the backend');
  } finally {
    for (const c of clients) c.destroy();
    child.stdin.end();
    const exited = child.exitCode !== null || (await Promise.race([
      new Promise<boolean>((r) => child.once('exit', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ]));
    if (!exited) child.kill('SIGKILL');
    await h.closeAll();
  }
});
