/**
 * Measures the PROXY protocol codec against `proxy-protocol-js` (the library the issue suggested):
 * encode v1/v2 per connection and decode v1/v2. Run: `npx tsx bench/proxy-codec.ts`.
 * Prints ops/s for each; the figures decided which one runs in the data plane (see README).
 */
import * as ppjs from 'proxy-protocol-js';
import { encodeProxyHeader } from '../src/data/protocol/proxy-encode.js';
import { decodeProxyHeader } from '../src/data/protocol/proxy-header.js';

const N = Number(process.env.N ?? 300000);

function time(name: string, fn: (i: number) => unknown): number {
  for (let i = 0; i < 20000; i++) fn(i);
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < N; i++) if (fn(i) !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - t0);
  const ops = Math.round((N / ns) * 1e9);
  console.log(`${name.padEnd(44)} ${ops.toLocaleString('en-US').padStart(12)} ops/s${sink === N ? '' : ' (!)'}`);
  return ops;
}

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

const srcIp = '192.0.2.10';
const dstIp = '198.51.100.7';

const ownV1 = time('own encode v1', (i) => encodeProxyHeader(1, srcIp, 1024 + (i & 0x7fff), dstIp, 443));
const libV1 = time('proxy-protocol-js encode v1', (i) =>
  Buffer.from(
    new ppjs.V1ProxyProtocol(ppjs.INETProtocol.TCP4, new ppjs.Peer(srcIp, 1024 + (i & 0x7fff)), new ppjs.Peer(dstIp, 443)).build(),
    'latin1',
  ),
);
const ownV2 = time('own encode v2', (i) => encodeProxyHeader(2, srcIp, 1024 + (i & 0x7fff), dstIp, 443));
const libV2 = time('proxy-protocol-js encode v2 (address parsing incl.)', (i) =>
  Buffer.from(
    new ppjs.V2ProxyProtocol(
      ppjs.Command.PROXY,
      ppjs.TransportProtocol.STREAM,
      new ppjs.IPv4ProxyAddress(ppjs.IPv4Address.createFrom(v4Bytes(srcIp)), 1024 + (i & 0x7fff), ppjs.IPv4Address.createFrom(v4Bytes(dstIp)), 443),
    ).build(),
  ),
);

const h1 = encodeProxyHeader(1, srcIp, 40000, dstIp, 443) as Buffer;
const h2 = encodeProxyHeader(2, srcIp, 40000, dstIp, 443) as Buffer;
const d1 = time('own decode v1', () => decodeProxyHeader(h1));
const l1 = time('proxy-protocol-js decode v1', () => ppjs.V1ProxyProtocol.parse(h1.toString('latin1')));
const d2 = time('own decode v2', () => decodeProxyHeader(h2));
const l2 = time('proxy-protocol-js decode v2', () => ppjs.V2ProxyProtocol.parse(h2));
console.log(
  `ratios own/lib: encode v1 ${(ownV1 / libV1).toFixed(2)}, encode v2 ${(ownV2 / libV2).toFixed(2)}, ` +
    `decode v1 ${(d1 / l1).toFixed(2)}, decode v2 ${(d2 / l2).toFixed(2)}`,
);
