/** `openssl s_client` runs for the interop tests. */
import { spawn } from 'node:child_process';

export interface SClient {
  code: number;
  out: string;
  /** "New" or "Reused", the protocol and the cipher from s_client's summary line (unset if none was negotiated). */
  session?: 'New' | 'Reused';
  protocol?: string;
  cipher?: string;
}

/** Connects, sends `input`, waits for the server to close (-ign_eof); never rejects. */
export function sClient(openssl: string, port: number, args: string[], input = 'hi\n', ms = 20000): Promise<SClient> {
  return new Promise((resolve) => {
    const child = spawn(openssl, ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.on('close', (code) => {
      clearTimeout(timer);
      const r: SClient = { code: code ?? -1, out };
      const m = /^(New|Reused), (\S+), Cipher is (\S+)/m.exec(out);
      if (m !== null && m[3] !== '(NONE)') {
        r.session = m[1] as 'New' | 'Reused';
        r.protocol = m[2] as string;
        r.cipher = m[3] as string;
      }
      resolve(r);
    });
  });
}
