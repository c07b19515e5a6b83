/** Waiting in tests: poll a condition with a deadline, never assert after a fixed sleep. */

/** Resolves after `ms` (for pacing only; never sleep-then-assert). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once `cond()` is true (it may be async); rejects with `what` after `timeoutMs`.
 * Polls every `everyMs`.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
