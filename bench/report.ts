// Summarising and printing benchmark samples: medians over rounds, one table of absolute figures
// (direct, every tsbetween column, haproxy, nginx, a GoBetween binary), one of ratios (each
// tsbetween column against each other balancer) and one of the load balancers' CPU and memory,
// with CPU per proxied connection / request / GiB.

/**
 * A column: `direct`, a tsbetween column (`tsbetween`, or `tsbetween w1`, `tsbetween w2`,
 * `tsbetween auto` in a workers sweep), `haproxy`, `nginx`, `gobetween`, or `alt` (an optional
 * second tsbetween build, BENCH_ALT_CLI, for A/B comparisons in one run).
 */
export type TargetName = string;

/** What a column is: what the ratios are taken of (`tsbetween`, `alt`) and against (`direct`, `reference`). */
export type TargetRole = 'direct' | 'tsbetween' | 'reference' | 'alt';

export interface TargetInfo {
  readonly name: TargetName;
  readonly role: TargetRole;
}

export type TestId = 'iperf1' | 'iperf8' | 'iperf1r' | 'http_ka' | 'http_close';

export interface TestDef {
  readonly id: TestId;
  readonly label: string;
  readonly kind: 'iperf' | 'http';
  readonly streams: number;
  /** iperf3 -R: the backend sends, so bytes flow backend -> client through the balancer. */
  readonly reverse: boolean;
  readonly close: boolean;
  /** Part of the default set (BENCH_TESTS selects others). */
  readonly byDefault: boolean;
}

export const TESTS: readonly TestDef[] = [
  { id: 'iperf1', label: 'iperf3 1 stream', kind: 'iperf', streams: 1, reverse: false, close: false, byDefault: true },
  { id: 'iperf8', label: 'iperf3 8 streams', kind: 'iperf', streams: 8, reverse: false, close: false, byDefault: true },
  { id: 'iperf1r', label: 'iperf3 1 stream, backend->client (-R)', kind: 'iperf', streams: 1, reverse: true,
    close: false, byDefault: true },
  { id: 'http_ka', label: 'HTTP keep-alive', kind: 'http', streams: 0, reverse: false, close: false, byDefault: true },
  { id: 'http_close', label: 'HTTP new conn per request', kind: 'http', streams: 0, reverse: false, close: true,
    byDefault: true },
];

/** One measured run of one test against one target. */
export interface Sample {
  readonly test: TestId;
  readonly target: TargetName;
  readonly round: number;
  readonly error: string | null;
  readonly gbps: number | null;
  readonly retransmits: number | null;
  readonly rps: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly socketErrors: number | null;
  readonly non2xx: number | null;
  /** The load balancer's process tree over the run; null for "direct". */
  readonly lbCpuPct: number | null;
  readonly lbUserPct: number | null;
  readonly lbSysPct: number | null;
  readonly lbPeakRssMb: number | null;
  /** The whole machine over the run (100 = one core). */
  readonly boxBusyPct: number | null;
}

export type Metric = 'gbps' | 'rps' | 'p50Ms' | 'p99Ms' | 'lbCpuPct' | 'lbUserPct' | 'lbSysPct' | 'lbPeakRssMb' |
  'boxBusyPct' | 'socketErrors' | 'non2xx';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const hi = s[mid] ?? 0;
  return s.length % 2 === 1 ? hi : ((s[mid - 1] ?? hi) + hi) / 2;
}

/** Median of a metric over the successful rounds of (test, target); null when none. */
export function medianOf(samples: readonly Sample[], test: TestId, target: TargetName, metric: Metric): number | null {
  const values: number[] = [];
  for (const s of samples) {
    if (s.test !== test || s.target !== target || s.error !== null) continue;
    const v = s[metric];
    if (v !== null && Number.isFinite(v)) values.push(v);
  }
  return median(values);
}

export function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b === 0) return null;
  return a / b;
}

export function fmtNumber(v: number | null, digits: number): string {
  if (v === null) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Renders rows as a Markdown table with padded columns (readable both raw and rendered). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAlignFrom = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (cell: string, i: number): string => {
    const w = widths[i] ?? cell.length;
    return i >= rightAlignFrom ? cell.padStart(w) : cell.padEnd(w);
  };
  const line = (cells: readonly string[]): string => `| ${headers.map((_, i) => pad(cells[i] ?? '', i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i >= rightAlignFrom ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

interface Row {
  readonly test: TestId;
  readonly label: string;
  readonly metric: Metric;
  readonly digits: number;
}

function comparisonRows(tests: readonly TestDef[]): Row[] {
  const rows: Row[] = [];
  for (const t of tests) {
    if (t.kind === 'iperf') {
      rows.push({ test: t.id, label: `${t.label} (Gbit/s)`, metric: 'gbps', digits: 2 });
    } else {
      rows.push({ test: t.id, label: `${t.label} (req/s)`, metric: 'rps', digits: 0 });
      rows.push({ test: t.id, label: '  p50 latency (ms, lower is better)', metric: 'p50Ms', digits: 2 });
      rows.push({ test: t.id, label: '  p99 latency (ms, lower is better)', metric: 'p99Ms', digits: 2 });
    }
  }
  return rows;
}

const GIB = 1024 ** 3;

/**
 * CPU microseconds per unit of work for one sample: per request for HTTP (with a new connection
 * per request, that is per proxied connection), per GiB moved for iperf3. Null when unmeasured.
 */
export function cpuMicros(s: Sample, kind: TestDef['kind']): number | null {
  if (s.error !== null || s.lbCpuPct === null) return null;
  const coreSeconds = s.lbCpuPct / 100; // CPU seconds per wall second
  if (kind === 'http') return s.rps !== null && s.rps > 0 ? (coreSeconds / s.rps) * 1e6 : null;
  const gibPerSecond = s.gbps === null ? 0 : (s.gbps * 1e9) / 8 / GIB;
  return gibPerSecond > 0 ? (coreSeconds / gibPerSecond) * 1e6 : null;
}

/** Median CPU µs per unit over the successful rounds of (test, target). */
export function medianCpuMicros(samples: readonly Sample[], test: TestDef, target: TargetName): number | null {
  const values: number[] = [];
  for (const s of samples) {
    if (s.test !== test.id || s.target !== target) continue;
    const v = cpuMicros(s, test.kind);
    if (v !== null && Number.isFinite(v)) values.push(v);
  }
  return median(values);
}

export function costUnit(t: TestDef): string {
  if (t.kind === 'iperf') return 'µs/GiB';
  return t.close ? 'µs/conn' : 'µs/req';
}

export interface Summary {
  /** Absolute figures, one column per target. */
  readonly comparison: string;
  /** Each tsbetween (and alt) column divided by direct and by every other balancer. */
  readonly ratios: string;
  /** One row per balancer: idle and peak RSS, CPU% and CPU µs per unit for each test. */
  readonly resources: string;
  readonly problems: string[];
}

export interface IdleUsage {
  readonly rssMb: number;
  readonly cpuPct: number;
}

export function summarise(samples: readonly Sample[], tests: readonly TestDef[], targets: readonly TargetInfo[],
  idle: Readonly<Record<string, IdleUsage>> = {}): Summary {
  const names = targets.map((t) => t.name);
  const present = (r: Row): boolean => names.some((t) => medianOf(samples, r.test, t, r.metric) !== null);
  // A latency row the load generator could not fill (autocannon, connection per request) is left out.
  const shown = comparisonRows(tests).filter((r) => r.metric === 'gbps' || r.metric === 'rps' || present(r));
  const comparison = formatTable(['test', ...names], shown.map((r) =>
    [r.label, ...names.map((t) => fmtNumber(medianOf(samples, r.test, t, r.metric), r.digits))]));

  // Ratios: rows = (test figure, tsbetween column); columns = ÷ direct and ÷ each reference.
  const subjects = targets.filter((t) => t.role === 'tsbetween' || t.role === 'alt');
  const bases = targets.filter((t) => t.role === 'direct' || t.role === 'reference');
  const ratioRows: string[][] = [];
  for (const r of shown) {
    if (r.metric === 'p50Ms') continue;
    for (const s of subjects) {
      const v = medianOf(samples, r.test, s.name, r.metric);
      const label = r.metric === 'p99Ms' ? `${r.test} p99 (lower is better)` : r.label;
      ratioRows.push([`${label} · ${s.name}`, ...bases.map((b) => fmtNumber(ratio(v, medianOf(samples, r.test, b.name, r.metric)), 2))]);
    }
  }
  const ratios = bases.length === 0 || subjects.length === 0 ? ''
    : formatTable(['figure · column', ...bases.map((b) => `÷ ${b.name}`)], ratioRows);

  const lbs = targets.filter((t) => t.role !== 'direct');
  const resHeaders = ['balancer', 'idle RSS MB', 'peak RSS MB'];
  for (const t of tests) resHeaders.push(`${t.id} CPU% (usr/sys)`, `${t.id} CPU ${costUnit(t)}`);
  const resRows = lbs.map((lb) => {
    const peaks = tests.map((t) => medianOf(samples, t.id, lb.name, 'lbPeakRssMb')).filter((v): v is number => v !== null);
    const cells = [lb.name, fmtNumber(idle[lb.name]?.rssMb ?? null, 0), fmtNumber(peaks.length === 0 ? null : Math.max(...peaks), 0)];
    for (const t of tests) {
      const cpu = medianOf(samples, t.id, lb.name, 'lbCpuPct');
      const usr = medianOf(samples, t.id, lb.name, 'lbUserPct');
      const sys = medianOf(samples, t.id, lb.name, 'lbSysPct');
      cells.push(`${fmtNumber(cpu, 0)} (${fmtNumber(usr, 0)}/${fmtNumber(sys, 0)})`,
        fmtNumber(medianCpuMicros(samples, t, lb.name), 0));
    }
    return cells;
  });

  const problems: string[] = [];
  for (const s of samples) {
    const where = `${s.test} / ${s.target} (round ${s.round})`;
    if (s.error !== null) problems.push(`${where}: ${s.error}`);
    if ((s.socketErrors ?? 0) > 0) problems.push(`${where}: ${String(s.socketErrors)} socket errors`);
    if ((s.non2xx ?? 0) > 0) problems.push(`${where}: ${String(s.non2xx)} non-2xx responses`);
  }
  return { comparison, ratios, resources: formatTable(resHeaders, resRows), problems };
}
