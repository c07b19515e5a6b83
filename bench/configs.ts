// The two load balancers' configs for one benchmark run: tsbetween in GoBetween TOML, haproxy in
// the equivalent of perf-anchors.md's haproxy-1t.cfg (1 thread, mode tcp, roundrobin, 5s/60s).

export interface BenchPorts {
  /** The two HTTP backends (the "direct" HTTP target is the first). */
  readonly httpBackends: readonly [number, number];
  /** iperf3 -s. */
  readonly iperfBackend: number;
  readonly tsbetweenHttp: number;
  readonly tsbetweenIperf: number;
  readonly haproxyHttp: number;
  readonly haproxyIperf: number;
  /** The optional second tsbetween build (BENCH_ALT_CLI). */
  readonly altHttp: number;
  readonly altIperf: number;
}

const addr = (port: number): string => `127.0.0.1:${port}`;

/** tsbetween's config; `alt` binds the second build's ports instead. */
export function tsbetweenToml(p: BenchPorts, alt = false): string {
  const httpPort = alt ? p.altHttp : p.tsbetweenHttp;
  const iperfPort = alt ? p.altIperf : p.tsbetweenIperf;
  const list = p.httpBackends.map((b) => `"${addr(b)}"`).join(', ');
  return [
    '# Written by bench/run.ts for one benchmark run.',
    '[logging]',
    'level = "warn"',
    'output = "stdout"',
    '',
    '[servers.http]',
    `bind = "${addr(httpPort)}"`,
    'protocol = "tcp"',
    'balance = "roundrobin"',
    '  [servers.http.discovery]',
    '  kind = "static"',
    `  static_list = [${list}]`,
    '',
    '[servers.iperf]',
    `bind = "${addr(iperfPort)}"`,
    'protocol = "tcp"',
    'balance = "roundrobin"',
    '  [servers.iperf.discovery]',
    '  kind = "static"',
    `  static_list = ["${addr(p.iperfBackend)}"]`,
    '',
  ].join('\n');
}

export function haproxyCfg(p: BenchPorts): string {
  return [
    '# Written by bench/run.ts for one benchmark run.',
    'global',
    '  nbthread 1',
    '  maxconn 6000',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '',
    'frontend http',
    `  bind ${addr(p.haproxyHttp)}`,
    '  default_backend http_be',
    '',
    'backend http_be',
    '  balance roundrobin',
    `  server s1 ${addr(p.httpBackends[0])}`,
    `  server s2 ${addr(p.httpBackends[1])}`,
    '',
    'listen iperf',
    `  bind ${addr(p.haproxyIperf)}`,
    `  server s1 ${addr(p.iperfBackend)}`,
    '',
  ].join('\n');
}
