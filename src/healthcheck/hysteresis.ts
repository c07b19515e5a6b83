/**
 * The passes/fails state machine of one health-check target (data-plane §12.2), as a pure
 * function so it can be table-tested.
 *
 * Like GoBetween, a target starts in a third state, `initial`, that is neither healthy nor
 * unhealthy: the first results after a worker starts always count towards a confirmation, so with
 * `initial_status = "unhealthy"` and `passes = N` a new backend gets traffic after N successes.
 *
 * Deliberate fix (D24 / Q-21): the streaks are truly consecutive. GoBetween ignores a result equal
 * to the confirmed state without touching the counters, so with `fails = 3` the sequence
 * fail, ok, fail, ok, fail marks a healthy backend dead. Here every result resets the opposite
 * streak, including a result that merely confirms the current state, so alternating results never
 * trip a threshold of 2 or more.
 *
 * `unchanged` (exec output matching neither expected value, Q-19 / D27 fix) leaves the state
 * exactly as it was: it neither extends nor breaks a streak.
 */

/** What one check reports. */
export type HealthStatus = 'healthy' | 'unhealthy' | 'unchanged';

/** The confirmed state of a target. */
export type ConfirmedState = 'initial' | 'healthy' | 'unhealthy';

export interface HysteresisState {
  readonly confirmed: ConfirmedState;
  /** Consecutive healthy results not yet confirmed. */
  readonly passes: number;
  /** Consecutive unhealthy results not yet confirmed. */
  readonly fails: number;
}

export interface Thresholds {
  /** Consecutive successes needed to confirm healthy (≥ 1). */
  readonly passes: number;
  /** Consecutive failures needed to confirm unhealthy (≥ 1). */
  readonly fails: number;
}

export const INITIAL_STATE: HysteresisState = Object.freeze({ confirmed: 'initial', passes: 0, fails: 0 });

/** Applies one check result. Returns the same object when nothing changes. */
export function nextState(state: HysteresisState, result: HealthStatus, t: Thresholds): HysteresisState {
  if (result === 'unchanged') return state;
  if (result === state.confirmed) {
    // Confirms the current state: any streak towards the other state is broken.
    if (state.passes === 0 && state.fails === 0) return state;
    return { confirmed: state.confirmed, passes: 0, fails: 0 };
  }
  if (result === 'healthy') {
    const passes = state.passes + 1;
    if (passes >= Math.max(1, t.passes)) return { confirmed: 'healthy', passes: 0, fails: 0 };
    return { confirmed: state.confirmed, passes, fails: 0 };
  }
  const fails = state.fails + 1;
  if (fails >= Math.max(1, t.fails)) return { confirmed: 'unhealthy', passes: 0, fails: 0 };
  return { confirmed: state.confirmed, passes: 0, fails };
}
