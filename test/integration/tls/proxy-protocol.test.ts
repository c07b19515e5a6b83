/**
 * PROXY protocol with real HAProxy (Debian's):
 * - HAProxy as the backend (`accept-proxy`) reports the client's address for v1 and v2, the
 *   client bound to 127.0.0.5; with backends_tls the header comes before the TLS handshake
 *   (`accept-proxy ssl`, fix D10).
 * - HAProxy as the upstream (`send-proxy`, `send-proxy-v2`) in front of tsbetween with
 *   accept_proxy_protocol: the backend sees the client's address, an access rule on it applies,
 *   a client without a header is closed, a peer outside `from` is closed.
 * - Three tsbetween instances behind one HAProxy (send-proxy-v2, round robin) with iphash1: a
 *   client address reaches the same backend through every instance.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort } from '../../helpers/cli.js';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { HAPROXY, HAPROXY_DEFAULTS, startHaproxy } from './haproxy.js';
import { plainBackend, startTsb, staticList, tcpRequest, type Tsb } from './harness.js';

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

const HTTP = 'GET / HTTP/1.0\r\n\r\n';

test('HAProxy backend with accept-proxy sees the client address (v1, v2, v2 before TLS)', async (t) => {
  if (HAPROXY === undefined) return t.skip('haproxy not installed');
  if (pki === undefined) return t.skip('openssl not installed');
  const [plain, ssl] = [await freePort(), await freePort()];
  const ha = await startHaproxy(`${HAPROXY_DEFAULTS}
  mode http
frontend plain
  bind 127.0.0.1:${plain} accept-proxy
  http-request return status 200 content-type text/plain lf-string "src=%[src] dst=%[dst]"
frontend tls
  bind 127.0.0.1:${ssl} accept-proxy ssl crt ${pki.combined}
  http-request return status 200 content-type text/plain lf-string "tls src=%[src] dst=%[dst]"
`, [plain, ssl]);
  let tsb: Tsb | undefined;
  try {
    tsb = await startTsb({
      v1: { proxy_protocol: { version: '1' }, discovery: staticList([`127.0.0.1:${plain}`]) },
      v2: { proxy_protocol: { version: '2' }, discovery: staticList([`127.0.0.1:${plain}`]) },
      v2tls: { proxy_protocol: { version: '2' }, backends_tls: { root_ca_cert_path: pki.ca }, discovery: staticList([`127.0.0.1:${ssl}`]) },
      v1tls: { proxy_protocol: { version: '1' }, backends_tls: { root_ca_cert_path: pki.ca }, discovery: staticList([`127.0.0.1:${ssl}`]) },
    });
    for (const name of ['v1', 'v2']) {
      const r = await tcpRequest(tsb.ports[name] as number, HTTP, '127.0.0.5');
      assert.match(r, new RegExp(`src=127\\.0\\.0\\.5 dst=127\\.0\\.0\\.1$`), `${name}: ${r}`);
    }
    for (const name of ['v1tls', 'v2tls']) {
      const r = await tcpRequest(tsb.ports[name] as number, HTTP, '127.0.0.5');
      assert.match(r, /tls src=127\.0\.0\.5 dst=127\.0\.0\.1$/, `${name}: ${r}\n${ha.output()}`);
    }
  } finally {
    await tsb?.close();
    await ha.stop();
  }
});

test('HAProxy upstream with send-proxy / send-proxy-v2 in front of accept_proxy_protocol', async (t) => {
  if (HAPROXY === undefined) return t.skip('haproxy not installed');
  const be = await plainBackend((d) => d.toString('latin1').split('\r\n')[0] ?? '');
  const [u1, u2] = [await freePort(), await freePort()];
  let tsb: Tsb | undefined;
  let ha: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  try {
    tsb = await startTsb({
      s: {
        accept_proxy_protocol: { from: ['127.0.0.1/32'], timeout: '500ms' },
        access: { default: 'allow', rules: ['deny 127.0.0.6'] },
        proxy_protocol: { version: '1' },
        discovery: staticList([`127.0.0.1:${be.port}`]),
      },
    });
    const port = tsb.ports['s'] as number;
    ha = await startHaproxy(`${HAPROXY_DEFAULTS}
  mode tcp
frontend up1
  bind 127.0.0.1:${u1}
  default_backend tsb1
frontend up2
  bind 127.0.0.1:${u2}
  default_backend tsb2
backend tsb1
  server t 127.0.0.1:${port} send-proxy
backend tsb2
  server t 127.0.0.1:${port} send-proxy-v2
`, [u1, u2]);
    for (const up of [u1, u2]) {
      const r = await tcpRequest(up, 'hello', '127.0.0.5');
      assert.match(r, /^PROXY TCP4 127\.0\.0\.5 127\.0\.0\.1 \d+ \d+$/, `via ${up}: ${r}`);
      assert.equal(await tcpRequest(up, 'hello', '127.0.0.6'), '', 'the access rule applies to the real client');
    }
    // a client without a header (directly), within the from list: closed after the timeout
    assert.equal(await tcpRequest(port, 'hello'), '');
    // a peer outside `from`, even with a valid header: closed
    assert.equal(await tcpRequest(port, 'PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\nhello', '127.0.0.7'), '');
    const rejected = tsb.logs.filter((l) => l.includes('PROXY header rejections so far'));
    assert.ok(rejected.some((l) => l.includes('no PROXY protocol header')), rejected.join('\n'));
    assert.ok(rejected.some((l) => l.includes('127.0.0.7') && l.includes('not in accept_proxy_protocol.from')), rejected.join('\n'));
  } finally {
    await ha?.stop();
    await tsb?.close();
    await be.close();
  }
});

test('three tsbetween instances behind one HAProxy (send-proxy-v2, roundrobin), iphash1: same client → same backend', async (t) => {
  if (HAPROXY === undefined) return t.skip('haproxy not installed');
  const backends = await Promise.all(['b1', 'b2', 'b3'].map((id) => plainBackend(() => id)));
  const list = staticList(backends.map((b) => `127.0.0.1:${b.port}`));
  const instances: Tsb[] = [];
  let ha: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  try {
    for (let i = 0; i < 3; i++) {
      instances.push(await startTsb({ s: { balance: 'iphash1', accept_proxy_protocol: { from: ['127.0.0.1'] }, discovery: list } }));
    }
    const front = await freePort();
    ha = await startHaproxy(`${HAPROXY_DEFAULTS}
  mode tcp
frontend fe
  bind 127.0.0.1:${front}
  default_backend tsb
backend tsb
  balance roundrobin
${instances.map((x, i) => `  server t${i} 127.0.0.1:${x.ports['s'] as number} send-proxy-v2`).join('\n')}
`, [front]);
    const used = new Set<string>();
    for (let c = 5; c <= 12; c++) {
      const ip = `127.0.0.${c}`;
      const replies = new Set<string>();
      for (let k = 0; k < 6; k++) replies.add(await tcpRequest(front, 'x', ip));
      assert.equal(replies.size, 1, `${ip}: ${[...replies].join(',')}`);
      const [only] = [...replies];
      assert.match(only ?? '', /^b[123]$/);
      used.add(only ?? '');
    }
    assert.ok(used.size >= 2, `8 clients spread over ${used.size} backend(s)`);
    // every instance took connections (round robin), so the property held through each of them
    for (const x of instances) {
      const st = x.app.manager.stats('s') as unknown as { backends: Array<{ stats: { total_connections: number } }> };
      assert.ok(st.backends.reduce((n, b) => n + b.stats.total_connections, 0) > 0);
    }
  } finally {
    await ha?.stop();
    for (const x of instances) await x.close();
    await Promise.all(backends.map((b) => b.close()));
  }
});
