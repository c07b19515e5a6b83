/** Log capture for tests: a real pino logger whose records are kept as parsed objects. */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../src/core/log.js';

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly name?: string;
  readonly [key: string]: unknown;
}

export interface CapturedLog {
  readonly log: Logger;
  readonly records: LogRecord[];
  /** Messages at `level` or above (pino numbers: 30 info, 40 warn, 50 error). */
  messages(minLevel?: number): string[];
}

export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/** A logger at `level` (default debug) whose records land in `records`. */
export function captureLog(level: pino.Level = 'debug'): CapturedLog {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') records.push(JSON.parse(line) as LogRecord);
      }
      cb();
    },
  });
  const log = pino({ level, base: null }, sink);
  return {
    log,
    records,
    messages: (minLevel = 0) => records.filter((r) => r.level >= minLevel).map((r) => r.msg),
  };
}

/** `{ log, lines }`: the same capture, as the older per-folder helpers shaped it. */
export function captureLogger(): { log: Logger; lines: LogRecord[] } {
  const c = captureLog('debug');
  return { log: c.log, lines: c.records };
}
