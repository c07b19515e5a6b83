/** Test helpers: run the real CLI as a child process, free loopback ports, small TCP peers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'src', 'cli.ts');

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout+stderr match `re`; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit code (signal → -1). */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    // One data-plane worker unless a test asks for more: the suite stays deterministic on a
    // loaded 2-core box (test/workers/ covers several workers).
    env: { ...process.env, GOBETWEEN: '', TSBETWEEN_WORKERS: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; for (const w of waiters) w(); });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; for (const w of waiters) w(); });
  const exited = once(child, 'exit').then(([code]) => (typeof code === 'number' ? code : -1));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
    waitFor(re, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (re.test(out + err)) { cleanup(); resolve(); }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout waiting for ${re}; stdout=${out} stderr=${err}`)); }, ms);
        const onExit = (): void => { check(); if (waiters.has(check)) { cleanup(); reject(new Error(`exited before ${re}; stdout=${out} stderr=${err}`)); } };
        const cleanup = (): void => { clearTimeout(timer); waiters.delete(check); child.off('exit', onExit); };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** A free TCP port (see test/helpers/net.ts). */
export { freePort } from './net.js';

export interface TempDir {
  path: string;
  write(name: string, text: string): string;
  remove(): void;
}

export function tempDir(prefix = 'tsb-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    write(name, text) {
      const p = join(path, name);
      writeFileSync(p, text);
      return p;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A TCP backend answering every chunk with `<id>:<chunk>`; tracks its sockets for cleanup. */
export async function echoBackend(id: string): Promise<{ port: number; server: net.Server; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`${id}:${d.toString()}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Connects, writes `msg`, resolves with the first reply chunk (or '' when closed without data). */
export function request(port: number, msg: string, host = '127.0.0.1', ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('request timeout')); }, ms);
    s.on('connect', () => s.write(msg));
    s.once('data', (d) => { clearTimeout(timer); s.destroy(); resolve(d.toString()); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(''); });
  });
}

/** A child process started by `startUntil`, its output so far, and a stop that waits for its exit. */
export interface StartedChild {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after `killMs`; resolves once it exited. */
  stop(killMs?: number): Promise<void>;
}

/**
 * Spawns `process.execPath args` in the repository root and waits (up to 30 s) until its output
 * matches `ready`; fails with the output if it exits or times out first (the child is stopped).
 */
export async function startUntil(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<StartedChild> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = once(child, 'exit');
  const started: StartedChild = {
    child,
    output: () => out,
    async stop(killMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), killMs);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + 30_000;
  while (!ready.test(out)) {
    if (child.exitCode !== null || Date.now() >= deadline) {
      await started.stop();
      throw new Error(`${child.exitCode !== null ? 'exited before start-up ended' : 'start-up did not end'}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return started;
}
