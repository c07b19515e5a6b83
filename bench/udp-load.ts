/**
 * Small built-in UDP load generators (no dnsperf in Debian bookworm's main archive):
 *
 * - `dnsLoad`: DNS queries with a bounded window. `sockets` client sockets (one source port, hence
 *   one balancer session, each), at most `inflight` outstanding queries per socket; a query
 *   unanswered after `timeoutMs` is counted lost and replaced. Ends after `total` queries or
 *   `seconds`, whichever comes first. Reports answered/lost and queries per second.
 * - `udpBlast`: fixed-size datagrams as fast as the sockets take them, for `seconds`, towards a
 *   sink; the sink counts what arrives (throughput = what the far end received).
 */
import { spawn } from 'node:child_process';
import dgram, { type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import dnsPacket from 'dns-packet';

export interface DnsLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly sockets: number;
  readonly inflight: number;
  /** Stop after this many queries (answered + lost); Infinity with `seconds`. */
  readonly total: number;
  /** Stop after this long; Infinity with `total`. */
  readonly seconds: number;
  readonly timeoutMs: number;
}

export interface DnsLoadResult {
  readonly sent: number;
  readonly answered: number;
  readonly lost: number;
  readonly elapsedMs: number;
  readonly qps: number;
}

/** One query, id 0; the id is patched per send. */
function queryTemplate(name: string): Buffer {
  return dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
}

export async function dnsLoad(o: DnsLoadOptions): Promise<DnsLoadResult> {
  const template = queryTemplate(o.name);
  const start = Date.now();
  const deadline = o.seconds === Infinity ? Infinity : start + o.seconds * 1000;
  let sent = 0;
  let answered = 0;
  let lost = 0;
  const socks: Socket[] = [];
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const family = o.host.includes(':') ? 'udp6' : 'udp4';

  const wantMore = (): boolean => sent < o.total && Date.now() < deadline;
  const checkDone = (): void => {
    if (answered + lost >= sent && !wantMore()) finish();
  };

  const states = [] as { sock: Socket; outstanding: Map<number, number>; nextId: number }[];
  const sendOne = (st: (typeof states)[number]): void => {
    if (!wantMore()) return;
    let id = st.nextId;
    while (st.outstanding.has(id)) id = (id + 1) & 0xffff;
    st.nextId = (id + 1) & 0xffff;
    const q = Buffer.from(template);
    q.writeUInt16BE(id, 0);
    st.outstanding.set(id, Date.now());
    sent++;
    st.sock.send(q, o.port, o.host);
  };

  for (let i = 0; i < o.sockets; i++) {
    const sock = dgram.createSocket(family);
    const st = { sock, outstanding: new Map<number, number>(), nextId: (i * 7919) & 0xffff };
    states.push(st);
    socks.push(sock);
    sock.on('error', () => undefined);
    sock.on('message', (msg: Buffer) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      if (!st.outstanding.delete(id)) return;
      answered++;
      sendOne(st);
      checkDone();
    });
    await new Promise<void>((r) => sock.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', r));
  }
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const st of states) {
      for (const [id, at] of st.outstanding) {
        if (now - at < o.timeoutMs) continue;
        st.outstanding.delete(id);
        lost++;
        sendOne(st);
      }
    }
    checkDone();
  }, 50);
  for (const st of states) for (let k = 0; k < o.inflight; k++) sendOne(st);
  checkDone();
  await done;
  clearInterval(sweeper);
  const elapsedMs = Date.now() - start;
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return { sent, answered, lost, elapsedMs, qps: answered / (elapsedMs / 1000) };
}

export interface BlastOptions {
  readonly host: string;
  readonly port: number;
  readonly sockets: number;
  readonly size: number;
  readonly seconds: number;
}

/** Sends `size`-byte datagrams for `seconds` from `sockets` sockets; returns how many were sent. */
export async function udpBlast(o: BlastOptions): Promise<{ sent: number; elapsedMs: number }> {
  const payload = Buffer.alloc(o.size, 0x61);
  const socks: Socket[] = [];
  for (let i = 0; i < o.sockets; i++) {
    const s = dgram.createSocket('udp4');
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    s.connect(o.port, o.host);
    await new Promise<void>((r) => s.once('connect', r));
    socks.push(s);
  }
  let sent = 0;
  const start = Date.now();
  const end = start + o.seconds * 1000;
  // Batches of sends per socket, then yield to the event loop so replies and timers run.
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (Date.now() >= end) {
        resolve();
        return;
      }
      for (const s of socks) {
        for (let k = 0; k < 64; k++) s.send(payload);
        sent += 64;
      }
      setImmediate(tick);
    };
    tick();
  });
  const elapsedMs = Date.now() - start;
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return { sent, elapsedMs };
}

/** The sink's program: counts datagrams and bytes, answers "count" on stdin with "<n> <bytes>". */
const SINK_PROGRAM = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
let n = 0, bytes = 0;
s.on('message', (m) => { n++; bytes += m.length; });
s.bind(0, '127.0.0.1', () => {
  try { s.setRecvBufferSize(8 * 1024 * 1024); } catch {}
  process.stdout.write('port ' + s.address().port + '\\n');
});
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => process.stdout.write('count ' + n + ' ' + bytes + '\\n'));
process.stdin.on('end', () => process.exit(0));
`;

export interface Sink {
  readonly port: number;
  readonly pid: number;
  /** Datagrams and bytes received so far. */
  count(): Promise<{ datagrams: number; bytes: number }>;
  close(): Promise<void>;
}

/** A counting sink in its own process (so that it does not share an event loop with the sender). */
export async function udpSink(): Promise<Sink> {
  const child = spawn(process.execPath, ['-e', SINK_PROGRAM], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = (): Promise<string> => new Promise((r) => waiting.push(r));
  const first = await next();
  const port = Number(first.split(' ')[1]);
  return {
    port,
    pid: child.pid ?? 0,
    async count() {
      const p = next();
      child.stdin.write('count\n');
      const [, n, b] = (await p).split(' ');
      return { datagrams: Number(n), bytes: Number(b) };
    },
    close: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) {
          r();
          return;
        }
        child.once('exit', () => r());
        child.stdin.end();
      }),
  };
}
