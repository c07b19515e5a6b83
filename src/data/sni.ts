/** The SNI filter of a server's elector (`[servers.X.sni]`), built once when the server starts. */
import { SniSelector } from '../balance/sni.js';
import { compileGoRegexp } from '../config/go-regexp.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';

export function sniSelector(plan: ServerPlan, log: Logger): SniSelector | undefined {
  const sni = plan.sni;
  if (sni === undefined) return undefined;
  return new SniSelector({
    matching: sni.matching,
    unexpected: sni.unexpected,
    compile: (p) => compileGoRegexp(p),
    // Once per distinct tag: the backend then matches no hostname.
    onBadPattern: (p, err) => log.error(`sni: backend tag ${JSON.stringify(p.slice(0, 200))} is not a valid regexp: ${errorMessage(err)}`),
  });
}
