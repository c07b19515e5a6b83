/**
 * Config sources for the CLI (control-plane §1.4): a file, a URL, or a Consul KV key, read as raw
 * text; plus the `-e` `${NAME}` substitution applied to that text before decoding (§1.5).
 *
 * Deliberate differences from GoBetween (documented in the README's compatibility section):
 * - from-url fails on a non-2xx status (Q-30) and has a timeout (default 30 s; GoBetween has none).
 * - Consul reads have the same timeout.
 */
import { readFile } from 'node:fs';
import type { ConfigSource } from './types.js';

/** A config source could not be read. The CLI prints the message and exits 1. */
export class ConfigSourceError extends Error {
  override readonly name = 'ConfigSourceError';
  readonly code = 'ERR_CONFIG_SOURCE';
}

export interface ReadConfigOptions {
  /** Scheme for Consul (`from-consul --scheme`), default `http`. */
  consulScheme?: 'http' | 'https';
  /** Deadline for a URL or Consul read, headers and body included. Default 30 000 ms. */
  fetchTimeoutMs?: number;
  /** Environment for `CONSUL_HTTP_TOKEN` / `CONSUL_HTTP_AUTH`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

/** Reads the raw config text from its source. Rejects with {@link ConfigSourceError}. */
export async function readConfigSource(source: ConfigSource, opts: ReadConfigOptions = {}): Promise<string> {
  switch (source.kind) {
    case 'file':
      return readConfigFile(source.path);
    case 'url':
      return readConfigUrl(source.url, opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS);
    case 'consul':
      return readConsulKey(source.host, source.key, opts);
  }
}

// ---- file ---------------------------------------------------------------------------------------

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

function errnoOf(err: unknown): { code?: string; syscall?: string } {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as { code?: unknown; syscall?: unknown };
  const out: { code?: string; syscall?: string } = {};
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.syscall === 'string') out.syscall = e.syscall;
  return out;
}

/** Go-style `open <path>: no such file or directory`; unknown errno codes keep Node's text. */
async function readConfigFile(path: string): Promise<string> {
  try {
    // node:fs's callback form: node:fs/promises is not otherwise needed at start-up (builtin.ts).
    return await new Promise<string>((resolve, reject) => {
      readFile(path, 'utf8', (err, text) => (err === null ? resolve(text) : reject(err)));
    });
  } catch (err) {
    const { code, syscall } = errnoOf(err);
    const text = code === undefined ? undefined : ERRNO_TEXT[code];
    const message =
      text !== undefined
        ? `${syscall ?? 'open'} ${path}: ${text}`
        : `read ${path}: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigSourceError(message, { cause: err });
  }
}

// ---- HTTP helpers -------------------------------------------------------------------------------

/** The innermost useful message of a fetch failure (`fetch failed` hides the socket error). */
function fetchFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `timeout after ${timeoutMs} ms`;
  }
  let e: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  for (let i = 0; i < 4 && e instanceof Error && e.cause !== undefined; i++) {
    e = e.cause;
    if (e instanceof Error && e.message !== '') message = e.message;
  }
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return `timeout after ${timeoutMs} ms`;
  }
  return message;
}

interface FetchResult {
  status: number;
  statusText: string;
  body: string;
}

/** GET with one deadline covering connect, headers and the whole body. */
async function getText(url: string, headers: Record<string, string>, timeoutMs: number): Promise<FetchResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { method: 'GET', headers, redirect: 'follow', signal });
  const body = await res.text();
  return { status: res.status, statusText: res.statusText, body };
}

// ---- URL ----------------------------------------------------------------------------------------

async function readConfigUrl(url: string, timeoutMs: number): Promise<string> {
  let res: FetchResult;
  try {
    res = await getText(url, {}, timeoutMs);
  } catch (err) {
    throw new ConfigSourceError(`Get "${url}": ${fetchFailure(err, timeoutMs)}`, { cause: err });
  }
  if (res.status < 200 || res.status > 299) {
    const status = res.statusText === '' ? String(res.status) : `${res.status} ${res.statusText}`;
    throw new ConfigSourceError(`Get "${url}": unexpected status ${status}`);
  }
  return res.body;
}

// ---- Consul KV ----------------------------------------------------------------------------------

/** `/v1/kv/<key>` with each path segment escaped and the slashes of the key kept. */
function consulKvPath(key: string): string {
  return '/v1/kv/' + key.replace(/^\//, '').split('/').map(encodeURIComponent).join('/');
}

function consulHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  const headers: Record<string, string> = {};
  const token = env['CONSUL_HTTP_TOKEN'];
  if (token !== undefined && token !== '') headers['X-Consul-Token'] = token;
  const auth = env['CONSUL_HTTP_AUTH'];
  if (auth !== undefined && auth !== '') {
    // `user:pass` or just `user` (empty password), as the Consul client reads it.
    const colon = auth.indexOf(':');
    const user = colon < 0 ? auth : auth.slice(0, colon);
    const pass = colon < 0 ? '' : auth.slice(colon + 1);
    headers['Authorization'] = 'Basic ' + Buffer.from(`${user}:${pass}`, 'utf8').toString('base64');
  }
  return headers;
}

async function readConsulKey(host: string, key: string, opts: ReadConfigOptions): Promise<string> {
  const scheme = opts.consulScheme ?? 'http';
  const timeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const url = `${scheme}://${host}${consulKvPath(key)}`;
  let res: FetchResult;
  try {
    res = await getText(url, consulHeaders(opts.env ?? process.env), timeoutMs);
  } catch (err) {
    throw new ConfigSourceError(`Get "${url}": ${fetchFailure(err, timeoutMs)}`, { cause: err });
  }
  if (res.status === 404) throw new ConfigSourceError(`Empty value for key ${key}`);
  if (res.status !== 200) {
    throw new ConfigSourceError(`Unexpected response code: ${res.status} (${res.body})`);
  }
  let entries: unknown;
  try {
    entries = JSON.parse(res.body);
  } catch (err) {
    throw new ConfigSourceError(`Consul answered invalid JSON for key ${key}: ${String(err)}`, { cause: err });
  }
  if (!Array.isArray(entries)) throw new ConfigSourceError(`Empty value for key ${key}`);
  const first: unknown = entries[0];
  if (typeof first !== 'object' || first === null) throw new ConfigSourceError(`Empty value for key ${key}`);
  const value = (first as { Value?: unknown }).Value;
  // A key that exists without a value reads as an empty config, as in GoBetween.
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') throw new ConfigSourceError(`Consul answered a non-string Value for key ${key}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

// ---- ${NAME} substitution ------------------------------------------------------------------------

/** `${` then the shortest run up to the next `}` on the same line. */
const PLACEHOLDER = /\$\{([^}\n]*)\}/g;

/**
 * Replaces every `${NAME}` by `env[NAME]` (unset → '', `${}` → ''), values inserted verbatim;
 * `$NAME` without braces is left alone (§1.5).
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(PLACEHOLDER, (_m, name: string) => (name === '' ? '' : env[name] ?? ''));
}
