/**
 * The in-process `ActiveTable` (core/snapshot.ts): active-connection counts of one server and of
 * each backend slot, in a growable Int32Array. Exact because one thread runs every check and
 * increment; a shared-memory version (Atomics over a SharedArrayBuffer) keeps the same contract
 * across workers.
 */
import type { ActiveTable } from '../core/snapshot.js';

export class LocalActiveTable implements ActiveTable {
  private server = 0;
  private counts: Int32Array = new Int32Array(16);

  admit(max: number): boolean {
    if (max !== 0 && (max < 0 || this.server >= max)) return false;
    this.server++;
    return true;
  }

  leave(): void {
    this.server--;
  }

  serverActive(): number {
    return this.server;
  }

  acquire(slot: number, max: number): boolean {
    let c = this.counts;
    if (slot >= c.length) c = this.grow(slot);
    const n = c[slot] as number;
    if (max > 0 && n >= max) return false;
    c[slot] = n + 1;
    return true;
  }

  release(slot: number): void {
    const c = this.counts;
    if (slot < c.length) c[slot] = (c[slot] as number) - 1;
  }

  active(slot: number): number {
    const c = this.counts;
    return slot < c.length ? (c[slot] as number) : 0;
  }

  private grow(slot: number): Int32Array {
    let n = this.counts.length;
    while (n <= slot) n *= 2;
    const c = new Int32Array(n);
    c.set(this.counts);
    this.counts = c;
    return c;
  }
}
