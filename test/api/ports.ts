/** Free ports for tests that must know a bind port before the server opens it. */
import { createServer } from 'node:net';

/**
 * A port that is free right now on `host` (every address when undefined), picked at random below
 * Linux's ephemeral range (32768+) so that concurrent tests' `listen(0)` and outgoing connections
 * are unlikely to take it before we do.
 */
export async function freePort(host?: string): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      if (host === undefined) s.listen(port, () => resolve(true));
      else s.listen(port, host, () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
}
