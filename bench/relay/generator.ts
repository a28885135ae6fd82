// The driver of the C load generator (bench/relay/loadgen.c): builds it,
// starts it pinned to some CPUs, feeds it calls (and, for replay, payloads)
// and runs measured windows. Shared by bench/relay.ts and bench/transcode.ts.
//
// Every generator started here is killed when this process exits, also on an
// error.

import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { DaemonHandle, DaemonKind, REPO_ROOT, startDaemon } from '../../test/helpers/daemon';
import { pin } from '../proc';

/** What one `run` reports (see the protocol at the top of loadgen.c). */
export interface GenResult {
  calls: number;
  seconds: number;
  sent: number;
  received: number;
  receivedTotal: number;
  reordered: number;
  sendErrors: number;
  foreign: number;
  negativeLatency: number;
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
  maxLagTicks: number;
  /** Ticks skipped after a stall of the generator (their packets were not sent). */
  skippedTicks: number;
  /** utime + stime of the daemon (tick-sampled, /proc/PID/stat), seconds. */
  daemonCpuS: number;
  /** Time on CPU of all the daemon's threads (scheduler accounting, exact), seconds. */
  daemonRunS: number;
  /** Time on CPU of the extra pids (the ksoftirqd threads of the daemon's CPUs), seconds. */
  extraRunS: number;
  genCpuS: number;
  /**
   * Replay mode, per direction (0: A->B, 1: B->A): packets sent in the measured
   * window, and the received packets carrying one of their sequence numbers.
   */
  sentDir: [number, number];
  receivedDir: [number, number];
  /** Replay mode, per direction, over the whole run (warm-up, the uncounted tail and draining included). */
  sentAll: [number, number];
  receivedAll: [number, number];
  /** Replay mode: packets from a call's proxy port in another payload type than the receiving side's. */
  wrongPt: number;
  /** Replay mode: received packets with a sequence number not sent yet (the proxy renumbers). */
  seqAhead: number;
  /** Busy time of the whole machine in the measured window (CPUs x wall - idle, /proc/stat), seconds; -1 when unknown. */
  machineBusyS: number;
}

/** Compiles bench/relay/loadgen.c into dist/bench/relay/ when the binary is missing or older. */
export function buildGenerator(): string {
  const src = path.join(REPO_ROOT, 'bench', 'relay', 'loadgen.c');
  const outDir = path.join(REPO_ROOT, 'dist', 'bench', 'relay');
  const bin = path.join(outDir, 'loadgen');
  fs.mkdirSync(outDir, { recursive: true });
  const fresh = fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs;
  if (!fresh) execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  return bin;
}

/** Child processes of the benches, killed (with their process group) at exit. */
export const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) {
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export class Generator {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | null = null;
  private readonly errors: string[] = [];
  private readonly exited: Promise<void>;
  portsA: number[] = [];
  portsB: number[] = [];

  constructor(bin: string, cpus: string, socks: number) {
    this.child = spawn('taskset', ['-c', cpus, bin, `--socks=${socks}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    children.add(this.child);
    this.exited = new Promise((resolve) => this.child.on('close', () => {
      children.delete(this.child);
      if (this.waiting) this.waiting(`exit ${this.errors.join(' ')}`);
      resolve();
    }));
    readline.createInterface({ input: this.child.stdout! }).on('line', (l) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(l);
      } else this.lines.push(l);
    });
    this.child.stderr!.on('data', (b: Buffer) => this.errors.push(b.toString().trim()));
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  async start(): Promise<void> {
    const l = await this.nextLine();
    const m = /^ports A (\S+) B (\S+)$/.exec(l);
    if (!m) throw new Error(`load generator did not start: ${l} ${this.errors.join(' ')}`);
    this.portsA = m[1].split(',').map(Number);
    this.portsB = m[2].split(',').map(Number);
  }

  /** dstA: the daemon port side A sends to; dstB: the one side B sends to. */
  addCall(dstA: number, dstB: number): void {
    this.child.stdin!.write(`call ${dstA} ${dstB}\n`);
  }

  /**
   * Appends one payload (without RTP header) to the replay set of a direction
   * (0: what side A sends, 1: side B); the set is sent with payload type pt
   * and timestamps advancing by tsStep per packet. With a set for both
   * directions the generator is in replay mode.
   */
  addFrame(dir: 0 | 1, pt: number, tsStep: number, payload: Buffer): void {
    this.child.stdin!.write(`frame ${dir} ${pt} ${tsStep} ${payload.toString('hex')}\n`);
  }

  async run(
    calls: number, warmupMs: number, measureMs: number, pid: number, rate: number, extraPids: number[] = [],
  ): Promise<GenResult> {
    const extra = extraPids.length ? ` ${extraPids.join(',')}` : '';
    this.child.stdin!.write(`run ${calls} ${warmupMs} ${measureMs} ${pid} ${rate}${extra}\n`);
    const l = await this.nextLine();
    if (!l.startsWith('result ')) throw new Error(`load generator: ${l} ${this.errors.join(' ')}`);
    return JSON.parse(l.slice('result '.length)) as GenResult;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.stdin!.end('quit\n');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/**
 * A daemon for a load bench, pinned to its CPUs, that keeps idle calls (the
 * calls sit between steps), with a started generator. `ports` is the media port
 * range, or a count to reserve.
 */
export async function startLoad(
  kind: DaemonKind,
  o: { threads: number; daemonCpus: string; genCpus: string; socks: number },
  genBin: string,
  ports: [number, number] | number,
  extraArgs: string[] = [],
): Promise<{ d: DaemonHandle; gen: Generator }> {
  const range = Array.isArray(ports) ? [`--port-min=${ports[0]}`, `--port-max=${ports[1]}`] : [];
  const d = await startDaemon({
    bin: kind,
    mediaPorts: Array.isArray(ports) ? 2 : ports,
    args: [...range, `--num-threads=${o.threads}`, '--log-level=4', '--delete-delay=0', '--timeout=3600', '--silent-timeout=3600', ...extraArgs],
  });
  const gen = new Generator(genBin, o.genCpus, o.socks);
  try {
    pin(d.pid!, o.daemonCpus);
    await gen.start();
  } catch (err) {
    await gen.stop();
    await d.stop();
    throw err;
  }
  return { d, gen };
}
