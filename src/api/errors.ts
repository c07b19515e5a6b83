/**
 * The one table that turns errors into REST responses (DESIGN rule 8, control-plane §3.5).
 * Every route handler throws; the server catches and asks `errorReply` for the status and the
 * body. Bodies are JSON strings carrying GoBetween's message texts; nothing else (no stack trace)
 * ever reaches a client.
 *
 * GoBetween quirks we keep on purpose are rows here too, marked "quirk":
 * - an unknown server is not an error: GET /servers/:name, GET /servers/:name/stats and
 *   DELETE /servers/:name answer 200 `null` (`UNKNOWN_SERVER`);
 * - every create failure (duplicate, validation, listen error) is 409, not 400/422, and a
 *   body that does not decode is 400; texts are GoBetween's own;
 * - `/dump` with an unknown format is 500 `"Unknown format <x>"`.
 */
import { UnknownFormatError } from '../config/dump.js';
import { ConfigError, DecodeError, NotFoundError, NotSupportedError, ReloadError, StartError } from '../core/errors.js';

export { UnknownFormatError };

/** A status and a JSON body (already encoded as JSON text). */
export interface ErrorReply {
  readonly status: number;
  /** The message put in the JSON string body. */
  readonly message: string;
  /** Whether the failure is unexpected and must be logged at error level. */
  readonly unexpected: boolean;
}

/** A request body above the API's size cap. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`Request body too large (limit ${limit} bytes)`);
  }
}

/** A request refused on purpose (tsbetween-only routes: cross-origin write). */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/** Quirk: what GET / stats / DELETE answer for a server that does not exist. */
export const UNKNOWN_SERVER = { status: 200, body: 'null' } as const;

/** Generic text for anything unexpected (the details go to the log only). */
export const INTERNAL_ERROR_MESSAGE = 'Internal Server Error';

interface Row {
  readonly match: (err: unknown) => boolean;
  readonly status: number;
  /** The message sent to the client; defaults to the error's own message. */
  readonly message?: (err: unknown) => string;
  readonly unexpected?: boolean;
  readonly why: string;
}

/** Node listen errors (EADDRINUSE...) that reached us without being wrapped in StartError. */
function isListenErrno(err: unknown): boolean {
  return err instanceof Error && 'syscall' in err && (err.syscall === 'listen' || err.syscall === 'bind');
}

/** First matching row wins. */
const TABLE: readonly Row[] = [
  { match: (e) => e instanceof BodyTooLargeError, status: 413, why: 'body over the size cap (tsbetween addition)' },
  {
    match: (e) => e instanceof DecodeError,
    status: 400,
    // `max_connections: expected an integer, got string` — the key path tells the client which field.
    message: (e) => (e instanceof DecodeError ? e.describe() : String(e)),
    why: 'body is not JSON or has wrong types (Q-3: GoBetween answers 400)',
  },
  { match: (e) => e instanceof NotSupportedError, status: 409, why: 'valid GoBetween config that tsbetween does not run yet' },
  { match: (e) => e instanceof ConfigError, status: 409, why: 'quirk Q-3: validation errors and duplicates are 409, GoBetween texts' },
  { match: (e) => e instanceof StartError, status: 409, why: 'quirk Q-3: listen/certificate errors at create are 409' },
  { match: isListenErrno, status: 409, why: 'same as StartError, for an unwrapped listen error' },
  { match: (e) => e instanceof ReloadError, status: 409, why: 'POST /reload with a bad config: nothing changed (like a refused create)' },
  { match: (e) => e instanceof ForbiddenError, status: 403, why: 'cross-origin write to a tsbetween-only route (CSRF guard)' },
  { match: (e) => e instanceof NotFoundError, status: 404, why: 'tsbetween-only routes (backends, drain) name an unknown server/backend' },
  { match: (e) => e instanceof UnknownFormatError, status: 500, why: 'GoBetween answers /dump?format=<x> with 500' },
];

export function errorReply(err: unknown): ErrorReply {
  for (const row of TABLE) {
    if (row.match(err)) {
      const message = row.message !== undefined ? row.message(err) : err instanceof Error ? err.message : String(err);
      return { status: row.status, message, unexpected: row.unexpected ?? false };
    }
  }
  return { status: 500, message: INTERNAL_ERROR_MESSAGE, unexpected: true };
}
