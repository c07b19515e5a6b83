/**
 * `static`: the backends are `static_list`, each entry in the backend line grammar. Unparsable
 * entries are logged (`Cant parse <line>`) and skipped; the fetch never fails and runs once.
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import type { BackendSpec } from '../core/backend.js';
import { parseBackendLine } from '../core/backend-line.js';
import type { DiscoveryKind, Fail } from './types.js';
import { requireGroup, warnSkipped } from './util.js';

export interface StaticSettings {
  readonly specs: readonly BackendSpec[];
  readonly bad: readonly string[];
}

export const staticKind: DiscoveryKind<StaticSettings> = {
  kind: 'static',
  schema: keyGroup({
    static_list: key.strings('Backends, one `host:port[ weight=N][ priority=N][ max_connections=N][ sni=NAME]` line each.'),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    // Q-5 fix: GoBetween crashes on `kind = "static"` without `static_list`.
    if (wire.static === undefined) fail('static_list', 'static_list is required for static discovery');
  },
  defaultTimeoutMs: 0,
  retryWaitMs: 0,
  oneShot: true,
  parse(wire, path) {
    const g = requireGroup(wire, 'static', path, 'static_list');
    const specs: BackendSpec[] = [];
    const bad: string[] = [];
    for (const line of g.static_list) {
      const spec = parseBackendLine(line);
      if (spec === undefined) bad.push(line);
      else specs.push(spec);
    }
    return Object.freeze({ specs: Object.freeze(specs), bad: Object.freeze(bad) });
  },
  fetch(settings, ctx) {
    warnSkipped(ctx.log, settings.bad);
    return Promise.resolve([...settings.specs]);
  },
};
