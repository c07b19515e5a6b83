/** Process helpers shared by the exec discovery and exec health-check tests. */

/** Whether process `pid` still exists (signal 0 succeeds). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
