/**
 * Counter reporting across threads: a `CounterSink` that batches the data plane's events into
 * `CounterDeltas` (plain data, posted by a worker) instead of applying them at once. In one
 * thread the control plane's own sink (control/tally.ts) is called directly and this is not used.
 *
 * Per event: a few typed-array additions, no allocation. `take()` returns the deltas since the
 * previous call (null when nothing changed) and resets them.
 */
import type { CounterDeltas, CounterSink } from '../core/snapshot.js';

const FIELDS = 5; // active, total, refused, rx, tx
const ACTIVE = 0;
const TOTAL = 1;
const REFUSED = 2;
const RX = 3;
const TX = 4;

export class BatchingSink implements CounterSink {
  private active = 0;
  private rxBytes = 0;
  private txBytes = 0;
  private slots = new Float64Array(16 * FIELDS);
  /** Slots touched since the last take, and a mark per slot. */
  private touched: number[] = [];
  private marked = new Uint8Array(16);
  private dirty = false;

  constructor(readonly server: string) {}

  serverActive(delta: number): void {
    this.active += delta;
    this.dirty = true;
  }

  backendActive(slot: number, delta: number): void {
    this.add(slot, ACTIVE, delta);
  }

  connected(slot: number): void {
    this.add(slot, TOTAL, 1);
  }

  refused(slot: number): void {
    this.add(slot, REFUSED, 1);
  }

  rx(slot: number, n: number): void {
    this.rxBytes += n;
    this.add(slot, RX, n);
  }

  tx(slot: number, n: number): void {
    this.txBytes += n;
    this.add(slot, TX, n);
  }

  apply(d: CounterDeltas): void {
    this.active += d.active;
    this.rxBytes += d.rx;
    this.txBytes += d.tx;
    this.dirty = true;
    for (let i = 0; i < d.slots.length; i++) {
      const s = d.slots[i] as number;
      this.add(s, ACTIVE, d.backendActive[i] as number);
      this.add(s, TOTAL, d.total[i] as number);
      this.add(s, REFUSED, d.refused[i] as number);
      this.add(s, RX, d.backendRx[i] as number);
      this.add(s, TX, d.backendTx[i] as number);
    }
  }

  /** The deltas since the previous take, or null when nothing changed. */
  take(): CounterDeltas | null {
    if (!this.dirty) return null;
    const slots = this.touched.sort((a, b) => a - b);
    const v = this.slots;
    const field = (f: number): number[] => slots.map((s) => v[s * FIELDS + f] as number);
    const d: CounterDeltas = {
      server: this.server,
      active: this.active,
      rx: this.rxBytes,
      tx: this.txBytes,
      slots,
      backendActive: field(ACTIVE),
      total: field(TOTAL),
      refused: field(REFUSED),
      backendRx: field(RX),
      backendTx: field(TX),
    };
    for (const s of slots) {
      v.fill(0, s * FIELDS, s * FIELDS + FIELDS);
      this.marked[s] = 0;
    }
    this.touched = [];
    this.active = 0;
    this.rxBytes = 0;
    this.txBytes = 0;
    this.dirty = false;
    return d;
  }

  private add(slot: number, f: number, n: number): void {
    if (slot < 0) return;
    if (slot >= this.marked.length) this.grow(slot);
    if (this.marked[slot] === 0) {
      this.marked[slot] = 1;
      this.touched.push(slot);
    }
    const i = slot * FIELDS + f;
    this.slots[i] = (this.slots[i] as number) + n;
    this.dirty = true;
  }

  private grow(slot: number): void {
    let n = this.marked.length;
    while (n <= slot) n *= 2;
    const marked = new Uint8Array(n);
    marked.set(this.marked);
    this.marked = marked;
    const slots = new Float64Array(n * FIELDS);
    slots.set(this.slots);
    this.slots = slots;
  }
}
