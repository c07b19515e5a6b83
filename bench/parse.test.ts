// Unit tests for the benchmark's pure parts: tool-output parsers, /proc parsers, table helpers.
// Run: node --import tsx --test bench/*.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAutocannonJson, parseEnvPairs, parseIperfJson, parseProcStat, parseVmRssKb, parseWrk, parseWrkDuration,
} from './parse.js';
import { listeningPorts } from './procs.js';
import { cpuMicros, formatTable, median, medianOf, ratio, summarise, TESTS } from './report.js';
import type { Sample } from './report.js';
import { findStreamModule, gobetweenToml, haproxyCfg, nginxConf, parseWorkersList } from './configs.js';

// Captured from wrk 4.1.0 against bench/http-backend.ts on this box.
const WRK_KA = `Running 2s test @ http://127.0.0.1:25080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.88ms    1.89ms  34.08ms   97.28%
    Req/Sec    75.30k    19.66k   94.49k    85.00%
  Latency Distribution
     50%  545.00us
     75%  798.00us
     90%    1.03ms
     99%    5.84ms
  149493 requests in 2.00s, 22.24MB read
Requests/sec:  74659.89
Transfer/sec:     11.11MB
`;

const WRK_ERRORS = `Running 2s test @ http://127.0.0.1:25080/
  1 threads and 50 connections
  Latency Distribution
     50%    2.57ms
     75%    2.72ms
     90%    3.61ms
     99%    1.20s
  36371 requests in 2.00s, 4.37MB read
  Socket errors: connect 3, read 4, write 0, timeout 2
  Non-2xx or 3xx responses: 17
Requests/sec:  18164.65
Transfer/sec:      2.18MB
`;

test('wrk durations convert to milliseconds', () => {
  assert.equal(parseWrkDuration('545.00us'), 0.545);
  assert.equal(parseWrkDuration('1.03ms'), 1.03);
  assert.equal(parseWrkDuration('1.20s'), 1200);
  assert.equal(parseWrkDuration('2.00m'), 120_000);
  assert.equal(parseWrkDuration('fast'), null);
});

test('wrk report: rate, count and percentiles', () => {
  const r = parseWrk(WRK_KA);
  assert.equal(r.requestsPerSec, 74659.89);
  assert.equal(r.requests, 149493);
  assert.equal(r.p50Ms, 0.545);
  assert.equal(r.p99Ms, 5.84);
  assert.equal(r.socketErrors, 0);
  assert.equal(r.non2xx, 0);
});

test('wrk report: socket errors and non-2xx are summed', () => {
  const r = parseWrk(WRK_ERRORS);
  assert.equal(r.socketErrors, 9);
  assert.equal(r.non2xx, 17);
  assert.equal(r.p99Ms, 1200);
});

test('wrk report without a summary is an error', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /Requests\/sec/);
});

test('iperf3 JSON: receiver throughput and retransmits', () => {
  const doc = {
    end: {
      sum_sent: { bits_per_second: 21.7e9, retransmits: 12 },
      sum_received: { bits_per_second: 21.6e9 },
    },
  };
  assert.deepEqual(parseIperfJson(JSON.stringify(doc)), { bitsPerSecond: 21.6e9, retransmits: 12 });
});

test('iperf3 JSON: the tool\'s own error is raised', () => {
  const doc = { start: {}, intervals: [], end: {}, error: 'unable to connect to server: Connection refused' };
  assert.throws(() => parseIperfJson(JSON.stringify(doc)), /iperf3: unable to connect/);
  assert.throws(() => parseIperfJson('{"end": {}}'), /sum_received/);
  assert.throws(() => parseIperfJson('iperf3: error'), /not JSON/);
});

test('autocannon JSON: average rate, percentiles, errors', () => {
  const line = JSON.stringify({
    requests: { average: 41800.5, total: 418005 },
    latency: { p50: 1, p99: 4 },
    errors: 2, timeouts: 1, non2xx: 0, '2xx': 418005,
  });
  const r = parseAutocannonJson(`Running 10s test\n${line}\n`);
  assert.equal(r.requestsPerSec, 41800.5);
  assert.equal(r.requests, 418005);
  assert.equal(r.p50Ms, 1);
  assert.equal(r.p99Ms, 4);
  assert.equal(r.socketErrors, 3);
  assert.equal(r.non2xx, 0);
  assert.throws(() => parseAutocannonJson('no json here'), /no JSON/);
});

test('/proc/<pid>/stat: a command name with spaces and parentheses', () => {
  const line = '4242 (node (worker) 1) S 4200 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 11 0 99 1 2 3';
  assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 4200, utime: 1234, stime: 567 });
  assert.equal(parseProcStat('garbage'), null);
});

test('/proc/<pid>/status: VmRSS', () => {
  assert.equal(parseVmRssKb('Name:\tnode\nVmPeak:\t 100 kB\nVmRSS:\t   45678 kB\n'), 45678);
  assert.equal(parseVmRssKb('Name:\tkthreadd\n'), null);
});

test('/proc/net/tcp: only LISTEN rows count', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:5DC0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
    '   1: 0100007F:9C40 0100007F:5DC0 01 00000000:00000000 00:00000000 00000000     0        0 2 1',
  ].join('\n');
  const tcp6 = [
    '  sl  local_address                         remote_address                        st',
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A',
  ].join('\n');
  assert.deepEqual([...listeningPorts([tcp, tcp6])].sort(), [24000, 8080].sort());
});

test('median, ratio and table helpers', () => {
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(ratio(1, 0), null);
  assert.equal(ratio(null, 2), null);
  assert.equal(ratio(3, 4), 0.75);
  const t = formatTable(['name', 'value'], [['a', '1'], ['long name', '22']]);
  assert.deepEqual(t.split('\n'), [
    '| name      | value |',
    '|:----------|------:|',
    '| a         |     1 |',
    '| long name |    22 |',
  ]);
});

function sample(partial: Partial<Sample> & Pick<Sample, 'test' | 'target'>): Sample {
  return {
    round: 1, error: null, gbps: null, retransmits: null, rps: null, p50Ms: null, p99Ms: null, socketErrors: 0,
    non2xx: 0, lbCpuPct: null, lbUserPct: null, lbSysPct: null, lbPeakRssMb: null, boxBusyPct: null, ...partial,
  };
}

test('summary: medians skip failed rounds; ratios of every tsbetween column against direct and each balancer', () => {
  const samples: Sample[] = [
    sample({ test: 'http_ka', target: 'direct', rps: 100_000, p50Ms: 0.2, p99Ms: 0.5 }),
    sample({ test: 'http_ka', target: 'tsbetween w1', rps: 50_000, p50Ms: 0.9, p99Ms: 2, lbCpuPct: 100,
      lbUserPct: 40, lbSysPct: 60, lbPeakRssMb: 80 }),
    sample({ test: 'http_ka', target: 'tsbetween w1', round: 2, error: 'boom' }),
    sample({ test: 'http_ka', target: 'tsbetween w2', rps: 75_000, p50Ms: 0.7, p99Ms: 1.4, lbCpuPct: 150 }),
    sample({ test: 'http_ka', target: 'haproxy', rps: 62_500, p50Ms: 0.5, p99Ms: 1.4, lbCpuPct: 85 }),
    sample({ test: 'http_ka', target: 'gobetween', rps: 25_000, p50Ms: 2, p99Ms: 7, lbCpuPct: 100 }),
  ];
  assert.equal(medianOf(samples, 'http_ka', 'tsbetween w1', 'rps'), 50_000);
  const http = TESTS.filter((t) => t.id === 'http_ka');
  const s = summarise(samples, http, [
    { name: 'direct', role: 'direct' }, { name: 'tsbetween w1', role: 'tsbetween' },
    { name: 'tsbetween w2', role: 'tsbetween' }, { name: 'haproxy', role: 'reference' },
    { name: 'gobetween', role: 'reference' },
  ], { 'tsbetween w1': { rssMb: 55.4, cpuPct: 0.1 } });
  const rateRow = s.comparison.split('\n').find((l) => l.includes('HTTP keep-alive (req/s)')) ?? '';
  assert.match(rateRow, /100,000 \| +50,000 \| +75,000 \| +62,500 \| +25,000 \|$/);
  const ratioLines = s.ratios.split('\n');
  assert.match(ratioLines[0] ?? '', /÷ direct \| ÷ haproxy \| ÷ gobetween \|$/);
  const w1 = ratioLines.find((l) => l.includes('(req/s) · tsbetween w1')) ?? '';
  assert.match(w1, /0\.50 \| +0\.80 \| +2\.00 \|$/);
  const w2 = ratioLines.find((l) => l.includes('(req/s) · tsbetween w2')) ?? '';
  assert.match(w2, /0\.75 \| +1\.20 \| +3\.00 \|$/);
  const p99 = ratioLines.find((l) => l.includes('p99 (lower is better) · tsbetween w1')) ?? '';
  assert.match(p99, /4\.00 \| +1\.43 \| +0\.29 \|$/);
  // Resources: one row per balancer; 100% CPU at 50,000 req/s is 20 µs per request.
  const res = s.resources.split('\n');
  assert.match(res[0] ?? '', /balancer +\| idle RSS MB \| peak RSS MB \| http_ka CPU% \(usr\/sys\) \| http_ka CPU µs\/req \|/);
  assert.match(res.find((l) => l.startsWith('| tsbetween w1')) ?? '', /\| +55 \| +80 \| +100 \(40\/60\) \| +20 \|$/);
  assert.match(res.find((l) => l.startsWith('| tsbetween w2')) ?? '', /\| +– \| +– \| +150 \(–\/–\) \| +20 \|$/);
  assert.ok(!res.some((l) => l.startsWith('| direct')));
  assert.deepEqual(s.problems, ['http_ka / tsbetween w1 (round 2): boom']);
});

test('summary without another balancer has no ratio table', () => {
  const s = summarise([sample({ test: 'http_ka', target: 'tsbetween', rps: 1 })], TESTS.filter((t) => t.id === 'http_ka'),
    [{ name: 'tsbetween', role: 'tsbetween' }]);
  assert.equal(s.ratios, '');
});

test('CPU per unit of work: per connection / request for HTTP, per GiB for iperf3', () => {
  // 120% CPU at 8,000 new connections/s = 150 µs per proxied connection.
  assert.equal(cpuMicros(sample({ test: 'http_close', target: 't', rps: 8000, lbCpuPct: 120 }), 'http'), 150);
  // 8 Gbit/s = 0.931 GiB/s; 100% CPU -> 1,073,741.824 µs per GiB.
  const perGib = cpuMicros(sample({ test: 'iperf1', target: 't', gbps: 8, lbCpuPct: 100 }), 'iperf');
  assert.ok(perGib !== null && Math.abs(perGib - 1_073_741.824) < 0.01);
  assert.equal(cpuMicros(sample({ test: 'iperf1', target: 't', gbps: 8 }), 'iperf'), null);
  assert.equal(cpuMicros(sample({ test: 'iperf1', target: 't', gbps: 0, lbCpuPct: 50 }), 'iperf'), null);
  assert.equal(cpuMicros(sample({ test: 'http_ka', target: 't', rps: 10, lbCpuPct: 50, error: 'x' }), 'http'), null);
});

const LISTEN = { http: 23080, iperf: 23201 };
const BACKENDS = { http: [18080, 18081] as const, iperf: 15201 };

test('configs: every balancer points at the same backends', () => {
  const toml = gobetweenToml(LISTEN, BACKENDS);
  assert.match(toml, /bind = "127\.0\.0\.1:23080"/);
  assert.match(toml, /bind = "127\.0\.0\.1:23201"/);
  assert.match(toml, /static_list = \["127\.0\.0\.1:18080", "127\.0\.0\.1:18081"\]/);
  assert.match(toml, /static_list = \["127\.0\.0\.1:15201"\]/);
  const cfg = haproxyCfg({ http: 20080, iperf: 20201 }, BACKENDS);
  assert.match(cfg, /nbthread 1/);
  assert.match(cfg, /mode tcp/);
  assert.match(cfg, /balance roundrobin/);
  assert.match(cfg, /bind 127\.0\.0\.1:20201\n {2}server s1 127\.0\.0\.1:15201/);
  const ng = nginxConf({ http: 22080, iperf: 22201 }, BACKENDS,
    { streamModule: '/usr/lib/nginx/modules/ngx_stream_module.so', prefix: '/tmp/x' });
  assert.match(ng, /^load_module \/usr\/lib\/nginx\/modules\/ngx_stream_module\.so;$/m);
  assert.match(ng, /^daemon off;$/m);
  assert.match(ng, /^worker_processes 1;$/m);
  assert.match(ng, /^pid \/tmp\/x\/nginx\.pid;$/m);
  assert.match(ng, /upstream http_be \{\n {4}server 127\.0\.0\.1:18080;\n {4}server 127\.0\.0\.1:18081;/);
  assert.match(ng, /listen 127\.0\.0\.1:22080 backlog=4096; proxy_pass http_be;/);
  assert.match(ng, /listen 127\.0\.0\.1:22201 backlog=4096; proxy_pass 127\.0\.0\.1:15201;/);
  assert.doesNotMatch(nginxConf(LISTEN, BACKENDS, { streamModule: null, prefix: '/tmp/x' }), /load_module/);
});

test('nginx stream module: --modules-path first, built-in, or absent', () => {
  const debian = 'configure arguments: --prefix=/usr/share/nginx --modules-path=/usr/lib/nginx/modules --with-stream=dynamic';
  const found = new Set(['/usr/lib/nginx/modules/ngx_stream_module.so']);
  assert.equal(findStreamModule(debian, (p) => found.has(p)), '/usr/lib/nginx/modules/ngx_stream_module.so');
  assert.equal(findStreamModule('--modules-path=/opt/m --with-stream=dynamic', (p) => p === '/opt/m/ngx_stream_module.so'),
    '/opt/m/ngx_stream_module.so');
  assert.equal(findStreamModule('configure arguments: --with-stream --with-http_ssl_module', () => false), null);
  assert.equal(findStreamModule('configure arguments: --with-stream=dynamic', () => false), undefined);
  assert.equal(findStreamModule('configure arguments: --with-http_ssl_module', () => false), undefined);
});

test('BENCH_WORKERS: worker counts and auto', () => {
  assert.deepEqual(parseWorkersList('1,2,auto'), ['1', '2', 'auto']);
  assert.deepEqual(parseWorkersList(' 4 , auto '), ['4', 'auto']);
  assert.deepEqual(parseWorkersList(''), []);
  assert.throws(() => parseWorkersList('0'), /worker counts/);
  assert.throws(() => parseWorkersList('two'), /worker counts/);
  assert.throws(() => parseWorkersList('1,1'), /duplicate/);
});

test('environment pairs for the alt process', () => {
  assert.deepEqual(parseEnvPairs(' TSB_ONREAD=65536  A=b=c '), { TSB_ONREAD: '65536', A: 'b=c' });
  assert.deepEqual(parseEnvPairs(''), {});
  assert.throws(() => parseEnvPairs('=x'), /NAME=value/);
  assert.throws(() => parseEnvPairs('novalue'), /NAME=value/);
});
