/**
 * The stream pipeline of a server, built once at start from its plan:
 *
 *   admission -> [access] -> [accept-proxy] -> [peek] -> pick -> dial -> [write-proxy] -> forward
 *
 * Bracketed stages exist only when the plan asks for them (a plain tcp server runs admission,
 * pick, dial, forward and nothing else); the lease is released in one place (./lease.ts).
 *
 * HOW TO ADD A STAGE: write `src/data/stream/<name>.ts` exporting a `StageKind` — its slot and
 * `create(plan)` returning the Stage (built once per server: compile everything there) or null
 * when the plan does not use it — and add it to OPTIONAL_STAGES below. Contract of a stage:
 * ./stage.ts. An async stage (reading a header) takes the connection over (returns false),
 * reads through its own handlers, and calls `advance(conn)` when done or `conn.fail()`; set
 * `conn.sni` for the election when relevant. A backend-side variant (TLS to backends) is a
 * `DialerKind` in DIALERS instead: the first whose `create(plan)` is not null is used.
 */
import type { ServerPlan } from '../../core/plan.js';
import { accessStage } from './access.js';
import { admissionStage } from './admission.js';
import { dialStage } from './dial.js';
import { plainDialer, type Dialer } from './dialer.js';
import { forwardStage } from './forward.js';
import { pickStage } from './pick.js';
import type { Stage } from './stage.js';

/** Where an optional stage sits. */
export type StageSlot = 'accept-proxy' | 'peek' | 'write-proxy';

export interface StageKind {
  readonly kind: string;
  readonly slot: StageSlot;
  create(plan: ServerPlan): Stage | null;
}

export interface DialerKind {
  readonly kind: string;
  create(plan: ServerPlan): Dialer | null;
}

/** Optional stages, in registration order within a slot. */
export const OPTIONAL_STAGES: readonly StageKind[] = [];

/** Backend dialers tried in order; plain TCP when none applies. */
export const DIALERS: readonly DialerKind[] = [];

function optional(plan: ServerPlan, slot: StageSlot, out: Stage[]): void {
  for (const k of OPTIONAL_STAGES) {
    if (k.slot !== slot) continue;
    const s = k.create(plan);
    if (s !== null) out.push(s);
  }
}

export function buildPipeline(plan: ServerPlan): Stage[] {
  const stages: Stage[] = [admissionStage];
  if (plan.access !== null) stages.push(accessStage(plan.access, `servers.${plan.name}.access`));
  optional(plan, 'accept-proxy', stages);
  optional(plan, 'peek', stages);
  stages.push(pickStage);
  let dialer: Dialer = plainDialer;
  for (const k of DIALERS) {
    const d = k.create(plan);
    if (d !== null) {
      dialer = d;
      break;
    }
  }
  stages.push(dialStage(dialer));
  optional(plan, 'write-proxy', stages);
  stages.push(forwardStage);
  return stages;
}
