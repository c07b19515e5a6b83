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

/** `[servers.X.tls]` (keys as written; the data plane maps versions and cipher names). */
export interface TlsPlan {
  readonly cert_path: string;
  readonly key_path: string;
  readonly ciphers: readonly string[] | null;
  readonly min_version: string;
  readonly max_version: string;
  readonly session_tickets: boolean;
  /**
   * Certificates from the ACME service (`[acme]` exists and the section names no certificate
   * files; files win when given — Q-16 fix); cert_path/key_path are then not read.
   */
  readonly acme?: true;
}

/** `[servers.X.backends_tls]` (keys as written). */
export interface BackendsTlsPlan {
  readonly ignore_verify: boolean;
  readonly root_ca_cert_path: string | null;
  readonly cert_path: string | null;
  readonly key_path: string | null;
  readonly ciphers: readonly string[] | null;
  readonly min_version: string;
  readonly max_version: string;
  readonly session_tickets: boolean;
}

/** `[servers.X.sni]`, validated. */
export interface SniPlan {
  readonly matching: 'exact' | 'regexp';
  readonly unexpected: 'default' | 'reject' | 'any';
  readonly readTimeoutMs: number;
}

/** `[servers.X.proxy_protocol]`: the PROXY header version sent to the backends. */
export interface ProxyProtocolPlan {
  readonly version: 1 | 2;
}

/** `[servers.X.accept_proxy_protocol]` (tsbetween only). */
export interface AcceptProxyPlan {
  /** IPs/CIDRs of the upstreams allowed to connect; empty = any. */
  readonly from: readonly string[];
  readonly timeoutMs: number;
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
  /** tsbetween-only: on a failed connect, try up to this many other eligible backends (absent: 0). */
  readonly backendConnectionRetries?: number;
  /** tsbetween-only: idle connections kept open to each eligible backend, per worker (absent: off). */
  readonly backendPrewarm?: number;
  // Optional sections: absent = the feature is off and its stage costs nothing.
  /** TLS termination (a `tls` section, on a `tls` or a `tcp` server). */
  readonly tls?: TlsPlan;
  readonly backendsTls?: BackendsTlsPlan;
  readonly sni?: SniPlan;
  /** PROXY header written to the backend (`[servers.X.proxy_protocol]`). */
  readonly proxyProtocol?: ProxyProtocolPlan;
  /** PROXY header accepted from the client (tsbetween-only). */
  readonly acceptProxyProtocol?: AcceptProxyPlan;
  readonly udp?: PlainSection;
}
