/**
 * The lease of one connection: the server admission and the backend reservation (D12), taken
 * by the admission and pick stages and released HERE ONLY, from `StreamConn.finish()`, exactly
 * once whatever stage failed. Every change is mirrored to the counter sink (server and backend
 * active counts), so stats see exactly what the active table holds.
 */
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { ServerRuntime } from '../runtime.js';

/** What a lease lives in (a stream connection; a UDP session later). */
export interface LeaseHolder {
  readonly rt: ServerRuntime;
  admitted: boolean;
  /** Slot reserved in the active table (-1: none). */
  slot: number;
  backend: SnapshotBackend | null;
}

/** Admits the connection under the server's max_connections; false = over the limit. */
export function takeAdmission(h: LeaseHolder): boolean {
  const rt = h.rt;
  if (!rt.active.admit(rt.maxConnections)) return false;
  h.admitted = true;
  rt.sink.serverActive(1);
  return true;
}

/** Reserves the elected backend; false when it filled up meanwhile (another thread won). */
export function takeBackend(h: LeaseHolder, b: SnapshotBackend): boolean {
  const rt = h.rt;
  if (!rt.active.acquire(b.slot, b.maxConnections)) return false;
  h.backend = b;
  h.slot = b.slot;
  rt.sink.backendActive(b.slot, 1);
  return true;
}

export function releaseLease(h: LeaseHolder): void {
  const rt = h.rt;
  const slot = h.slot;
  if (slot >= 0) {
    h.slot = -1;
    rt.active.release(slot);
    rt.sink.backendActive(slot, -1);
  }
  if (h.admitted) {
    h.admitted = false;
    rt.active.leave();
    rt.sink.serverActive(-1);
  }
}
