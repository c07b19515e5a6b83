/**
 * `exec`: runs `exec_command` (program + arguments, no shell), parses each non-empty stdout line
 * with the backend line grammar (bad lines warned and skipped). Non-zero exit, spawn failure,
 * kill or timeout -> fetch error. The child is killed (SIGKILL) when the fetch is aborted.
 */
import { execFile } from 'node:child_process';
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

/** Runs the command; resolves with stdout, rejects on any failure (exported for reuse). */
export function runCommand(file: string, args: readonly string[], signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    execFile(file, args, { signal, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, encoding: 'utf8', windowsHide: true },
      (err, stdout) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        if (signal.aborted) {
          reject(abortReason(signal));
          return;
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number') reject(new Error(`${file} exited with status ${code}`));
        else if (err.killed || (err as { signal?: unknown }).signal) reject(new Error(`${file} was killed`));
        else reject(new Error(`${file}: ${err.message}`));
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
