/** Shared fixtures for the balancer tests. */
import { isIP } from 'node:net';
import { backendKey, dialHost } from '../../src/core/backend.js';
import type { BackendSpec } from '../../src/core/backend.js';
import type { LoadView, SnapshotBackend } from '../../src/core/snapshot.js';
import type { PickContext } from '../../src/balance/types.js';

/** A snapshot backend whose load figures a test sets directly (read through `load`). */
export interface TB extends SnapshotBackend {
  maxConnections: number;
  active: number;
  rxSecond: number;
  txSecond: number;
}

const bySlot: TB[] = [];

/** The load view over every backend `mk` made: active and bandwidth as the test set them. */
export const load: LoadView = {
  active: (slot) => bySlot[slot]?.active ?? 0,
  bandwidth: (slot) => {
    const b = bySlot[slot];
    return b === undefined ? 0 : b.rxSecond + b.txSecond;
  },
};

export function mk(host: string, port: string | number, extra?: Partial<BackendSpec>): TB {
  const p = String(port);
  const n = Number(p);
  const b: TB = {
    slot: bySlot.length,
    key: backendKey(host, p),
    host,
    port: p,
    dialHost: dialHost(host),
    dialPort: Number.isInteger(n) && n >= 0 && n <= 65535 ? n : 0,
    dialFamily: isIP(dialHost(host)),
    weight: extra?.weight ?? 1,
    priority: extra?.priority ?? 1,
    sni: extra?.sni ?? '',
    maxConnections: extra?.maxConnections ?? 0,
    live: true,
    eligible: true,
    active: 0,
    rxSecond: 0,
    txSecond: 0,
  };
  bySlot.push(b);
  return b;
}

/** Sorted by key, byte order — what the pool publishes. */
export function sorted<T extends SnapshotBackend>(list: readonly T[]): T[] {
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
