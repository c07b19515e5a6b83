import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ppjs from 'proxy-protocol-js';
import { encodeProxyHeader } from '../../../src/data/protocol/proxy-encode.js';
import { decodeProxyHeader, PROXY_V1_CAP, PROXY_V2_CAP, type ProxyDecodeResult } from '../../../src/data/protocol/proxy-header.js';

function everySplit(input: Uint8Array): ProxyDecodeResult {
  const full = decodeProxyHeader(input);
  for (let k = 0; k < input.length; k++) {
    const r = decodeProxyHeader(input.subarray(0, k));
    if (r.kind !== 'more') assert.deepEqual(r, full, `prefix ${k}`);
  }
  return full;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('v1 TCP4/TCP6/UNKNOWN, byte by byte; the client bytes after it are not consumed', () => {
  const h = b('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /');
  assert.deepEqual(everySplit(h), {
    kind: 'done',
    consumed: h.length - 5,
    header: { version: 1, command: 'proxy', family: 'tcp4', srcIp: '192.0.2.1', srcPort: 56324, dstIp: '198.51.100.2', dstPort: 443 },
  });
  const h6 = b('PROXY TCP6 2001:db8::1 ::1 1 65535\r\n');
  assert.deepEqual(everySplit(h6), {
    kind: 'done',
    consumed: h6.length,
    header: { version: 1, command: 'proxy', family: 'tcp6', srcIp: '2001:db8::1', srcPort: 1, dstIp: '::1', dstPort: 65535 },
  });
  for (const u of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n']) {
    assert.deepEqual(everySplit(b(u)), { kind: 'done', consumed: u.length, header: { version: 1, command: 'unknown' } });
  }
});

test('v1 rejects bad addresses, ports, line endings and over-long lines', () => {
  for (const bad of [
    'PROXY TCP4 999.1.1.1 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 99999 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n',
    'PROXY TCP4 ::1 1.2.3.4 1 2\r\n',
    'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n',
    'PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 1.2.3.4 1\r2\r\n',
    'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
  ]) {
    assert.equal(everySplit(b(bad)).kind, 'error', bad);
  }
  // judged at the first wrong byte
  assert.equal(decodeProxyHeader(b('GET')).kind, 'error');
  assert.equal(decodeProxyHeader(b('PROX ')).kind, 'error');
  assert.equal(decodeProxyHeader(b('PROXY')).kind, 'more');
  const long = b(`PROXY UNKNOWN ${'x'.repeat(200)}\r\n`);
  assert.equal(decodeProxyHeader(long.subarray(0, PROXY_V1_CAP - 1)).kind, 'more');
  assert.equal(decodeProxyHeader(long.subarray(0, PROXY_V1_CAP)).kind, 'error');
});

test('v2 PROXY TCP4/TCP6, LOCAL, UNSPEC, TLVs skipped; byte by byte', () => {
  const v4 = encodeProxyHeader(2, '192.0.2.1', 5000, '198.51.100.2', 443) as Buffer;
  assert.deepEqual(everySplit(v4), {
    kind: 'done',
    consumed: 28,
    header: { version: 2, command: 'proxy', family: 'tcp4', srcIp: '192.0.2.1', srcPort: 5000, dstIp: '198.51.100.2', dstPort: 443 },
  });
  const v6 = encodeProxyHeader(2, '2001:db8:0:0:1:0:0:1', 5000, '::1', 443) as Buffer;
  assert.deepEqual(everySplit(v6), {
    kind: 'done',
    consumed: 52,
    header: { version: 2, command: 'proxy', family: 'tcp6', srcIp: '2001:db8::1:0:0:1', srcPort: 5000, dstIp: '::1', dstPort: 443 },
  });
  // TLVs after the addresses: consumed follows the length field, not the address size
  const tlv = Buffer.concat([v4, Uint8Array.of(0x04, 0, 3, 1, 2, 3), b('payload')]);
  tlv[15] = 12 + 6;
  const r = everySplit(tlv);
  assert.equal(r.kind === 'done' ? r.consumed : -1, 34);
  const local = Buffer.from(v4);
  local[12] = 0x20;
  assert.deepEqual(everySplit(local), { kind: 'done', consumed: 28, header: { version: 2, command: 'local' } });
  const unspec = Buffer.from(v4.subarray(0, 16));
  unspec[13] = 0x00;
  unspec[15] = 0;
  assert.deepEqual(everySplit(unspec), { kind: 'done', consumed: 16, header: { version: 2, command: 'unknown' } });
});

test('v2 rejects bad versions, commands, short address blocks and lengths beyond the cap', () => {
  const v4 = encodeProxyHeader(2, '192.0.2.1', 5000, '198.51.100.2', 443) as Buffer;
  const mod = (i: number, v: number): Buffer => {
    const c = Buffer.from(v4);
    c[i] = v;
    return c;
  };
  assert.equal(everySplit(mod(12, 0x11)).kind, 'error');
  assert.equal(everySplit(mod(12, 0x22)).kind, 'error');
  assert.equal(everySplit(mod(15, 11)).kind, 'error');
  assert.equal(everySplit(mod(13, 0x41)).kind, 'error');
  const big = Buffer.from(v4.subarray(0, 16));
  big.writeUInt16BE(PROXY_V2_CAP - 16 + 1, 14);
  assert.equal(decodeProxyHeader(big).kind, 'error');
  big.writeUInt16BE(PROXY_V2_CAP - 16, 14);
  assert.equal(decodeProxyHeader(big).kind, 'more');
  assert.equal(decodeProxyHeader(Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b)).kind, 'error');
});

test('encoder: GoBetween v1 line; IPv4-mapped un-mapped; mixed families written as TCP6', () => {
  assert.equal(encodeProxyHeader(1, '::ffff:127.0.0.5', 4000, '::ffff:127.0.0.1', 3000)?.toString(), 'PROXY TCP4 127.0.0.5 127.0.0.1 4000 3000\r\n');
  assert.equal(encodeProxyHeader(1, '::1', 4000, '::1', 3000)?.toString(), 'PROXY TCP6 ::1 ::1 4000 3000\r\n');
  assert.equal(encodeProxyHeader(1, '2001:db8::7', 4000, '127.0.0.1', 3000)?.toString(), 'PROXY TCP6 2001:db8::7 ::ffff:127.0.0.1 4000 3000\r\n');
  const mixed = encodeProxyHeader(2, '2001:db8::7', 4000, '127.0.0.1', 3000) as Buffer;
  const d = decodeProxyHeader(mixed);
  assert.deepEqual(d.kind === 'done' ? d.header : null, {
    version: 2, command: 'proxy', family: 'tcp6', srcIp: '2001:db8::7', srcPort: 4000, dstIp: '::ffff:127.0.0.1', dstPort: 3000,
  });
  assert.equal(encodeProxyHeader(1, 'garbage', 1, '127.0.0.1', 2), undefined);
  assert.equal(encodeProxyHeader(2, '127.0.0.1', 70000, '127.0.0.1', 2), undefined);
});

test('cross-check with proxy-protocol-js: it parses what we encode, we parse what it builds', () => {
  const v1 = encodeProxyHeader(1, '10.1.2.3', 1234, '10.9.8.7', 80) as Buffer;
  const p1 = ppjs.V1ProxyProtocol.parse(v1.toString('latin1'));
  assert.deepEqual([p1.source.ipAddress, p1.source.port, p1.destination.ipAddress, p1.destination.port], ['10.1.2.3', 1234, '10.9.8.7', 80]);
  const v2 = encodeProxyHeader(2, '10.1.2.3', 1234, '10.9.8.7', 80) as Buffer;
  const p2 = ppjs.V2ProxyProtocol.parse(v2);
  assert.ok(p2.proxyAddress instanceof ppjs.IPv4ProxyAddress);
  assert.deepEqual([[...p2.proxyAddress.sourceAddress.address], p2.proxyAddress.sourcePort], [[10, 1, 2, 3], 1234]);
  const built = new ppjs.V2ProxyProtocol(
    ppjs.Command.PROXY,
    ppjs.TransportProtocol.STREAM,
    new ppjs.IPv6ProxyAddress(
      ppjs.IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      7,
      ppjs.IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      8,
    ),
  ).build();
  const d = decodeProxyHeader(built);
  assert.deepEqual(d.kind === 'done' ? d.header : null, {
    version: 2, command: 'proxy', family: 'tcp6', srcIp: '2001:db8::1', srcPort: 7, dstIp: '::1', dstPort: 8,
  });
});
