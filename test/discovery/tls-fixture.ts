/** Test PKI made with the openssl CLI: a CA, a server cert for 127.0.0.1 and a client cert. */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  read(p: string): Buffer;
  dispose(): void;
}

export function makePki(): Pki {
  if (OPENSSL === undefined) throw new Error('openssl not installed');
  const ossl = OPENSSL;
  const dir = mkdtempSync(join(tmpdir(), 'tsb-pki-'));
  const p = (n: string): string => join(dir, n);
  const run = (args: string[]): void => {
    execFileSync(ossl, args, { stdio: 'ignore', timeout: 10000 });
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...key, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-subj', '/CN=tsbetween test CA', '-days', '2']);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:backends.test\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    run(['req', ...key, '-keyout', p(`${who}.key`), '-out', p(`${who}.csr`), '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'tsbetween-client'}`]);
    run(['x509', '-req', '-in', p(`${who}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${who}.crt`), '-days', '2', '-extfile', p(`${who}.ext`)]);
  }
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    read: (f) => readFileSync(f),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
