/**
 * The control plane's `CounterSink` for one server: folds the data plane's counter reports —
 * per event in one thread, or batched `CounterDeltas` from workers — into the server's
 * `ServerCounters` and the pool's `Backend` objects (by slot), which stats, metrics and the
 * health checks read. A backend that lingers (removed by discovery) leaves the table when its
 * last connection is released.
 */
import type { Backend, ServerCounters } from '../core/backend.js';
import type { CounterDeltas, CounterSink } from '../core/snapshot.js';
import type { BackendPool } from './backend-pool.js';

export class ServerTally implements CounterSink {
  private readonly bySlot: (Backend | undefined)[];

  constructor(
    private readonly counters: ServerCounters,
    private readonly pool: BackendPool,
  ) {
    this.bySlot = pool.bySlot;
  }

  serverActive(delta: number): void {
    this.counters.active += delta;
  }

  backendActive(slot: number, delta: number): void {
    const b = this.bySlot[slot];
    if (b === undefined) return;
    b.active += delta;
    if (delta < 0 && b.active <= 0 && !b.discovered) this.pool.released(b);
  }

  connected(slot: number): void {
    const b = this.bySlot[slot];
    if (b !== undefined) b.total++;
  }

  refused(slot: number): void {
    const b = this.bySlot[slot];
    if (b !== undefined) b.refused++;
  }

  rx(slot: number, n: number): void {
    this.counters.rx += n;
    const b = this.bySlot[slot];
    if (b !== undefined) b.rx += n;
  }

  tx(slot: number, n: number): void {
    this.counters.tx += n;
    const b = this.bySlot[slot];
    if (b !== undefined) b.tx += n;
  }

  apply(d: CounterDeltas): void {
    const c = this.counters;
    c.active += d.active;
    c.rx += d.rx;
    c.tx += d.tx;
    const n = d.slots.length;
    for (let i = 0; i < n; i++) {
      const b = this.bySlot[d.slots[i] as number];
      if (b === undefined) continue;
      b.total += d.total[i] as number;
      b.refused += d.refused[i] as number;
      b.rx += d.backendRx[i] as number;
      b.tx += d.backendTx[i] as number;
      const active = d.backendActive[i] as number;
      if (active !== 0) {
        b.active += active;
        if (active < 0 && b.active <= 0 && !b.discovered) this.pool.released(b);
      }
    }
  }
}
