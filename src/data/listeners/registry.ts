/**
 * Listeners by protocol: the data plane opens a server with the listener registered for its
 * `plan.protocol`.
 *
 * HOW TO ADD A PROTOCOL: write `src/data/listeners/<protocol>.ts` exporting a `ListenerKind`
 * (`protocol`, `open(rt)`), and add it to `LISTENERS` below. `open` binds (rejecting with a
 * StartError in Go's words), then hands each client to the server's pipeline or its own session
 * logic, using only `rt` (runtime.ts): the plan, the elector, the active table and lease
 * (stream/lease.ts), the counter sink, `rt.conns` for drain/close. A stream protocol reuses
 * `acceptStream` (./tcp.ts) with its own socket source.
 */
import { tcpListener } from './tcp.js';
import type { ListenerKind } from './types.js';

export type { ListenerKind, OpenListener } from './types.js';

const LISTENERS: readonly ListenerKind[] = [tcpListener];

export function listenerFor(protocol: string): ListenerKind | undefined {
  return LISTENERS.find((l) => l.protocol === protocol);
}
