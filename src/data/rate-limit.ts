/**
 * A log rate limiter for hot-path failures (connection floods, accept errors): at most `burst`
 * messages per window; the first message of a later window reports how many were dropped.
 */
export class LogLimiter {
  private windowStart = -Infinity;
  private used = 0;
  private dropped = 0;

  constructor(
    private readonly burst = 5,
    private readonly windowMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Returns -1 when the message must be dropped, otherwise the number of messages dropped
   * since the last one that was let through (0 usually).
   */
  take(): number {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used >= this.burst) {
      this.dropped++;
      return -1;
    }
    this.used++;
    const d = this.dropped;
    this.dropped = 0;
    return d;
  }
}
