/**
 * "Which backend answered?" over the real TCP path: backends that greet with their name and then
 * echo, and the client side that reads the greeting through the balancer. Shared by the drain,
 * reload and health-check end-to-end tests. Loopback only; every wait is bounded.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** How long a greeting or an echo may take on a loaded machine. */
const REPLY_TIMEOUT_MS = 5000;

/** A connection handler that greets with `name` and a newline, then echoes. */
export function greeter(name: string): (s: Socket) => void {
  return (s: Socket): void => {
    s.on('error', () => s.destroy());
    s.write(`${name}\n`);
    s.pipe(s);
  };
}

export interface NamedBackend {
  server: Server;
  port: number;
  /** The open client sockets (destroy them before closing `server`). */
  sockets: Set<Socket>;
}

/** A `greeter(name)` backend on 127.0.0.1 (`port` 0: any free one; else that one, e.g. to come back). */
export async function namedBackend(name: string, port = 0): Promise<NamedBackend> {
  const sockets = new Set<Socket>();
  const handler = greeter(name);
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    handler(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/** Connects to `port` (the balancer) and resolves with the greeting's name and the open socket. */
export function greet(port: number): Promise<{ name: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no greeting'));
    }, REPLY_TIMEOUT_MS);
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

/** The names of `n` successive connections through `port` (each closed after its greeting). */
export async function names(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { name, socket } = await greet(port);
    socket.destroy();
    out.push(name);
  }
  return out;
}

/** Writes `text` on a greeted socket and resolves with the next chunk echoed back. */
export function echo(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo')), REPLY_TIMEOUT_MS);
    socket.once('data', (c: Buffer) => {
      clearTimeout(timer);
      resolve(c.toString());
    });
    socket.write(text);
  });
}

/** Connects through `port` until backend `name` greets (at most 100 tries); its socket stays open. */
export async function greetedBy(port: number, name: string): Promise<Socket> {
  for (let i = 0; i < 100; i++) {
    const g = await greet(port);
    if (g.name === name) return g.socket;
    g.socket.destroy();
  }
  throw new Error(`backend ${name} never answered through :${port}`);
}
