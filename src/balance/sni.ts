/**
 * SNI-aware selection (data-plane §5.4–§5.5), a filter in front of max-connections and the
 * balancer (the elector's `SniFilter` seam):
 *
 * 1. `matched` = backends whose `sni` tag matches the requested hostname; if any, use them.
 * 2. Otherwise by `unexpected_hostname_strategy`: `reject` fails the election; `any` keeps every
 *    candidate; `default` keeps the backends matching the empty hostname — none when the client
 *    sent no SNI.
 *
 * Matching: `exact` is a case-insensitive equality (an empty tag equals an empty hostname);
 * `regexp` treats the tag as a Go regexp matched unanchored (GoBetween's semantics, GitHub #184:
 * tag `example.com` also matches `evil-example.com.attacker.net`), except that an empty tag
 * matches only an empty hostname. Patterns are compiled once per distinct tag and cached; an
 * invalid pattern matches nothing and is reported once through `onBadPattern`.
 */
import type { SnapshotBackend as Backend } from '../core/snapshot.js';
import type { SniFilter } from './elector.js';

export type SniMatching = 'exact' | 'regexp';
export type SniUnexpected = 'default' | 'reject' | 'any';

export interface SniOptions {
  readonly matching: SniMatching;
  readonly unexpected: SniUnexpected;
  /** Compiles a Go regexp (throws on an invalid one); needed for `regexp`. */
  readonly compile?: (pattern: string) => RegExp;
  /** Told once per invalid pattern (the caller logs it). */
  readonly onBadPattern?: (pattern: string, err: unknown) => void;
}

/** GoBetween's election error for `reject`. */
export function sniRejectMessage(hostname: string): string {
  return `No matching sni [${hostname}] found, rejecting due to 'reject' unexpected hostname strategy`;
}

const MAX_CACHED_PATTERNS = 4096;

/** ASCII case-insensitive equality (Go's EqualFold for the names SNI carries). */
export function equalFold(a: string, b: string): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x > 0x7f || y > 0x7f) return a.toLowerCase() === b.toLowerCase();
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

export class SniSelector implements SniFilter {
  private readonly patterns = new Map<string, RegExp | null>();

  constructor(private readonly opts: SniOptions) {}

  /** Does backend tag `tag` match the requested `hostname`? */
  matches(tag: string, hostname: string): boolean {
    if (this.opts.matching === 'exact') return equalFold(tag, hostname);
    if (tag === '') return hostname === '';
    let re = this.patterns.get(tag);
    if (re === undefined) {
      re = null;
      try {
        if (this.opts.compile === undefined) throw new Error('no regexp compiler');
        re = this.opts.compile(tag);
      } catch (err) {
        this.opts.onBadPattern?.(tag, err);
      }
      if (this.patterns.size >= MAX_CACHED_PATTERNS) this.patterns.clear();
      this.patterns.set(tag, re);
    }
    return re !== null && re.test(hostname);
  }

  filter(sni: string, input: readonly Backend[], out: Backend[]): boolean | string {
    const n = input.length;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const b = input[i] as Backend;
      if (this.matches(b.sni, sni)) out[k++] = b;
    }
    if (k === 0) {
      switch (this.opts.unexpected) {
        case 'reject':
          return sniRejectMessage(sni);
        case 'any':
          return false;
        case 'default':
          if (sni !== '') {
            for (let i = 0; i < n; i++) {
              const b = input[i] as Backend;
              if (this.matches(b.sni, '')) out[k++] = b;
            }
          }
          break;
      }
    }
    if (out.length !== k) out.length = k;
    return true;
  }
}
