import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Elector, ELECT_EMPTY } from '../../src/balance/elector.js';
import { roundRobinBalancer } from '../../src/balance/roundrobin.js';
import { SniSelector, sniRejectMessage, type SniMatching, type SniUnexpected } from '../../src/balance/sni.js';
import type { SnapshotBackend as Backend } from '../../src/core/snapshot.js';
import { compileGoRegexp } from '../../src/config/go-regexp.js';
import { ctx, load, mk, sorted } from './helpers.js';

const a = mk('10.0.0.1', 443, { sni: 'a.example' });
const b = mk('10.0.0.2', 443, { sni: 'b.example' });
const plain = mk('10.0.0.3', 443);
const re = mk('10.0.0.4', 443, { sni: '^(c|d)\\.example$' });
const all = sorted([a, b, plain, re]);

function keys(matching: SniMatching, unexpected: SniUnexpected, sni: string, list: readonly Backend[] = all): string[] | string | false {
  const sel = new SniSelector({ matching, unexpected, compile: (p) => compileGoRegexp(p) });
  const out: Backend[] = [];
  const r = sel.filter(sni, list, out);
  if (typeof r === 'string' || r === false) return r;
  return out.map((x) => x.host);
}

test('exact: case-insensitive; an unknown name per strategy (default → untagged, reject, any)', () => {
  assert.deepEqual(keys('exact', 'default', 'A.Example'), ['10.0.0.1']);
  assert.deepEqual(keys('exact', 'default', 'x.example'), ['10.0.0.3']);
  assert.equal(keys('exact', 'reject', 'x.example'), sniRejectMessage('x.example'));
  assert.equal(keys('exact', 'any', 'x.example'), false);
  // no SNI: matches untagged backends first
  assert.deepEqual(keys('exact', 'default', ''), ['10.0.0.3']);
  // no SNI and no untagged backend: default → nothing
  assert.deepEqual(keys('exact', 'default', '', [a, b]), []);
  assert.deepEqual(keys('exact', 'default', 'x.example', [a, b]), []);
});

test('regexp: unanchored like GoBetween (#184), empty tag only for empty SNI, bad patterns match nothing', () => {
  assert.deepEqual(keys('regexp', 'default', 'evil-a.example.attacker.net'), ['10.0.0.1']);
  assert.deepEqual(keys('regexp', 'default', 'd.example'), ['10.0.0.4']);
  assert.deepEqual(keys('regexp', 'default', 'zzz'), ['10.0.0.3']);
  assert.deepEqual(keys('regexp', 'reject', ''), ['10.0.0.3']);
  const onlyEmpty = mk('10.0.0.5', 1, { sni: '^$' });
  // default with a name that matches nothing: untagged plus patterns matching ''
  assert.deepEqual(keys('regexp', 'default', 'q', [a, onlyEmpty, plain]), ['10.0.0.5', '10.0.0.3']);
  const bad: string[] = [];
  const sel = new SniSelector({ matching: 'regexp', unexpected: 'reject', compile: (p) => compileGoRegexp(p), onBadPattern: (p) => bad.push(p) });
  const broken = mk('10.0.0.6', 1, { sni: '(' });
  const out: Backend[] = [];
  assert.equal(sel.filter('(', [broken], out), sniRejectMessage('('));
  sel.filter('(', [broken], out);
  assert.deepEqual(bad, ['(']);
});

test('in the elector: reject fails the election with its message; default with nothing left is "backends empty"', () => {
  const e = new Elector(roundRobinBalancer.create({ random: Math.random }), load, new SniSelector({ matching: 'exact', unexpected: 'reject' }));
  assert.equal(e.electAmong(ctx('1.2.3.4', 'nope'), all, false), sniRejectMessage('nope'));
  assert.equal((e.electAmong(ctx('1.2.3.4', 'b.example'), all, false) as Backend).host, '10.0.0.2');
  const d = new Elector(roundRobinBalancer.create({ random: Math.random }), load, new SniSelector({ matching: 'exact', unexpected: 'default' }));
  assert.equal(d.electAmong(ctx('1.2.3.4', ''), [a, b], false), ELECT_EMPTY);
});
