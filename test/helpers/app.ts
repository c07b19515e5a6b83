/** Starts the real composition root from a JSON config text, as the e2e tests do. */
import { startApp, type App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { silentLogger } from '../../src/core/log.js';

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
