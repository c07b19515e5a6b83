/**
 * The stream pipeline of a server, built once at start from its plan:
 *
 *   admission -> [accept-proxy] -> [access] -> [peek] -> [terminate] -> pick -> dial -> [write-proxy] -> forward
 *
 * accept-proxy runs before access: the rules apply to the client address the header carries.
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
import { silentLogger, type Logger } from '../../core/log.js';
import type { ServerPlan } from '../../core/plan.js';
import { acceptProxyStage } from './accept-proxy.js';
import { peekStage } from './peek.js';
import { terminateStage } from './terminate.js';
import { tlsDialer } from './tls-dialer.js';
import { writeProxyStage } from './write-proxy.js';
import { accessStage } from './access.js';
import { admissionStage } from './admission.js';
import { dialStage } from './dial.js';
import { plainDialer, type Dialer } from './dialer.js';
import { forwardStage } from './forward.js';
import { pickStage } from './pick.js';
import { prewarmDialStage } from './prewarm-dial.js';
import type { Stage } from './stage.js';

/** Where an optional stage sits. */
export type StageSlot = 'accept-proxy' | 'peek' | 'terminate' | 'write-proxy';

export interface StageKind {
  readonly kind: string;
  readonly slot: StageSlot;
  /** Builds the stage for a server (once, at start); may throw a StartError naming the key. */
  create(plan: ServerPlan, log: Logger): Stage | null;
}

export interface DialerKind {
  readonly kind: string;
  create(plan: ServerPlan, log: Logger): Dialer | null;
}

/** Optional stages, in registration order within a slot. */
export const OPTIONAL_STAGES: readonly StageKind[] = [acceptProxyStage, peekStage, terminateStage, writeProxyStage];

/** Backend dialers tried in order; plain TCP when none applies. */
export const DIALERS: readonly DialerKind[] = [tlsDialer];

function optional(plan: ServerPlan, log: Logger, slot: StageSlot, out: Stage[]): void {
  for (const k of OPTIONAL_STAGES) {
    if (k.slot !== slot) continue;
    const s = k.create(plan, log);
    if (s !== null) out.push(s);
  }
}

/** One dialer per plan: the pipeline and the pre-warm pool share it (one TLS context and session cache). */
const dialers = new WeakMap<ServerPlan, Dialer>();

/** The backend dialer of a server: the first of DIALERS that applies, else plain TCP. */
export function chooseDialer(plan: ServerPlan, log: Logger): Dialer {
  let d = dialers.get(plan);
  if (d !== undefined) return d;
  d = plainDialer;
  for (const k of DIALERS) {
    const made = k.create(plan, log);
    if (made !== null) {
      d = made;
      break;
    }
  }
  dialers.set(plan, d);
  return d;
}

export function buildPipeline(plan: ServerPlan, log: Logger = silentLogger): Stage[] {
  const stages: Stage[] = [admissionStage];
  optional(plan, log, 'accept-proxy', stages);
  if (plan.access !== null) stages.push(accessStage(plan.access, `servers.${plan.name}.access`));
  optional(plan, log, 'peek', stages);
  optional(plan, log, 'terminate', stages);
  stages.push(pickStage);
  const dial = dialStage(chooseDialer(plan, log), plan.backendConnectionRetries ?? 0);
  // backend_prewarm (tsbetween-only): take a pooled connection first (./prewarm-dial.ts).
  stages.push((plan.backendPrewarm ?? 0) > 0 ? prewarmDialStage(dial) : dial);
  optional(plan, log, 'write-proxy', stages);
  stages.push(forwardStage);
  return stages;
}
