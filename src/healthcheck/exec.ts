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
import { ConfigError } from '../core/errors.js';
import { runProgram } from '../core/run.js';
import type { Fail, HealthcheckKind } from './types.js';
import type { HealthcheckWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
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

export const execKind: HealthcheckKind<ExecSettings> = {
  kind: 'exec',
  schema: keyGroup({
    exec_command: key.string('Program to run (no shell); it gets the backend host and port as arguments.'),
    exec_expected_positive_output: key.string('Output meaning healthy (empty: exit 0 with no output is healthy).'),
    exec_expected_negative_output: key.string('Output meaning unhealthy.'),
  }),
  prepare(wire: HealthcheckWire, fail: Fail): void {
    // crash fix (control-plane §2.13): GoBetween panics at the first check without the command
    if (wire.exec === undefined || wire.exec.exec_command === '') fail('exec_command', 'exec_command is required for exec healthcheck');
  },

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

  async check(settings, target, signal) {
    const r = await runProgram(settings.command, [target.hostLabel, target.portLabel], signal, {
      maxOutput: MAX_STDOUT,
      onOverflow: 'discard',
    });
    if (r.kind === 'aborted') {
      return { status: 'unhealthy', reason: `${abortReason(signal)} (${settings.command} killed)` };
    }
    if (r.kind === 'error') return { status: 'unhealthy', reason: socketError('exec', r.error) };
    if (r.code !== 0) {
      return {
        status: 'unhealthy',
        reason: r.signal !== null ? `${settings.command} killed by ${r.signal}` : `${settings.command} exited with code ${String(r.code)}`,
      };
    }
    const out = r.stdout;
    if (!r.overflow && out.equals(settings.positive)) {
      return { status: 'healthy', reason: 'exec output matched exec_expected_positive_output' };
    }
    if (!r.overflow && out.equals(settings.negative)) {
      return { status: 'unhealthy', reason: 'exec output matched exec_expected_negative_output' };
    }
    return { status: 'unchanged', reason: `unexpected exec output ${quote(out)}` };
  },
};
