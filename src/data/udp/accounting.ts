/**
 * Request/response accounting of one UDP session (data-plane §7.2-§7.4, with the §7.6 fixes).
 * Pure: the session calls these on each client datagram and each backend datagram; the table
 * tests in test/data/udp/accounting.test.ts pin every rule.
 *
 * Modes, from `udp.max_requests` (R) and `udp.max_responses` (P), 0 meaning "no limit":
 * - R = 1 and P = 0: fire-and-forget, as GoBetween: no session, one election per datagram,
 *   responses never relayed.
 * - anything else: sessions keyed by the client's ip:port, pinned to one backend.
 *   - R > 0: after R requests the session takes no more; the client's next datagram starts a
 *     new session (new election) while this one waits for its responses (GoBetween forwards
 *     everything and only logs, GitHub #167). R = 1 with P >= 1 is therefore "one request and
 *     its responses" per session (GoBetween relays nothing).
 *   - P > 0: the session ends once it has relayed requests x P responses and (when R > 0) taken
 *     its R requests (nginx's proxy_requests/proxy_responses rule). A client
 *     that sends two queries from one port before the first answer (glibc's parallel A/AAAA)
 *     gets both answers; GoBetween ends the session on the P-th response and loses the rest.
 *   - otherwise a session ends on an idle timeout, an error, or eviction.
 */

export interface UdpLimits {
  /** `udp.max_requests`; 0 = unlimited. */
  readonly maxRequests: number;
  /** `udp.max_responses`; 0 = unlimited. */
  readonly maxResponses: number;
}

export type UdpMode = 'fire-and-forget' | 'session';

export function udpMode(l: UdpLimits): UdpMode {
  return l.maxRequests === 1 && l.maxResponses === 0 ? 'fire-and-forget' : 'session';
}

/** The per-session tallies (fields of the session object itself). */
export interface Exchange {
  requests: number;
  responses: number;
}

/**
 * A client datagram for this session: true = counted, forward it; false = the session already
 * took its `max_requests` (the caller retires it and starts a new session for the datagram).
 */
export function takeRequest(s: Exchange, l: UdpLimits): boolean {
  if (l.maxRequests > 0 && s.requests >= l.maxRequests) return false;
  s.requests++;
  return true;
}

/**
 * A backend datagram about to be relayed: counts it and returns true when the session has now
 * received every response it expects (it ends after relaying this one).
 */
export function takeResponse(s: Exchange, l: UdpLimits): boolean {
  s.responses++;
  if (l.maxResponses === 0 || s.responses < s.requests * l.maxResponses) return false;
  // With max_requests, the session also waits until it has taken all of its requests.
  return l.maxRequests === 0 || s.requests >= l.maxRequests;
}
