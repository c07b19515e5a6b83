/** A toy kind (proof that a discovery kind touches only src/discovery/): one fixed backend. */
import { z } from 'zod';
import type { DiscoveryWire } from '../config/types.js';
import { backendSpec } from '../core/backend.js';
import { key } from '../core/keys.js';
import type { DiscoveryKind, Fail } from './types.js';
import { groupOf } from './util.js';

interface ToyGroup {
  toy_backend: string;
  toy_weight: number;
}

export const toyKind: DiscoveryKind<{ host: string; port: string; weight: number }> = {
  kind: 'toy',
  schema: z.object({
    toy_backend: key.string('The one backend, `host:port`.'),
    toy_weight: key.int('Its weight.', { effectiveDefault: 1 }),
  }),
  defaultTimeoutMs: 1000,
  retryWaitMs: 1000,
  oneShot: true,
  prepare(wire: DiscoveryWire, fail: Fail): void {
    const g = groupOf<ToyGroup>(wire, 'toy');
    if (g === undefined || g.toy_backend === '') return fail('toy_backend', 'toy_backend is required for toy discovery');
    if (g.toy_weight === 0) g.toy_weight = 1;
    if (!g.toy_backend.includes(':')) fail('toy_backend', `toy_backend needs a port: ${g.toy_backend}`);
  },
  parse(wire) {
    const g = groupOf<ToyGroup>(wire, 'toy') ?? { toy_backend: ':', toy_weight: 1 };
    const i = g.toy_backend.lastIndexOf(':');
    return Object.freeze({ host: g.toy_backend.slice(0, i), port: g.toy_backend.slice(i + 1), weight: g.toy_weight });
  },
  fetch: (s) => Promise.resolve([backendSpec(s.host, s.port, { weight: s.weight })]),
};
