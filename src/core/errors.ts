import { oneLine } from './text.js';

/**
 * Typed errors. Messages and paths are made one line and bounded at construction (control
 * characters escaped, see core/text.ts), so no value can split the CLI's stderr line, a log line
 * or a 409 body. `ConfigError.message` is GoBetween's text (the REST API returns it verbatim
 * with 409); `path` is the key path (`servers.web.discovery.kind`) that the CLI prints with it.
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
  /** Key path such as `servers.web.discovery.srv_lookup_server`; '' when it concerns the whole file. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
    this.path = oneLine(path);
  }

  /** `path: message`, the form printed by the CLI and logged. */
  describe(): string {
    return this.path === '' ? this.message : `${this.path}: ${this.message}`;
  }
}

/** A body or file that could not be decoded (bad JSON/TOML, wrong type). API → 400. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code = 'ERR_DECODE';
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
    this.path = oneLine(path);
  }

  describe(): string {
    return this.path === '' ? this.message : `${this.path}: ${this.message}`;
  }
}

/**
 * A server could not start (listen failure, certificate load, ...). API → 409 with `message`
 * (GoBetween's text); `path` (`servers.web.bind`, `api.tls.cert_path`) prefixes it on the CLI
 * and in logs.
 */
export class StartError extends Error {
  override readonly name = 'StartError';
  readonly code = 'ERR_START';
  readonly path: string;

  constructor(message: string, options?: { cause?: unknown; path?: string }) {
    super(oneLine(message), options);
    this.path = oneLine(options?.path ?? '');
  }

  /** The same error with `path` set (kept when already set). */
  withPath(path: string): StartError {
    if (this.path !== '') return this;
    return new StartError(this.message, { cause: this.cause, path });
  }

  describe(): string {
    return this.path === '' ? this.message : `${this.path}: ${this.message}`;
  }
}

/** A feature that tsbetween parses and validates but does not run yet. API → 409, CLI → exit 1. */
export class NotSupportedError extends ConfigError {
  constructor(path: string, feature: string) {
    super(path, `not supported yet: ${feature}`);
  }
}

/** A server or backend named by a tsbetween-only route does not exist. API → 404. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  readonly code = 'ERR_NOT_FOUND';
}

/** A hot reload was refused (unreadable source, bad config): nothing changed. API → 409. */
export class ReloadError extends Error {
  override readonly name = 'ReloadError';
}

/** The message of any thrown value, for logs (one line, bounded). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return oneLine(err.message);
  return oneLine(String(err));
}

/** `path: message` for the typed errors, the one-line message otherwise (CLI stderr, logs). */
export function describeError(err: unknown): string {
  if (err instanceof ConfigError || err instanceof DecodeError || err instanceof StartError) return err.describe();
  return errorMessage(err);
}
