/**
 * `ping` (data-plane §12.3): a TCP connect to the backend within the timeout, then close.
 * Connected → healthy; refused, unreachable or timed out → unhealthy. It does not speak TLS.
 * Not allowed on `udp` servers (GoBetween's message), which the config module checks too.
 */
import { connect } from 'node:net';
import { ConfigError } from '../core/errors.js';
import type { HealthcheckKind } from './types.js';
import { abortReason, socketError } from './util.js';

export type PingSettings = Readonly<Record<string, never>>;

export const pingKind: HealthcheckKind<PingSettings> = {
  kind: 'ping',
  tcpOnly: true,

  parse(_wire, path, ctx) {
    if (ctx.protocol === 'udp') {
      throw new ConfigError(`${path}.kind`, 'Cant use ping healthcheck with udp server');
    }
    return Object.freeze({});
  },

  check(_settings, target, signal) {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve({ status: 'unhealthy', reason: abortReason(signal) });
        return;
      }
      const socket = connect({ host: target.host, port: target.port });
      const done = (healthy: boolean, reason: string): void => {
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
        socket.on('error', () => undefined); // late errors after destroy are of no interest
        socket.destroy();
        resolve({ status: healthy ? 'healthy' : 'unhealthy', reason });
      };
      const onConnect = (): void => done(true, 'connected');
      const onError = (err: Error): void => done(false, socketError('connect', err));
      const onAbort = (): void => done(false, abortReason(signal));
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  },
};
