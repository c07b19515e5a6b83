/** Loopback UDP peers for the UDP data-path tests: tagged echo backends and a client. */
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import type { App } from '../../../src/app.js';
import { startAppFromJson } from '../../helpers/app.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds or `ms` pass (then throws with `what`). */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface UdpBackend {
  readonly name: string;
  readonly port: number;
  /** Every datagram received, with its source port. */
  readonly received: { text: string; port: number }[];
  close(): Promise<void>;
}

/**
 * A backend answering each datagram with `<name>:<payload>` (`replies` times, after `delayMs`);
 * `replies = 0` answers nothing.
 */
export async function udpBackend(name: string, opts: { delayMs?: number; replies?: number } = {}): Promise<UdpBackend> {
  const sock = dgram.createSocket('udp4');
  const received: { text: string; port: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const replies = opts.replies ?? 1;
  let closed = false;
  sock.on('message', (msg: Buffer, r: RemoteInfo) => {
    received.push({ text: msg.toString(), port: r.port });
    const answer = (): void => {
      for (let i = 0; i < replies; i++) sock.send(`${name}:${msg.toString()}`, r.port, r.address);
    };
    if (opts.delayMs !== undefined && opts.delayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        answer();
      }, opts.delayMs);
      timers.add(t);
    } else {
      answer();
    }
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    name,
    port: sock.address().port,
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        if (closed) {
          r();
          return;
        }
        closed = true;
        sock.close(() => r());
      }),
  };
}

/** A client socket on 127.0.0.1 that collects every reply. */
export class UdpClient {
  readonly replies: string[] = [];
  /** Source port of each reply. */
  readonly sources: number[] = [];
  private constructor(
    readonly sock: Socket,
    /** The loopback address of the socket's family. */
    readonly host: string,
  ) {
    sock.on('message', (m: Buffer, r: RemoteInfo) => {
      this.replies.push(m.toString());
      this.sources.push(r.port);
    });
  }

  static async open(type: 'udp4' | 'udp6' = 'udp4'): Promise<UdpClient> {
    const sock = dgram.createSocket(type);
    const host = type === 'udp4' ? '127.0.0.1' : '::1';
    await new Promise<void>((r) => sock.bind(0, host, r));
    return new UdpClient(sock, host);
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(port: number, text: string): void {
    this.sock.send(text, port, this.host);
  }


  /** Sends `text` and waits for the reply count to grow; returns the new reply or null after `ms`. */
  async ask(port: number, text: string, ms = 3000): Promise<string | null> {
    const before = this.replies.length;
    this.send(port, text);
    const end = Date.now() + ms;
    while (this.replies.length === before) {
      if (Date.now() > end) return null;
      await sleep(5);
    }
    return this.replies[before] ?? null;
  }

  close(): Promise<void> {
    return new Promise<void>((r) => this.sock.close(() => r()));
  }
}

/** A free UDP port on 127.0.0.1 (bound then released). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface UdpApp {
  readonly app: App;
  readonly port: number;
  stats(): { active: number; rx: number; tx: number; totals: Record<string, number> };
  close(): Promise<void>;
}

/**
 * Starts the real composition root with one udp server `u` on 127.0.0.1 (a free port) in front
 * of `backends`; `server` adds keys to the server section (a `bind` with `PORT` in it takes the
 * free port there, e.g. `:PORT` for a wildcard).
 */
export async function startUdpApp(backends: readonly UdpBackend[] | readonly number[], server: Record<string, unknown>): Promise<UdpApp> {
  const ports = backends.map((b) => (typeof b === 'number' ? b : b.port));
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const config = {
      servers: {
        u: {
          bind: `127.0.0.1:${port}`,
          protocol: 'udp',
          discovery: { kind: 'static', static_list: ports.map((p) => `127.0.0.1:${p}`) },
          ...server,
          ...(typeof server['bind'] === 'string' ? { bind: server['bind'].replace('PORT', String(port)) } : {}),
        },
      },
    };
    let app: App;
    try {
      app = await startAppFromJson(JSON.stringify(config), '/test/udp.json');
    } catch (err) {
      if (attempt < 3 && /address already in use/.test(String(err))) continue;
      throw err;
    }
    return {
      app,
      port,
      stats() {
        const s = app.manager.stats('u');
        if (s === null) throw new Error('server u is gone');
        const totals: Record<string, number> = {};
        for (const b of s.backends) totals[b.port] = b.stats.total_connections;
        return { active: s.active_connections, rx: s.rx_total, tx: s.tx_total, totals };
      },
      close: () => app.close(0),
    };
  }
}
