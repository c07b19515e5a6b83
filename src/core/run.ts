/**
 * Runs a program the way discovery and health checks need it: no shell, arguments as given,
 * stdout captured up to a cap (stderr ignored), and the program leads its own process group so
 * an abort (timeout, server deleted) kills whatever it started too — a script's `sleep` or
 * `curl` cannot keep the pipe, or the caller, waiting.
 */
import type { ChildProcess } from 'node:child_process';
import { nodeChildProcess } from './builtin.js';

export type ProgramOutcome =
  /** The program ended: exit code (null when killed by a signal) and the captured stdout. */
  | { readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: Buffer; readonly overflow: boolean }
  /** The signal aborted the run; the process group was killed. */
  | { readonly kind: 'aborted' }
  /** The program could not be started, or wrote more than the cap with `onOverflow: 'kill'`. */
  | { readonly kind: 'error'; readonly error: Error };

export interface RunOptions {
  /** Bytes of stdout kept. */
  readonly maxOutput: number;
  /** Past the cap: kill the program and report an error, or keep running and drop the rest. */
  readonly onOverflow: 'kill' | 'discard';
}

/** Kills the process group of `child` (falls back to the child alone). */
function killGroup(child: ChildProcess): void {
  const pid = child.pid;
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Never rejects: every outcome is a value. */
export function runProgram(file: string, args: readonly string[], signal: AbortSignal, opts: RunOptions): Promise<ProgramOutcome> {
  return new Promise<ProgramOutcome>((resolve) => {
    if (signal.aborted) {
      resolve({ kind: 'aborted' });
      return;
    }
    let child: ChildProcess;
    try {
      child = nodeChildProcess().spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true, windowsHide: true });
    } catch (err) {
      resolve({ kind: 'error', error: new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`) });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (outcome: ProgramOutcome): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => {
      killGroup(child);
      finish({ kind: 'aborted' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => {
      const room = opts.maxOutput - size;
      size += chunk.length;
      if (size <= opts.maxOutput) {
        chunks.push(chunk);
        return;
      }
      if (opts.onOverflow === 'kill') {
        killGroup(child);
        finish({ kind: 'error', error: new Error(`${file}: output larger than ${opts.maxOutput} bytes`) });
      } else if (room > 0) {
        chunks.push(chunk.subarray(0, room));
      }
    });
    child.on('error', (err) => finish({ kind: 'error', error: err }));
    child.on('close', (code, sig) => {
      finish({ kind: 'exited', code, signal: sig, stdout: Buffer.concat(chunks), overflow: size > opts.maxOutput });
    });
  });
}
