import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idleVerdict, type IdleState } from '../../src/data/idle.js';

const base: IdleState = {
  clientIdle: 1000,
  backendIdle: 1000,
  flushLinger: 1000,
  clientEof: false,
  backendEof: false,
  lastClient: 0,
  lastBackend: 0,
  toBackend: 0,
  toClient: 0,
  lastFlush: 0,
};

test('idle verdict table', () => {
  const rows: Array<[string, Partial<IdleState>, number, ReturnType<typeof idleVerdict>]> = [
    ['fresh pair: next check at the nearest deadline', {}, 0, 1000],
    ['client quiet too long', { lastBackend: 900 }, 1000, 'client'],
    ['backend quiet too long', { lastClient: 900 }, 1000, 'backend'],
    ['both recent: the earlier remaining time', { lastClient: 700, lastBackend: 500 }, 1000, 500],
    ['no timeouts: no timer', { clientIdle: 0, backendIdle: 0 }, 5000, Infinity],
    ['only a client timeout', { backendIdle: 0, lastClient: 400 }, 1000, 400],
    // blocked directions
    ['client direction blocked on the backend, backend can still end the pair: not idle',
      { toBackend: 10, lastBackend: 500 }, 1200, 300],
    ['backend direction blocked on the client, client can still end it: not idle',
      { toClient: 10, lastClient: 500 }, 1200, 300],
    ['blocked on the backend but the backend has no timeout: blocked time counts',
      { backendIdle: 0, toBackend: 10 }, 1000, 'client'],
    ['blocked on a half-closed client (it sent FIN, never reads): blocked time counts',
      { clientEof: true, toClient: 10 }, 1000, 'backend'],
    ['blocked on a half-closed backend: blocked time counts',
      { backendEof: true, toBackend: 10 }, 1000, 'client'],
    // half-close
    ['client sent FIN: only the backend timer runs', { clientEof: true, lastBackend: 300 }, 1000, 300],
    ['backend sent FIN: only the client timer runs', { backendEof: true, lastClient: 200 }, 1000, 200],
    // both FINs: flush linger
    ['both FINs, flushing recently', { clientEof: true, backendEof: true, lastFlush: 800 }, 1000, 800],
    ['both FINs, no flush progress for the linger', { clientEof: true, backendEof: true, lastFlush: 0 }, 1000, 'flush'],
    ['both FINs without idle timeouts still linger-bounded',
      { clientIdle: 0, backendIdle: 0, flushLinger: 60_000, clientEof: true, backendEof: true }, 60_000, 'flush'],
  ];
  for (const [name, patch, now, want] of rows) {
    assert.equal(idleVerdict({ ...base, ...patch }, now), want, name);
  }
});
