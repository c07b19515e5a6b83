/** Test certificates made with the openssl CLI at test time, in a temp dir. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPENSSL } from '../../discovery/tls-fixture.js';

export { OPENSSL };

export interface TestPki {
  readonly dir: string;
  /** CA that signed `server` and `client`. */
  readonly ca: string;
  /** Another CA (signed nothing here): "wrong CA". */
  readonly otherCa: string;
  /** Server cert for 127.0.0.1, ::1, localhost, a.example, b.example (+ key). */
  readonly cert: string;
  readonly key: string;
  /** Cert + key in one PEM (HAProxy's `crt`). */
  readonly combined: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Issues another server certificate with `cn` into `certPath`/`keyPath`. */
  issue(cn: string, certPath: string, keyPath: string): void;
  dispose(): void;
}

export function makeTestPki(): TestPki {
  if (OPENSSL === undefined) throw new Error('openssl not installed');
  const ossl = OPENSSL;
  const dir = mkdtempSync(join(tmpdir(), 'tsb-tls-'));
  const p = (n: string): string => join(dir, n);
  const run = (args: string[]): void => {
    execFileSync(ossl, args, { stdio: 'ignore', timeout: 20000 });
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...key, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-subj', '/CN=tsbetween tls test CA', '-days', '2']);
  run(['req', '-x509', ...key, '-keyout', p('other.key'), '-out', p('other.crt'), '-subj', '/CN=other CA', '-days', '2']);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:a.example,DNS:b.example\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  const issue = (cn: string, ext: string, certPath: string, keyPath: string): void => {
    const csr = `${certPath}.csr`;
    run(['req', ...key, '-keyout', keyPath, '-out', csr, '-subj', `/CN=${cn}`]);
    run(['x509', '-req', '-in', csr, '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', certPath, '-days', '2', '-extfile', ext]);
  };
  issue('tsbetween test server', p('server.ext'), p('server.crt'), p('server.key'));
  issue('tsbetween-client', p('client.ext'), p('client.crt'), p('client.key'));
  execFileSync('sh', ['-c', `cat '${p('server.crt')}' '${p('server.key')}' > '${p('combined.pem')}'`]);
  return {
    dir,
    ca: p('ca.crt'),
    otherCa: p('other.crt'),
    cert: p('server.crt'),
    key: p('server.key'),
    combined: p('combined.pem'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    issue: (cn, certPath, keyPath) => issue(cn, p('server.ext'), certPath, keyPath),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
