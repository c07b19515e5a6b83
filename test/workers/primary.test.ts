/** Pure parts of the multi-core port (src/workers/primary.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPort } from '../../src/workers/bind.js';

test('the port worker 0 bound replaces port 0 in the bind the threads use', () => {
  assert.equal(withPort('127.0.0.1:0', 41000), '127.0.0.1:41000');
  assert.equal(withPort(':0', 41000), ':41000');
  assert.equal(withPort('0.0.0.0:0', 5), '0.0.0.0:5');
  assert.equal(withPort('[::1]:0', 41000), '[::1]:41000');
  assert.equal(withPort('[::]:3000', 3000), '[::]:3000');
  assert.equal(withPort('localhost:0', 7), 'localhost:7');
  // Not a host:port: left as is (the listener reports the error in Go's words).
  assert.equal(withPort('nonsense', 7), 'nonsense');
});
