import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { startHttpChallenge } from '../../src/acme/http-challenge.js';
import { silentLogger } from '../../src/core/log.js';

function call(port: number, method: string, path: string, host = 'a.test'): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('ACME HTTP-01 listener', () => {
  it('answers tokens, redirects GET/HEAD to https, refuses other methods with 400 Use HTTPS', async () => {
    const tokens = new Map([['tok-1', 'tok-1.thumb']]);
    const l = await startHttpChallenge({ bind: '127.0.0.1:0', tokens: (t) => tokens.get(t), log: silentLogger });
    const port = l.address().port;
    try {
      assert.deepEqual(await call(port, 'GET', '/.well-known/acme-challenge/tok-1'), { status: 200, location: undefined, body: 'tok-1.thumb' });
      assert.equal((await call(port, 'GET', '/.well-known/acme-challenge/other')).status, 404);
      const get = await call(port, 'GET', '/x/y?z=1', 'a.test:80');
      assert.equal(get.status, 302);
      assert.equal(get.location, 'https://a.test/x/y?z=1');
      const head = await call(port, 'HEAD', '/', '[::1]:8080');
      assert.equal(head.status, 302);
      assert.equal(head.location, 'https://[::1]/');
      const post = await call(port, 'POST', '/form');
      assert.equal(post.status, 400);
      assert.equal(post.body, 'Use HTTPS\n');
      assert.equal((await call(port, 'GET', '/', 'bad host"')).status, 400);
    } finally {
      await l.close();
    }
  });

  it('a listen error is Go-worded', async () => {
    const a = await startHttpChallenge({ bind: '127.0.0.1:0', tokens: () => undefined, log: silentLogger });
    try {
      await assert.rejects(
        startHttpChallenge({ bind: `127.0.0.1:${a.address().port}`, tokens: () => undefined, log: silentLogger }),
        /bind: address already in use/,
      );
    } finally {
      await a.close();
    }
  });
});
