import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { plainBackend, startTsb, staticList, tlsRequest, tcpRequest } from './harness.js';

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

test('smoke: termination, proxy out, accept proxy', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const be = await plainBackend((d) => `got:${d.toString('latin1')}`);
  const tsb = await startTsb({
    term: { protocol: 'tls', tls: { cert_path: pki.cert, key_path: pki.key }, proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
    acc: { accept_proxy_protocol: {}, proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${be.port}`]) },
  });
  try {
    const r = await tlsRequest(tsb.ports['term'] as number, { ca: readFileSync(pki.ca), rejectUnauthorized: true });
    assert.match(r.reply, /^got:PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nhi$/, JSON.stringify(r));
    const r2 = await tcpRequest(tsb.ports['acc'] as number, 'PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello');
    assert.equal(r2, `got:PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello`);
    const r3 = await tcpRequest(tsb.ports['acc'] as number, 'hello');
    assert.equal(r3, '');
  } finally {
    await tsb.close();
    await be.close();
  }
});
