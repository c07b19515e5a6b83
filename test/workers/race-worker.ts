/** Test fixture thread for shared-active.test.ts: races for a limited backend slot. */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedActiveTable } from '../../src/workers/shared-active.js';

const d = workerData as { sab: SharedArrayBuffer; column: number; violations: Int32Array; rounds: number };
const t = new SharedActiveTable(d.sab, 2, d.column);
let got = 0;
// Both threads start together (`violations[2]` counts the ready ones), so that they race.
Atomics.add(d.violations, 2, 1);
while (Atomics.load(d.violations, 2) < 2) Atomics.wait(d.violations, 3, 0, 1);
// Each round a thread tries to hold three leases at once: two threads could reach six if the
// limit were checked per thread. `violations[1]` counts the leases granted and not yet released
// (the row sum itself may briefly include a competitor's +1 that it is about to take back).
// A thread descheduled while it holds all three starves the other for that time slice, so a
// thread goes on past `rounds` until it got some leases itself (for at most 10 s).
const deadline = Date.now() + 10_000;
for (let i = 0; i < d.rounds || (got < 1000 && Date.now() < deadline); i++) {
  let held = 0;
  for (let k = 0; k < 3; k++) {
    if (!t.acquire(1, 3)) continue;
    held++;
    got++;
    if (Atomics.add(d.violations, 1, 1) + 1 > 3) Atomics.add(d.violations, 0, 1);
  }
  for (; held > 0; held--) {
    Atomics.sub(d.violations, 1, 1);
    t.release(1);
  }
}
parentPort?.postMessage(got);
