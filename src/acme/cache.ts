/**
 * The certificate cache in `[acme] cache_dir`: one file per host (`<cache_dir>/<host>`, the
 * private key PEM followed by the certificate chain PEM — the layout Go's autocert uses, so a
 * GoBetween cache directory is picked up) and the account key (`acme_account+key`).
 *
 * Files are written atomically (a temporary file in the same directory with mode 0600, then
 * renamed over the old one), so a crash never leaves a half-written key or certificate.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const ACCOUNT_KEY_FILE = 'acme_account+key';

/** Host names that can name a cache file: letters, digits, '-', '.', no leading dot. */
const HOST_RE = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/;

export function isValidAcmeHost(host: string): boolean {
  return host.length > 0 && host.length <= 253 && HOST_RE.test(host);
}

export class CertCache {
  constructor(readonly dir: string) {}

  /** The file's contents, or undefined when it does not exist. */
  async get(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes the file atomically with mode 0600 (creating the directory with 0700 if needed). */
  async put(name: string, data: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.path(name);
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private path(name: string): string {
    if (name !== ACCOUNT_KEY_FILE && !isValidAcmeHost(name)) throw new Error(`invalid cache name ${JSON.stringify(name)}`);
    return join(this.dir, name);
  }
}

/** Splits a cached host file into its private key PEM and certificate chain PEM. */
export function splitKeyAndChain(pem: string): { key: string; chain: string } | undefined {
  const blocks = pem.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  const key = blocks.find((b) => /^-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(b));
  const certs = blocks.filter((b) => b.startsWith('-----BEGIN CERTIFICATE-----'));
  if (key === undefined || certs.length === 0) return undefined;
  return { key: `${key}\n`, chain: `${certs.join('\n')}\n` };
}
