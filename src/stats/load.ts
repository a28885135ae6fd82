// Load limits on new calls (--max-load, --max-cpu, --max-bandwidth), sampled the way
// the reference samples them: the 1-minute load average and the CPU usage from
// /proc/stat every half second (user + nice + system against idle, as a share of
// the interval), and the bytes of media received over the last second, from the
// counters the media engine keeps anyway. Runs on the control thread; one unref'd
// timer, started only when a limit is set.

import * as fs from 'fs';
import * as os from 'os';

/** Why a new call is refused; the texts are the reference's (magic_load_limit_strings). */
export const LOAD_LIMIT_REASONS = {
  load: 'Load limit exceeded',
  cpu: 'CPU usage limit exceeded',
  bandwidth: 'Bandwidth limit exceeded',
} as const;

export type LoadLimit = keyof typeof LOAD_LIMIT_REASONS;

export interface LoadLimits {
  /** --max-load: 1-minute load average; 0 = no limit. */
  maxLoad: number;
  /** --max-cpu: CPU usage in percent; 0 = no limit. */
  maxCpu: number;
  /** --max-bandwidth: received media bytes per second; 0 = no limit. */
  maxBandwidth: number;
}

export interface LoadSources {
  /** The 1-minute load average. */
  loadAverage?: () => number;
  /** The first line of /proc/stat ("cpu  user nice system idle ..."), or null. */
  procStat?: () => string | null;
  /** Media bytes received since start, monotonic. */
  receivedBytes: () => number;
}

function readProcStat(): string | null {
  try {
    const text = fs.readFileSync('/proc/stat', 'latin1');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  } catch {
    return null;
  }
}

export class LoadMonitor {
  /** Load average x 100, CPU usage in percent x 100, bytes in the last second: as the reference keeps them. */
  loadAverage100 = 0;
  cpuUsage100 = 0;
  bandwidth = 0;

  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private usedLast = 0;
  private idleLast = 0;
  private bytesLast: number | null = null;
  private readonly loadAverage: () => number;
  private readonly procStat: () => string | null;

  constructor(private readonly limits: LoadLimits, private readonly sources: LoadSources) {
    this.loadAverage = sources.loadAverage ?? (() => os.loadavg()[0]);
    this.procStat = sources.procStat ?? readProcStat;
  }

  get active(): boolean {
    return this.limits.maxLoad > 0 || this.limits.maxCpu > 0 || this.limits.maxBandwidth > 0;
  }

  /** Starts sampling if any limit is set. Idempotent. */
  start(): void {
    if (this.timer || !this.active) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sampling step: load and CPU every call (0.5 s), bandwidth every other call (1 s). */
  sample(): void {
    if (this.limits.maxLoad > 0) this.loadAverage100 = Math.floor(this.loadAverage() * 100);
    if (this.limits.maxCpu > 0) this.sampleCpu();
    if (this.limits.maxBandwidth > 0 && this.ticks++ % 2 === 0) {
      const bytes = this.sources.receivedBytes();
      if (this.bytesLast !== null) this.bandwidth = Math.max(0, bytes - this.bytesLast);
      this.bytesLast = bytes;
    }
  }

  private sampleCpu(): void {
    const line = this.procStat();
    const m = line ? /^cpu\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line) : null;
    if (!m) return;
    const used = Number(m[1]) + Number(m[2]) + Number(m[3]);
    const idle = Number(m[4]);
    const usedDelta = used - this.usedLast;
    const total = usedDelta + (idle - this.idleLast);
    if (total > 0 && this.usedLast && this.idleLast) this.cpuUsage100 = Math.floor((usedDelta * 10000) / total);
    this.usedLast = used;
    this.idleLast = idle;
  }

  /** The first limit exceeded right now, in the reference's order (load, CPU, bandwidth); null if none. */
  exceeded(): LoadLimit | null {
    const l = this.limits;
    if (l.maxLoad > 0 && this.loadAverage100 >= Math.floor(l.maxLoad * 100)) return 'load';
    if (l.maxCpu > 0 && this.cpuUsage100 >= Math.floor(l.maxCpu * 100)) return 'cpu';
    if (l.maxBandwidth > 0 && this.bandwidth >= l.maxBandwidth) return 'bandwidth';
    return null;
  }
}
