/**
 * The live dashboard (tsbetween-only): `GET /dashboard` serves one self-contained page (HTML, CSS
 * and JS inline, no framework, no CDN, nothing to build) that polls `GET /dashboard/state` once a
 * second. Both routes sit behind the API's basic auth like every other route.
 *
 * The page shows every server with its backends (health, drain state, active connections, rx/tx
 * rates with sparklines computed from the counter deltas between polls), the recent health
 * transitions and drains, and a Drain/Ready button per backend when the API allows writes.
 * Every text from the server is inserted with `textContent` (never as HTML); the page is sent with
 * a Content-Security-Policy that allows only its own inline script (by hash) and same-origin
 * requests, and may not be framed (the buttons cannot be click-jacked).
 */
import { createHash } from 'node:crypto';
import type { BackendStateJson, ServerManagerApi } from '../control/types.js';

export interface DashboardServer {
  name: string;
  bind: string;
  protocol: string;
  balance: string;
  healthcheck: string;
  active_connections: number;
  rx_total: number;
  tx_total: number;
  backends: BackendStateJson[];
  events: { time: number; backend: string; event: string; reason: string }[];
}

export interface DashboardState {
  /** Epoch milliseconds when the state was taken (rates are computed between two of them). */
  time: number;
  /** Whether the page may offer the drain/ready buttons. */
  writable: boolean;
  servers: DashboardServer[];
}

/** A snapshot of every server for the page (plain JSON). */
export function dashboardState(manager: ServerManagerApi, writable: boolean): DashboardState {
  const servers: DashboardServer[] = [];
  for (const name of manager.names()) {
    const v = manager.get(name);
    // stats() and backends() flush the data plane's counters first (workers report in batches).
    const stats = manager.stats(name);
    const backends = manager.backends(name);
    if (v === undefined || stats === null || backends === null) continue;
    servers.push({
      name,
      bind: v.config.bind,
      protocol: v.config.protocol,
      balance: v.config.balance,
      healthcheck: v.config.healthcheck.kind,
      active_connections: stats.active_connections,
      rx_total: stats.rx_total,
      tx_total: stats.tx_total,
      backends,
      events: v.pool.events.slice(-20).reverse().map((e) => ({ ...e })),
    });
  }
  return { time: Date.now(), writable, servers };
}

const STYLE = `
:root{--bg:#f6f7f9;--fg:#1c2430;--mut:#5d6b7a;--card:#fff;--line:#dde2e8;--ok:#16803c;--bad:#c62828;--warn:#b26a00;--acc:#2f6fdf}
@media (prefers-color-scheme:dark){:root{--bg:#12161c;--fg:#e4e9ef;--mut:#97a3b0;--card:#1b2129;--line:#2c3540;--ok:#4cc27a;--bad:#ff6b6b;--warn:#f0b04a;--acc:#6ea0ff}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--card);position:sticky;top:0}
h1{font-size:1.1rem;margin:0}
#status{color:var(--mut);font-size:.85rem}
main{padding:1rem;display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,34rem),1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem}
.card h2{font-size:1rem;margin:0 0 .25rem;word-break:break-all}
.meta{color:var(--mut);font-size:.85rem;word-break:break-all}
.nums{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;margin:.5rem 0}
.nums b{font-variant-numeric:tabular-nums}
.nums .rx b{color:var(--acc)}.nums .tx b{color:var(--warn)}
svg.spark{width:100%;height:36px;display:block}
svg.spark .rx{stroke:var(--acc);fill:none;stroke-width:1.5}
svg.spark .tx{stroke:var(--warn);fill:none;stroke-width:1.5}
.be{display:grid;grid-template-columns:1fr auto;gap:.15rem .75rem;padding:.5rem 0;border-top:1px solid var(--line)}
.be .key{font-family:ui-monospace,monospace;word-break:break-all}
.be .info{grid-column:1/2;color:var(--mut);font-size:.85rem}
.be button{grid-row:1/3;grid-column:2;align-self:center}
.pill{display:inline-block;border-radius:1rem;padding:0 .5rem;font-size:.8rem;margin-left:.35rem;border:1px solid currentColor}
.live{color:var(--ok)}.dead,.down{color:var(--bad)}.draining,.drained{color:var(--warn)}
button{font:inherit;padding:.35rem .8rem;border-radius:.35rem;border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer;min-width:5rem}
button:disabled{opacity:.5}
details{margin-top:.5rem}summary{cursor:pointer;color:var(--mut);font-size:.85rem}
ul.ev{list-style:none;padding:0;margin:.25rem 0;font-size:.85rem}
ul.ev li{padding:.1rem 0;word-break:break-word}
.empty{color:var(--mut)}
`;

const SCRIPT = `
'use strict';
var HIST = 60;
var hist = {};
var last = null;
var writable = false;
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function rate(n) {
  var u = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  var i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(1)) + ' ' + u[i];
}
function series(id) {
  if (!hist[id]) hist[id] = { rx: [], tx: [] };
  return hist[id];
}
function push(id, rx, tx) {
  var h = series(id);
  h.rx.push(rx); h.tx.push(tx);
  if (h.rx.length > HIST) { h.rx.shift(); h.tx.shift(); }
  return h;
}
function spark(h) {
  var ns = 'http://www.w3.org/2000/svg';
  var svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 ' + (HIST - 1) + ' 36');
  svg.setAttribute('preserveAspectRatio', 'none');
  var max = 1;
  h.rx.concat(h.tx).forEach(function (v) { if (v > max) max = v; });
  [['rx', h.rx], ['tx', h.tx]].forEach(function (p) {
    var pts = p[1].map(function (v, i) { return (i + HIST - p[1].length) + ',' + (34 - 32 * v / max).toFixed(1); }).join(' ');
    var line = document.createElementNS(ns, 'polyline');
    line.setAttribute('class', p[0]);
    line.setAttribute('points', pts);
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(line);
  });
  return svg;
}
function post(server, key, action, btn) {
  btn.disabled = true;
  var url = '/servers/' + encodeURIComponent(server) + '/backends/' + encodeURIComponent(key) + '/' + action;
  fetch(url, { method: 'POST', credentials: 'same-origin' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function () { poll(); })
    .catch(function (e) { document.getElementById('status').textContent = action + ' failed: ' + e.message; btn.disabled = false; });
}
function render(state) {
  var dt = last ? (state.time - last.time) / 1000 : 0;
  var prev = {};
  if (last) last.servers.forEach(function (s) {
    prev[s.name] = s;
    s.backends.forEach(function (b) { prev[s.name + ' ' + b.host + ':' + b.port] = b; });
  });
  var main = document.getElementById('servers');
  main.textContent = '';
  if (state.servers.length === 0) main.appendChild(el('p', 'empty', 'No servers.'));
  state.servers.forEach(function (s) {
    var p = prev[s.name];
    var srx = p && dt > 0 ? Math.max(0, (s.rx_total - p.rx_total) / dt) : 0;
    var stx = p && dt > 0 ? Math.max(0, (s.tx_total - p.tx_total) / dt) : 0;
    var card = el('section', 'card');
    card.setAttribute('data-server', s.name);
    card.appendChild(el('h2', '', s.name));
    card.appendChild(el('div', 'meta', s.bind + ' · ' + s.protocol + ' · ' + s.balance + ' · healthcheck ' + s.healthcheck));
    var live = s.backends.filter(function (b) { return b.health === 'live'; }).length;
    var nums = el('div', 'nums');
    [['active', s.active_connections], ['backends live', live + '/' + s.backends.length], ['rx', rate(srx)], ['tx', rate(stx)]].forEach(function (kv) {
      var d = el('span', kv[0] === 'rx' || kv[0] === 'tx' ? kv[0] : '', kv[0] + ' ');
      d.appendChild(el('b', '', kv[1]));
      nums.appendChild(d);
    });
    card.appendChild(nums);
    card.appendChild(spark(push(s.name, srx, stx)));
    if (s.backends.length === 0) card.appendChild(el('p', 'empty', 'No backends.'));
    s.backends.forEach(function (b) {
      var key = b.host + ':' + b.port;
      var pb = prev[s.name + ' ' + key];
      var brx = pb && dt > 0 ? Math.max(0, (b.rx - pb.rx) / dt) : 0;
      var btx = pb && dt > 0 ? Math.max(0, (b.tx - pb.tx) / dt) : 0;
      push(s.name + ' ' + key, brx, btx);
      var row = el('div', 'be');
      row.setAttribute('data-backend', key);
      var k = el('div', 'key', key);
      k.appendChild(el('span', 'pill health ' + b.health, b.health));
      if (b.state !== 'ready') k.appendChild(el('span', 'pill state ' + b.state, b.state));
      if (!b.discovered) k.appendChild(el('span', 'pill', 'undiscovered'));
      row.appendChild(k);
      row.appendChild(el('div', 'info', 'active ' + b.active_connections + ' · total ' + b.total_connections +
        ' · refused ' + b.refused_connections + ' · rx ' + rate(brx) + ' · tx ' + rate(btx)));
      if (state.writable) {
        var action = b.state === 'ready' ? 'drain' : 'ready';
        var btn = el('button', 'act', action === 'drain' ? 'Drain' : 'Ready');
        btn.setAttribute('data-action', action);
        btn.addEventListener('click', function () { post(s.name, key, action, btn); });
        row.appendChild(btn);
      }
      card.appendChild(row);
    });
    var det = el('details');
    det.open = s.events.length > 0;
    det.appendChild(el('summary', '', 'Recent health transitions and drains (' + s.events.length + ')'));
    var ul = el('ul', 'ev');
    s.events.forEach(function (e) {
      var li = el('li', 'event ' + e.event, new Date(e.time).toLocaleTimeString() + ' ' + e.backend + ' → ' + e.event + (e.reason ? ' (' + e.reason + ')' : ''));
      ul.appendChild(li);
    });
    det.appendChild(ul);
    card.appendChild(det);
    main.appendChild(card);
  });
  last = state;
}
var timer = null;
function poll() {
  if (timer) clearTimeout(timer);
  fetch('/dashboard/state', { credentials: 'same-origin', cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (state) {
      writable = state.writable;
      render(state);
      document.getElementById('status').textContent = 'updated ' + new Date(state.time).toLocaleTimeString();
    })
    .catch(function (e) { document.getElementById('status').textContent = 'update failed: ' + e.message; })
    .then(function () { timer = setTimeout(poll, 1000); });
}
poll();
`;

/** The page's Content-Security-Policy: only its own inline script (by hash), same-origin fetches. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tsbetween dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>tsbetween</h1><span id="status">loading…</span></header>
<main id="servers"></main>
<script>${SCRIPT}</script>
</body>
</html>
`;
