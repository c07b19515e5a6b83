/**
 * Stage "admission" (data-plane §2.3 step 3): the server-wide max_connections. Over the limit the
 * client is closed at once (warning, rate-limited; no counter). Admitted connections are tracked
 * (drain/close reach them) and watched for client errors and close from here on.
 */
import type { StreamConn } from './conn.js';
import { onClientClose, onClientError } from './events.js';
import { takeAdmission } from './lease.js';
import type { Stage } from './stage.js';

export const admissionStage: Stage = {
  name: 'admission',
  run(conn: StreamConn): boolean {
    const rt = conn.rt;
    if (!takeAdmission(conn)) {
      rt.limitedLog(rt.maxLimiter, 'warn', `Too many connections to ${rt.plan.bind}`);
      conn.fail('max_connections');
      return false;
    }
    rt.conns.add(conn);
    const client = conn.client;
    client.on('error', onClientError);
    client.on('close', onClientClose);
    return true;
  },
};
