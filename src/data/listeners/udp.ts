/**
 * The `udp` listener (data-plane §7): one dgram socket per server and its session logic
 * (../udp/server.ts). Each session is tracked in `rt.conns`, so drain and close work as for
 * stream connections.
 */
import type { ServerRuntime } from '../runtime.js';
import { UdpServer } from '../udp/server.js';
import type { ListenerKind, OpenListener } from './types.js';

export const udpListener: ListenerKind = {
  protocol: 'udp',
  async open(rt: ServerRuntime): Promise<OpenListener> {
    const server = new UdpServer(rt);
    const addr = await server.listen();
    // Datagrams, not accepted streams: the stream fast-accept path does not apply.
    return { address: addr.address, port: addr.port, fastAccept: false, stop: () => server.stop() };
  },
};
