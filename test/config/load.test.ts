import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSourceError, readConfigSource, substituteEnv } from '../../src/config/load.js';

interface Served {
  base: string;
  hostPort: string;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** A loopback HTTP server; every request is recorded and answered by `handler`. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function rejection(p: Promise<unknown>): Promise<ConfigSourceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigSourceError, `not a ConfigSourceError: ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

// ---- file ---------------------------------------------------------------------------------------

test('file: reads the text; errors name the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbetween-load-'));
  try {
    const path = join(dir, 'gobetween.toml');
    await writeFile(path, '[api]\nenabled = true # ü\n');
    assert.equal(await readConfigSource({ kind: 'file', path }), '[api]\nenabled = true # ü\n');

    const missing = join(dir, 'nope.toml');
    const e1 = await rejection(readConfigSource({ kind: 'file', path: missing }));
    assert.equal(e1.message, `open ${missing}: no such file or directory`);

    const e2 = await rejection(readConfigSource({ kind: 'file', path: dir }));
    assert.equal(e2.message, `read ${dir}: is a directory`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- URL ----------------------------------------------------------------------------------------

test('url: 200 body, redirects followed', async () => {
  const srv = await serve((req, res) => {
    if (req.url === '/old') {
      res.writeHead(302, { Location: '/cfg.toml' }).end();
    } else if (req.url === '/cfg.toml') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('[servers]\n');
    } else {
      res.writeHead(404).end('404 page not found');
    }
  });
  try {
    assert.equal(await readConfigSource({ kind: 'url', url: `${srv.base}/cfg.toml` }), '[servers]\n');
    assert.equal(await readConfigSource({ kind: 'url', url: `${srv.base}/old` }), '[servers]\n');
    assert.deepEqual(srv.requests.map((r) => r.method), ['GET', 'GET', 'GET']);
  } finally {
    await srv.close();
  }
});

test('url: non-2xx is an error naming the URL and the status (Q-30 fix)', async () => {
  const srv = await serve((req, res) => {
    res.writeHead(req.url === '/boom' ? 500 : 404).end('[servers]\n');
  });
  try {
    const url = `${srv.base}/missing.toml`;
    const e = await rejection(readConfigSource({ kind: 'url', url }));
    assert.equal(e.message, `Get "${url}": unexpected status 404 Not Found`);
    const e2 = await rejection(readConfigSource({ kind: 'url', url: `${srv.base}/boom` }));
    assert.match(e2.message, /boom.*500 Internal Server Error/);
  } finally {
    await srv.close();
  }
});

test('url: a slow server hits the timeout (headers or body)', async () => {
  const srv = await serve((req, res) => {
    if (req.url === '/slow-body') {
      res.writeHead(200);
      res.write('[servers]\n'); // and never ends
    }
    // '/slow': never answers
  });
  try {
    for (const path of ['/slow', '/slow-body']) {
      const url = `${srv.base}${path}`;
      const started = Date.now();
      const e = await rejection(readConfigSource({ kind: 'url', url }, { fetchTimeoutMs: 200 }));
      assert.equal(e.message, `Get "${url}": timeout after 200 ms`);
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 5000, `took ${took} ms`);
    }
  } finally {
    await srv.close();
  }
});

test('url: connection refused names the URL', async () => {
  const srv = await serve(() => undefined);
  const url = `${srv.base}/cfg.toml`;
  await srv.close();
  const e = await rejection(readConfigSource({ kind: 'url', url }, { fetchTimeoutMs: 5000 }));
  assert.ok(e.message.startsWith(`Get "${url}": `), e.message);
  assert.match(e.message, /ECONNREFUSED/);
});

// ---- Consul -------------------------------------------------------------------------------------

function consulHandler(kv: Record<string, string | null>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/kv/fail') {
      res.writeHead(500).end('rpc error');
      return;
    }
    const prefix = '/v1/kv/';
    const key = decodeURIComponent(url.pathname.slice(prefix.length));
    if (!url.pathname.startsWith(prefix) || !Object.hasOwn(kv, key)) {
      res.writeHead(404).end();
      return;
    }
    const v = kv[key] ?? null;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(
      JSON.stringify([
        {
          LockIndex: 0, Key: key, Flags: 0, CreateIndex: 5, ModifyIndex: 5,
          Value: v === null ? null : Buffer.from(v, 'utf8').toString('base64'),
        },
      ]),
    );
  };
}

test('consul: GET /v1/kv/<key>, base64 Value decoded, token and basic auth sent', async () => {
  const config = '[api]\nenabled = true\nbind = ":8888" # ü\n';
  const srv = await serve(consulHandler({ gobetween: config, 'lb/conf.json': '{}', empty: null }));
  try {
    const env = { CONSUL_HTTP_TOKEN: 'tok-123', CONSUL_HTTP_AUTH: 'user:pa:ss' };
    assert.equal(await readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'gobetween' }, { env }), config);
    const req = srv.requests[0];
    assert.ok(req !== undefined);
    assert.equal(req.method, 'GET');
    assert.equal(req.url, '/v1/kv/gobetween');
    assert.equal(req.headers['x-consul-token'], 'tok-123');
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);

    assert.equal(
      await readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'lb/conf.json' }, { consulScheme: 'http', env: {} }),
      '{}',
    );
    assert.equal(srv.requests[1]?.url, '/v1/kv/lb/conf.json');
    assert.equal(srv.requests[1]?.headers['x-consul-token'], undefined);
    assert.equal(srv.requests[1]?.headers.authorization, undefined);

    // A key that exists without a value is an empty config.
    assert.equal(await readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'empty' }, { env: {} }), '');
  } finally {
    await srv.close();
  }
});

test('consul: missing key → "Empty value for key <key>"; other statuses reported', async () => {
  const srv = await serve(consulHandler({}));
  try {
    const e = await rejection(readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'gobetween' }, { env: {} }));
    assert.equal(e.message, 'Empty value for key gobetween');
    const e2 = await rejection(readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'fail' }, { env: {} }));
    assert.equal(e2.message, 'Unexpected response code: 500 (rpc error)');
  } finally {
    await srv.close();
  }
});

test('consul: a silent agent hits the timeout', async () => {
  const srv = await serve(() => undefined);
  try {
    const e = await rejection(
      readConfigSource({ kind: 'consul', host: srv.hostPort, key: 'gobetween' }, { env: {}, fetchTimeoutMs: 150 }),
    );
    assert.equal(e.message, `Get "http://${srv.hostPort}/v1/kv/gobetween": timeout after 150 ms`);
  } finally {
    await srv.close();
  }
});

// ---- ${NAME} substitution -------------------------------------------------------------------------

test('substituteEnv: §1.5 table', () => {
  const env = { HOST: '10.0.0.1', PORT: '80', 'A:-b': 'literal', QUOTE: 'a"b', DOLLAR: '$& $1 $$', EMPTY: '', 'a b': 'sp' };
  const table: [string, string][] = [
    ['bind = "${HOST}:${PORT}"', 'bind = "10.0.0.1:80"'],
    ['${UNSET}x', 'x'],
    ['${}', ''],
    ['$HOST', '$HOST'],
    ['$${HOST}', '$10.0.0.1'],
    ['${A:-b}', 'literal'],
    ['${a b}', 'sp'],
    ['v = "${QUOTE}"', 'v = "a"b"'],
    ['${DOLLAR}', '$& $1 $$'],
    ['${EMPTY}.', '.'],
    ['${HOST', '${HOST'],
    ['${HO\nST}', '${HO\nST}'],
    ['${HOST}}', '10.0.0.1}'],
    ['${${HOST}}', '}'],
    ['# comment ${PORT}\nx = 1', '# comment 80\nx = 1'],
    ['{HOST}', '{HOST}'],
    ['${PORT}${PORT}', '8080'],
  ];
  for (const [input, expected] of table) {
    assert.equal(substituteEnv(input, env), expected, JSON.stringify(input));
  }
});
