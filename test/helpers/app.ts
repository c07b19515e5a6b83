/** Starts the real composition root from a JSON config text, as the e2e tests do. */
import { startApp, type App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { silentLogger } from '../../src/core/log.js';
import { freePort } from './net.js';

/** `startApp` on the decoded JSON `text`, reported as loaded from file `path`, logging nothing. */
export function startAppFromJson(text: string, path: string): Promise<App> {
  return startApp({
    config: decodeConfig(text, 'json').config,
    source: { kind: 'file', path },
    log: silentLogger,
    version: '0.8.2',
    startTime: new Date(),
  });
}

export interface WebAppOptions {
  /** The `web` server's static backends (`host:port`); leave out when `web` brings its own discovery. */
  backends?: readonly string[];
  /** More keys of the `web` server (healthcheck, discovery, retries, …); they win over the defaults. */
  web?: Record<string, unknown>;
  /** The REST API on a free port (`true`: no auth; an object: with this basic auth); off when absent. */
  api?: true | { login: string; password: string };
  /** More servers beside `web`. */
  servers?: Record<string, unknown>;
}

export interface WebApp {
  app: App;
  /** The `web` server's port on 127.0.0.1. */
  lb: number;
  /** The API's port on 127.0.0.1 (0 when the API is off). */
  api: number;
}

/**
 * The usual end-to-end rig: the real composition root with one roundrobin server `web` on a free
 * 127.0.0.1 port (static discovery over `backends`), metrics off, the API off or on a free port.
 */
export async function startWebApp(o: WebAppOptions): Promise<WebApp> {
  const lb = await freePort('127.0.0.1');
  const api = o.api === undefined ? 0 : await freePort('127.0.0.1');
  const apiConfig = o.api === undefined
    ? { enabled: false }
    : { enabled: true, bind: `127.0.0.1:${api}`, ...(o.api === true ? {} : { basic_auth: o.api }) };
  const app = await startAppFromJson(JSON.stringify({
    api: apiConfig,
    metrics: { enabled: false },
    servers: {
      web: {
        bind: `127.0.0.1:${lb}`,
        balance: 'roundrobin',
        ...(o.backends === undefined ? {} : { discovery: { kind: 'static', static_list: o.backends } }),
        ...o.web,
      },
      ...o.servers,
    },
  }), 'test.json');
  return { app, lb, api };
}
