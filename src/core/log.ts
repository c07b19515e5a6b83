/**
 * Named structured logging on pino. One child logger per component (`{ name: 'discovery/srv' }`),
 * configured from `[logging]`. Text format mimics GoBetween's:
 *   2025-04-27 10:00:00 [INFO ] (manager): Initializing...
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { escapeControls } from './text.js';

export type Logger = pino.Logger;

export const LEVELS = ['panic', 'fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace'] as const;

/** Maps a GoBetween level name (case-insensitive) to pino's, or undefined when unknown. */
export function pinoLevel(level: string): pino.Level | undefined {
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

/** pino JSON line -> GoBetween text line (extra fields appended as key=value). */
export function formatTextLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const d = new Date(typeof rec['time'] === 'number' ? rec['time'] : Date.now());
  const ts = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const level = LABEL[typeof rec['level'] === 'number' ? rec['level'] : 30] ?? 'INFO ';
  const name = typeof rec['name'] === 'string' ? rec['name'] : 'default';
  // Control characters never reach the text log raw: a value cannot split or forge a line.
  const msg = escapeControls(typeof rec['msg'] === 'string' ? rec['msg'] : '');
  let extra = '';
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'time' || k === 'level' || k === 'name' || k === 'msg' || k === 'pid' || k === 'hostname') continue;
    extra += ` ${escapeControls(k)}=${typeof v === 'string' ? escapeControls(v) : JSON.stringify(v)}`;
  }
  return `${ts} [${level}] (${name}): ${msg}${extra}\n`;
}

class TextTransform extends Writable {
  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = chunk.toString('utf8');
    let out = '';
    for (const line of text.split('\n')) if (line !== '') out += formatTextLine(line);
    this.out.write(out, cb);
  }
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

/** Builds the root logger. Throws an Error with GoBetween's text for an unknown level. */
export async function createLogger(opts: LogOptions): Promise<LogHandle> {
  const level = pinoLevel(opts.level);
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
  const stream = opts.format === 'json' ? dest : new TextTransform(dest);
  const root = pino(
    {
      level,
      base: null,
      timestamp: opts.format === 'json' ? () => `,"time":"${new Date().toISOString()}"` : pino.stdTimeFunctions.epochTime,
      formatters: opts.format === 'json' ? { level: (label) => ({ level: label === 'warn' ? 'warning' : label }) } : {},
    },
    stream,
  );
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
export const silentLogger: Logger = pino({ level: 'silent' });
