/** Runs the Debian haproxy binary in the foreground for interop tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export interface Haproxy {
  output(): string;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Starts haproxy with `config` and waits until every port in `ports` accepts. */
export async function startHaproxy(config: string, ports: number[], ms = 15000): Promise<Haproxy> {
  if (HAPROXY === undefined) throw new Error('haproxy not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tsb-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config);
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + ms;
  for (const p of ports) {
    while (!(await canConnect(p))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not start: ${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { output: () => out, stop };
}

export const HAPROXY_DEFAULTS = `
global
  maxconn 1000
defaults
  timeout connect 5s
  timeout client 20s
  timeout server 20s
`;
