/**
 * The udp section of a `ServerPlan` (core/plan.ts, plain data built by control/plan.ts) and its
 * reader for the udp listener.
 */
import type { PlainSection } from '../../core/plan.js';
import type { UdpLimits } from './accounting.js';

/** Default of the tsbetween-only `udp.max_sessions`. */
export const DEFAULT_MAX_SESSIONS = 100_000;

export interface UdpPlan extends UdpLimits {
  readonly maxSessions: number;
}

function num(section: PlainSection | undefined, key: string, fallback: number): number {
  const v = section?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

export function readUdpPlan(section: PlainSection | undefined): UdpPlan {
  return {
    maxRequests: Math.max(0, num(section, 'maxRequests', 0)),
    maxResponses: Math.max(0, num(section, 'maxResponses', 0)),
    maxSessions: Math.max(1, num(section, 'maxSessions', DEFAULT_MAX_SESSIONS)),
  };
}
