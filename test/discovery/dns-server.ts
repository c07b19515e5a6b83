/** A tiny scripted DNS server (UDP + TCP on the same loopback port) built on dns-packet, for tests. */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';

export type Proto = 'udp' | 'tcp';

export interface Reply {
  rcode?: number;
  answers?: Answer[];
  additionals?: Answer[];
  truncated?: boolean;
  /** Override the response ID (to test mismatches). */
  id?: number;
}

/** Returns a reply, an array of replies sent in order, or 'drop' to never answer. */
export type Handler = (q: DecodedPacket, proto: Proto) => Reply | Reply[] | 'drop';

export interface TestDnsServer {
  readonly port: number;
  readonly queries: { q: DecodedPacket; proto: Proto }[];
  close(): Promise<void>;
}

export function encodeReply(q: DecodedPacket, r: Reply): Buffer {
  const flags = (r.rcode ?? 0) | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE
    | (r.truncated === true ? dnsPacket.TRUNCATED_RESPONSE : 0);
  return dnsPacket.encode({
    type: 'response',
    id: r.id ?? q.id ?? 0,
    flags,
    questions: q.questions ?? [],
    answers: r.answers ?? [],
    additionals: r.additionals ?? [],
  });
}

export async function startDnsServer(handler: Handler): Promise<TestDnsServer> {
  const queries: { q: DecodedPacket; proto: Proto }[] = [];
  const conns = new Set<net.Socket>();
  for (let attempt = 0; ; attempt++) {
    // Below the ephemeral range, which other loopback load on the machine may exhaust.
    const udp = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(20000 + Math.floor(Math.random() * 12000), '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      udp.close();
      if (attempt > 50) throw new Error('no port free for UDP and TCP');
      continue;
    }
    const port = udp.address().port;
    const tcp = net.createServer((sock) => {
      conns.add(sock);
      sock.on('close', () => conns.delete(sock));
      sock.on('error', () => undefined);
      let buf: Buffer = Buffer.alloc(0);
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const q = dnsPacket.decode(msg);
          queries.push({ q, proto: 'tcp' });
          const out = handler(q, 'tcp');
          if (out === 'drop') continue;
          for (const r of Array.isArray(out) ? out : [out]) {
            const b = encodeReply(q, r);
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length, 0);
            sock.write(Buffer.concat([len, b]));
          }
        }
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (attempt > 50) throw new Error('no port free for UDP and TCP');
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      queries.push({ q, proto: 'udp' });
      const out = handler(q, 'udp');
      if (out === 'drop') return;
      for (const r of Array.isArray(out) ? out : [out]) udp.send(encodeReply(q, r), rinfo.port, rinfo.address);
    });
    return {
      port,
      queries,
      close: async () => {
        for (const c of conns) c.destroy();
        await new Promise<void>((r) => udp.close(() => r()));
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}

export function srv(name: string, target: string, port: number, priority = 1, weight = 1): Answer {
  return { type: 'SRV', name, ttl: 60, class: 'IN', data: { target, port, priority, weight } };
}

export function a(name: string, ip: string): Answer {
  return { type: 'A', name, ttl: 60, class: 'IN', data: ip };
}

export function aaaa(name: string, ip: string): Answer {
  return { type: 'AAAA', name, ttl: 60, class: 'IN', data: ip };
}
