/**
 * `plaintext`: HTTP GET `plaintext_endpoint` (status not checked, proxy env as json), one backend
 * per non-empty line.
 * Without `plaintext_regex_pattern` lines use the backend line grammar; with it, the first match
 * of the pattern gives the named groups host, port, weight, priority, max_connections, sni
 * (missing or empty optional groups -> defaults). The pattern is a Go RE2 regexp, translated by
 * config/go-regexp.ts (the same translator that validates it at load time). An invalid pattern
 * is a config error (GoBetween panicked at the first fetch, D23).
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import { compileGoRegexp } from '../config/go-regexp.js';
import { type BackendSpec, backendSpec } from '../core/backend.js';
import { parseBackendLine, parseUintField } from '../core/backend-line.js';
import { ConfigError } from '../core/errors.js';
import { httpGetText } from './http.js';
import { proxyEnvFromProcess } from './proxy-env.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail } from './types.js';
import { checkHttpUrl, requireGroup, requireString, warnSkipped } from './util.js';

export interface PlaintextSettings {
  readonly endpoint: string;
  /** undefined = the default line grammar. */
  readonly pattern: RegExp | undefined;
}

/** One line with a custom pattern; undefined when it does not match or lacks host/port. */
export function matchLine(re: RegExp, line: string): BackendSpec | undefined {
  const m = re.exec(line);
  const g = m?.groups;
  if (g === undefined) return undefined;
  const host = g['host'];
  const port = g['port'];
  if (host === undefined || host === '' || port === undefined || port === '') return undefined;
  return backendSpec(host, port, {
    weight: parseUintField(g['weight']) ?? 1,
    priority: parseUintField(g['priority']) ?? 1,
    maxConnections: parseUintField(g['max_connections']) ?? 0,
    sni: g['sni'] ?? '',
  });
}

/** Lines of a body: split on `\n`, trailing `\r` dropped, blank lines skipped. */
export function bodyLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
}

export const plaintextKind: DiscoveryKind<PlaintextSettings> = {
  kind: 'plaintext',
  schema: keyGroup({
    plaintext_endpoint: key.string('URL returning one backend per line.'),
    plaintext_regex_pattern: key.string('Go regexp with named groups host, port, weight, priority, max_connections, sni (default: the backend line grammar).'),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    const p = wire.plaintext;
    if (p === undefined || p.plaintext_endpoint === '') fail('plaintext_endpoint', 'plaintext_endpoint is required for plaintext discovery');
    if (p.plaintext_regex_pattern !== '') {
      try {
        compileGoRegexp(p.plaintext_regex_pattern);
      } catch (err) {
        fail(
          'plaintext_regex_pattern',
          `plaintext_regex_pattern is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.http,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'plaintext', path, 'plaintext_endpoint');
    const endpoint = checkHttpUrl(requireString(g.plaintext_endpoint, path, 'plaintext_endpoint'), path, 'plaintext_endpoint');
    let pattern: RegExp | undefined;
    if (g.plaintext_regex_pattern !== '') {
      try {
        pattern = compileGoRegexp(g.plaintext_regex_pattern);
      } catch (err) {
        throw new ConfigError(`${path}.plaintext_regex_pattern`, `invalid regexp: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return Object.freeze({ endpoint, pattern });
  },
  async fetch(s, ctx) {
    const { text } = await httpGetText({ url: s.endpoint, signal: ctx.signal, proxyEnv: proxyEnvFromProcess() });
    const specs: BackendSpec[] = [];
    const bad: string[] = [];
    for (const line of bodyLines(text)) {
      const spec = s.pattern === undefined ? parseBackendLine(line) : matchLine(s.pattern, line);
      if (spec === undefined) bad.push(line);
      else specs.push(spec);
    }
    warnSkipped(ctx.log, bad);
    return specs;
  },
};
