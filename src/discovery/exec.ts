/**
 * `exec`: runs `exec_command` (program + arguments, no shell), parses each non-empty stdout line
 * with the backend line grammar (bad lines warned and skipped). Non-zero exit, spawn failure,
 * kill or timeout -> fetch error. The child is killed (SIGKILL) when the fetch is aborted.
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import type { BackendSpec } from '../core/backend.js';
import { parseBackendLine } from '../core/backend-line.js';
import { ConfigError } from '../core/errors.js';
import { runProgram } from '../core/run.js';
import { bodyLines } from './plaintext.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail } from './types.js';
import { abortReason, requireGroup, warnSkipped } from './util.js';

export interface ExecSettings {
  readonly file: string;
  readonly args: readonly string[];
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Runs the command; resolves with stdout, rejects on any failure (the process group is killed on abort). */
export async function runCommand(file: string, args: readonly string[], signal: AbortSignal): Promise<string> {
  const r = await runProgram(file, args, signal, { maxOutput: MAX_OUTPUT, onOverflow: 'kill' });
  switch (r.kind) {
    case 'aborted':
      throw abortReason(signal);
    case 'error':
      throw r.error.message.startsWith(`${file}: `) ? r.error : new Error(`${file}: ${r.error.message}`);
    case 'exited':
      if (r.code === 0) return r.stdout.toString('utf8');
      if (r.code !== null) throw new Error(`${file} exited with status ${r.code}`);
      throw new Error(`${file} was killed by ${r.signal ?? 'a signal'}`);
  }
}

export const execKind: DiscoveryKind<ExecSettings> = {
  kind: 'exec',
  schema: keyGroup({
    exec_command: key.strings('Program and arguments (no shell); each stdout line is a backend line.'),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    const cmd = wire.exec?.exec_command ?? [];
    if (cmd.length === 0 || cmd[0] === '') fail('exec_command', 'exec_command is required for exec discovery');
  },
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
    const bad: string[] = [];
    for (const line of bodyLines(out)) {
      const spec = parseBackendLine(line);
      if (spec === undefined) bad.push(line);
      else specs.push(spec);
    }
    warnSkipped(ctx.log, bad);
    return specs;
  },
};
