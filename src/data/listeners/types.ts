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
  /**
   * Hot reload (tsbetween-only): new connections go to `rt` (the server's new runtime) from now
   * on, on the same listening socket (no refused connection); connections already accepted stay
   * with the runtime that took them. Optional: a listener without it is reopened instead.
   */
  retarget?(rt: ServerRuntime): void;
}

export interface ListenerKind {
  readonly protocol: string;
  open(rt: ServerRuntime): Promise<OpenListener>;
}
