/**
 * tsbetween's checks on top of GoBetween's validation (issue 12, item 8 and 11). They run after
 * `prepareServer` (which stays GoBetween's `prepareConfig`, order and texts) on the same input,
 * before anything listens, so their errors never hide one of GoBetween's:
 *
 * - every `bind` is checked for syntax (port range, missing port, unresolved `${VAR}`);
 * - a negative `healthcheck.fails` / `passes` is an error (GoBetween silently makes it 1; 0 is
 *   the unset value and still means 1);
 * - a negative duration is an error (`client_idle_timeout = "-5s"`: GoBetween treats it as "no
 *   limit"; a negative health-check or sni timeout);
 * - legal but surely wrong values are warned about, naming the key: a health-check or discovery
 *   interval under 10 ms, a duration longer than Node's longest timer (24d20h31m23.647s).
 */
import { bindSyntaxError } from '../core/listen.js';
import { parseGoDuration } from '../core/duration.js';
import { ConfigError } from '../core/errors.js';
import type { DefaultsWire, ServerInput, ServerWire } from './types.js';

/** Node's timers hold at most 2^31-1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Intervals below this are legal but surely a typo (`"1ns"`). */
export const MIN_SANE_INTERVAL_MS = 10;

const MAX_TIMER_NS = BigInt(MAX_TIMER_MS) * 1_000_000n;
const MIN_SANE_NS = BigInt(MIN_SANE_INTERVAL_MS) * 1_000_000n;

/** Checks a prepared server; throws ConfigError naming the key; returns warnings. */
export function strictServerChecks(name: string, input: ServerInput, server: ServerWire, defaults: DefaultsWire): string[] {
  const base = `servers.${name}`;
  const warnings: string[] = [];

  const bindError = bindSyntaxError(server.bind);
  if (bindError !== undefined) throw new ConfigError(`${base}.bind`, bindError);

  const hc = input.healthcheck;
  if (hc !== null) {
    if (hc.fails < 0) throw new ConfigError(`${base}.healthcheck.fails`, `fails must be at least 1, got ${hc.fails}`);
    if (hc.passes < 0) throw new ConfigError(`${base}.healthcheck.passes`, `passes must be at least 1, got ${hc.passes}`);
  }

  const durations: Array<[string, string | null, 'interval' | 'timeout']> = [];
  for (const key of ['client_idle_timeout', 'backend_idle_timeout', 'backend_connection_timeout'] as const) {
    const own = input[key];
    if (own !== null) durations.push([`${base}.${key}`, own, 'timeout']);
    else durations.push([`defaults.${key}`, defaults[key], 'timeout']);
  }
  if (server.healthcheck.kind !== 'none') {
    durations.push([`${base}.healthcheck.interval`, server.healthcheck.interval, 'interval']);
    durations.push([`${base}.healthcheck.timeout`, server.healthcheck.timeout, 'timeout']);
  }
  durations.push([`${base}.discovery.interval`, server.discovery.interval, 'interval']);
  durations.push([`${base}.discovery.timeout`, server.discovery.timeout, 'timeout']);
  if (server.sni !== null) durations.push([`${base}.sni.read_timeout`, server.sni.read_timeout, 'timeout']);

  for (const [path, text, role] of durations) {
    if (text === null) continue;
    const r = parseGoDuration(text);
    if (!r.ok) continue; // GoBetween's own rules already decided (error, or Q-9 warning)
    if (r.ns < 0n) throw new ConfigError(path, `must not be negative, got ${text}`);
    if (r.ns > MAX_TIMER_NS) {
      warnings.push(`${path}: ${text} is longer than the longest timer (24d20h31m23.647s); Node's timers cannot wait longer`);
    } else if (role === 'interval' && r.ns > 0n && r.ns < MIN_SANE_NS) {
      warnings.push(`${path}: ${text} is under ${MIN_SANE_INTERVAL_MS}ms; is that intended?`);
    }
  }
  return warnings;
}
