/** Shared helpers of the discovery tests: wire builders, a capturing logger, polling, servers. */
import http from 'node:http';
import https from 'node:https';
import { captureLogger } from '../helpers/log.js';
import { listenLoopback } from '../helpers/net.js';
import type {
  ConsulGroup, DiscoveryWire, DockerGroup, JsonGroup, LxdGroup, PlaintextGroup, SrvGroup,
} from '../../src/config/types.js';
import type { BackendSpec } from '../../src/core/backend.js';
import type { Logger } from '../../src/core/log.js';
export { waitFor, sleep } from '../helpers/wait.js';
export { captureLogger, listenLoopback };

export function discoveryWire(kind: string, extra: Partial<DiscoveryWire> = {}): DiscoveryWire {
  return { kind, failpolicy: 'keeplast', interval: '0', timeout: '0', ...extra };
}

export function srvGroup(g: Partial<SrvGroup>): SrvGroup {
  return { srv_lookup_server: '', srv_lookup_pattern: '', srv_dns_protocol: '', ...g };
}

export function jsonGroup(g: Partial<JsonGroup>): JsonGroup {
  return {
    json_endpoint: '', json_host_pattern: '', json_port_pattern: '', json_weight_pattern: '',
    json_priority_pattern: '', json_sni_pattern: '', json_max_connections_pattern: '', ...g,
  };
}

export function plaintextGroup(g: Partial<PlaintextGroup>): PlaintextGroup {
  return { plaintext_endpoint: '', plaintext_regex_pattern: '', ...g };
}

export function dockerGroup(g: Partial<DockerGroup>): DockerGroup {
  return {
    docker_endpoint: '', docker_container_label: '', docker_container_private_port: 0,
    docker_container_host_env_var: '', docker_tls_enabled: false, docker_tls_cert_path: '',
    docker_tls_key_path: '', docker_tls_cacert_path: '', ...g,
  };
}

export function consulGroup(g: Partial<ConsulGroup>): ConsulGroup {
  return {
    consul_host: '', consul_service_name: '', consul_service_tag: '', consul_service_passing_only: false,
    consul_datacenter: '', consul_auth_username: '', consul_auth_password: '', consul_tls_enabled: false,
    consul_tls_cert_path: '', consul_tls_key_path: '', consul_tls_cacert_path: '', consul_acl_token: '', ...g,
  };
}

export function lxdGroup(g: Partial<LxdGroup>): LxdGroup {
  return {
    lxd_server_address: '', lxd_server_remote_name: '', lxd_server_remote_password: '', lxd_config_directory: '',
    lxd_generate_client_certs: false, lxd_accept_server_cert: false, lxd_container_label_key: '',
    lxd_container_label_value: '', lxd_container_port: 0, lxd_container_port_key: '', lxd_container_interface: '',
    lxd_container_interface_key: '', lxd_container_sni_key: '', lxd_container_address_type: '', ...g,
  };
}




/** Records every onResult call. */
export function recorder(): { onResult: (s: BackendSpec[]) => void; results: BackendSpec[][]; last: () => BackendSpec[] | undefined } {
  const results: BackendSpec[][] = [];
  return {
    results,
    onResult: (s) => { results.push(s); },
    last: () => results[results.length - 1],
  };
}

/** `host:port` strings of a result, sorted. */
export function keys(specs: readonly BackendSpec[] | undefined): string[] {
  return (specs ?? []).map((s) => `${s.host}:${s.port}`).sort();
}


export interface TestHttpServer {
  /** `http://127.0.0.1:<port>` (or the socket path for unix servers). */
  readonly url: string;
  readonly port: number;
  readonly requests: http.IncomingMessage[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 (random port) or on a unix socket path. */
export async function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  socketPath?: string,
): Promise<TestHttpServer> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  let port = 0;
  if (socketPath !== undefined) await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  else port = await listenLoopback(server);
  return {
    url: socketPath ?? `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export function sendJson(res: http.ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** An HTTPS server on 127.0.0.1 that requires a client certificate signed by `ca`. */
export async function startHttpsServer(
  tls: { cert: Buffer; key: Buffer; ca: Buffer },
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<TestHttpServer> {
  const requests: http.IncomingMessage[] = [];
  const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    requests.push(req);
    handler(req, res);
  });
  const port = await listenLoopback(server);
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A fetch context with a capturing logger and a deadline. */
export function fetchCtx(timeoutMs = 3000): { signal: AbortSignal; log: Logger; serverName: string; lines: { level: number; msg: string }[] } {
  const cap = captureLogger();
  return { signal: AbortSignal.timeout(timeoutMs), log: cap.log, serverName: 't', lines: cap.lines };
}

/** A handler that never answers (the server's close() destroys the socket). */
export function hang(): void {
  /* never respond */
}
