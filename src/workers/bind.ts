/** The bind string worker threads listen on once worker 0 has resolved a port 0. */
import { splitHostPort } from '../core/listen.js';

/** `bind` with its port replaced (Go's host:port form; IPv6 literals in brackets). */
export function withPort(bind: string, port: number): string {
  const hp = splitHostPort(bind);
  if (typeof hp === 'string') return bind;
  const host = hp[0];
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
