/**
 * The `[profiler]` listener (control-plane §7.2), on its own bind only. Node equivalents of Go's
 * pprof under the same path prefix, both loadable in Chrome DevTools (Memory / Performance tabs):
 *
 *   GET /debug/pprof/profile?seconds=N  -> a `.cpuprofile` (V8 CPU profile JSON), N in 1..60,
 *                                          default 30 (Go's default)
 *   GET /debug/pprof/heap               -> a `.heapsnapshot`
 *
 * Everything else is 404. One CPU profile at a time. Listen errors are only logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHttp } from '../core/builtin.js';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { getHeapSnapshot } from 'node:v8';
import { errorMessage } from '../core/errors.js';
import { closeServer, listenOn, resolveBind } from '../core/listen.js';
import type { Logger } from '../core/log.js';

export const MAX_PROFILE_SECONDS = 60;
const DEFAULT_PROFILE_SECONDS = 30;

export interface ProfilerOptions {
  readonly bind: string;
  readonly log: Logger;
}

export interface ProfilerServer {
  close(): Promise<void>;
  /** undefined when the listener could not be opened. */
  address(): AddressInfo | undefined;
}

function text(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

/** Promisified `session.post`. */
function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Parses `seconds` like Go's pprof (missing/invalid/<=0 -> default); undefined when over the cap. */
export function profileSeconds(raw: string | null): number | undefined {
  const n = raw === null || !/^\d+$/.test(raw) ? 0 : Number(raw);
  if (n <= 0) return DEFAULT_PROFILE_SECONDS;
  return n > MAX_PROFILE_SECONDS ? undefined : n;
}

export async function startProfiler(opts: ProfilerOptions): Promise<ProfilerServer> {
  const { log } = opts;
  let profiling = false;
  let snapshotting = false;
  /** Aborts the running profile (server closing). */
  const aborts = new Set<() => void>();

  async function cpuProfile(res: ServerResponse, url: URL): Promise<void> {
    const seconds = profileSeconds(url.searchParams.get('seconds'));
    if (seconds === undefined) {
      text(res, 400, `profile duration exceeds the limit of ${MAX_PROFILE_SECONDS}s\n`);
      return;
    }
    if (profiling) {
      text(res, 500, 'Could not enable CPU profiling: cpu profiling already in use\n');
      return;
    }
    profiling = true;
    const session = new Session();
    session.connect();
    try {
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.start');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, seconds * 1000);
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          aborts.delete(done);
          res.off('close', onClose);
          resolve();
        }
        const onClose = (): void => {
          if (!res.writableFinished) done();
        };
        aborts.add(done);
        res.on('close', onClose);
      });
      const result = (await post(session, 'Profiler.stop')) as { profile: unknown };
      if (res.destroyed) return;
      const body = JSON.stringify(result.profile);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Disposition': 'attachment; filename="profile.cpuprofile"',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    } finally {
      session.disconnect();
      profiling = false;
    }
  }

  async function heap(res: ServerResponse): Promise<void> {
    // A snapshot can be as large as the heap: one at a time.
    if (snapshotting) {
      text(res, 500, 'Could not take a heap snapshot: one is already in progress\n');
      return;
    }
    snapshotting = true;
    try {
      const snapshot = getHeapSnapshot();
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Disposition': 'attachment; filename="heap.heapsnapshot"',
      });
      await pipeline(snapshot, res);
    } finally {
      snapshotting = false;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://profiler');
    if (req.method === 'GET' && url.pathname === '/debug/pprof/profile') return cpuProfile(res, url);
    if (req.method === 'GET' && url.pathname === '/debug/pprof/heap') return heap(res);
    text(res, 404, '404 page not found\n');
  }

  const server = nodeHttp().createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'profiler request failed');
      text(res, 500, 'profiler error\n');
    });
  });

  let bound: AddressInfo | undefined;
  try {
    bound = await listenOn(server, await resolveBind(opts.bind, { defaultPort: 80 }));
    log.info(`Starting profiler on ${opts.bind}`);
    server.on('error', (err) => log.error({ err }, 'profiler listener error'));
  } catch (err) {
    log.error(`Failed to start profiler: ${errorMessage(err)}`);
  }

  return {
    close: async () => {
      for (const abort of [...aborts]) abort();
      await closeServer(server);
    },
    address: () => bound,
  };
}
