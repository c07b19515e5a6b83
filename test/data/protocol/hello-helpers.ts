/** ClientHello builders and captures for the parser tests. */
import { execFile } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';

/** A TLS 1.2/1.3 ClientHello handshake message (with its 4-byte header). */
export function buildHello(opts: { hostname?: string | undefined; names?: Array<[number, string]>; padding?: number; sessionIdLen?: number } = {}): Uint8Array {
  const ext: number[] = [];
  const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
  const names = opts.names ?? (opts.hostname === undefined ? [] : [[0, opts.hostname] as [number, string]]);
  if (names.length > 0) {
    const list: number[] = [];
    for (const [t, n] of names) list.push(t, ...u16(n.length), ...Buffer.from(n, 'latin1'));
    const body = [...u16(list.length), ...list];
    ext.push(...u16(0), ...u16(body.length), ...body);
  }
  // supported_versions: TLS 1.3, 1.2
  ext.push(...u16(43), ...u16(5), 4, 0x03, 0x04, 0x03, 0x03);
  if (opts.padding !== undefined) ext.push(...u16(21), ...u16(opts.padding), ...new Array<number>(opts.padding).fill(0));
  const sid = opts.sessionIdLen ?? 32;
  const body = [
    0x03, 0x03,
    ...new Array<number>(32).fill(7),
    sid, ...new Array<number>(sid).fill(9),
    ...u16(4), 0x13, 0x01, 0xc0, 0x2f,
    1, 0,
    ...u16(ext.length), ...ext,
  ];
  return Uint8Array.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, ...body]);
}

/** Wraps a handshake message into handshake records carrying at most `size` bytes each. */
export function frame(hs: Uint8Array, size = 16384, version = 0x0301): Uint8Array {
  const out: number[] = [];
  for (let o = 0; o < hs.length; o += size) {
    const part = hs.subarray(o, Math.min(hs.length, o + size));
    out.push(22, version >> 8, version & 0xff, part.length >> 8, part.length & 0xff, ...part);
  }
  return Uint8Array.from(out);
}

/** Extracts the handshake payload from a framed hello (concatenating the record payloads). */
export function unframe(records: Uint8Array): Uint8Array {
  const out: number[] = [];
  let p = 0;
  while (p + 5 <= records.length) {
    const len = ((records[p + 3] as number) << 8) | (records[p + 4] as number);
    out.push(...records.subarray(p + 5, p + 5 + len));
    p += 5 + len;
  }
  return Uint8Array.from(out);
}

/** Captures the first bytes a client sends to a plain TCP server (its ClientHello). */
export async function captureFirstBytes(connect: (port: number) => () => void, settleMs = 200, maxMs = 10000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let stop: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), settleMs);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const closed = new Promise<void>((resolve, reject) => {
      const hard = setTimeout(() => reject(new Error('no ClientHello captured')), maxMs);
      server.on('connection', (s: net.Socket) => s.on('close', () => {
        clearTimeout(hard);
        resolve();
      }));
    });
    stop = connect(port);
    await closed;
  } finally {
    stop?.();
    if (timer !== undefined) clearTimeout(timer);
    server.close();
  }
  return Buffer.concat(chunks);
}

/** A node:tls client's ClientHello for `servername` (undefined: no SNI). */
export function nodeHello(servername: string | undefined): Promise<Buffer> {
  return captureFirstBytes((port) => {
    const opts: tls.ConnectionOptions = { port, host: '127.0.0.1', rejectUnauthorized: false };
    if (servername !== undefined) opts.servername = servername;
    const c = tls.connect(opts);
    c.on('error', () => {});
    return () => c.destroy();
  });
}

/** An `openssl s_client` ClientHello. */
export function opensslHello(openssl: string, servername: string): Promise<Buffer> {
  return captureFirstBytes((port) => {
    const child = execFile(openssl, ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername], { timeout: 10000 }, () => {});
    child.stdin?.on('error', () => {});
    return () => child.kill();
  });
}
