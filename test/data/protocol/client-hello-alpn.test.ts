import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { connect } from 'node:tls';
import { isAcmeAlpnHello, MAX_HELLO_BYTES, parseClientHello } from '../../../src/data/protocol/client-hello-alpn.js';
import { seededRandom } from '../../../src/core/clock.js';

/** The first flight of a real Node TLS client (a complete ClientHello record). */
async function captureHello(opts: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        const r = parseClientHello(buf);
        if (r.kind !== 'more') {
          resolve(buf);
          s.destroy();
        }
      });
    });
  });
  const client = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts });
  client.on('error', () => undefined);
  const bytes = await got;
  client.destroy();
  server.close();
  return bytes;
}

/** Re-frames one-record `hello` into records of at most `size` bytes of handshake data. */
function reframe(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const head = Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

describe('ClientHello peek', () => {
  it('reads SNI and ALPN from a real ClientHello, fed byte by byte', async () => {
    const hello = await captureHello({ servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
    for (let n = 0; n < hello.length; n++) {
      assert.equal(parseClientHello(hello.subarray(0, n)).kind, 'more', `prefix of ${n} bytes`);
    }
    const r = parseClientHello(hello);
    assert.deepEqual(r, { kind: 'done', hello: { servername: 'a.test', alpn: ['acme-tls/1'] } });
    assert.ok(r.kind === 'done' && isAcmeAlpnHello(r.hello));
  });

  it('an ordinary client is not a tls-alpn-01 validation; no SNI reads as ""', async () => {
    const h2 = await captureHello({ servername: 'b.test', ALPNProtocols: ['h2', 'acme-tls/1'] });
    const r = parseClientHello(h2);
    assert.ok(r.kind === 'done');
    assert.deepEqual(r.hello.alpn, ['h2', 'acme-tls/1']);
    assert.equal(isAcmeAlpnHello(r.hello), false);
    const bare = parseClientHello(await captureHello({}));
    assert.ok(bare.kind === 'done');
    assert.equal(bare.hello.servername, '');
    assert.deepEqual(bare.hello.alpn, []);
  });

  it('a ClientHello spread over several records, fed in every split', async () => {
    const hello = await captureHello({ servername: 'c.test', ALPNProtocols: ['acme-tls/1'] });
    const framed = reframe(hello, 97);
    for (let n = 0; n < framed.length; n++) {
      const k = parseClientHello(framed.subarray(0, n)).kind;
      assert.equal(k, 'more', `prefix ${n}`);
    }
    const r = parseClientHello(framed);
    assert.deepEqual(r, { kind: 'done', hello: { servername: 'c.test', alpn: ['acme-tls/1'] } });
  });

  it('refuses what is not a ClientHello, and oversized ones', () => {
    assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'error');
    assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).kind, 'error'); // ServerHello
    const big = MAX_HELLO_BYTES + 1;
    assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 1, big >> 16, (big >> 8) & 0xff, big & 0xff])).kind, 'error');
    assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).kind, 'error');
  });

  it('fuzz: mutated and truncated hellos never throw and never read past the input', async () => {
    const hello = await captureHello({ servername: 'fuzz.test', ALPNProtocols: ['h2', 'acme-tls/1'] });
    const rnd = seededRandom(13);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(hello);
      const flips = 1 + Math.floor(rnd() * 8);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = b.subarray(0, Math.floor(rnd() * (b.length + 1)));
      const r = parseClientHello(cut);
      assert.ok(r.kind === 'more' || r.kind === 'done' || r.kind === 'error');
      if (r.kind === 'done') {
        assert.ok(r.hello.servername.length <= cut.length);
        assert.ok(r.hello.alpn.length <= 32);
      }
    }
  });
});
