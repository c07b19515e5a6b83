/**
 * accept_proxy_protocol and proxy_protocol through tsbetween with scripted peers: v1 and v2
 * headers, split over segments or sent with the first client bytes, v2 LOCAL keeps the socket's
 * address, iphash on the real address, the timeout; PROXY v1/v2 sent on from a terminating server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { decodeProxyHeader } from '../../../src/data/protocol/proxy-header.js';
import { encodeProxyHeader } from '../../../src/data/protocol/proxy-encode.js';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { plainBackend, staticList, tcpRequest, tlsRequest, withTsb } from './harness.js';

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

/** A backend replying with the client address of the PROXY header it got, then the payload. */
async function proxyAwareBackend(): Promise<Awaited<ReturnType<typeof plainBackend>>> {
  return plainBackend((d) => {
    const r = decodeProxyHeader(d);
    if (r.kind !== 'done') return `bad:${r.kind}`;
    const h = r.header;
    const who = h.command === 'proxy' ? `${h.family} ${h.srcIp}:${h.srcPort} -> ${h.dstIp}:${h.dstPort}` : h.command;
    return `v${h.version} ${who} | ${d.subarray(r.consumed).toString('latin1')}`;
  });
}

/** Sends `parts` with a pause between them; resolves with the reply. */
function sendParts(port: number, parts: Buffer[], gapMs = 60): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const c = net.connect(port, '127.0.0.1', () => {
      parts.forEach((p, i) => setTimeout(() => c.write(p), i * gapMs));
    });
    c.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    c.on('error', () => {});
    c.on('close', () => resolve(out));
  });
}

test('accept v1/v2 (split, or with the first client bytes) and send v1/v2 on with the real client', async () => {
  const be = await proxyAwareBackend();
  try {
    await withTsb({
      out1: { accept_proxy_protocol: {}, proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
      out2: { accept_proxy_protocol: {}, proxy_protocol: { version: '2' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
    }, async (tsb) => {
      const v1 = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\n');
      const v2 = encodeProxyHeader(2, '2001:db8::7', 6666, '2001:db8::1', 443) as Buffer;
      assert.equal(await tcpRequest(tsb.ports['out1'] as number, Buffer.concat([v1, Buffer.from('hello')])),
        'v1 tcp4 192.0.2.7:5555 -> 198.51.100.1:443 | hello');
      assert.equal(await sendParts(tsb.ports['out2'] as number, [v2.subarray(0, 5), v2.subarray(5, 20), v2.subarray(20), Buffer.from('hi')]),
        'v2 tcp6 2001:db8::7:6666 -> 2001:db8::1:443 | hi');
      assert.equal(await sendParts(tsb.ports['out1'] as number, [v2, Buffer.from('x')]),
        'v1 tcp6 2001:db8::7:6666 -> 2001:db8::1:443 | x');
    });
  } finally {
    await be.close();
  }
});

test('v2 LOCAL keeps the socket address; a bad header and the timeout close the connection', async () => {
  const be = await proxyAwareBackend();
  try {
    await withTsb({ s: { accept_proxy_protocol: { timeout: '300ms' }, proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${be.port}`]) } }, async (tsb) => {
      const port = tsb.ports['s'] as number;
      const local = Buffer.from(encodeProxyHeader(2, '192.0.2.1', 1, '192.0.2.2', 2) as Buffer);
      local[12] = 0x20;
      assert.match(await tcpRequest(port, Buffer.concat([local, Buffer.from('L')]), '127.0.0.5'), /^v1 tcp4 127\.0\.0\.5:\d+ -> 127\.0\.0\.1:\d+ \| L$/);
      assert.equal(await tcpRequest(port, 'PROXY TCP4 999.0.0.1 1.1.1.1 1 2\r\nx'), '');
      const started = Date.now();
      assert.equal(await tcpRequest(port, 'PROX'), '');
      assert.ok(Date.now() - started >= 250, 'closed at the timeout');
      assert.equal(be.count, 1);
      assert.ok(tsb.logs.some((l) => l.includes('(3 PROXY header rejections so far)') || l.includes('(2 PROXY header rejections so far)')));
    });
  } finally {
    await be.close();
  }
});

test('iphash uses the address from the header', async () => {
  const backends = await Promise.all(['b1', 'b2', 'b3', 'b4'].map((id) => plainBackend(() => id)));
  try {
    await withTsb({ s: { balance: 'iphash', accept_proxy_protocol: {}, discovery: staticList(backends.map((b) => `127.0.0.1:${b.port}`)) } }, async (tsb) => {
      const port = tsb.ports['s'] as number;
      const seen = new Set<string>();
      for (let i = 1; i <= 12; i++) {
        const hdr = `PROXY TCP4 10.0.0.${i} 10.9.9.9 1000 80\r\nx`;
        const a = await tcpRequest(port, hdr);
        const b = await tcpRequest(port, hdr, '127.0.0.9');
        assert.equal(a, b, `10.0.0.${i} from two upstream addresses`);
        seen.add(a);
      }
      assert.ok(seen.size >= 2, `12 addresses over ${seen.size} backend(s)`);
    });
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
});

test('a terminating server sends the PROXY header (v2) with the client address; handshake timeout', async (t) => {
  const p = pki;
  if (p === undefined) return t.skip('openssl not installed');
  const be = await proxyAwareBackend();
  try {
    await withTsb({
      s: { protocol: 'tls', client_idle_timeout: '400ms', tls: { cert_path: p.cert, key_path: p.key }, proxy_protocol: { version: '2' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
    }, async (tsb) => {
      const port = tsb.ports['s'] as number;
      const r = await tlsRequest(port, { ca: readFileSync(p.ca), rejectUnauthorized: true, localAddress: '127.0.0.5' }, 'tls-payload');
      assert.match(r.reply, /^v2 tcp4 127\.0\.0\.5:\d+ -> 127\.0\.0\.1:\d+ \| tls-payload$/);
      const started = Date.now();
      assert.equal(await tcpRequest(port, Buffer.alloc(0)), '');
      const took = Date.now() - started;
      assert.ok(took >= 350 && took < 8000, `silent TLS client closed after ${took} ms`);
      assert.ok(tsb.logs.some((l) => l.includes('no handshake within 400 ms')));
    });
  } finally {
    await be.close();
  }
});

test('accept_proxy_protocol on a terminating server: the header and the ClientHello in one segment', async (t) => {
  const p = pki;
  if (p === undefined) return t.skip('openssl not installed');
  const be = await proxyAwareBackend();
  try {
    await withTsb({
      s: { protocol: 'tls', accept_proxy_protocol: {}, tls: { cert_path: p.cert, key_path: p.key }, proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
    }, async (tsb) => {
      const port = tsb.ports['s'] as number;
      const reply = await new Promise<string>((resolve) => {
        const raw = net.connect(port, '127.0.0.1');
        let first = true;
        // A duplex in front of the socket: the first TLS write (the ClientHello) goes out in the
        // same write as the PROXY header.
        const wrapper = new Duplex({
          write(chunk: Buffer, _enc, cb): void {
            if (first) {
              first = false;
              raw.write(Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.9 198.51.100.1 4444 443\r\n'), chunk]), cb);
            } else raw.write(chunk, cb);
          },
          read(): void {},
          final(cb): void {
            raw.end();
            cb();
          },
        });
        raw.on('data', (d: Buffer) => wrapper.push(d));
        raw.on('end', () => wrapper.push(null));
        raw.on('error', () => wrapper.destroy());
        let out = '';
        raw.on('connect', () => {
          const c = tls.connect({ socket: wrapper, ca: readFileSync(p.ca), servername: 'localhost' });
          c.on('secureConnect', () => c.write('over-tls'));
          c.on('data', (d: Buffer) => {
            out += d.toString();
          });
          const done = (): void => {
            clearTimeout(timer);
            c.destroy();
            raw.destroy();
            resolve(out);
          };
          // the TLS session over a plain Duplex may not report 'close': the reply's end is enough
          const timer = setTimeout(done, 10000);
          c.on('error', done);
          c.on('end', done);
          c.on('close', done);
        });
      });
      assert.equal(reply, 'v1 tcp4 203.0.113.9:4444 -> 198.51.100.1:443 | over-tls');
    });
  } finally {
    await be.close();
  }
});
