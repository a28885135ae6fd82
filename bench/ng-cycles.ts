// ng control-plane throughput: offer + answer + delete cycles per second, and
// the latency of each request, over ng UDP with N requests outstanding.
//
//   node dist/bench/ng-cycles.js [--duration=10] [--concurrency=16] [--warmup=2]
//                                [--only=ours|reference] [--log-level=4] [--json]
//
// Each daemon (ours, then the reference when /usr/bin/rtpengine exists) is
// started the same way by test/helpers/daemon.ts (--table=-1, loopback, private
// ports) plus --delete-delay=0, so that deleted calls free their ports within
// milliseconds, and --log-level=4, so that the figure is the ng work and not log
// writing.
// The client runs in this process on the same machine: the figures compare the
// daemons under equal conditions, they are not a capacity statement.

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import { DaemonHandle, DaemonKind, referenceAvailable, startDaemon } from '../test/helpers/daemon';
import { buildSdp } from '../test/helpers/sdp';
import { NgClient } from '../test/helpers/ng-client';
import { parseArg } from './args';

interface Options {
  durationS: number;
  concurrency: number;
  warmupS: number;
  only: DaemonKind | null;
  logLevel: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { durationS: 10, concurrency: 16, warmupS: 2, only: null, logLevel: 4, json: false };
  for (const a of argv) {
    const { key: k, value: v, num } = parseArg(a);
    if (k === '--duration') o.durationS = num(120);
    else if (k === '--concurrency') o.concurrency = Math.floor(num(1024));
    else if (k === '--warmup') o.warmupS = num(30);
    else if (k === '--log-level') o.logLevel = Math.floor(num(7));
    else if (k === '--json') o.json = true;
    else if (k === '--only' && (v === 'ours' || v === 'reference')) o.only = v;
    else if (k === '--help' || k === '-h') {
      console.log('usage: node dist/bench/ng-cycles.js [--duration=S] [--concurrency=N] [--warmup=S] [--only=ours|reference] [--log-level=N] [--json]');
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (try --help)`);
  }
  return o;
}

/** The offer/answer body of one bench call leg. */
function sdp(port: number, sessionId: number): string {
  return buildSdp({
    sessionId,
    sessionName: 'bench',
    media: [{ port, formats: [0, 8, 101], extraAttributes: ['rtpmap:101 telephone-event/8000', 'fmtp:101 0-16', 'ptime:20', 'sendrecv'] }],
  });
}

interface Result {
  kind: DaemonKind;
  /** Cycles in which offer, answer and delete all succeeded. */
  cycles: number;
  requests: number;
  errors: number;
  firstError: string | null;
  elapsedS: number;
  cyclesPerS: number;
  requestsPerS: number;
  /** Per-request latency in milliseconds. */
  p50: number;
  p99: number;
  /** Per-cycle (three requests) latency in milliseconds. */
  cycleP50: number;
  cycleP99: number;
  /** CPU time the daemon process used per complete cycle, in milliseconds (all threads). */
  daemonCpuMsPerCycle: number;
  /** CPU use of this client process, in % of one core. */
  clientCpuPct: number;
}

let clkTck = 0;
/** CPU seconds (user + system, all threads) used so far by process `pid`; NaN when unknown. */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    if (!clkTck) {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    }
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the ")" that ends the command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return NaN;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

class Samples {
  private buf = new Float64Array(1 << 16);
  private n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

async function runCycles(
  client: NgClient,
  o: Options,
  seconds: number,
  label: string,
  record: boolean,
  daemonPid: number | undefined,
): Promise<Omit<Result, 'kind'>> {
  const reqLat = new Samples();
  const cycleLat = new Samples();
  let cycles = 0;
  let requests = 0;
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  const daemonCpu0 = processCpuSeconds(daemonPid);
  const clientCpu0 = process.cpuUsage();

  const req = async (dict: Record<string, unknown>): Promise<boolean> => {
    const t0 = performance.now();
    try {
      const r = await client.request(dict, { timeoutMs: 2000 });
      requests++;
      if (record) reqLat.push(performance.now() - t0);
      if (r.result !== 'ok') {
        errors++;
        firstError ??= `${String(dict.command)}: ${JSON.stringify(r).slice(0, 200)}`;
        return false;
      }
      return true;
    } catch (e) {
      errors++;
      firstError ??= `${String(dict.command)}: ${e instanceof Error ? e.message : String(e)}`;
      return false;
    }
  };

  const worker = async (w: number): Promise<void> => {
    let k = 0;
    while (performance.now() < end) {
      const callId = `${label}-${w}-${k++}`;
      const t0 = performance.now();
      const base = 20000 + ((w * 4) % 20000);
      const okOffer = await req({ command: 'offer', 'call-id': callId, 'from-tag': `ft${w}`, sdp: sdp(base, k) });
      const okAnswer =
        okOffer &&
        (await req({
          command: 'answer',
          'call-id': callId,
          'from-tag': `ft${w}`,
          'to-tag': `tt${w}`,
          sdp: sdp(base + 2, k),
        }));
      const okDelete = await req({ command: 'delete', 'call-id': callId, 'from-tag': `ft${w}` });
      // Only complete cycles count; failed ones show in the error count.
      if (okOffer && okAnswer && okDelete) {
        cycles++;
        if (record) cycleLat.push(performance.now() - t0);
      }
    }
  };

  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  const elapsedS = (performance.now() - start) / 1000;
  const daemonCpuS = processCpuSeconds(daemonPid) - daemonCpu0;
  const clientCpu = process.cpuUsage(clientCpu0);
  const rs = reqLat.sorted();
  const cs = cycleLat.sorted();
  return {
    cycles,
    requests,
    errors,
    firstError,
    elapsedS,
    cyclesPerS: cycles / elapsedS,
    requestsPerS: requests / elapsedS,
    p50: percentile(rs, 50),
    p99: percentile(rs, 99),
    cycleP50: percentile(cs, 50),
    cycleP99: percentile(cs, 99),
    daemonCpuMsPerCycle: cycles > 0 ? (daemonCpuS * 1000) / cycles : NaN,
    clientCpuPct: ((clientCpu.user + clientCpu.system) / 1e6 / elapsedS) * 100,
  };
}

async function measure(kind: DaemonKind, o: Options): Promise<Result | string> {
  let d: DaemonHandle | undefined;
  try {
    d = await startDaemon({
      bin: kind,
      args: ['--delete-delay=0', `--log-level=${o.logLevel}`],
      mediaPorts: 2000,
    });
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
  const client = new NgClient({ host: d.ngHost, port: d.ngPort, defaultTimeoutMs: 2000 });
  try {
    const tag = `${kind}-${process.pid}`;
    if (o.warmupS > 0) await runCycles(client, o, o.warmupS, `${tag}-warm`, false, d.pid);
    const r = await runCycles(client, o, o.durationS, tag, true, d.pid);
    return { kind, ...r };
  } finally {
    client.close();
    await d.stop();
  }
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const kinds: DaemonKind[] = o.only ? [o.only] : ['ours', 'reference'];
  const results = new Map<DaemonKind, Result | string>();
  for (const kind of kinds) {
    if (kind === 'reference' && !referenceAvailable()) {
      results.set(kind, 'not installed (apt-get install rtpengine-daemon)');
      continue;
    }
    results.set(kind, await measure(kind, o));
  }

  if (o.json) {
    console.log(JSON.stringify({ options: o, results: Object.fromEntries(results) }, null, 2));
    return;
  }
  console.log(
    `ng offer/answer/delete cycles: ${o.durationS} s after ${o.warmupS} s warm-up, ` +
      `${o.concurrency} requests outstanding, UDP, --delete-delay=0 --log-level=${o.logLevel}`,
  );
  console.log(
    'daemon      cycles/s  requests/s  req p50 ms  req p99 ms  cycle p50 ms  cycle p99 ms  ' +
      'daemon CPU ms/cycle  client CPU %  errors',
  );
  for (const [kind, r] of results) {
    if (typeof r === 'string') {
      console.log(`${kind.padEnd(10)}  not measured: ${r}`);
      continue;
    }
    console.log(
      `${kind.padEnd(10)}  ${fmt(r.cyclesPerS, 1).padStart(8)}  ${fmt(r.requestsPerS, 1).padStart(10)}  ` +
        `${fmt(r.p50, 3).padStart(10)}  ${fmt(r.p99, 3).padStart(10)}  ` +
        `${fmt(r.cycleP50, 3).padStart(12)}  ${fmt(r.cycleP99, 3).padStart(12)}  ` +
        `${fmt(r.daemonCpuMsPerCycle, 3).padStart(19)}  ${fmt(r.clientCpuPct, 0).padStart(12)}  ${String(r.errors).padStart(6)}`,
    );
    if (r.firstError) console.log(`            first error: ${r.firstError}`);
  }
  const ours = results.get('ours');
  const ref = results.get('reference');
  if (ours && ref && typeof ours !== 'string' && typeof ref !== 'string') {
    console.log(
      `ours/reference: cycles/s x${fmt(ours.cyclesPerS / ref.cyclesPerS, 2)}, ` +
        `req p50 x${fmt(ours.p50 / ref.p50, 2)}, req p99 x${fmt(ours.p99 / ref.p99, 2)}, ` +
        `daemon CPU per cycle x${fmt(ours.daemonCpuMsPerCycle / ref.daemonCpuMsPerCycle, 2)}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
