/** Small helpers shared by the health-check kinds. */

/** `connect ECONNREFUSED`, `read ETIMEDOUT`, ... : the step and the error code (or message). */
export function socketError(step: string, err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return `${step} ${typeof code === 'string' ? code : err.message}`;
  }
  return `${step} ${String(err)}`;
}

/** The reason an aborted check gives: the abort reason's message ("health check timeout"). */
export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message;
  return typeof r === 'string' ? r : 'aborted';
}
