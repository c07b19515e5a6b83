// Summarising and printing benchmark samples: medians over rounds, one comparison table
// (direct / tsbetween / haproxy with ratios) and one table of the load balancers' CPU and memory.

/** `alt` is an optional second tsbetween build (BENCH_ALT_CLI), for A/B comparisons in one run. */
export type TargetName = 'direct' | 'tsbetween' | 'haproxy' | 'alt';

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
    close: false, byDefault: false },
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

export interface Summary {
  readonly comparison: string;
  readonly resources: string;
  readonly problems: string[];
}

export function summarise(samples: readonly Sample[], tests: readonly TestDef[], targets: readonly TargetName[]): Summary {
  const hasHaproxy = targets.includes('haproxy');
  const hasAlt = targets.includes('alt');
  const cols = (['direct', 'tsbetween', 'haproxy', 'alt'] as const).filter((t) => targets.includes(t));
  const headers = ['test', ...cols, 'tsbetween/direct', ...(hasHaproxy ? ['tsbetween/haproxy'] : []),
    ...(hasAlt ? ['alt/tsbetween'] : [])];
  const present = (r: Row): boolean => targets.some((t) => medianOf(samples, r.test, t, r.metric) !== null);
  // A latency row the load generator could not fill (autocannon, connection per request) is left out.
  const rows = comparisonRows(tests).filter((r) => r.metric === 'gbps' || r.metric === 'rps' || present(r)).map((r) => {
    const m = (t: TargetName): number | null => medianOf(samples, r.test, t, r.metric);
    const ts = m('tsbetween');
    return [r.label, ...cols.map((t) => fmtNumber(m(t), r.digits)), fmtNumber(ratio(ts, m('direct')), 2),
      ...(hasHaproxy ? [fmtNumber(ratio(ts, m('haproxy')), 2)] : []),
      ...(hasAlt ? [fmtNumber(ratio(m('alt'), ts), 2)] : [])];
  });

  const lbs = targets.filter((t) => t !== 'direct');
  const resHeaders = ['test'];
  for (const lb of lbs) resHeaders.push(`${lb} CPU% (usr/sys)`, `${lb} peak RSS MB`, `${lb} per LB core`);
  resHeaders.push('box busy % (tsbetween run)');
  const resRows = tests.map((t) => {
    const cells = [t.label];
    for (const lb of lbs) {
      const cpu = medianOf(samples, t.id, lb, 'lbCpuPct');
      const usr = medianOf(samples, t.id, lb, 'lbUserPct');
      const sys = medianOf(samples, t.id, lb, 'lbSysPct');
      const rss = medianOf(samples, t.id, lb, 'lbPeakRssMb');
      const perf = medianOf(samples, t.id, lb, t.kind === 'iperf' ? 'gbps' : 'rps');
      const perCore = cpu !== null && cpu > 0 && perf !== null ? perf / (cpu / 100) : null;
      cells.push(`${fmtNumber(cpu, 0)} (${fmtNumber(usr, 0)}/${fmtNumber(sys, 0)})`, fmtNumber(rss, 0),
        t.kind === 'iperf' ? `${fmtNumber(perCore, 1)} Gbit/s` : `${fmtNumber(perCore, 0)} req/s`);
    }
    cells.push(fmtNumber(medianOf(samples, t.id, 'tsbetween', 'boxBusyPct'), 0));
    return cells;
  });

  const problems: string[] = [];
  for (const s of samples) {
    const where = `${s.test} / ${s.target} (round ${s.round})`;
    if (s.error !== null) problems.push(`${where}: ${s.error}`);
    if ((s.socketErrors ?? 0) > 0) problems.push(`${where}: ${String(s.socketErrors)} socket errors`);
    if ((s.non2xx ?? 0) > 0) problems.push(`${where}: ${String(s.non2xx)} non-2xx responses`);
  }
  return { comparison: formatTable(headers, rows), resources: formatTable(resHeaders, resRows), problems };
}
