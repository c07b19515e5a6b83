/**
 * The live dashboard (tsbetween-only): the routes over real HTTP (auth, headers, state JSON, CSRF
 * guard), then the page in headless Chromium (Debian `chromium`, driven by playwright-core): it
 * loads, shows the servers, shows a backend going dead after its HTTP health check fails, and its
 * drain button drains a backend. Skipped with the reason when chromium is not installed.
 *
 * `DASHBOARD_SCREENSHOT=docs/dashboard.png` also saves a screenshot of the page (README).
 */
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { App } from '../../src/app.js';
import type { DashboardState } from '../../src/api/dashboard.js';
import { startWebApp } from '../helpers/app.js';
import { waitFor } from '../healthcheck/helpers.js';
import { basic, req } from './http.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

interface HttpBackend {
  server: Server;
  port: number;
  status: number;
}

/** An HTTP backend whose status the test changes (the health check and the traffic hit it). */
async function httpBackend(): Promise<HttpBackend> {
  const b = { status: 200 } as HttpBackend;
  b.server = createHttpServer((rq: IncomingMessage, res: ServerResponse) => {
    rq.resume();
    res.writeHead(rq.url === '/health' ? b.status : 200, { 'Content-Type': 'text/plain' });
    res.end(rq.url === '/health' ? 'ok' : 'x'.repeat(64 * 1024));
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

async function closeHttp(s: Server): Promise<void> {
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}

interface Setup {
  app: App;
  api: number;
  lb: number;
  a: HttpBackend;
  b: HttpBackend;
  close(): Promise<void>;
}

const AUTH = { Authorization: basic('ops', 'secret') };

async function setup(): Promise<Setup> {
  const a = await httpBackend();
  const b = await httpBackend();
  const { app, lb, api } = await startWebApp({
    api: { login: 'ops', password: 'secret' },
    backends: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
    web: { healthcheck: { kind: 'http', interval: '100ms', timeout: '1s', http_path: '/health' } },
    servers: {
      'cache & <queue>': {
        bind: '127.0.0.1:0',
        discovery: { kind: 'static', static_list: ['127.0.0.1:1'] },
      },
    },
  });
  return {
    app, api, lb, a, b,
    async close() {
      await app.close(0);
      await Promise.all([closeHttp(a.server), closeHttp(b.server)]);
    },
  };
}

/** A few HTTP requests through the balancer (traffic for the rates and sparklines). */
async function traffic(lb: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      const s = connect(lb, '127.0.0.1');
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.on('data', () => undefined);
      s.end('GET /data HTTP/1.0\r\n\r\n');
    });
  }
}

test('routes: auth, page headers, state JSON, cross-origin drain refused', async () => {
  const s = await setup();
  try {
    assert.equal((await req(s.api, '/dashboard')).status, 401);
    assert.equal((await req(s.api, '/dashboard/state')).status, 401);
    const page = await req(s.api, '/dashboard', { headers: AUTH });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(page.headers['content-security-policy']), /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.doesNotMatch(page.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no external resources');
    assert.ok(page.raw.length < 32 * 1024, `small page (${page.raw.length} bytes)`);

    const st = await req(s.api, '/dashboard/state', { headers: AUTH });
    assert.equal(st.status, 200);
    const state = JSON.parse(st.body) as DashboardState;
    assert.equal(state.writable, true);
    assert.deepEqual(state.servers.map((x) => x.name), ['cache & <queue>', 'web']);
    const web = state.servers.find((x) => x.name === 'web');
    assert.equal(web?.backends.length, 2);
    assert.equal(web?.healthcheck, 'http');

    const key = `127.0.0.1:${s.a.port}`;
    const forged = await req(s.api, `/servers/web/backends/${key}/drain`, {
      method: 'POST', headers: { ...AUTH, Origin: 'http://evil.example' },
    });
    assert.equal(forged.status, 403);
    assert.equal(s.app.manager.get('web')?.pool.drainedKeys().length, 0);
    const same = await req(s.api, `/servers/web/backends/${key}/drain`, {
      method: 'POST', headers: { ...AUTH, Origin: `http://127.0.0.1:${s.api}` },
    });
    assert.equal(same.status, 200);
    const events = (JSON.parse((await req(s.api, '/dashboard/state', { headers: AUTH })).body) as DashboardState)
      .servers.find((x) => x.name === 'web')?.events;
    assert.equal(events?.[0]?.event, 'drain');
    assert.equal(events?.[0]?.backend, key);
  } finally {
    await s.close();
  }
});

test('headless Chromium: loads, shows servers, a backend going dead, and the drain button works', { timeout: 90_000 }, async (t) => {
  if (CHROMIUM === undefined) {
    t.skip('chromium not installed (apt-get install chromium)');
    return;
  }
  const { chromium } = await import('playwright-core');
  const s = await setup();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  try {
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: 'secret' },
      viewport: { width: 1100, height: 760 },
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${s.api}/dashboard`);
    const keyA = `127.0.0.1:${s.a.port}`;
    const keyB = `127.0.0.1:${s.b.port}`;
    const web = page.locator('section[data-server="web"]');
    await web.waitFor({ timeout: 15_000 });
    // The odd server name is shown as text, not markup.
    assert.equal(await page.locator('section[data-server="cache & <queue>"] h2').textContent(), 'cache & <queue>');
    const rowA = web.locator(`[data-backend="${keyA}"]`);
    const rowB = web.locator(`[data-backend="${keyB}"]`);
    await rowA.locator('.health.live').waitFor({ timeout: 15_000 });
    await rowB.locator('.health.live').waitFor({ timeout: 15_000 });
    await traffic(s.lb, 10);

    // A's health check starts failing: the page shows it dead, with the transition.
    s.a.status = 503;
    await rowA.locator('.health.dead').waitFor({ timeout: 15_000 });
    await web.locator('li.event.dead', { hasText: keyA }).waitFor({ timeout: 15_000 });
    assert.match(String(await web.locator('li.event.dead').first().textContent()), /HTTP 503/);

    // Drain B with its button.
    await rowB.locator('button[data-action="drain"]').click();
    await rowB.locator('.state.drained').waitFor({ timeout: 15_000 });
    assert.deepEqual(s.app.manager.get('web')?.pool.drainedKeys(), [keyB]);
    await rowB.locator('button[data-action="ready"]').waitFor({ timeout: 15_000 });

    // A recovers; some traffic for the sparklines, then the screenshot when asked for.
    s.a.status = 200;
    await rowA.locator('.health.live').waitFor({ timeout: 15_000 });
    const shot = process.env['DASHBOARD_SCREENSHOT'];
    if (shot !== undefined && shot !== '') {
      for (let i = 0; i < 6; i++) {
        await traffic(s.lb, 20 + i * 15);
        await page.waitForTimeout(700);
      }
      await page.screenshot({ path: shot, fullPage: true });
    }
    // Readable on a phone: no horizontal scrolling at 390 px.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.waitForTimeout(300);
    const widths = await page.evaluate<[number, number]>('[document.documentElement.scrollWidth, window.innerWidth]');
    assert.ok(widths[0] <= widths[1], `no horizontal scroll on a phone (${widths[0]} > ${widths[1]})`);
    // Ready again through the button.
    await rowB.locator('button[data-action="ready"]').click();
    await waitFor(() => s.app.manager.get('web')?.pool.drainedKeys().length === 0, 15_000, 'B ready');
    assert.deepEqual(errors, [], 'no script errors (CSP included)');
    await context.close();
  } finally {
    await browser.close();
    await s.close();
  }
});
