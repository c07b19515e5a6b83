/**
 * A fake clock for code that takes injected timers (DESIGN rule 7), e.g. the discovery runner's
 * `RunnerTimers`: nothing fires until the test advances time, so "nothing else happened" is
 * checked without sleeping.
 */

interface Entry {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

export interface FakeHandle {
  unref(): FakeHandle;
  readonly id: number;
}

/** Lets pending promise callbacks (and I/O-free async work) run. */
export async function flushMicrotasks(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeTimers {
  private now = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Entry>();

  /** Fake time in ms since creation. */
  get time(): number {
    return this.now;
  }

  /** Timers not yet fired or cleared. */
  get size(): number {
    return this.pending.size;
  }

  readonly setTimeout = (fn: () => void, ms: number): FakeHandle => {
    const id = this.nextId++;
    this.pending.set(id, { id, at: this.now + Math.max(0, ms), fn });
    const handle: FakeHandle = { id, unref: () => handle };
    return handle;
  };

  readonly clearTimeout = (handle: { unref(): unknown }): void => {
    this.pending.delete((handle as FakeHandle).id);
  };

  /** Moves time forward by `ms`, firing due timers in order and letting async work settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await flushMicrotasks();
    for (;;) {
      let next: Entry | undefined;
      for (const e of this.pending.values()) if (e.at <= end && (next === undefined || e.at < next.at || (e.at === next.at && e.id < next.id))) next = e;
      if (next === undefined) break;
      this.pending.delete(next.id);
      this.now = next.at;
      next.fn();
      await flushMicrotasks();
    }
    this.now = end;
  }
}
