/**
 * Active-connection counts of one server shared by every worker thread: an Int32Array over a
 * SharedArrayBuffer, one row per counter (row 0: the server's connections; row 1 + slot: backend
 * slot `slot`) and one column per worker. A worker only ever changes its own column, with Atomics;
 * a count is the sum of its row.
 *
 * - Limits (server and backend `max_connections`) are never exceeded across workers: a worker adds
 *   its +1 first, then sums the row; if the sum is over the limit it takes the +1 back and refuses.
 *   Every admitted connection's +1 is visible to every later check (Atomics are sequentially
 *   consistent), so at most `max` connections hold a row at once. The price: when two workers race
 *   for the last free place at the same instant, both may refuse (neither exceeds).
 * - A worker that dies (crash, terminate) leaves its column behind; the primary zeroes it once the
 *   thread is gone (`clearColumn`), which releases every lease the worker held, whatever point its
 *   code had reached.
 * - Rows are appended as slots grow: the buffer is growable where the runtime supports it (Node ≥ 20
 *   has growable SharedArrayBuffers); a slot beyond the rows would be counted in its worker only
 *   (`overflow`), which does not happen while `ensureRows` runs before each snapshot is posted.
 */
import type { ActiveTable, BackendSnapshot } from '../core/snapshot.js';

/** Rows allocated at first; more are added (growable buffer) when a snapshot needs them. */
const INITIAL_ROWS = 64;
/** Upper bound of rows per server (reserved address space only: 4 bytes × workers × rows). */
const MAX_ROWS = 1 + 65_536;

interface GrowableSab extends SharedArrayBuffer {
  readonly growable?: boolean;
  readonly maxByteLength?: number;
  grow?(newLength: number): void;
}

type SabConstructor = new (length: number, options?: { maxByteLength: number }) => SharedArrayBuffer;

/** Allocates the shared counters of one server for `columns` workers. */
export function allocateShared(columns: number, rows = INITIAL_ROWS): SharedArrayBuffer {
  const Ctor = SharedArrayBuffer as SabConstructor;
  const bytes = rows * columns * 4;
  try {
    const sab = new Ctor(bytes, { maxByteLength: MAX_ROWS * columns * 4 }) as GrowableSab;
    if (sab.growable === true) return sab;
  } catch {
    // no growable buffers: a fixed one with room for many backends
  }
  return new SharedArrayBuffer(Math.max(bytes, 4096 * columns * 4));
}

/** Rows the buffer holds now. */
export function rowsOf(sab: SharedArrayBuffer, columns: number): number {
  return Math.floor(sab.byteLength / 4 / columns);
}

/**
 * Makes room for backend slots up to `maxSlot` (primary side, before posting a snapshot that
 * uses them). Returns false when the buffer cannot grow that far.
 */
export function ensureRows(sab: SharedArrayBuffer, columns: number, maxSlot: number): boolean {
  const need = maxSlot + 2;
  if (rowsOf(sab, columns) >= need) return true;
  const g = sab as GrowableSab;
  if (g.growable !== true || g.grow === undefined || g.maxByteLength === undefined) return false;
  let rows = Math.max(rowsOf(sab, columns), 1);
  while (rows < need) rows *= 2;
  const bytes = Math.min(rows * columns * 4, g.maxByteLength);
  if (bytes < need * columns * 4) return false;
  g.grow(bytes);
  return true;
}

/** The sum of one row (primary side: stats of what the workers hold now). */
export function rowSum(view: Int32Array, columns: number, row: number): number {
  const base = row * columns;
  if (base + columns > view.length) return 0;
  let sum = 0;
  for (let i = 0; i < columns; i++) sum += Atomics.load(view, base + i);
  return sum;
}

/**
 * Zeroes worker `column`'s share of every row (primary side, once that worker thread has exited)
 * and returns what it held: [server connections, then per row 1.. the backend slot counts].
 */
export function clearColumn(sab: SharedArrayBuffer, columns: number, column: number): { server: number; slots: Map<number, number> } {
  const view = new Int32Array(sab);
  const rows = Math.floor(view.length / columns);
  let server = 0;
  const slots = new Map<number, number>();
  for (let r = 0; r < rows; r++) {
    const held = Atomics.exchange(view, r * columns + column, 0);
    if (held === 0) continue;
    if (r === 0) server = held;
    else slots.set(r - 1, held);
  }
  return { server, slots };
}

/**
 * The worker side: `ActiveTable` over the shared counters, writing column `column` only.
 *
 * The view has a fixed length and is made again when the buffer has grown: a view that tracks a
 * growable buffer's length makes every Atomics call ask the buffer for its current length (a
 * call into the runtime, measured at ~1 % of a worker's CPU on new connections).
 */
export class SharedActiveTable implements ActiveTable {
  private view: Int32Array;
  /** Counts of slots beyond the shared rows (only if the buffer could not grow). */
  private readonly overflow = new Map<number, number>();

  constructor(private readonly sab: SharedArrayBuffer, private readonly columns: number, private readonly column: number) {
    this.view = new Int32Array(sab, 0, sab.byteLength >> 2);
  }

  /** Whether `row` is in the buffer (making the view again if the buffer grew to include it). */
  private has(row: number): boolean {
    const need = (row + 1) * this.columns;
    if (need <= this.view.length) return true;
    const now = this.sab.byteLength >> 2;
    if (now > this.view.length) this.view = new Int32Array(this.sab, 0, now);
    return need <= this.view.length;
  }

  admit(max: number): boolean {
    if (max < 0) return false;
    return this.take(0, max);
  }

  leave(): void {
    Atomics.sub(this.view, this.column, 1);
  }

  serverActive(): number {
    return this.sum(0);
  }

  acquire(slot: number, max: number): boolean {
    const row = slot + 1;
    if (!this.has(row)) {
      const n = this.overflow.get(slot) ?? 0;
      if (max > 0 && n >= max) return false;
      this.overflow.set(slot, n + 1);
      return true;
    }
    return this.take(row, max);
  }

  release(slot: number): void {
    const row = slot + 1;
    if (!this.has(row)) {
      const n = this.overflow.get(slot) ?? 0;
      if (n <= 1) this.overflow.delete(slot);
      else this.overflow.set(slot, n - 1);
      return;
    }
    Atomics.sub(this.view, row * this.columns + this.column, 1);
  }

  active(slot: number): number {
    const row = slot + 1;
    if (!this.has(row)) return this.overflow.get(slot) ?? 0;
    return this.sum(row);
  }

  private take(row: number, max: number): boolean {
    const view = this.view;
    const mine = row * this.columns + this.column;
    Atomics.add(view, mine, 1);
    if (max > 0 && this.sum(row) > max) {
      Atomics.sub(view, mine, 1);
      return false;
    }
    return true;
  }

  private sum(row: number): number {
    const view = this.view;
    const base = row * this.columns;
    let s = 0;
    for (let i = 0; i < this.columns; i++) s += Atomics.load(view, base + i);
    return s;
  }
}

/** The highest backend slot of a snapshot (-1 when empty): rows must reach it. */
export function maxSlot(s: BackendSnapshot): number {
  let m = -1;
  for (const b of s.backends) if (b.slot > m) m = b.slot;
  return m;
}
