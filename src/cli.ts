#!/usr/bin/env node
/**
 * The `tsbetween` / `gobetween` executable: GoBetween's CLI (control-plane §1), a pidfile, and a
 * graceful shutdown on SIGTERM/SIGINT (stop accepting, let connections finish within the grace
 * period, remove the pidfile, exit 0). Exit codes: 0 clean, 1 bad config / start failure,
 * 2 usage error.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { HELP, UsageError, argvFromEnv, parseArgs, type CliOptions } from './args.js';
import { startApp, type App } from './app.js';
import { decodeConfig } from './config/decode.js';
import { readConfigSource, substituteEnv } from './config/load.js';
import type { ConfigSource } from './config/types.js';
import { ConfigError, DecodeError, NotSupportedError, StartError, errorMessage } from './core/errors.js';
import { createLogger, type LogHandle } from './core/log.js';
import { VERSION } from './version.js';

function fail(code: number, message: string): never {
  process.stderr.write(`tsbetween: ${message}\n`);
  process.exit(code);
}

function describe(err: unknown): string {
  if (err instanceof ConfigError || err instanceof DecodeError) return err.describe();
  return errorMessage(err);
}

/** Writes the pidfile; refuses when it names a running process (§1.6, trailing newline tolerated). */
function writePidfile(path: string): void {
  let existing: string | undefined;
  try {
    existing = readFileSync(path, 'utf8');
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    const text = existing.trim();
    const pid = /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (alive) throw new Error(`Unable to write pidfile ${path}: process with pid ${pid} is still running`);
    }
  }
  try {
    writeFileSync(path, String(process.pid), { mode: 0o664 });
  } catch (err) {
    throw new Error(`Unable to write pidfile ${path}: ${errorMessage(err)}`);
  }
}

function removePidfile(path: string): void {
  if (path === '') return;
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // already gone
  }
}

async function loadConfig(source: ConfigSource, opts: CliOptions) {
  let text: string;
  try {
    text = await readConfigSource(source, { consulScheme: opts.command.kind === 'run' ? opts.command.consulScheme : 'http' });
  } catch (err) {
    throw new Error(errorMessage(err));
  }
  if (opts.useEnvVars) text = substituteEnv(text, process.env);
  return decodeConfig(text, opts.format);
}

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argvFromEnv(process.argv.slice(2), process.env['GOBETWEEN']), { TSBETWEEN_WORKERS: process.env['TSBETWEEN_WORKERS'] });
  } catch (err) {
    if (err instanceof UsageError) {
      // GOBETWEEN env errors are fatal (exit 1) in GoBetween; other usage errors exit 2 (Q-28 fix).
      const envError = err.message.includes('GOBETWEEN') || err.message.startsWith('Error converting env var');
      process.stderr.write(`tsbetween: ${err.message}\n`);
      if (!envError) process.stderr.write(`Run 'tsbetween --help' for usage.\n`);
      process.exit(envError ? 1 : 2);
    }
    throw err;
  }

  if (opts.pidfile !== '') {
    try {
      writePidfile(opts.pidfile);
    } catch (err) {
      fail(1, errorMessage(err));
    }
  }
  const cleanupPid = (): void => removePidfile(opts.pidfile);

  if (opts.command.kind === 'help') {
    process.stdout.write(HELP);
    cleanupPid();
    return;
  }
  if (opts.command.kind === 'version') {
    process.stdout.write(`${VERSION}\n`);
    cleanupPid();
    return;
  }

  process.stderr.write(`tsbetween v${VERSION}\n`);
  const source = opts.command.source;
  let decoded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    decoded = await loadConfig(source, opts);
  } catch (err) {
    cleanupPid();
    fail(1, describe(err));
  }

  let logs: LogHandle;
  try {
    logs = await createLogger(decoded.config.logging);
  } catch (err) {
    cleanupPid();
    fail(1, `logging: ${errorMessage(err)}`);
  }
  const log = logs.root;
  for (const w of decoded.warnings) log.child({ name: 'config' }).warn(w);

  // A bad client or a bug in one connection must not take the whole balancer down.
  process.on('uncaughtException', (err) => {
    log.child({ name: 'process' }).error({ err }, `uncaught exception: ${errorMessage(err)}`);
  });
  process.on('unhandledRejection', (reason) => {
    log.child({ name: 'process' }).error(`unhandled rejection: ${errorMessage(reason)}`);
  });

  // Signals are handled from here on, also while servers are still starting.
  let app: App | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) {
      log.child({ name: 'manager' }).warn(`${signal} again: exiting now`);
      cleanupPid();
      process.exit(1);
    }
    stopSignal = signal;
    if (app === undefined) return; // handled once start-up finishes
    log.child({ name: 'manager' }).info(`${signal}: stopping, active connections get ${opts.shutdownGraceMs} ms`);
    app
      .close(opts.shutdownGraceMs)
      .catch((err: unknown) => log.child({ name: 'manager' }).error(`shutdown: ${errorMessage(err)}`))
      .finally(() => {
        cleanupPid();
        log.child({ name: 'manager' }).info('Stopped');
        void logs.close().finally(() => process.exit(0));
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    app = await startApp({ config: decoded.config, source, log, version: VERSION, startTime: new Date(), workers: opts.workers });
  } catch (err) {
    const text = describe(err);
    if (err instanceof ConfigError || err instanceof NotSupportedError || err instanceof StartError) {
      log.child({ name: 'manager' }).fatal(text);
    } else {
      log.child({ name: 'manager' }).fatal({ err }, text);
    }
    await logs.close();
    cleanupPid();
    fail(1, text);
  }
  if (stopSignal !== undefined) {
    const signal = stopSignal;
    stopSignal = undefined;
    stop(signal);
  }
}

main().catch((err: unknown) => fail(1, describe(err)));
