// The load balancers' configs for one benchmark run, all pointing at the same backends:
// tsbetween (and any GoBetween-compatible binary) in GoBetween TOML, haproxy in the equivalent of
// perf-anchors.md's haproxy-1t.cfg (1 thread, mode tcp, roundrobin, 5s/60s), nginx in the
// equivalent of its nginx-lb.conf (1 worker, `stream {}` proxy, round robin).

/** The backends every balancer forwards to. */
export interface BenchBackends {
  /** The two HTTP backends (the "direct" HTTP target is the first). */
  readonly http: readonly [number, number];
  /** iperf3 -s. */
  readonly iperf: number;
}

/** Where one balancer listens. */
export interface ListenPorts {
  readonly http: number;
  readonly iperf: number;
}

const addr = (port: number): string => `127.0.0.1:${port}`;

/** GoBetween TOML; tsbetween and GoBetween itself read the same file. */
export function gobetweenToml(listen: ListenPorts, be: BenchBackends): string {
  const list = be.http.map((b) => `"${addr(b)}"`).join(', ');
  return [
    '# Written by bench/run.ts for one benchmark run.',
    '[logging]',
    'level = "warn"',
    'output = "stdout"',
    '',
    '[servers.http]',
    `bind = "${addr(listen.http)}"`,
    'protocol = "tcp"',
    'balance = "roundrobin"',
    '  [servers.http.discovery]',
    '  kind = "static"',
    `  static_list = [${list}]`,
    '',
    '[servers.iperf]',
    `bind = "${addr(listen.iperf)}"`,
    'protocol = "tcp"',
    'balance = "roundrobin"',
    '  [servers.iperf.discovery]',
    '  kind = "static"',
    `  static_list = ["${addr(be.iperf)}"]`,
    '',
  ].join('\n');
}

export function haproxyCfg(listen: ListenPorts, be: BenchBackends): string {
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
    `  bind ${addr(listen.http)}`,
    '  default_backend http_be',
    '',
    'backend http_be',
    '  balance roundrobin',
    `  server s1 ${addr(be.http[0])}`,
    `  server s2 ${addr(be.http[1])}`,
    '',
    'listen iperf',
    `  bind ${addr(listen.iperf)}`,
    `  server s1 ${addr(be.iperf)}`,
    '',
  ].join('\n');
}

export interface NginxOptions {
  /** `load_module` path of the stream module; null when nginx has it built in. */
  readonly streamModule: string | null;
  /** The run's own directory: pid file, error log and temp paths stay inside it. */
  readonly prefix: string;
}

/** nginx stream, 1 worker, in the foreground (`daemon off`), everything under `prefix`. */
export function nginxConf(listen: ListenPorts, be: BenchBackends, o: NginxOptions): string {
  return [
    '# Written by bench/run.ts for one benchmark run.',
    ...(o.streamModule === null ? [] : [`load_module ${o.streamModule};`]),
    'daemon off;',
    'worker_processes 1;',
    `pid ${o.prefix}/nginx.pid;`,
    `error_log ${o.prefix}/nginx-error.log warn;`,
    'events { worker_connections 16384; }',
    'stream {',
    '  upstream http_be {',
    `    server ${addr(be.http[0])};`,
    `    server ${addr(be.http[1])};`,
    '  }',
    `  server { listen ${addr(listen.http)} backlog=4096; proxy_pass http_be; }`,
    `  server { listen ${addr(listen.iperf)} backlog=4096; proxy_pass ${addr(be.iperf)}; }`,
    '}',
    '',
  ].join('\n');
}

/**
 * Where nginx's stream module is: the first existing candidate, or null when `nginx -V` says it is
 * built in (`--with-stream` without `=dynamic`); undefined when nginx has no stream module at all.
 */
export function findStreamModule(nginxV: string, exists: (path: string) => boolean): string | null | undefined {
  const candidates = [
    '/usr/lib/nginx/modules/ngx_stream_module.so',
    '/usr/lib64/nginx/modules/ngx_stream_module.so',
    '/usr/share/nginx/modules/ngx_stream_module.so',
    '/usr/local/nginx/modules/ngx_stream_module.so',
  ];
  const modulesPath = /--modules-path=(\S+)/.exec(nginxV)?.[1];
  if (modulesPath !== undefined) candidates.unshift(`${modulesPath}/ngx_stream_module.so`);
  for (const c of candidates) if (exists(c)) return c;
  if (/--with-stream(\s|$)/.test(nginxV)) return null;
  return undefined;
}

/**
 * `BENCH_WORKERS=1,2,auto` → ['1', '2', 'auto']: the tsbetween worker counts to sweep, each a
 * column. Empty → [] (one tsbetween column with the default). Throws on anything else.
 */
export function parseWorkersList(text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const w of items) {
    if (w !== 'auto' && !/^[1-9]\d{0,2}$/.test(w)) throw new Error(`expected a list of worker counts (1-999) or "auto", got "${w}"`);
  }
  if (new Set(items).size !== items.length) throw new Error(`duplicate entry in "${text}"`);
  return items;
}
