import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INITIAL_STATE, nextState, type HealthStatus, type HysteresisState, type Thresholds } from '../../src/healthcheck/hysteresis.js';

const H: HealthStatus = 'healthy';
const U: HealthStatus = 'unhealthy';
const X: HealthStatus = 'unchanged';

/** Runs results through the machine from a start state; returns the confirmed state after each. */
function run(start: HysteresisState, results: HealthStatus[], t: Thresholds): string[] {
  const out: string[] = [];
  let s = start;
  for (const r of results) {
    s = nextState(s, r, t);
    out.push(s.confirmed);
  }
  return out;
}

const healthy: HysteresisState = { confirmed: 'healthy', passes: 0, fails: 0 };
const unhealthy: HysteresisState = { confirmed: 'unhealthy', passes: 0, fails: 0 };

const cases: Array<{ name: string; start: HysteresisState; t: Thresholds; results: HealthStatus[]; expect: string[] }> = [
  { name: 'first result confirms at once with 1/1', start: INITIAL_STATE, t: { passes: 1, fails: 1 }, results: [H], expect: ['healthy'] },
  { name: 'first failure confirms at once with 1/1', start: INITIAL_STATE, t: { passes: 1, fails: 1 }, results: [U], expect: ['unhealthy'] },
  { name: 'initial needs `passes` successes', start: INITIAL_STATE, t: { passes: 3, fails: 1 }, results: [H, H, H], expect: ['initial', 'initial', 'healthy'] },
  { name: 'initial: a failure breaks the pass streak', start: INITIAL_STATE, t: { passes: 2, fails: 2 }, results: [H, U, H, H], expect: ['initial', 'initial', 'initial', 'healthy'] },
  { name: 'healthy -> dead after 3 consecutive failures', start: healthy, t: { passes: 1, fails: 3 }, results: [U, U, U], expect: ['healthy', 'healthy', 'unhealthy'] },
  // D24 / Q-21: GoBetween would confirm unhealthy at the third (non-consecutive) failure.
  { name: 'interleaved successes reset the fail streak', start: healthy, t: { passes: 1, fails: 3 }, results: [U, H, U, H, U], expect: ['healthy', 'healthy', 'healthy', 'healthy', 'healthy'] },
  { name: 'alternating never trips 2 (from healthy)', start: healthy, t: { passes: 2, fails: 2 }, results: [U, H, U, H, U, H, U, H], expect: new Array<string>(8).fill('healthy') },
  { name: 'alternating never trips 2 (from unhealthy)', start: unhealthy, t: { passes: 2, fails: 2 }, results: [H, U, H, U, H, U], expect: new Array<string>(6).fill('unhealthy') },
  { name: 'dead -> live after `passes` consecutive successes', start: unhealthy, t: { passes: 2, fails: 1 }, results: [H, H], expect: ['unhealthy', 'healthy'] },
  { name: 'a confirming failure resets the pass streak', start: unhealthy, t: { passes: 3, fails: 1 }, results: [H, H, U, H, H, H], expect: ['unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy'] },
  { name: 'unchanged neither extends nor breaks a streak', start: healthy, t: { passes: 1, fails: 2 }, results: [U, X, U], expect: ['healthy', 'healthy', 'unhealthy'] },
  { name: 'unchanged from initial stays initial', start: INITIAL_STATE, t: { passes: 1, fails: 1 }, results: [X, X], expect: ['initial', 'initial'] },
  // Q-19 fix: GoBetween would turn a confirmed healthy backend dead on "other output".
  { name: 'unchanged never flips a confirmed state', start: healthy, t: { passes: 1, fails: 1 }, results: [X, X, X], expect: ['healthy', 'healthy', 'healthy'] },
  { name: 'flapping back and forth with 1/1', start: healthy, t: { passes: 1, fails: 1 }, results: [U, H, U], expect: ['unhealthy', 'healthy', 'unhealthy'] },
  { name: 'thresholds below 1 behave as 1', start: healthy, t: { passes: 0, fails: 0 }, results: [U, H], expect: ['unhealthy', 'healthy'] },
];

for (const c of cases) {
  test(`hysteresis: ${c.name}`, () => {
    assert.deepEqual(run(c.start, c.results, c.t), c.expect);
  });
}

test('hysteresis: counters after each step', () => {
  const t = { passes: 3, fails: 3 };
  let s = nextState(healthy, U, t);
  assert.deepEqual(s, { confirmed: 'healthy', passes: 0, fails: 1 });
  s = nextState(s, U, t);
  assert.deepEqual(s, { confirmed: 'healthy', passes: 0, fails: 2 });
  s = nextState(s, H, t);
  assert.deepEqual(s, { confirmed: 'healthy', passes: 0, fails: 0 });
  s = nextState(s, U, t);
  s = nextState(s, U, t);
  s = nextState(s, U, t);
  assert.deepEqual(s, { confirmed: 'unhealthy', passes: 0, fails: 0 });
});

test('hysteresis: pure (inputs never mutated, same object when nothing changes)', () => {
  const start = Object.freeze({ confirmed: 'healthy' as const, passes: 0, fails: 0 });
  assert.equal(nextState(start, H, { passes: 1, fails: 1 }), start);
  assert.equal(nextState(start, X, { passes: 1, fails: 1 }), start);
  const mid = Object.freeze({ confirmed: 'healthy' as const, passes: 0, fails: 1 });
  const after = nextState(mid, U, { passes: 1, fails: 3 });
  assert.deepEqual(mid, { confirmed: 'healthy', passes: 0, fails: 1 });
  assert.deepEqual(after, { confirmed: 'healthy', passes: 0, fails: 2 });
});
