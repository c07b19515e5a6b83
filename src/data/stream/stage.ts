/**
 * The stage contract of the stream pipeline, and the runner.
 *
 * A stage is one step of a proxied connection (admission, access, pick, dial, forward, …). The
 * pipeline of a server is an array of stages built once when the server starts
 * (./pipeline.ts); a stage that a plan does not need is simply not in the array, so it costs
 * nothing. Per connection the runner calls `run(conn)` in order:
 * - return true: done, go on with the next stage now (synchronous stages);
 * - return false: the stage took the connection over. It later calls `advance(conn)` to go on
 *   (e.g. on 'connect', or once a PROXY header / ClientHello is complete), or `conn.fail(…)`.
 * A stage never releases anything itself: the lease is released in exactly one place
 * (./lease.ts), from `StreamConn.finish()`, whatever failed.
 */
import type { StreamConn } from './conn.js';

export interface Stage {
  readonly name: string;
  run(conn: StreamConn): boolean;
}

/** Runs the connection's remaining stages until one takes it over or the pipeline ends. */
export function advance(conn: StreamConn): void {
  const stages = conn.stages;
  const n = stages.length;
  while (conn.step < n) {
    const s = stages[conn.step++] as Stage;
    if (!s.run(conn) || conn.failed) return;
  }
}
