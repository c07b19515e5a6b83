// Child-process supervision for the benchmark: every process the harness starts is registered
// here, so that a normal exit, an error, SIGINT or the hard timeout all stop every one of them.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { accessSync, constants, closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<Exit>;
  /** Set once the process has exited. */
  exit: Exit | null;
}

export interface RunResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface SpawnOptions {
  /** 'pipe' keeps the child's stdin open so it can notice the harness dying. */
  readonly stdin?: 'pipe' | 'ignore';
  readonly env?: NodeJS.ProcessEnv;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Supervisor {
  private readonly live = new Set<Managed>();
  private readonly running = new Set<ChildProcess>();
  private closing = false;

  constructor(private readonly logDir: string) {}

  /** Starts a long-running process; stdout and stderr go to `<logDir>/<name>.log`. */
  start(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Managed {
    if (this.closing) throw new Error(`not starting ${name}: shutting down`);
    const logPath = join(this.logDir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const stdio: StdioOptions = [opts.stdin ?? 'ignore', fd, fd];
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio, env: opts.env ?? process.env });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      // spawn reports ENOENT asynchronously through 'error'; the pid tells us right away.
      child.on('error', () => undefined);
      throw new Error(`cannot start ${name}: ${cmd} not found or not executable`);
    }
    const managed: Managed = {
      name,
      child,
      pid: child.pid,
      logPath,
      exit: null,
      exited: new Promise<Exit>((resolve) => {
        child.on('exit', (code, signal) => {
          managed.exit = { code, signal };
          this.live.delete(managed);
          resolve({ code, signal });
        });
      }),
    };
    child.on('error', () => undefined);
    this.live.add(managed);
    return managed;
  }

  /** Runs a bounded command to completion, capturing its output; killed after `timeoutMs`. */
  run(cmd: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      if (this.closing) {
        reject(new Error(`not running ${cmd}: shutting down`));
        return;
      }
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.running.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        this.running.delete(child);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.running.delete(child);
        resolve({
          code,
          signal,
          timedOut,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  /** Stops one process: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(m: Managed, graceMs = 3000): Promise<Exit> {
    if (m.exit !== null) return m.exit;
    m.child.kill('SIGTERM');
    const timer = setTimeout(() => m.child.kill('SIGKILL'), graceMs);
    try {
      return await m.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops everything still running, in reverse start order. */
  async stopAll(graceMs = 3000): Promise<void> {
    this.closing = true;
    for (const child of this.running) child.kill('SIGKILL');
    const all = [...this.live].reverse();
    await Promise.all(all.map((m) => this.stop(m, graceMs)));
  }

  /** Last resort from a synchronous 'exit' handler: SIGKILL whatever is left. */
  killAllSync(): void {
    for (const child of this.running) child.kill('SIGKILL');
    for (const m of this.live) m.child.kill('SIGKILL');
  }

  /** Names of processes still alive. */
  liveNames(): string[] {
    return [...this.live].map((m) => m.name);
  }
}

/** The last `maxBytes` of a log file, for error messages. */
export function logTail(path: string, maxBytes = 2000): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > maxBytes ? `...${text.slice(-maxBytes)}` : text;
  } catch {
    return '';
  }
}

/** Finds an executable in PATH (plus the sbin directories, where haproxy lives). */
export function which(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Ports in LISTEN state on loopback or wildcard, read from /proc/net/tcp{,6} without opening a
 * connection (a probe connection would confuse iperf3, which serves one control connection at a time).
 */
export function listeningPorts(tables: readonly string[]): Set<number> {
  const ports = new Set<number>();
  for (const table of tables) {
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (local === undefined || cols[3] !== '0A') continue;
      const colon = local.lastIndexOf(':');
      ports.add(parseInt(local.slice(colon + 1), 16));
    }
  }
  return ports;
}

function readListening(): Set<number> {
  const tables: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      tables.push(readFileSync(f, 'utf8'));
    } catch {
      // no IPv6 table on this kernel
    }
  }
  return listeningPorts(tables);
}

/** Waits until every port is listening; fails early when `m` exits, or at the deadline. */
export async function waitListening(m: Managed, ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.exit !== null) {
      throw new Error(`${m.name} exited (code ${String(m.exit.code)}, signal ${String(m.exit.signal)}) ` +
        `before listening:\n${logTail(m.logPath)}`);
    }
    const listening = readListening();
    if (ports.every((p) => listening.has(p))) return;
    if (Date.now() > deadline) {
      throw new Error(`${m.name} is not listening on ${ports.join(', ')} after ${timeoutMs} ms:\n${logTail(m.logPath)}`);
    }
    await sleep(50);
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Picks `count` free loopback ports below the ephemeral range (32768+), starting at a random
 * offset so that two harnesses on one box rarely collide, and skipping ports already in use.
 */
export async function pickPorts(count: number, low = 20000, high = 32000): Promise<number[]> {
  const listening = readListening();
  const span = high - low;
  const start = low + Math.floor(Math.random() * span);
  const ports: number[] = [];
  for (let i = 0; i < span && ports.length < count; i++) {
    const port = low + ((start - low + i) % span);
    if (listening.has(port)) continue;
    if (await portFree(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error(`could not find ${count} free ports in ${low}-${high}`);
  return ports;
}
