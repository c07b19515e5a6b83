/**
 * The `udp` listener (data-plane §7): one dgram socket per server and its session logic
 * (../udp/server.ts). Each session is tracked in `rt.conns`, so drain and close work as for
 * stream connections. The session logic (and its LRU table) is imported when the first UDP server
 * opens, so a TCP-only process does not load it (issue 8 item 8).
 */
import type { ServerRuntime } from '../runtime.js';
import type { ListenerKind, OpenListener } from './types.js';

export const udpListener: ListenerKind = {
  protocol: 'udp',
  async open(rt: ServerRuntime): Promise<OpenListener> {
    const { UdpServer } = await import('../udp/server.js');
    const server = new UdpServer(rt);
    const addr = await server.listen();
    // Datagrams, not accepted streams: the stream fast-accept path does not apply.
    return { address: addr.address, port: addr.port, fastAccept: false, stop: () => server.stop() };
  },
};
