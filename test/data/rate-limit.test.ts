import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogLimiter } from '../../src/data/rate-limit.js';

test('LogLimiter: burst per window, then reports what it dropped', () => {
  let now = 0;
  const l = new LogLimiter(2, 1000, () => now);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), -1);
  assert.equal(l.take(), -1);
  now = 1000;
  assert.equal(l.take(), 2);
  assert.equal(l.take(), 0);
  assert.equal(l.take(), -1);
});
