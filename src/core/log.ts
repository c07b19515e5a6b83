/**
 * Named structured logging, configured from `[logging]`. One child logger per component
 * (`{ name: 'discovery/srv' }`). Text format mimics GoBetween's:
 *   2025-04-27 10:00:00 [INFO ] (manager): Initializing...
 * JSON format: one object per line, `{"level":"info","time":"<ISO>",...fields,"msg":"..."}`.
 *
 * A small logger of our own rather than pino (issue 8 item 8: pino and its dependencies cost
 * about 4 MB of idle RSS in every thread). Its records are pino's (numeric level, epoch-ms time,
 * bindings, fields, `msg` last; an `Error` value serialised as `{type, message, stack, ...}`), and
 * pino's `Logger` fits the `Logger` interface, so tests and callers may pass a pino logger.
 * Logging is never on the hot path (debug lines are guarded by `isLevelEnabled`).
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { escapeControls } from './text.js';

/** A log method: `log.info('text')` or `log.info({ field: value }, 'text')`. */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

/** What the code logs through (pino's Logger satisfies it too). */
export interface Logger {
  /** The level name: trace | debug | info | warn | error | fatal | silent. */
  readonly level: string;
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>): Logger;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
}

export const LEVELS = ['panic', 'fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace'] as const;

/** The levels a Logger knows, and their numbers in a record (pino's). */
export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const VALUE: Readonly<Record<string, number>> = {
  trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity,
};

/** Maps a GoBetween level name (case-insensitive) to a Logger's, or undefined when unknown. */
export function logLevel(level: string): LevelName | undefined {
  switch (level.toLowerCase()) {
    case '':
    case 'info': return 'info';
    case 'panic':
    case 'fatal': return 'fatal';
    case 'error': return 'error';
    case 'warn':
    case 'warning': return 'warn';
    case 'debug': return 'debug';
    case 'trace': return 'trace';
    default: return undefined;
  }
}

const LABEL: Readonly<Record<number, string>> = {
  10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARNI', 50: 'ERROR', 60: 'FATAL',
};

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** A record (numeric level, epoch-ms time) -> GoBetween text line (extra fields appended as key=value). */
export function formatTextRecord(rec: Readonly<Record<string, unknown>>): string {
  const d = new Date(typeof rec['time'] === 'number' ? rec['time'] : Date.now());
  const ts = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const level = LABEL[typeof rec['level'] === 'number' ? rec['level'] : 30] ?? 'INFO ';
  const name = typeof rec['name'] === 'string' ? rec['name'] : 'default';
  // Control characters never reach the text log raw: a value cannot split or forge a line.
  const msg = escapeControls(typeof rec['msg'] === 'string' ? rec['msg'] : '');
  let extra = '';
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'time' || k === 'level' || k === 'name' || k === 'msg' || k === 'pid' || k === 'hostname') continue;
    extra += ` ${escapeControls(k)}=${typeof v === 'string' ? escapeControls(v) : safeJson(v)}`;
  }
  return `${ts} [${level}] (${name}): ${msg}${extra}\n`;
}

/** A JSON record line (pino's) -> GoBetween text line; a line that is not JSON is returned as is. */
export function formatTextLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  return formatTextRecord(rec);
}

/** pino's error serialiser, in short: type, message, stack, then the error's own fields (code, ...). */
function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v instanceof Error ? serializeError(v) : v;
  return out;
}

/** JSON text of any value: cycles become "[Circular]", bigints their digits; never throws. */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    }) ?? 'null';
  }
}

/** Receives each record that passed the level check. */
type Sink = (rec: Record<string, unknown>) => void;

const RESERVED = new Set(['level', 'time', 'msg']);

function addFields(rec: Record<string, unknown>, fields: object): void {
  for (const [k, v] of Object.entries(fields)) {
    if (!RESERVED.has(k)) rec[k] = v instanceof Error ? serializeError(v) : v;
  }
}

class RecordLogger implements Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  private readonly min: number;

  constructor(
    readonly level: string,
    private readonly sink: Sink,
    private readonly bindings: Readonly<Record<string, unknown>>,
  ) {
    this.min = VALUE[level] ?? VALUE['info'] as number;
    this.fatal = this.method(60);
    this.error = this.method(50);
    this.warn = this.method(40);
    this.info = this.method(30);
    this.debug = this.method(20);
    this.trace = this.method(10);
  }

  isLevelEnabled(level: string): boolean {
    const v = VALUE[level];
    return v !== undefined && v !== Infinity && v >= this.min;
  }

  child(bindings: Record<string, unknown>): Logger {
    const merged: Record<string, unknown> = { ...this.bindings };
    addFields(merged, bindings);
    return new RecordLogger(this.level, this.sink, merged);
  }

  private method(value: number): LogFn {
    if (value < this.min) return () => undefined;
    return (first: object | string, msg?: string): void => {
      const rec: Record<string, unknown> = { level: value, time: Date.now() };
      Object.assign(rec, this.bindings);
      let text = msg;
      if (typeof first === 'string') text = first;
      else if (first instanceof Error) {
        rec['err'] = serializeError(first);
        text ??= first.message;
      } else addFields(rec, first);
      if (text !== undefined) rec['msg'] = text;
      this.sink(rec);
    };
  }
}

/** JSON format: level label (`warning` for warn, as GoBetween), ISO time. */
function jsonLine(rec: Record<string, unknown>): string {
  const v = rec['level'];
  const label = v === 40 ? 'warning' : (Object.keys(VALUE).find((k) => VALUE[k] === v) ?? 'info');
  return `${safeJson({ ...rec, level: label, time: new Date(rec['time'] as number).toISOString() })}\n`;
}

/**
 * A logger whose records go to `write` as pino JSON lines (numeric level, epoch-ms time): worker
 * threads post them to the primary, which logs them through its own logger.
 */
export function createLineLogger(level: string, write: (line: string) => void): Logger {
  return new RecordLogger(level, (rec) => write(safeJson(rec)), {});
}

export interface LogOptions {
  /** GoBetween level name; '' = info. */
  level: string;
  /** 'stdout' | 'stderr' | '' (stdout) | a file path (appended). */
  output: string;
  /** 'json' or anything else (= text). */
  format: string;
}

export interface LogHandle {
  root: Logger;
  /** Flushes and closes a file destination. */
  close(): Promise<void>;
}

/**
 * A logger writing `format` ('json' or text) lines to `out`. A destination that failed (stdout a
 * closed pipe: EPIPE, a full disk) is written no more: its error would otherwise come back as an
 * uncaught exception whose log line fails again, and so on, without end.
 */
export function streamLogger(level: LevelName, format: string, out: NodeJS.WritableStream): Logger {
  let broken = false;
  out.on('error', () => { broken = true; });
  const line = format === 'json' ? jsonLine : formatTextRecord;
  return new RecordLogger(level, (rec) => { if (!broken) out.write(line(rec)); }, {});
}

/** Builds the root logger. Throws an Error with GoBetween's text for an unknown level. */
export async function createLogger(opts: LogOptions): Promise<LogHandle> {
  const level = logLevel(opts.level);
  if (level === undefined) throw new Error(`Unknown loglevel ${opts.level}`);
  let dest: NodeJS.WritableStream;
  let file: WriteStream | undefined;
  if (opts.output === '' || opts.output === 'stdout') dest = process.stdout;
  else if (opts.output === 'stderr') dest = process.stderr;
  else {
    file = createWriteStream(opts.output, { flags: 'a', mode: 0o644 });
    await Promise.race([
      once(file, 'open'),
      once(file, 'error').then(([e]) => { throw e as Error; }),
    ]);
    dest = file;
  }
  const root = streamLogger(level, opts.format, dest);
  return {
    root,
    close: async () => {
      if (file !== undefined) {
        const f = file;
        await new Promise<void>((resolve) => f.end(resolve));
      }
    },
  };
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = new RecordLogger('silent', () => undefined, {});
