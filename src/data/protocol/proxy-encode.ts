/**
 * PROXY protocol header encoder (data-plane §6): v1 text (GoBetween's) and v2 binary (new).
 *
 * Addresses are what Node reports (`1.2.3.4`, `::ffff:1.2.3.4` on a dual-stack socket,
 * `2001:db8::1`). IPv4-mapped addresses are un-mapped, so an IPv4 client is sent as TCP4 as
 * GoBetween does. When the two ends are of different families (a client address taken from an
 * upstream's PROXY header, IPv6, on an IPv4 listener — or the reverse) the IPv4 end is written in
 * its IPv4-mapped IPv6 form and the header is TCP6, since the protocol needs one family.
 */
import { ipBytes } from '../../core/ip.js';
import { V2_SIGNATURE } from './proxy-header.js';

export type ProxyVersion = 1 | 2;

const scratchSrc = new Uint8Array(16);
const scratchDst = new Uint8Array(16);

function unmap(ip: string): string {
  return ip.length > 7 && (ip.startsWith('::ffff:') || ip.startsWith('::FFFF:')) && ip.indexOf('.') > 0 ? ip.slice(7) : ip;
}

function isV4Text(ip: string): boolean {
  return ip.indexOf(':') < 0;
}

/**
 * Returns the header for a client `srcIp:srcPort` that connected to `dstIp:dstPort`, or
 * undefined when an address cannot be parsed (the caller aborts the connection).
 */
export function encodeProxyHeader(version: ProxyVersion, srcIp: string, srcPort: number, dstIp: string, dstPort: number): Buffer | undefined {
  let src = unmap(srcIp);
  let dst = unmap(dstIp);
  const v4 = isV4Text(src) && isV4Text(dst);
  if (!v4) {
    if (isV4Text(src)) src = `::ffff:${src}`;
    if (isV4Text(dst)) dst = `::ffff:${dst}`;
    // Drop a zone index (`fe80::1%eth0`): it has no meaning to the backend.
    const zs = src.indexOf('%');
    if (zs >= 0) src = src.slice(0, zs);
    const zd = dst.indexOf('%');
    if (zd >= 0) dst = dst.slice(0, zd);
  }
  if ((srcPort | 0) !== srcPort || srcPort < 0 || srcPort > 65535 || (dstPort | 0) !== dstPort || dstPort < 0 || dstPort > 65535) {
    return undefined;
  }
  const want = v4 ? 4 : 16;
  if (ipBytes(src, scratchSrc) !== want || ipBytes(dst, scratchDst) !== want) return undefined;
  if (version === 1) {
    return Buffer.from(`PROXY ${v4 ? 'TCP4' : 'TCP6'} ${src} ${dst} ${srcPort} ${dstPort}\r\n`, 'latin1');
  }
  const addrLen = v4 ? 12 : 36;
  const out = Buffer.allocUnsafe(16 + addrLen);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = v4 ? 0x11 : 0x21; // INET/INET6, STREAM
  out[14] = 0;
  out[15] = addrLen;
  out.set(scratchSrc.subarray(0, want), 16);
  out.set(scratchDst.subarray(0, want), 16 + want);
  out.writeUInt16BE(srcPort, 16 + 2 * want);
  out.writeUInt16BE(dstPort, 18 + 2 * want);
  return out;
}
