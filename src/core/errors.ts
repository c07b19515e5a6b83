/**
 * Typed errors. `ConfigError.message` is GoBetween's text (the REST API returns it verbatim
 * with 409); `path` is the key path (`servers.web.discovery.kind`) that the CLI prints with it.
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
  /** Key path such as `servers.web.discovery.srv_lookup_server`; '' when it concerns the whole file. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
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
    super(message, options);
    this.path = path;
  }

  describe(): string {
    return this.path === '' ? this.message : `${this.path}: ${this.message}`;
  }
}

/** A server could not start (listen failure, certificate load, ...). API → 409. */
export class StartError extends Error {
  override readonly name = 'StartError';
  readonly code = 'ERR_START';
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

/** The message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
