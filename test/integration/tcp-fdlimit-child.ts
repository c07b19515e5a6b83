/**
 * Child process for tcp-fdlimit.test.ts: runs one TcpServer (127.0.0.1:0) in front of the
 * backend port given as argv[2], under whatever `ulimit -n` the parent set. Prints
 * `{"port":N}` once listening; on each stdin line prints the counters as JSON. Errors are
 * logged to stderr (pino JSON) so the parent can see accept errors.
 */
import pino from 'pino';
import { createInterface } from 'node:readline';
import { Elector } from '../../src/balance/elector.js';
import { RoundRobinBalancer } from '../../src/balance/roundrobin.js';
import { backendSpec, ServerCounters } from '../../src/core/backend.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { TcpServer } from '../../src/data/tcp-server.js';

const backendPort = process.argv[2] ?? '0';
const pool = new BackendPool({ initialLive: true });
pool.setDiscovered([backendSpec('127.0.0.1', backendPort)]);
const counters = new ServerCounters();
const server = new TcpServer({
  name: 'fdlimit',
  bind: '127.0.0.1:0',
  maxConnections: 0,
  clientIdleTimeoutMs: 0,
  backendIdleTimeoutMs: 0,
  backendConnectionTimeoutMs: 2000,
  access: null,
  pool,
  elector: new Elector(new RoundRobinBalancer()),
  counters,
  log: pino({ level: 'error' }, pino.destination(2)),
});
await server.listen();
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', () => {
  const b = pool.all()[0];
  process.stdout.write(`${JSON.stringify({
    active: counters.active,
    connections: server.connections,
    backendActive: b?.active ?? -1,
    refused: b?.refused ?? -1,
    total: b?.total ?? -1,
  })}\n`);
});
rl.on('close', () => {
  void server.close().then(() => process.exit(0));
});
