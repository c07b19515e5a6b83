// Pure parsers for the load generators' output: wrk's text report, iperf3's -J JSON, autocannon's
// --json line, and /proc/<pid>/stat. No I/O here, so each is unit-tested on captured samples.

/** What one HTTP load run measured. Latencies in milliseconds. */
export interface HttpResult {
  readonly requestsPerSec: number;
  readonly requests: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Connect/read/write/timeout socket errors as reported by the tool. */
  readonly socketErrors: number;
  /** Responses that were not 2xx/3xx. */
  readonly non2xx: number;
}

const TIME_UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a wrk duration such as "355.32us", "1.20ms", "2.00s", "1.00m" into milliseconds. */
export function parseWrkDuration(text: string): number | null {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (m === null) return null;
  const value = Number(m[1]);
  const unit = TIME_UNIT_MS[m[2] ?? ''];
  if (!Number.isFinite(value) || unit === undefined) return null;
  return value * unit;
}

/** Parses wrk's text report (run with --latency). Throws when the summary line is missing. */
export function parseWrk(output: string): HttpResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (rps === null) throw new Error(`wrk output has no "Requests/sec" line:\n${output.slice(0, 2000)}`);
  const total = /^\s*(\d+) requests in /m.exec(output);
  const percentile = (p: string): number | null => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output);
    return m === null ? null : parseWrkDuration(m[1] ?? '');
  };
  let socketErrors = 0;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (errs !== null) socketErrors = errs.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requestsPerSec: Number(rps[1]),
    requests: total === null ? 0 : Number(total[1]),
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    socketErrors,
    non2xx: non === null ? 0 : Number(non[1]),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function path(value: unknown, ...keys: string[]): unknown {
  let cur = value;
  for (const key of keys) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** What one iperf3 run measured: receiver-side throughput in bits per second. */
export interface IperfResult {
  readonly bitsPerSecond: number;
  readonly retransmits: number | null;
}

/** Parses iperf3 -J output; takes end.sum_received.bits_per_second. Throws on an iperf3 error. */
export function parseIperfJson(output: string): IperfResult {
  let doc: unknown;
  try {
    doc = JSON.parse(output);
  } catch {
    throw new Error(`iperf3 output is not JSON:\n${output.slice(0, 2000)}`);
  }
  const error = path(doc, 'error');
  if (typeof error === 'string') throw new Error(`iperf3: ${error}`);
  const bps = path(doc, 'end', 'sum_received', 'bits_per_second');
  if (typeof bps !== 'number') throw new Error('iperf3 JSON has no end.sum_received.bits_per_second');
  const retr = path(doc, 'end', 'sum_sent', 'retransmits');
  return { bitsPerSecond: bps, retransmits: typeof retr === 'number' ? retr : null };
}

/** Parses autocannon's --json result (the last JSON line of its stdout). */
export function parseAutocannonJson(output: string): HttpResult {
  const line = output.trim().split('\n').reverse().find((l) => l.trimStart().startsWith('{'));
  if (line === undefined) throw new Error(`autocannon output has no JSON:\n${output.slice(0, 2000)}`);
  const doc: unknown = JSON.parse(line);
  const num = (...keys: string[]): number | null => {
    const v = path(doc, ...keys);
    return typeof v === 'number' ? v : null;
  };
  const rps = num('requests', 'average');
  if (rps === null) throw new Error('autocannon JSON has no requests.average');
  const n2 = num('2xx') ?? 0;
  const n3 = num('3xx') ?? 0;
  const total = num('requests', 'total') ?? 0;
  const non2xx = num('non2xx') ?? Math.max(0, total - n2 - n3);
  return {
    requestsPerSec: rps,
    requests: total,
    p50Ms: num('latency', 'p50'),
    p99Ms: num('latency', 'p99'),
    socketErrors: (num('errors') ?? 0) + (num('timeouts') ?? 0),
    non2xx,
  };
}

/** The fields of /proc/<pid>/stat this harness needs. CPU times are in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly utime: number;
  readonly stime: number;
}

/** Parses one /proc/<pid>/stat line; the command name may contain spaces and parentheses. */
export function parseProcStat(line: string): ProcStat | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(line.slice(0, open).trim());
  // After ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  const rest = line.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (![pid, ppid, utime, stime].every(Number.isFinite)) return null;
  return { pid, ppid, utime, stime };
}

/** Extracts VmRSS in kilobytes from /proc/<pid>/status; null for a zombie or kernel thread. */
export function parseVmRssKb(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m === null ? null : Number(m[1]);
}

/** "A=1 B=two" -> { A: '1', B: 'two' }. */
export function parseEnvPairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(/\s+/).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`expected NAME=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
