/** Starts a real dnsmasq on a random loopback port for interop tests (Debian package dnsmasq-base). */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { accessSync, constants, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsQuery } from '../../src/discovery/dns-client.js';
import { sleep } from './helpers.js';

export const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/sbin/dnsmasq'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

/**
 * A port on 127.0.0.1 free for both UDP and TCP, picked below the ephemeral range (32768+), where
 * busy machines have many outgoing connections (dnsmasq binds UDP and TCP on it).
 */
export async function freeDnsPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const u = dgram.createSocket('udp4');
    const udpOk = await new Promise<boolean>((r) => {
      u.once('error', () => r(false));
      u.bind(port, '127.0.0.1', () => r(true));
    });
    if (udpOk) await new Promise<void>((r) => u.close(() => r()));
    if (!udpOk) continue;
    const t = net.createServer();
    const tcpOk = await new Promise<boolean>((r) => {
      t.once('error', () => r(false));
      t.listen(port, '127.0.0.1', () => r(true));
    });
    if (tcpOk) await new Promise<void>((r) => t.close(() => r()));
    if (tcpOk) return port;
  }
}

export class Dnsmasq {
  readonly dir: string;
  readonly hostsFile: string;
  private child: ChildProcess | undefined;
  stderr = '';

  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'tsb-dnsmasq-'));
    chmodSync(this.dir, 0o755); // dnsmasq may drop to an unprivileged user before re-reading files
    this.hostsFile = join(this.dir, 'hosts');
    this.writeHosts('');
  }

  writeHosts(text: string): void {
    writeFileSync(this.hostsFile, text, { mode: 0o644 });
  }

  /** Starts dnsmasq with extra arguments (--srv-host=..., --address=...); resolves once it answers. */
  async start(args: string[]): Promise<void> {
    if (DNSMASQ === undefined) throw new Error('dnsmasq not installed');
    const child = spawn(DNSMASQ, [
      '--no-daemon', '--log-facility=-', `--port=${this.port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--conf-file=/dev/null', `--pid-file=${join(this.dir, 'pid')}`,
      `--addn-hosts=${this.hostsFile}`, ...args,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (c: Buffer) => { this.stderr += c.toString(); });
    const exited = new Promise<never>((_r, reject) => {
      child.once('exit', (code) => reject(new Error(`dnsmasq on port ${this.port} exited (${code}): ${this.stderr}`)));
    });
    exited.catch(() => undefined);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await Promise.race([
          dnsQuery('ready.invalid.', 'A', { server: { host: '127.0.0.1', port: this.port }, protocol: 'udp', signal: AbortSignal.timeout(200) }),
          exited,
        ]);
        return;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) {
          await this.stop();
          throw err;
        }
        await sleep(50);
      }
    }
  }

  /** Re-reads the hosts file. */
  reload(): void {
    this.child?.kill('SIGHUP');
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
