/**
 * `exec`: runs `exec_command` (program + arguments, no shell), parses each non-empty stdout line
 * with the backend line grammar (bad lines warned and skipped). Non-zero exit, spawn failure,
 * kill or timeout -> fetch error. The child is killed (SIGKILL) when the fetch is aborted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { BackendSpec } from '../core/backend.js';
import { parseBackendLine } from '../core/backend-line.js';
import { ConfigError } from '../core/errors.js';
import { bodyLines } from './plaintext.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind } from './types.js';
import { abortReason, requireGroup } from './util.js';

export interface ExecSettings {
  readonly file: string;
  readonly args: readonly string[];
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs the command; resolves with stdout, rejects on any failure. The child leads its own process
 * group, so an abort kills whatever it started too (a script's `sleep`, `curl`, ...), and the
 * promise settles at once instead of waiting for grandchildren that still hold the pipe.
 */
export function runCommand(file: string, args: readonly string[], signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true, windowsHide: true });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const killGroup = (): void => {
      const pid = child.pid;
      try {
        if (pid !== undefined) process.kill(-pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const finish = (err: Error | undefined, out?: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(out ?? '');
    };
    const onAbort = (): void => {
      killGroup();
      finish(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_OUTPUT) {
        killGroup();
        finish(new Error(`${file}: output larger than ${MAX_OUTPUT} bytes`));
        return;
      }
      chunks.push(c);
    });
    child.on('error', (err) => finish(new Error(`${file}: ${err.message}`)));
    child.on('close', (code, sig) => {
      if (code === 0) finish(undefined, Buffer.concat(chunks).toString('utf8'));
      else if (code !== null) finish(new Error(`${file} exited with status ${code}`));
      else finish(new Error(`${file} was killed by ${sig ?? 'a signal'}`));
    });
  });
}

export const execKind: DiscoveryKind<ExecSettings> = {
  kind: 'exec',
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.exec,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'exec', path, 'exec_command');
    const [file, ...args] = g.exec_command;
    if (file === undefined || file === '') throw new ConfigError(`${path}.exec_command`, 'required');
    return Object.freeze({ file, args: Object.freeze(args) });
  },
  async fetch(s, ctx) {
    const out = await runCommand(s.file, s.args, ctx.signal);
    const specs: BackendSpec[] = [];
    for (const line of bodyLines(out)) {
      const spec = parseBackendLine(line);
      if (spec === undefined) ctx.log.warn(`Cant parse ${line}`);
      else specs.push(spec);
    }
    return specs;
  },
};
