#!/usr/bin/env node
/**
 * The `tsbetween` / `gobetween` executable: GoBetween's CLI (control-plane §1), a pidfile, and a
 * graceful shutdown on SIGTERM/SIGINT (stop accepting, let connections finish within the grace
 * period, remove the pidfile, exit 0). SIGHUP reloads the config source (tsbetween-only).
 * Exit codes: 0 clean, 1 bad config / start failure, 2 usage error.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { HELP, UsageError, argvFromEnv, parseArgs, type CliOptions } from './args.js';
import { startApp, type App } from './app.js';
import { decodeConfig } from './config/decode.js';
import { readConfigSource, substituteEnv } from './config/load.js';
import type { ConfigSource } from './config/types.js';
import { ConfigError, NotSupportedError, StartError, describeError, errorMessage } from './core/errors.js';
import { createLogger, type LogHandle } from './core/log.js';
import { settleHeap } from './core/settle.js';
import { logText, oneLine } from './core/text.js';
import { VERSION } from './version.js';

/** Always exactly one line on stderr, whatever the message holds. */
function fail(code: number, message: string): never {
  process.stderr.write(`tsbetween: ${oneLine(message)}\n`);
  process.exit(code);
}

const describe = describeError;

/** How long after start-up the one memory-reducing collection runs (core/settle.ts). */
const SETTLE_DELAY_MS = 1000;

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
      // Every usage error exits 2 (Q-28 fix), GOBETWEEN env errors included (GoBetween: exit 1).
      const envError = err.message.includes('GOBETWEEN') || err.message.startsWith('Error converting env var');
      process.stderr.write(`tsbetween: ${oneLine(err.message)}\n`);
      if (!envError) process.stderr.write(`Run 'tsbetween --help' for usage.\n`);
      process.exit(2);
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
  // Until the real handlers below take over (config read from a URL or Consul can take a while),
  // a stop request exits at once: nothing serves yet. Without a handler, a container's PID 1
  // would ignore SIGTERM here.
  const stopEarly = (signal: NodeJS.Signals): void => {
    process.stderr.write(`tsbetween: ${signal} while loading the config: exiting\n`);
    cleanupPid();
    process.exit(0);
  };
  process.on('SIGTERM', stopEarly);
  process.on('SIGINT', stopEarly);
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
  for (const w of decoded.warnings) log.child({ name: 'config' }).warn(logText(w));

  // A bad client or a bug in one connection must not take the whole balancer down.
  process.on('uncaughtException', (err) => {
    log.child({ name: 'process' }).error({ err }, `uncaught exception: ${errorMessage(err)}`);
  });
  process.on('unhandledRejection', (reason) => {
    log.child({ name: 'process' }).error(`unhandled rejection: ${errorMessage(reason)}`);
  });

  // Like GoBetween, the process runs until it is stopped, even with nothing to serve: a process
  // supervisor must not see a clean exit. This ref'd timer keeps the event loop alive.
  const keepAlive = setInterval(() => undefined, 1 << 30);

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
    clearInterval(keepAlive);
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
  process.off('SIGTERM', stopEarly);
  process.off('SIGINT', stopEarly);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // SIGHUP (tsbetween-only): re-read the config source and apply it (App.reload logs the outcome;
  // a bad config changes nothing). Handled from here on, so it never kills the process.
  process.on('SIGHUP', () => {
    const reloadLog = log.child({ name: 'reload' });
    if (app === undefined || stopSignal !== undefined) {
      reloadLog.warn('SIGHUP ignored: not running yet, or stopping');
      return;
    }
    reloadLog.info('SIGHUP: reloading the config');
    app.reload().catch(() => undefined);
  });

  try {
    app = await startApp({
      config: decoded.config,
      source,
      log,
      version: VERSION,
      startTime: new Date(),
      loadConfig: () => loadConfig(source, opts),
      reloadGraceMs: opts.shutdownGraceMs,
      workers: opts.workers,
    });
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
  if (app.manager.names().length === 0 && app.apiAddress === undefined && app.metricsAddress === undefined && !app.profilerRunning) {
    log.child({ name: 'manager' }).warn(
      'nothing to serve: no servers configured, and no API, metrics or profiler listener; running until stopped',
    );
  }
  if (stopSignal !== undefined) {
    const signal = stopSignal;
    stopSignal = undefined;
    stop(signal);
    return;
  }
  // Start-up is over: one memory-reducing collection (core/settle.ts), once the first discovery
  // fetches and health checks have had a moment to run.
  setTimeout(() => {
    const before = process.memoryUsage.rss();
    if (settleHeap()) {
      const mb = (n: number): string => (n / 1048576).toFixed(1);
      log.child({ name: 'manager' }).debug(`start-up heap settled: RSS ${mb(before)} -> ${mb(process.memoryUsage.rss())} MB`);
    }
  }, SETTLE_DELAY_MS).unref();
}

main().catch((err: unknown) => fail(1, describe(err)));
