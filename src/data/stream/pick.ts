/**
 * Stage "pick" (data-plane §2.3 step 5, §9): one synchronous election over the current snapshot,
 * then the backend reservation (D12). Failure messages are GoBetween's, logged at error level
 * (rate-limited); the client is closed.
 */
import { ELECT_MAX_CONNECTIONS } from '../../balance/elector.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import { errorMessage } from '../../core/errors.js';
import type { StreamConn } from './conn.js';
import { takeBackend } from './lease.js';
import type { Stage } from './stage.js';

export const pickStage: Stage = {
  name: 'pick',
  run(conn: StreamConn): boolean {
    const rt = conn.rt;
    let picked: SnapshotBackend | string;
    try {
      picked = rt.elector.elect(conn);
    } catch (err) {
      // A balancer bug must not take the listener down: treat it as a failed election.
      picked = `election failed: ${errorMessage(err)}`;
    }
    if (typeof picked !== 'string' && !takeBackend(conn, picked)) picked = ELECT_MAX_CONNECTIONS;
    if (typeof picked === 'string') {
      rt.limitedLog(rt.electLimiter, 'error', picked);
      conn.fail();
      return false;
    }
    return true;
  },
};
