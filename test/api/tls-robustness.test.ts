/**
 * `[api.tls]` (HTTPS with PEM files) and robustness: malformed HTTP, aborted bodies and a slow
 * create never take the API down.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startApi } from '../../src/api/server.js';
import type { ApiWire } from '../../src/config/types.js';
import { StartError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { FakeManager } from '../metrics/fake-manager.js';
import { req } from './http.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function start(api: Partial<ApiWire>, manager = new FakeManager()): ReturnType<typeof startApi> {
  return startApi({
    api: { enabled: true, bind: '127.0.0.1:0', basic_auth: null, tls: null, cors: false, ...api },
    manager,
    info: { configuration: { kind: 'file', path: 'x' }, version: '0.0.1', startTime: new Date() },
    dump: () => '',
    log: silentLogger,
  });
}

function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => s.destroy(), 2000);
    s.on('data', (c: Buffer) => { got += c.toString(); });
    s.on('close', () => { clearTimeout(timer); resolve(got); });
    s.on('error', () => undefined);
    s.write(data);
  });
}

describe('API over HTTPS', { skip: !hasOpenssl() && 'openssl not installed' }, () => {
  it('serves the routes over TLS with the configured PEM files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsb-api-tls-'));
    try {
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      ], { stdio: 'ignore' });
      const api = await start({ tls: { cert_path: cert, key_path: key } });
      try {
        const r = await req(api.address().port, '/servers', { tls: true });
        assert.equal(r.status, 200);
        assert.equal(r.body, '{}');
        await assert.rejects(req(api.address().port, '/ping', { timeoutMs: 1000 }), 'plain HTTP is not served');
      } finally {
        await api.close();
      }
      // Go's text, naming the key (issue 12)
      await assert.rejects(start({ tls: { cert_path: join(dir, 'missing.pem'), key_path: key } }), (err: unknown) => {
        assert.ok(err instanceof StartError);
        assert.equal(err.describe(), `api.tls.cert_path: open ${join(dir, 'missing.pem')}: no such file or directory`);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('API robustness', () => {
  it('malformed requests, aborted bodies and concurrent work leave the API serving', async () => {
    const manager = new FakeManager();
    const api = await start({}, manager);
    const port = api.address().port;
    try {
      assert.match(await rawExchange(port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
      assert.match(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), /^HTTP\/1\.1 400/);
      // A body cut in the middle.
      const cut = await rawExchange(port, 'POST /servers/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"bind":');
      assert.equal(cut, '');
      // Deeply nested JSON is a decode error, not a crash.
      const deep = await req(port, '/servers/a', { method: 'POST', body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` });
      assert.ok(deep.status === 400 || deep.status === 409, `status ${deep.status}`);
      // Many requests at once, including POSTs.
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? req(port, `/servers/s${i}`, { method: 'POST', body: JSON.stringify({ bind: `127.0.0.1:${1000 + i}` }) })
            : req(port, '/servers'),
        ),
      );
      for (const r of replies) assert.equal(r.status, 200);
      assert.equal(manager.names().length, 10);
      assert.equal((await req(port, '/ping')).body, 'OK');
    } finally {
      await api.close();
    }
  });
});
