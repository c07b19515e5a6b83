/**
 * Health checks driving the real data path: the composition root (config validation, server
 * manager, static discovery, TCP listener) with a ping health check. A backend that stops
 * listening gets no new client connections once dead (existing ones continue), and gets traffic
 * again once it listens again; stats follow `live`.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { startAppFromJson } from '../helpers/app.js';
import { closeServer, waitFor } from './helpers.js';

interface Named {
  server: Server;
  port: number;
  sockets: Set<Socket>;
}

/** A backend that greets with its name, then echoes. */
async function namedBackend(name: string, port = 0): Promise<Named> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/** Connects through the balancer and returns the greeting's name (and the open socket). */
function greet(port: number): Promise<{ name: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no greeting'));
    }, 2000);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before the greeting'));
    });
    socket.on('data', (c: Buffer) => {
      got += c.toString();
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        socket.removeAllListeners('close');
        resolve({ name: got.slice(0, nl), socket });
      }
    });
  });
}

async function names(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { name, socket } = await greet(port);
    socket.destroy();
    out.push(name);
  }
  return out;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await closeServer(s);
  return port;
}

test('a dead backend gets no new connections (existing ones continue) and gets traffic again once live', async () => {
  let a = await namedBackend('A');
  const b = await namedBackend('B');
  const lb = await freePort();
  const text = JSON.stringify({
    api: { enabled: false },
    metrics: { enabled: false },
    servers: {
      web: {
        bind: `127.0.0.1:${lb}`,
        balance: 'roundrobin',
        discovery: { kind: 'static', static_list: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] },
        healthcheck: { kind: 'ping', interval: '40ms', timeout: '200ms', fails: 2, passes: 2 },
      },
    },
  });
  const app = await startAppFromJson(text, 'test.json');
  const keyA = `127.0.0.1:${a.port}`;
  const liveOf = (key: string): boolean | undefined => app.manager.get('web')?.pool.get(key)?.live;
  const statsLive = (key: string): boolean | undefined =>
    app.manager.stats('web')?.backends.find((x) => `${x.host}:${x.port}` === key)?.stats.live;
  let held: Socket | undefined;
  try {
    await waitFor(() => app.manager.get('web')?.pool.eligible.length === 2, 3000, 'static discovery');
    assert.deepEqual(new Set(await names(lb, 6)), new Set(['A', 'B']));

    // A connection to A stays open while A stops listening and is marked dead.
    for (;;) {
      const g = await greet(lb);
      if (g.name === 'A') {
        held = g.socket;
        break;
      }
      g.socket.destroy();
    }
    void closeServer2(a.server); // stops listening; resolves only once `held` is gone
    await waitFor(() => liveOf(keyA) === false, 3000, 'A dead');
    assert.equal(statsLive(keyA), false, 'stats show live=false');
    assert.deepEqual(await names(lb, 10), Array(10).fill('B'), 'no new connection goes to the dead backend');
    const echoed = await new Promise<string>((resolve) => {
      held?.once('data', (c: Buffer) => resolve(c.toString()));
      held?.write('still here');
    });
    assert.equal(echoed, 'still here', 'the existing connection continues');

    a = await namedBackend('A', a.port);
    await waitFor(() => liveOf(keyA) === true, 3000, 'A live again');
    assert.equal(statsLive(keyA), true);
    assert.deepEqual(new Set(await names(lb, 6)), new Set(['A', 'B']));
  } finally {
    held?.destroy();
    await app.close(0);
    for (const s of [...a.sockets, ...b.sockets]) s.destroy();
    await Promise.all([closeServer2(a.server), closeServer2(b.server)]);
  }
});

/** Stops listening (existing connections stay open); resolves at once if already closed. */
function closeServer2(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
