/**
 * The worker side of counter reporting: a `CounterSink` that adds every event into per-slot
 * accumulators (typed arrays indexed by slot, no allocation per event) and hands out one
 * `CounterDeltas` batch — plain data, posted to the primary — when asked. The primary folds the
 * batches into the server's stats (control/tally.ts) exactly as it folds in-process events.
 */
import type { CounterDeltas, CounterSink } from '../core/snapshot.js';

export class DeltaSink implements CounterSink {
  private active = 0;
  private rxBytes = 0;
  private txBytes = 0;
  private size = 16;
  private bActive: Int32Array = new Int32Array(16);
  private bTotal: Float64Array = new Float64Array(16);
  private bRefused: Float64Array = new Float64Array(16);
  private bRx: Float64Array = new Float64Array(16);
  private bTx: Float64Array = new Float64Array(16);
  private marked: Uint8Array = new Uint8Array(16);
  private dirtySlots: number[] = [];
  private dirty = false;

  /** `onDirty` is called when the first change after a `take()` arrives (to schedule a report). */
  constructor(readonly server: string, private readonly onDirty: () => void) {}

  serverActive(delta: number): void {
    this.active += delta;
    this.touch();
  }

  backendActive(slot: number, delta: number): void {
    this.slot(slot);
    this.bActive[slot] = (this.bActive[slot] as number) + delta;
  }

  connected(slot: number): void {
    this.slot(slot);
    this.bTotal[slot] = (this.bTotal[slot] as number) + 1;
  }

  refused(slot: number): void {
    this.slot(slot);
    this.bRefused[slot] = (this.bRefused[slot] as number) + 1;
  }

  rx(slot: number, n: number): void {
    this.rxBytes += n;
    this.slot(slot);
    this.bRx[slot] = (this.bRx[slot] as number) + n;
  }

  tx(slot: number, n: number): void {
    this.txBytes += n;
    this.slot(slot);
    this.bTx[slot] = (this.bTx[slot] as number) + n;
  }

  apply(d: CounterDeltas): void {
    this.active += d.active;
    this.rxBytes += d.rx;
    this.txBytes += d.tx;
    this.touch();
    for (let i = 0; i < d.slots.length; i++) {
      const s = d.slots[i] as number;
      this.slot(s);
      this.bActive[s] = (this.bActive[s] as number) + (d.backendActive[i] as number);
      this.bTotal[s] = (this.bTotal[s] as number) + (d.total[i] as number);
      this.bRefused[s] = (this.bRefused[s] as number) + (d.refused[i] as number);
      this.bRx[s] = (this.bRx[s] as number) + (d.backendRx[i] as number);
      this.bTx[s] = (this.bTx[s] as number) + (d.backendTx[i] as number);
    }
  }

  /** Everything since the previous call, or null when nothing changed. Resets the accumulators. */
  take(): CounterDeltas | null {
    if (!this.dirty) return null;
    this.dirty = false;
    const slots = this.dirtySlots;
    this.dirtySlots = [];
    const n = slots.length;
    const backendActive = new Array<number>(n);
    const total = new Array<number>(n);
    const refused = new Array<number>(n);
    const backendRx = new Array<number>(n);
    const backendTx = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const s = slots[i] as number;
      backendActive[i] = this.bActive[s] as number;
      total[i] = this.bTotal[s] as number;
      refused[i] = this.bRefused[s] as number;
      backendRx[i] = this.bRx[s] as number;
      backendTx[i] = this.bTx[s] as number;
      this.bActive[s] = 0;
      this.bTotal[s] = 0;
      this.bRefused[s] = 0;
      this.bRx[s] = 0;
      this.bTx[s] = 0;
      this.marked[s] = 0;
    }
    const d: CounterDeltas = { server: this.server, active: this.active, rx: this.rxBytes, tx: this.txBytes, slots,
      backendActive, total, refused, backendRx, backendTx };
    this.active = 0;
    this.rxBytes = 0;
    this.txBytes = 0;
    return d;
  }

  private touch(): void {
    if (!this.dirty) {
      this.dirty = true;
      this.onDirty();
    }
  }

  private slot(s: number): void {
    if (s >= this.size) this.grow(s);
    if (this.marked[s] === 0) {
      this.marked[s] = 1;
      this.dirtySlots.push(s);
    }
    this.touch();
  }

  private grow(s: number): void {
    let n = this.size;
    while (n <= s) n *= 2;
    const i32 = (a: Int32Array): Int32Array => { const b = new Int32Array(n); b.set(a); return b; };
    const f64 = (a: Float64Array): Float64Array => { const b = new Float64Array(n); b.set(a); return b; };
    this.bActive = i32(this.bActive);
    this.bTotal = f64(this.bTotal);
    this.bRefused = f64(this.bRefused);
    this.bRx = f64(this.bRx);
    this.bTx = f64(this.bTx);
    const m = new Uint8Array(n);
    m.set(this.marked);
    this.marked = m;
    this.size = n;
  }
}

/**
 * Worker 0's sink of one server version: the control plane's own, plus a count of backend
 * connections (diagnostics) shared by every version.
 */
export class CountingSink implements CounterSink {
  constructor(private readonly to: CounterSink, private readonly count: { connections: number }) {}
  serverActive(delta: number): void { this.to.serverActive(delta); }
  backendActive(slot: number, delta: number): void { this.to.backendActive(slot, delta); }
  connected(slot: number): void { this.count.connections++; this.to.connected(slot); }
  refused(slot: number): void { this.to.refused(slot); }
  rx(slot: number, n: number): void { this.to.rx(slot, n); }
  tx(slot: number, n: number): void { this.to.tx(slot, n); }
  apply(d: CounterDeltas): void { this.to.apply(d); }
}
