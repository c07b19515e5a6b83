/**
 * The real CLI with `--workers 2` (or TSBETWEEN_WORKERS=2): connections held on either worker
 * survive SIGTERM and keep working during the grace period, new ones are refused, and the process
 * exits 0 once they are closed. On a Node without reusePort the same runs with the fallback
 * (one worker in the main thread), which the log says.
 */
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { test } from 'node:test';
import { freePort, runCli, tempDir } from '../helpers/cli.js';
import { Handles, echoBackend, threadsUnavailable, waitFor } from './helpers.js';

const noThreads = await threadsUnavailable();

function echoOnce(s: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    s.once('data', (d: Buffer) => resolve(d.toString('utf8')));
    s.once('error', reject);
    s.write(text);
  });
}

for (const via of ['flag', 'env'] as const) {
  test(`--workers 2 (${via}): SIGTERM drains connections on every worker and exits 0`, { timeout: 60_000 }, async () => {
    const h = new Handles();
    const dir = tempDir('tsb-workers-');
    const port = await freePort();
    const be = await echoBackend(h);
    const file = dir.write('c.toml', [
      '[servers.web]',
      `bind = "127.0.0.1:${port}"`,
      '[servers.web.discovery]',
      'kind = "static"',
      `static_list = ["127.0.0.1:${be.port}"]`,
      '',
    ].join('\n'));
    const r = via === 'flag'
      ? runCli(['-c', file, '--workers', '2', '--shutdown-grace', '20s'])
      : runCli(['-c', file, '--shutdown-grace', '20s'], { env: { TSBETWEEN_WORKERS: '2' } });
    const held: Socket[] = [];
    try {
      await r.waitFor(/Initialized/);
      assert.match(r.stdout() + r.stderr(), noThreads === null ? /data plane: 2 workers \(the main thread and 1 worker thread/
        : /workers 2: Node v[\d.]+ cannot share a listening port between threads/);
      // Eight connections: with two workers both hold some (the kernel hashes each client port).
      for (let i = 0; i < 8; i++) {
        const s = net.connect({ port, host: '127.0.0.1' });
        s.on('error', () => undefined);
        held.push(s);
        assert.equal(await echoOnce(s, `hello${i}`), `hello${i}`);
      }
      r.kill('SIGTERM');
      await r.waitFor(/SIGTERM: stopping/);
      await waitFor(() => new Promise<boolean>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' });
        s.once('error', () => resolve(true));
        s.once('connect', () => { s.destroy(); resolve(false); });
      }), 10_000, 'the listeners to close');
      for (const [i, s] of held.entries()) assert.equal(await echoOnce(s, `again${i}`), `again${i}`);
      for (const s of held) s.end();
      assert.equal(await r.exited, 0);
      assert.match(r.stdout() + r.stderr(), /Stopped/);
    } finally {
      for (const s of held) s.destroy();
      r.kill('SIGKILL');
      dir.remove();
      await h.close();
    }
  });
}
