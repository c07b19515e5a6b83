/** Small helpers shared by the discovery kinds: key validation and address formatting. */
import { isIPv6 } from 'node:net';
import type { DiscoveryWire } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { logText } from '../core/text.js';

type Groups = Required<Omit<DiscoveryWire, 'kind' | 'failpolicy' | 'interval' | 'timeout'>>;

/**
 * The kind's key group, or a ConfigError naming its main key (`<path>.<firstKey>: required`)
 * when none of the kind's keys was given (GoBetween panics there, Q-5).
 */
export function requireGroup<K extends keyof Groups>(
  wire: DiscoveryWire,
  group: K,
  path: string,
  firstKey: string,
): Groups[K] {
  const g = wire[group];
  if (g === undefined) throw new ConfigError(`${path}.${firstKey}`, 'required');
  return g as Groups[K];
}

/** A non-empty string setting, or a ConfigError `<path>.<key>: required`. */
export function requireString(value: string, path: string, key: string): string {
  if (value.trim() === '') throw new ConfigError(`${path}.${key}`, 'required');
  return value;
}

/** `2001:db8::1` -> `[2001:db8::1]`; anything else unchanged (already bracketed, IPv4, names). */
export function bracketHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** Splits `host:port` / `[v6]:port` / `host` (port undefined). */
export function splitHostPort(text: string): { host: string; port: string | undefined } {
  const s = text.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return { host: s, port: undefined };
    const host = s.slice(1, end);
    const rest = s.slice(end + 1);
    return { host, port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0 || s.indexOf(':') !== colon) return { host: s, port: undefined }; // bare IPv6 or no port
  return { host: s.slice(0, colon), port: s.slice(colon + 1) };
}

/** Rejects with the signal's reason when it is (or gets) aborted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortReason(signal);
}

export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}

/** An http(s) URL setting, or a ConfigError naming the key. */
export function checkHttpUrl(value: string, path: string, key: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`${path}.${key}`, `invalid URL ${value}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`${path}.${key}`, `unsupported URL scheme ${u.protocol} in ${value}`);
  }
  return value;
}


/**
 * Reports the lines of one fetch that did not parse: one warning per fetch, never one per line
 * (a hostile source could otherwise write hundreds of lines per interval). One bad line keeps
 * GoBetween's text (`Cant parse <line>`); more give `N lines skipped, first: Cant parse <line>`.
 * Lines are escaped and capped.
 */
export function warnSkipped(log: Logger, bad: readonly string[]): void {
  const first = bad[0];
  if (first === undefined) return;
  const text = `Cant parse ${logText(first)}`;
  log.warn(bad.length === 1 ? text : `${bad.length} lines skipped, first: ${text}`);
}

/**
 * The key group of a kind whose group type is declared in the kind's own file (not in
 * config/types.ts): the decoder stores it under the kind's name, zero-filled from its schema.
 */
export function groupOf<G>(wire: DiscoveryWire, kind: string): G | undefined {
  return (wire as unknown as Record<string, G | undefined>)[kind];
}
