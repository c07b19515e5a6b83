/**
 * Child process for tcp-fdlimit.test.ts: runs one proxied server (127.0.0.1:0) in front of the
 * backend port given as argv[2], under whatever `ulimit -n` the parent set. Prints
 * `{"port":N}` once listening; on each stdin line prints the counters as JSON. Errors are
 * logged to stderr (pino JSON) so the parent can see accept errors.
 */
import pino from 'pino';
import { createInterface } from 'node:readline';
import { backendSpec } from '../../src/core/backend.js';
import { TestProxy } from '../helpers/proxy.js';

const backendPort = process.argv[2] ?? '0';
const server = new TestProxy({
  name: 'fdlimit',
  backendConnectionTimeoutMs: 2000,
  log: pino({ level: 'error' }, pino.destination(2)),
});
const { pool, counters } = server;
pool.setDiscovered([backendSpec('127.0.0.1', backendPort)]);
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
