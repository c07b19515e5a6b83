/** The listener contract (see ./registry.ts for how to add a protocol). */
import type { ServerRuntime } from '../runtime.js';

export interface OpenListener {
  /** The bound address. */
  readonly address: string;
  readonly port: number;
  /** Whether accepted sockets read through `onread` (stream listeners; see ./fast-accept.ts). */
  readonly fastAccept: boolean;
  /** Stops accepting; resolves when the listening socket is closed. */
  stop(): Promise<void>;
}

export interface ListenerKind {
  readonly protocol: string;
  open(rt: ServerRuntime): Promise<OpenListener>;
}
