/**
 * The plain-data boundary between the control plane and the data plane (DESIGN "Two planes").
 *
 * Everything here is immutable, serialisable data (structured-clone safe: no functions, no class
 * instances, no Maps): the control plane builds a `ServerPlan` per server when it is created and
 * publishes a `BackendSnapshot` whenever its backend table changes; the data plane reports
 * `CounterDeltas` back. In one thread the same objects are passed by reference; across workers
 * they are posted as messages.
 */

/** A section the data plane receives as plain data (filled by the tls / sni / proxy / udp work). */
export type PlainSection = { readonly [key: string]: PlainValue };
export type PlainValue = string | number | boolean | null | readonly PlainValue[] | PlainSection;

/** `[servers.X.access]`, as written (the data plane compiles it; the control plane validated it). */
export interface AccessPlan {
  /** 'allow' (also when empty) or 'deny'. */
  readonly default: string;
  readonly rules: readonly string[];
}

/** What the data plane needs to run one server. */
export interface ServerPlan {
  readonly name: string;
  /** 'tcp' | 'tls' | 'udp'; the data plane picks its listener by this name. */
  readonly protocol: string;
  /** `host:port` exactly as configured. */
  readonly bind: string;
  /** Balancer name (a key of the balancer registry). */
  readonly balance: string;
  /** Server-wide connection limit: 0 = none; negative rejects every connection (GoBetween Q-10). */
  readonly maxConnections: number;
  /** Nothing read from the client for this long closes the pair; 0 = none. */
  readonly clientIdleTimeoutMs: number;
  /** Nothing read from the backend for this long closes the pair; 0 = none. */
  readonly backendIdleTimeoutMs: number;
  /** Backend dial timeout; 0 = none. */
  readonly backendConnectionTimeoutMs: number;
  readonly access: AccessPlan | null;
  // Optional sections: absent = the feature is off and its stage costs nothing.
  readonly tls?: PlainSection;
  readonly backendsTls?: PlainSection;
  readonly sni?: PlainSection;
  /** PROXY header written to the backend (`[servers.X.proxy_protocol]`). */
  readonly proxyProtocol?: PlainSection;
  /** PROXY header accepted from the client (tsbetween-only). */
  readonly acceptProxyProtocol?: PlainSection;
  readonly udp?: PlainSection;
}
