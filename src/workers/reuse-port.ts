/**
 * Whether this Node can put several listening sockets on one port (`reusePort`, SO_REUSEPORT;
 * Node ≥ 22.12 and ≥ 23.1 on Linux). Older Nodes ignore the option silently, so this is measured,
 * not guessed from the version: two listeners with `reusePort` on one loopback port either both
 * bind or the second fails.
 */
import net from 'node:net';

function listen(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    // `reusePort` is unknown to @types/node 20; Node 20 ignores it.
    const opts: net.ListenOptions & { reusePort: boolean } = { host: '127.0.0.1', port, reusePort: true };
    srv.listen(opts, () => resolve(srv));
  });
}

let cached: Promise<boolean> | undefined;

export function reusePortSupported(): Promise<boolean> {
  cached ??= (async () => {
    const a = await listen(0);
    if (a === null) return false;
    const addr = a.address();
    const b = typeof addr === 'object' && addr !== null ? await listen(addr.port) : null;
    await new Promise<void>((r) => a.close(() => r()));
    if (b === null) return false;
    await new Promise<void>((r) => b.close(() => r()));
    return true;
  })();
  return cached;
}
