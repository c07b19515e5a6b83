/**
 * The listening socket of a udp server (data-plane §7.1, §1.5): a wildcard bind is one dual-stack
 * socket on '::' (falling back to 0.0.0.0 without IPv6), a name is resolved once (IPv4 first).
 * Failures carry GoBetween's texts (control-plane §2.12):
 * `Could not start listening UDP: Failed to resolve udp address <bind> : <err>` and
 * `Could not start listening UDP: Failed to create listening udp socket: listen udp <addr>: bind: <why>`.
 */
import dgram, { type Socket } from 'node:dgram';
import { StartError, errorMessage } from '../../core/errors.js';
import { isNoIpv6, listenErrorText, resolveBind, type BindTarget } from '../../core/listen.js';
import { fastLookup } from './session.js';

export async function listenUdp(bind: string): Promise<Socket> {
  let target: BindTarget;
  try {
    target = await resolveBind(bind, { network: 'udp' });
  } catch (err) {
    throw new StartError(`Could not start listening UDP: Failed to resolve udp address ${bind} : ${errorMessage(err)}`, { cause: err });
  }
  try {
    return await bindUdp(target, target.host);
  } catch (err) {
    if (!(target.wildcard && isNoIpv6(err))) throw startError(err, target);
    try {
      return await bindUdp(target, '0.0.0.0');
    } catch (err2) {
      throw startError(err2, target);
    }
  }
}

function startError(err: unknown, target: BindTarget): StartError {
  return new StartError(`Could not start listening UDP: Failed to create listening udp socket: ${listenErrorText(err, target, 'udp')}`, {
    cause: err,
  });
}

/** Binds one listening socket: '::' dual-stack for wildcards, else the family of the IP. */
function bindUdp(target: BindTarget, host: string): Promise<Socket> {
  const v6 = host.includes(':');
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false, lookup: fastLookup });
  return new Promise<Socket>((resolve, reject) => {
    const onError = (err: Error): void => {
      try {
        sock.close();
      } catch {
        // never bound
      }
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ port: target.port, address: host, exclusive: true }, () => {
      sock.off('error', onError);
      // Bigger buffers absorb bursts (the kernel caps them at net.core.rmem_max / wmem_max).
      try {
        sock.setRecvBufferSize(4 * 1024 * 1024);
        sock.setSendBufferSize(4 * 1024 * 1024);
      } catch {
        // not fatal
      }
      resolve(sock);
    });
  });
}
