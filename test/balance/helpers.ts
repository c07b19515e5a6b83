/** Shared fixtures for the balancer tests. */
import { Backend, backendSpec, type BackendSpec } from '../../src/core/backend.js';
import type { PickContext } from '../../src/balance/types.js';

export function mk(host: string, port: string | number, extra?: Partial<BackendSpec>): Backend {
  return new Backend(backendSpec(host, String(port), extra), true);
}

/** Sorted by key, byte order — what the pool publishes as `eligible`. */
export function sorted(list: readonly Backend[]): Backend[] {
  return [...list].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function ctx(clientIp = '127.0.0.1', sni = ''): PickContext {
  return { clientIp, clientPort: 40000, sni };
}

/** A random dotted IPv4 address from an injected random source. */
export function randomIpv4(random: () => number): string {
  const o = (): number => Math.floor(random() * 256);
  return `${o()}.${o()}.${o()}.${o()}`;
}

/** Counts picks by backend key. */
export function tally(keys: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
