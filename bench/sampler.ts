// CPU and memory of a process tree from /proc, as in perf-anchors.md: CPU% is the delta of
// utime+stime summed over the tree, divided by wall time (100% = one core); RSS is the peak of the
// summed VmRSS, sampled every 250 ms. Also the whole box's busy CPU over the same window.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parseProcStat, parseVmRssKb } from './parse.js';
import type { ProcStat } from './parse.js';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The pid and all its descendants (by scanning /proc for parent links). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st === null) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [st.pid]);
    else list.push(st.pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined) break;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

interface TreeCpu {
  readonly user: number;
  readonly sys: number;
}

function treeCpu(pids: readonly number[]): TreeCpu {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (st === null) continue;
    user += st.utime;
    sys += st.stime;
  }
  return { user, sys };
}

function treeRssKb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8')) ?? 0;
    } catch {
      // gone
    }
  }
  return kb;
}

interface BoxCpu {
  readonly busy: number;
  readonly total: number;
}

function boxCpu(): BoxCpu | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export interface UsageReport {
  /** Process tree CPU, 100 = one core. */
  readonly cpuPct: number;
  readonly userPct: number;
  readonly sysPct: number;
  readonly peakRssMb: number;
  readonly wallMs: number;
}

export interface BoxReport {
  /** Whole machine busy CPU, 100 = one core (so at most 100 × cores). */
  readonly busyPct: number;
}

/** Samples a process tree between start() and stop(). */
export class TreeSampler {
  private pids: number[] = [];
  private startCpu: TreeCpu = { user: 0, sys: 0 };
  private startedAt = 0;
  private peakKb = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly root: number, private readonly intervalMs = 250) {}

  start(): void {
    this.pids = processTree(this.root);
    this.startCpu = treeCpu(this.pids);
    this.startedAt = performance.now();
    this.peakKb = treeRssKb(this.pids);
    this.timer = setInterval(() => {
      this.peakKb = Math.max(this.peakKb, treeRssKb(this.pids));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): UsageReport {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const wallMs = performance.now() - this.startedAt;
    // Re-read the tree: workers started during the run count too (their earlier ticks are small).
    const pids = [...new Set([...this.pids, ...processTree(this.root)])];
    const end = treeCpu(pids);
    this.peakKb = Math.max(this.peakKb, treeRssKb(pids));
    const hz = clockTicks();
    const pct = (ticks: number): number => (wallMs > 0 ? (ticks / hz) / (wallMs / 1000) * 100 : 0);
    const user = pct(end.user - this.startCpu.user);
    const sys = pct(end.sys - this.startCpu.sys);
    return { cpuPct: user + sys, userPct: user, sysPct: sys, peakRssMb: this.peakKb / 1024, wallMs };
  }
}

/** Samples the whole machine's CPU between start() and stop(). */
export class BoxSampler {
  private begin: BoxCpu | null = null;
  private readonly cores: number;

  constructor(cores: number) {
    this.cores = cores;
  }

  start(): void {
    this.begin = boxCpu();
  }

  stop(): BoxReport | null {
    const end = boxCpu();
    if (this.begin === null || end === null || end.total <= this.begin.total) return null;
    const share = (end.busy - this.begin.busy) / (end.total - this.begin.total);
    return { busyPct: share * 100 * this.cores };
  }
}
