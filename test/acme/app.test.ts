/** `[acme]` through the config decoder, /dump and the composition root. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startApp } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { dumpConfig } from '../../src/config/dump.js';
import { validateRoot } from '../../src/config/prepare.js';
import { ConfigError } from '../../src/core/errors.js';
import { freePort } from '../helpers/cli.js';

function status(port: number, method: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/p', headers: { host: 'a.test' }, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('[acme] config and wiring', () => {
  it('decodes the tsbetween-only keys without warnings; /dump shows them only when set', () => {
    const { config, warnings } = decodeConfig(
      '[acme]\nchallenge = "tls-alpn"\ndirectory_url = "https://ca.example/dir"\nemail = "ops@example.com"\nroot_ca_cert_path = "/etc/ca.pem"\n',
      'toml',
    );
    assert.deepEqual(warnings, []);
    validateRoot(config);
    assert.deepEqual(config.acme, {
      challenge: 'tls-alpn', http_bind: '0.0.0.0:80', cache_dir: '/tmp',
      directory_url: 'https://ca.example/dir', email: 'ops@example.com', root_ca_cert_path: '/etc/ca.pem',
    });
    const dumped = JSON.parse(dumpConfig(config, {}, 'json')) as { acme: Record<string, unknown> };
    assert.equal(dumped.acme['directory_url'], 'https://ca.example/dir');
    assert.match(dumpConfig(config, {}, 'toml'), /email = "ops@example.com"/);

    const plain = decodeConfig('[acme]\n', 'toml').config;
    validateRoot(plain);
    assert.deepEqual(Object.keys((JSON.parse(dumpConfig(plain, {}, 'json')) as { acme: object }).acme), ['challenge', 'http_bind', 'cache_dir']);
  });

  it('the app starts the HTTP-01 listener (302 / 400) and no longer warns that [acme] is unsupported', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const { config } = decodeConfig(JSON.stringify({ acme: { http_bind: `127.0.0.1:${port}` }, api: { enabled: false }, metrics: { enabled: false } }), 'json');
    const app = await startApp({ config, source: { kind: 'file', path: 'x.json' }, log, version: '0.8.2', startTime: new Date() });
    try {
      assert.equal(await status(port, 'GET'), 302);
      assert.equal(await status(port, 'POST'), 400);
      assert.ok(lines.some((l) => l.includes('Creating acme')));
      assert.ok(!lines.some((l) => l.includes('not supported')), lines.join(''));
    } finally {
      await app.close(0);
    }
    // Closed with the app.
    await assert.rejects(status(port, 'GET'));
  });

  it('an unreadable root_ca_cert_path is a config error naming the key', async () => {
    const { config } = decodeConfig(JSON.stringify({ acme: { challenge: 'tls-alpn', root_ca_cert_path: '/nonexistent/ca.pem' }, api: { enabled: false }, metrics: { enabled: false } }), 'json');
    await assert.rejects(
      startApp({ config, source: { kind: 'file', path: 'x.json' }, log: pino({ level: 'silent' }), version: '0.8.2', startTime: new Date() }),
      (err: unknown) => err instanceof ConfigError && err.path === 'acme.root_ca_cert_path' && /ENOENT/.test(err.message),
    );
  });
});
