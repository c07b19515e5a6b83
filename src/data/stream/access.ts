/**
 * Stage "access" (data-plane §8, step 4): the server's access rules on the client IP. Present in
 * the pipeline only when the plan has `[access]`. Deny closes the client (debug log only).
 */
import type { AccessPlan } from '../../core/plan.js';
import { compileAccess } from '../access.js';
import type { StreamConn } from './conn.js';
import type { Stage } from './stage.js';

export function accessStage(plan: AccessPlan, path: string): Stage {
  const matcher = compileAccess({ default: plan.default, rules: [...plan.rules] }, path);
  return {
    name: 'access',
    run(conn: StreamConn): boolean {
      // An address we cannot read (peer already gone) matches no rule: the default applies.
      const ip = conn.clientIp;
      if (matcher.allows(ip)) return true;
      const log = conn.rt.log;
      if (log.isLevelEnabled('debug')) log.debug(`Access restricted for ${ip}`);
      conn.fail();
      return false;
    },
  };
}
