import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeRequest, takeResponse, udpMode, type Exchange, type UdpLimits } from '../../../src/data/udp/accounting.js';

const L = (maxRequests: number, maxResponses: number): UdpLimits => ({ maxRequests, maxResponses });

test('mode: only max_requests = 1 with max_responses = 0 is fire-and-forget (GoBetween compatible)', () => {
  const cases: [number, number, string][] = [
    [1, 0, 'fire-and-forget'],
    [1, 1, 'session'], // GitHub #167 fix: one request and its responses
    [1, 3, 'session'],
    [0, 0, 'session'],
    [0, 1, 'session'],
    [2, 0, 'session'],
    [5, 2, 'session'],
  ];
  for (const [r, p, mode] of cases) assert.equal(udpMode(L(r, p)), mode, `R=${r} P=${p}`);
});

/**
 * Scripts: 'q' = a client datagram, 'r' = a backend datagram. Expected outcome letters:
 * 'F' forwarded request, 'N' request refused (session full: a new session takes it),
 * 'r' response relayed, 'E' response relayed and the session ends.
 */
function run(l: UdpLimits, script: string): string {
  const s: Exchange = { requests: 0, responses: 0 };
  let out = '';
  for (const ev of script) {
    if (ev === 'q') out += takeRequest(s, l) ? 'F' : 'N';
    else out += takeResponse(s, l) ? 'E' : 'r';
  }
  return out;
}

test('request/response accounting, table', () => {
  const cases: [string, number, number, string, string][] = [
    // [name, R, P, script, expected]
    ['no limits: nothing ends a session', 0, 0, 'qrqrqr', 'FrFrFr'],
    ['P=1, one query', 0, 1, 'qr', 'FE'],
    // GoBetween ends on the first response and loses the second answer (§7.6); nginx's rule waits.
    ['P=1, two parallel queries (glibc A/AAAA)', 0, 1, 'qqrr', 'FFrE'],
    ['P=2, one query, two responses', 0, 2, 'qrr', 'FrE'],
    ['P=2, two queries need four responses', 0, 2, 'qqrrrr', 'FFrrrE'],
    // GitHub #167: R=1, P>=1 is one request and its responses; a second datagram goes elsewhere.
    ['R=1 P=1', 1, 1, 'qr', 'FE'],
    ['R=1 P=1, second datagram needs a new session', 1, 1, 'qq', 'FN'],
    ['R=1 P=2', 1, 2, 'qrr', 'FrE'],
    // R=N>1 is enforced (GoBetween forwards everything, only logging).
    ['R=2 P=0: third datagram refused', 2, 0, 'qqq', 'FFN'],
    ['R=2 P=0: responses never end it', 2, 0, 'qrqrr', 'FrFrr'],
    // With R, the session waits for its R requests before P can end it (nginx).
    ['R=2 P=1: first answer does not end it', 2, 1, 'qrqr', 'FrFE'],
    ['R=3 P=1', 3, 1, 'qrqrqr', 'FrFrFE'],
  ];
  for (const [name, r, p, script, want] of cases) assert.equal(run(L(r, p), script), want, name);
});
