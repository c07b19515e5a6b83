/**
 * What a TLS listener needs of a certificate service that issues certificates on demand (ACME,
 * src/acme): an `SNICallback`, and the tls-alpn-01 challenge contexts (RFC 8737) it must answer
 * for clients that offer only `acme-tls/1`. The control plane owns the service; in one thread the
 * data plane calls it directly.
 */
import type { SecureContext, SecureContextOptions } from 'node:tls';

export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

export interface CertificateSource {
  /** True when validations arrive on the TLS listeners (tls-alpn-01): peek at each ClientHello. */
  readonly answersOnTls: boolean;
  /** A callback whose contexts carry the listener's own options (versions, ciphers, …). */
  sniCallback(contextOptions: SecureContextOptions, onContext?: (ctx: SecureContext) => void): SniCallback;
  /** The challenge context for a validation of `servername` running now, if any. */
  alpnChallengeContext(servername: string): SecureContext | undefined;
}
