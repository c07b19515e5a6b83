/**
 * A minimal DNS stub client on dns-packet, enough for SRV discovery (data-plane §11.3):
 * one question, recursion desired, EDNS0 OPT with a 4096-byte UDP size and **no** DO bit (D21),
 * random 16-bit IDs checked against the response (mismatches are ignored and reading goes on),
 * UDP or TCP (RFC 1035 §4.2.2: 2-byte length prefix), responses bounded in size, a truncated
 * UDP answer retried over TCP, cancellation through an AbortSignal.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, RecordType } from 'dns-packet';
import { abortReason } from './util.js';

export type DnsProtocol = 'udp' | 'tcp';

export interface DnsServer {
  /** An IP address (resolve names before). */
  readonly host: string;
  readonly port: number;
}

export interface DnsQueryOptions {
  readonly server: DnsServer;
  readonly protocol: DnsProtocol;
  readonly signal: AbortSignal;
  /** Largest response accepted (bytes); default and hard maximum 65535. */
  readonly maxResponseBytes?: number;
}

/** A decoded response plus the response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...). */
export interface DnsResponse {
  readonly packet: DecodedPacket;
  readonly rcode: number;
  /** Transport that produced this answer (tcp after a truncation retry). */
  readonly protocol: DnsProtocol;
}

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const MAX_MESSAGE = 65535;
const TC = 0x0200;

/** Encodes the query message (exported for tests). */
export function encodeQuery(id: number, name: string, type: RecordType): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{
      type: 'OPT',
      name: '.',
      udpPayloadSize: 4096,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0, // no DNSSEC OK: signed zones would add RRSIGs to the answer (GitHub #327)
      flag_do: false,
      options: [],
    }],
  };
  return dnsPacket.encode(packet);
}

/** Sends one question; over UDP a truncated answer is asked again over TCP. */
export async function dnsQuery(name: string, type: RecordType, opts: DnsQueryOptions): Promise<DnsResponse> {
  const first = await exchange(name, type, opts.protocol, opts);
  if (opts.protocol === 'udp' && ((first.packet.flags ?? 0) & TC) !== 0) {
    return exchange(name, type, 'tcp', opts);
  }
  return first;
}

async function exchange(name: string, type: RecordType, protocol: DnsProtocol, opts: DnsQueryOptions): Promise<DnsResponse> {
  if (opts.signal.aborted) throw abortReason(opts.signal);
  const id = randomInt(0, 65536);
  const query = encodeQuery(id, name, type);
  const max = Math.min(opts.maxResponseBytes ?? MAX_MESSAGE, MAX_MESSAGE);
  const accept = (buf: Buffer): DecodedPacket | undefined => matchResponse(buf, id, name, type);
  const packet = protocol === 'udp'
    ? await udpExchange(query, opts.server, opts.signal, max, accept)
    : await tcpExchange(query, opts.server, opts.signal, max, accept);
  return { packet, rcode: (packet.flags ?? 0) & 0x0f, protocol };
}

/** The decoded packet when `buf` answers our question with our ID, else undefined (ignored). */
function matchResponse(buf: Buffer, id: number, name: string, type: RecordType): DecodedPacket | undefined {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id) return undefined;
  let p: DecodedPacket;
  try {
    p = dnsPacket.decode(buf);
  } catch {
    return undefined;
  }
  if (p.type !== 'response') return undefined;
  const q = p.questions?.[0];
  if (q !== undefined && (q.type !== type || trimDot(q.name).toLowerCase() !== trimDot(name).toLowerCase())) return undefined;
  return p;
}

function trimDot(s: string): string {
  return s.replace(/\.+$/, '');
}

type Accept = (buf: Buffer) => DecodedPacket | undefined;

function udpExchange(query: Buffer, server: DnsServer, signal: AbortSignal, max: number, accept: Accept): Promise<DecodedPacket> {
  return new Promise<DecodedPacket>((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | undefined, p?: DecodedPacket): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      sock.removeAllListeners('message');
      try { sock.close(); } catch { /* already closed */ }
      if (err !== undefined) reject(err);
      else if (p !== undefined) resolve(p);
    };
    const onAbort = (): void => finish(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg, rinfo) => {
      // Only the server we asked; anything else (spoofed, stray, oversized) is ignored.
      if (rinfo.port !== server.port || msg.length > max) return;
      const p = accept(msg);
      if (p !== undefined) finish(undefined, p);
    });
    sock.connect(server.port, server.host, () => {
      if (done) return;
      sock.send(query, (err) => { if (err) finish(err); });
    });
  });
}

function tcpExchange(query: Buffer, server: DnsServer, signal: AbortSignal, max: number, accept: Accept): Promise<DecodedPacket> {
  return new Promise<DecodedPacket>((resolve, reject) => {
    const sock = net.connect({ host: server.host, port: server.port });
    let done = false;
    let buf: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, p?: DecodedPacket): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err !== undefined) reject(err);
      else if (p !== undefined) resolve(p);
    };
    const onAbort = (): void => finish(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // Messages that are not our answer (wrong ID) are skipped; the connection is ours only.
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len > max) {
          finish(new Error(`DNS response too large (${len} bytes)`));
          return;
        }
        if (buf.length < 2 + len) return;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const p = accept(msg);
        if (p !== undefined) {
          finish(undefined, p);
          return;
        }
      }
    });
    sock.on('end', () => finish(new Error('DNS server closed the TCP connection without an answer')));
  });
}
