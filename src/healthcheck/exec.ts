/**
 * `exec` (data-plane §12.5): runs `exec_command` — one program path, no shell, no argument
 * splitting — with two arguments, the backend's host and port exactly as discovered (an
 * IPv6 host keeps its brackets when discovery wrote them). Only stdout is captured.
 *
 * - exit 0 and stdout byte-equal to `exec_expected_positive_output` → healthy;
 * - exit 0 and stdout byte-equal to `exec_expected_negative_output` → unhealthy;
 * - exit 0 and any other stdout → no change + a warning (D27 / Q-19 fix: GoBetween could mark the
 *   backend dead here, its documentation says "no change");
 * - non-zero exit, killed, or the program could not be started → unhealthy.
 * No trimming: a script must print `1`, not `1\n` (`echo -n 1`), as with GoBetween.
 *
 * Q-20 (decided: copy GoBetween): the expected outputs have no defaults. An empty positive
 * output means "exit 0 with no output is healthy"; the positive value is compared first, so when
 * both are equal a match counts as healthy.
 *
 * The program runs in its own process group, and the whole group is killed (SIGKILL) when the
 * check times out or is stopped, so a hanging script's children cannot keep the check (or the
 * pipe) alive. Standard output is kept up to 64 KiB (more than any sane expected value).
 */
import { spawn } from 'node:child_process';
import { ConfigError } from '../core/errors.js';
import type { CheckResult, HealthcheckKind } from './types.js';
import { abortReason, socketError } from './util.js';

export interface ExecSettings {
  readonly command: string;
  readonly positive: Buffer;
  readonly negative: Buffer;
}

const MAX_STDOUT = 64 * 1024;

function quote(out: Buffer): string {
  const text = JSON.stringify(out.subarray(0, 64).toString('utf8'));
  return out.length > 64 ? `${text}...` : text;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const execKind: HealthcheckKind<ExecSettings> = {
  kind: 'exec',

  parse(wire, path) {
    const g = wire.exec;
    if (g === undefined || g.exec_command === '') {
      throw new ConfigError(`${path}.exec_command`, 'exec_command is required for exec healthcheck');
    }
    return Object.freeze({
      command: g.exec_command,
      positive: Buffer.from(g.exec_expected_positive_output, 'utf8'),
      negative: Buffer.from(g.exec_expected_negative_output, 'utf8'),
    });
  },

  check(settings, target, signal) {
    return new Promise<CheckResult>((resolve) => {
      if (signal.aborted) {
        resolve({ status: 'unhealthy', reason: abortReason(signal) });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let finished = false;
      const child = spawn(settings.command, [target.hostLabel, target.portLabel], {
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true,
        windowsHide: true,
      });
      const finish = (result: CheckResult): void => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        child.stdout.destroy();
        resolve(result);
      };
      const onAbort = (): void => {
        killGroup(child.pid);
        finish({ status: 'unhealthy', reason: `${abortReason(signal)} (${settings.command} killed)` });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => {
        if (size < MAX_STDOUT) chunks.push(chunk.subarray(0, MAX_STDOUT - size));
        size += chunk.length;
      });
      child.stdout.on('error', () => undefined);
      child.on('error', (err) => finish({ status: 'unhealthy', reason: socketError('exec', err) }));
      child.on('close', (code, sig) => {
        if (code !== 0) {
          finish({ status: 'unhealthy', reason: sig !== null ? `${settings.command} killed by ${sig}` : `${settings.command} exited with code ${String(code)}` });
          return;
        }
        const out = Buffer.concat(chunks);
        if (size <= MAX_STDOUT && out.equals(settings.positive)) {
          finish({ status: 'healthy', reason: 'exec output matched exec_expected_positive_output' });
        } else if (size <= MAX_STDOUT && out.equals(settings.negative)) {
          finish({ status: 'unhealthy', reason: 'exec output matched exec_expected_negative_output' });
        } else {
          finish({ status: 'unchanged', reason: `unexpected exec output ${quote(out)}` });
        }
      });
    });
  },
};
