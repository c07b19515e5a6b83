/**
 * Starts Let's Encrypt's test CA (Debian `pebble`) on loopback with its own config, and
 * `pebble-challtestsrv` as its DNS server resolving every name to 127.0.0.1 (no AAAA). Pebble's
 * own HTTPS certificate is made here with openssl (the Debian package ships no test certs); its
 * CA is what the ACME client must trust.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/cli.js';

export interface Pebble {
  readonly directoryUrl: string;
  /** PEM of the CA that signed pebble's HTTPS certificate (for the directory connection). */
  readonly caPem: string;
  /** PEM of the root that issues ACME certificates. */
  rootPem(): Promise<string>;
  readonly logs: () => string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Ports pebble's validation authority connects to for http-01 and tls-alpn-01. */
  readonly httpPort: number;
  readonly tlsPort: number;
  /** Certificate validity in seconds (pebble's default is five years). */
  readonly validitySeconds?: number;
}

/** Why pebble cannot run here, or undefined when it can. */
export function pebbleMissing(): string | undefined {
  for (const bin of ['/usr/bin/pebble', '/usr/bin/pebble-challtestsrv', '/usr/bin/openssl']) {
    if (!existsSync(bin)) return `${bin} not installed`;
  }
  return undefined;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${r.stderr}`);
}

function get(url: string, ca: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts pebble; throws with its output when it does not answer within 20 s. */
export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-pebble-'));
  const children: ChildProcess[] = [];
  let output = '';
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tsbetween pebble test CA']);
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'wfe.key', '-out', 'wfe.csr', '-subj', '/CN=localhost']);
    writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(dir, ['x509', '-req', '-in', 'wfe.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'wfe.pem', '-days', '2', '-extfile', 'ext']);
    const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const [acmePort, mgmtPort, dnsPort, ctsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: join(dir, 'wfe.pem'),
          privateKey: join(dir, 'wfe.key'),
          httpPort: opts.httpPort,
          tlsPort: opts.tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          ...(opts.validitySeconds !== undefined ? { certificateValidityPeriod: opts.validitySeconds } : {}),
        },
      }),
    );
    const capture = (c: ChildProcess): void => {
      const add = (b: Buffer): void => {
        if (output.length < 200_000) output += b.toString();
      };
      c.stdout?.on('data', add);
      c.stderr?.on('data', add);
      children.push(c);
    };
    capture(
      spawn('/usr/bin/pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${ctsPort}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    capture(
      spawn('/usr/bin/pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // No random validation sleeps, no rejected nonces, every order validated afresh.
        env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
      }),
    );
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await get(directoryUrl, caPem, 2000).then((r) => r.status === 200, () => false);
      if (ok && output.includes('Starting challenge servers')) break;
      if (children.some((c) => c.exitCode !== null) || Date.now() > deadline) throw new Error(`pebble did not start: ${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      directoryUrl,
      caPem,
      rootPem: async () => (await get(`https://127.0.0.1:${mgmtPort}/roots/0`, caPem, 5000)).body,
      logs: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Handshake {
  readonly ok: boolean;
  readonly issuer: string;
  readonly serial: string;
  readonly output: string;
}

/** `openssl s_client -servername <name>` verifying against pebble's issuing root. */
export function sClient(port: number, servername: string, rootFile: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-CAfile', rootFile, '-verify_return_error', '-verify_hostname', servername];
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(output)?.[0];
      const leaf = pem === undefined ? undefined : new X509Certificate(pem);
      resolve({
        ok: output.includes('Verify return code: 0 (ok)') && leaf !== undefined,
        issuer: leaf?.issuer ?? '',
        serial: leaf?.serialNumber ?? '',
        output,
      });
    });
    child.stdin.end();
  });
}

