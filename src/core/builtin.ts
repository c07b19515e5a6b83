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

export function nodeChildProcess(): typeof ChildProcess {
  return load('node:child_process') as typeof ChildProcess;
}

export function nodeHttp(): typeof Http {
  return load('node:http') as typeof Http;
}

export function nodeHttps(): typeof Https {
  return load('node:https') as typeof Https;
}

export function nodeTls(): typeof Tls {
  return load('node:tls') as typeof Tls;
}

export function nodeCrypto(): typeof Crypto {
  return load('node:crypto') as typeof Crypto;
}

export function nodeDgram(): typeof Dgram {
  return load('node:dgram') as typeof Dgram;
}

export function nodeDnsPromises(): typeof DnsPromises {
  return load('node:dns/promises') as typeof DnsPromises;
}

export function nodeFsPromises(): typeof FsPromises {
  return load('node:fs/promises') as typeof FsPromises;
}

export function nodeOs(): typeof Os {
  return load('node:os') as typeof Os;
}

export function nodeWorkerThreads(): typeof WorkerThreads {
  return load('node:worker_threads') as typeof WorkerThreads;
}
