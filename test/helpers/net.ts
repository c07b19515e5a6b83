/** Loopback networking for tests: free ports and listeners on 127.0.0.1. */
import { createServer, type Server } from 'node:net';

/** A random port below Linux's ephemeral range (32768+), so concurrent `listen(0)`s rarely take it. */
function randomLowPort(): number {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (!handedOut.has(port)) return port;
  }
}

/** Ports `freePort` already gave this process: never given twice, nor taken by `listenLoopback`. */
const handedOut = new Set<number>();

/**
 * A port that is free right now on `host` (every address when undefined). Another process may
 * still take it before the caller listens: prefer `listenLoopback` when the test owns the server.
 */
export async function freePort(host?: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = randomLowPort();
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      if (host === undefined) s.listen(port, () => resolve(true));
      else s.listen(port, host, () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      handedOut.add(port);
      return port;
    }
    if (attempt > 100) throw new Error('no free port');
  }
}

/**
 * Listens on 127.0.0.1 at a random port below the ephemeral range: on a machine busy with other
 * loopback load, `listen(0)` itself can fail with EADDRINUSE when ephemeral ports run out.
 */
export async function listenLoopback(server: Server): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = randomLowPort();
    const ok = await new Promise<boolean>((resolve) => {
      const onError = (): void => {
        server.off('listening', onListening);
        resolve(false);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve(true);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, '127.0.0.1');
    });
    if (ok) return port;
    if (attempt > 50) throw new Error('no free loopback port');
  }
}

/** Closes a server; resolves when it has closed (errors ignored). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A port held open on 127.0.0.1 until `release()`; `hold()` takes it again. For a peer that must be
 * told a port long before the listener exists (pebble validates on fixed ports): holding it keeps
 * concurrent test files from taking it in between.
 */
export interface HeldPort {
  readonly port: number;
  release(): Promise<void>;
  hold(): Promise<void>;
}

export async function holdPort(): Promise<HeldPort> {
  let server: Server | undefined = createServer();
  const port = await listenLoopback(server);
  return {
    port,
    async release() {
      const s = server;
      server = undefined;
      if (s !== undefined) await closeServer(s);
    },
    async hold() {
      if (server !== undefined) return;
      const s = createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => {
          s.off('error', reject);
          resolve();
        });
      });
      server = s;
    },
  };
}
