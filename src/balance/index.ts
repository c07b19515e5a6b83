/**
 * The balancer registry: the six GoBetween algorithms, registered explicitly. `weight` is the
 * default when `balance` is empty or absent.
 */
import { Registry } from '../core/registry.js';
import { ipHashBalancer } from './iphash.js';
import { ipHash1Balancer } from './iphash1.js';
import { leastBandwidthBalancer } from './leastbandwidth.js';
import { leastConnBalancer } from './leastconn.js';
import { roundRobinBalancer } from './roundrobin.js';
import type { BalancerKind } from './types.js';
import { weightBalancer } from './weight.js';

export const DEFAULT_BALANCER = 'weight';

export function createBalancerRegistry(): Registry<BalancerKind> {
  return new Registry<BalancerKind>('balancer')
    .register(weightBalancer)
    .register(roundRobinBalancer)
    .register(leastConnBalancer)
    .register(leastBandwidthBalancer)
    .register(ipHashBalancer)
    .register(ipHash1Balancer);
}

export { Elector, ELECT_EMPTY, ELECT_MAX_CONNECTIONS, type SniFilter } from './elector.js';
export type { Balancer, BalancerDeps, BalancerKind, PickContext } from './types.js';
