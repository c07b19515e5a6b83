/**
 * Node built-ins that cost memory, loaded when first used rather than at start-up (issue 8 item 8).
 *
 * - `node:http` goes through `require()`: an ESM `import` of it builds the module namespace, which
 *   on Node >= 22 reads its lazy `WebSocket`/`MessageEvent`/`CloseEvent` getters and so loads
 *   undici (about +14 MB of idle RSS on Node 24; +1 MB through `require()`).
 * - `node:https` and `node:tls` (about +6 to +9 MB on Node 24) are loaded only by the code paths that
 *   speak TLS (a TLS health probe, an HTTPS discovery endpoint, the API over TLS).
 * - `node:child_process` only when an exec discovery or health check runs a program.
 * - `node:crypto`, `node:dgram`, `node:dns/promises`, `node:fs/promises`, `node:os` and
 *   `node:worker_threads` only by the config features that use them (TLS, UDP probes, host names,
 *   LXD/HTTP discovery, worker threads). Each alone is small, but together with the rest they cost
 *   about +6 MB of idle RSS on Node 24 (loading them warms up and optimises the module loader).
 * `require()` caches, so each call after the first is a map lookup.
 */
import { createRequire } from 'node:module';
import type * as ChildProcess from 'node:child_process';
import type * as Crypto from 'node:crypto';
import type * as Dgram from 'node:dgram';
import type * as DnsPromises from 'node:dns/promises';
import type * as FsPromises from 'node:fs/promises';
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import type * as Os from 'node:os';
import type * as Tls from 'node:tls';
import type * as WorkerThreads from 'node:worker_threads';

const load = createRequire(import.meta.url);

/** A getter for the built-in `id`, typed as `T`. */
function lazy<T>(id: string): () => T {
  return () => load(id) as T;
}

export const nodeChildProcess = lazy<typeof ChildProcess>('node:child_process');
export const nodeCrypto = lazy<typeof Crypto>('node:crypto');
export const nodeDgram = lazy<typeof Dgram>('node:dgram');
export const nodeDnsPromises = lazy<typeof DnsPromises>('node:dns/promises');
export const nodeFsPromises = lazy<typeof FsPromises>('node:fs/promises');
export const nodeHttp = lazy<typeof Http>('node:http');
export const nodeHttps = lazy<typeof Https>('node:https');
export const nodeOs = lazy<typeof Os>('node:os');
export const nodeTls = lazy<typeof Tls>('node:tls');
export const nodeWorkerThreads = lazy<typeof WorkerThreads>('node:worker_threads');
