// Relay benchmark: RTP forwarding cost, loss and latency of the media plane.
//
//   node dist/bench/relay.js [--calls=250,500,1000,1500] [--warmup=2] [--duration=8]
//                            [--daemon-cpus=1] [--gen-cpus=0] [--threads=1] [--socks=4]
//                            [--rate=50] [--ports=48000-59999] [--repeat=1]
//                            [--only=ours|reference] [--syscall-proto=MODE,...]
//                            [--no-baseline] [--kernel] [--json]
//
// For each daemon (ours, then the reference when /usr/bin/rtpengine exists),
// started the same way by test/helpers/daemon.ts (--table=-1, loopback,
// --num-threads=THREADS, log level 4, a private port range, long media
// timeouts) and pinned with `taskset` to the same CPU(s):
//   1. sets up max(--calls) calls over ng (offer + answer, 16 outstanding) and
//      reads the daemon's memory growth per established, idle call (VmRSS);
//   2. for each --calls step, the C load generator (bench/relay/loadgen.c,
//      compiled here with `cc -O2`, pinned to --gen-cpus) sends --rate packets/s
//      each way for that many calls (172-byte G.711 RTP with sequence number and
//      send time inside) for --warmup + --duration seconds and reports, over the
//      measured window: relayed packets/s, loss, reordering, one-way latency
//      through the daemon (send time to kernel receive timestamp) and the
//      daemon's CPU time: the time on CPU of all its threads as the scheduler
//      accounts it (/proc/PID/task/*/schedstat), beside utime + stime from
//      /proc/PID/stat (tick-sampled, in --json), and the time of the ksoftirqd
//      threads of the daemon's CPUs (softirq work the kernel deferred there).
// A baseline run without any daemon (the generator sending to itself) shows the
// latency the generator and loopback add on their own.
//
// On a machine shared with other work the latency figures move with the load
// (a daemon pinned to a busy core waits for it); CPU per packet is the
// steadiest figure. --repeat=N measures each daemon N times, alternating, and
// adds a table of the medians (each figure's median over the runs in which the
// step was valid, i.e. the generator kept its schedule).
//
// --kernel (root): the whole bench runs in a network namespace it creates
// (loopback only, deleted at the end), and our daemon gets --table=0
// --no-fallback: passthrough RTP is forwarded by the eBPF program on the
// namespace's lo once both endpoints are learned. The reference stays in user
// space (its kernel module cannot load on a kernel without module support).
// In-kernel work runs in softirq context, charged to whichever task it
// interrupts (mostly the generator, whose sends deliver over loopback), so the
// figure to compare is "machine us/pkt": the busy time of the whole machine
// (CPUs x wall time - idle, exact on a tickless kernel) per relayed packet,
// generator included, and "machine - baseline": the same less the baseline
// run's (the generator sending to itself, no daemon), i.e. what relaying adds.
// Both include whatever else the machine does meanwhile: run on a quiet one.
//
// Everything runs on 127.0.0.1; every process started here is stopped at the
// end (also on error). Benchmarks never run in `npm test`.

import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { DaemonHandle, DaemonKind, REPO_ROOT, referenceAvailable } from '../test/helpers/daemon';
import { buildSdp } from '../test/helpers/sdp';
import { createNetns } from '../test/helpers/netns';
import { NgClient } from '../test/helpers/ng-client';
import { sleep } from '../test/helpers/process';
import { buildGenerator, children, GenResult, Generator, startLoad } from './relay/generator';
import { cpuNumbers, ksoftirqdPids, rssKb, udpRcvbufErrors } from './proc';
import { readArgs } from './args';

interface Options {
  calls: number[];
  warmupS: number;
  durationS: number;
  daemonCpus: string;
  genCpus: string;
  threads: number;
  socks: number;
  rate: number;
  ports: [number, number];
  repeat: number;
  only: DaemonKind | null;
  /** Modes of bench/relay/syscalls.c to measure instead of the daemons. */
  proto: string[];
  baseline: boolean;
  /** Our daemon with the in-kernel path, everything in a fresh network namespace. */
  kernel: boolean;
  json: boolean;
}

const USAGE =
  'usage: node dist/bench/relay.js [--calls=250,500,1000,1500] [--warmup=2] [--duration=8] ' +
  '[--daemon-cpus=1] [--gen-cpus=0] [--threads=1] [--socks=4] [--rate=50] [--ports=48000-59999] ' +
  '[--repeat=1] [--only=ours|reference] [--syscall-proto=et,uring,...] ' +
  '[--no-baseline] [--kernel] [--json]';

function parseArgs(argv: string[]): Options {
  const cpus = os.cpus().length;
  const o: Options = {
    calls: [250, 500, 1000, 1500],
    warmupS: 2,
    durationS: 8,
    // The daemon gets the last core, the generator the first; on one core both share it.
    daemonCpus: String(Math.max(0, cpus - 1)),
    genCpus: '0',
    threads: 1,
    socks: 4,
    rate: 50,
    // Media ports of the daemons: below the default window of the tests
    // (45000-47999) and mostly clear of other software.
    ports: [48000, 59999],
    repeat: 1,
    only: null,
    proto: [],
    baseline: true,
    kernel: false,
    json: false,
  };
  readArgs(argv, USAGE, ({ key: k, value: v, num, cpuList }) => {
    if (k === '--calls') {
      o.calls = v.split(',').map((s) => Math.floor(Number(s)));
      if (!o.calls.length || o.calls.some((n) => !Number.isFinite(n) || n < 1 || n > 20000)) {
        throw new Error(`--calls needs a list of call counts (1..20000), got '${v}'`);
      }
      o.calls.sort((x, y) => x - y);
    } else if (k === '--warmup') o.warmupS = num(30);
    else if (k === '--duration') o.durationS = num(60);
    else if (k === '--daemon-cpus') o.daemonCpus = cpuList();
    else if (k === '--gen-cpus') o.genCpus = cpuList();
    else if (k === '--threads') o.threads = Math.floor(num(64));
    else if (k === '--socks') o.socks = Math.floor(num(64));
    else if (k === '--rate') o.rate = Math.floor(num(1000));
    else if (k === '--repeat') o.repeat = Math.floor(num(20));
    else if (k === '--ports') {
      const m = /^(\d+)-(\d+)$/.exec(v);
      if (!m || Number(m[1]) < 1024 || Number(m[2]) > 65535 || Number(m[1]) >= Number(m[2])) {
        throw new Error(`--ports needs MIN-MAX (1024..65535), got '${v}'`);
      }
      o.ports = [Number(m[1]), Number(m[2])];
    }
    else if (k === '--only' && (v === 'ours' || v === 'reference')) o.only = v;
    else if (k === '--syscall-proto') {
      o.proto = v.split(',');
      if (o.proto.some((m) => !PROTO_MODES.includes(m))) {
        throw new Error(`--syscall-proto takes modes among ${PROTO_MODES.join(',')}, got '${v}'`);
      }
    }
    else if (k === '--no-baseline') o.baseline = false;
    else if (k === '--kernel') o.kernel = true;
    else if (k === '--json') o.json = true;
    else return false;
    return true;
  });
  return o;
}

// ---- the daemon side ---------------------------------------------------------

/** The offer/answer body of one bench call leg. */
function sdp(port: number, sessionId: number): string {
  return buildSdp({
    sessionId,
    sessionName: 'bench',
    media: [{ port, formats: [0], extraAttributes: ['ptime:20', 'sendrecv'] }],
  });
}

function rtpPort(reply: Record<string, unknown>, what: string): number {
  if (reply.result !== 'ok') throw new Error(`${what}: ${JSON.stringify(reply).slice(0, 300)}`);
  const body = Buffer.isBuffer(reply.sdp) ? reply.sdp.toString('latin1') : String(reply.sdp ?? '');
  const m = /^m=audio (\d+) /m.exec(body);
  if (!m) throw new Error(`${what}: no m=audio line in the reply SDP`);
  return Number(m[1]);
}

async function setUpCalls(d: DaemonHandle, gen: Generator, n: number, tag: string): Promise<void> {
  const client = new NgClient({ host: d.ngHost, port: d.ngPort, defaultTimeoutMs: 5000 });
  const dst: Array<[number, number]> = new Array(n);
  let next = 0;
  const k = gen.portsA.length;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const callId = `relay-${tag}-${i}`;
      const offer = await client.request({
        command: 'offer', 'call-id': callId, 'from-tag': `a${i}`, sdp: sdp(gen.portsA[i % k], i + 1),
      });
      const toB = rtpPort(offer, `offer of call ${i}`);
      const answer = await client.request({
        command: 'answer', 'call-id': callId, 'from-tag': `a${i}`, 'to-tag': `b${i}`,
        sdp: sdp(gen.portsB[i % k], i + 1),
      });
      const toA = rtpPort(answer, `answer of call ${i}`);
      dst[i] = [toA, toB];
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, () => worker()));
  } finally {
    client.close();
  }
  for (const [a, b] of dst) gen.addCall(a, b);
}

interface Step {
  calls: number;
  offeredPps: number;
  relayedPps: number;
  lossPct: number;
  reordered: number;
  /** Time on CPU of the daemon's threads per relayed packet (scheduler accounting). */
  cpuUsPerPacket: number;
  /** The same from utime + stime in /proc/PID/stat (tick-sampled). */
  statUsPerPacket: number;
  /** ksoftirqd time of the daemon's CPUs per relayed packet (deferred softirq work). */
  softirqUsPerPacket: number;
  /** Busy time of the whole machine (generator included) per relayed packet. */
  machineUsPerPacket: number;
  daemonCpuPct: number;
  p50us: number;
  p99us: number;
  p999us: number;
  genCpuPct: number;
  genMaxLagMs: number;
  /** UDP receive-buffer drops in the whole system during the step (/proc/net/snmp RcvbufErrors). */
  kernelDrops: number;
  /** False when the generator stalled (more than 50 ms late, or ticks skipped): the step did not offer its load. */
  valid: boolean;
}

interface DaemonResult {
  /** 'ours', 'reference', or 'proto-MODE'. */
  kind: string;
  argv: string[];
  setupS: number;
  memKbPerCall: number;
  rssKbBefore: number;
  rssKbAfter: number;
  steps: Step[];
}

function toStep(r: GenResult, kernelDrops = 0): Step {
  const relayed = r.received / r.seconds;
  return {
    calls: r.calls,
    offeredPps: r.sent / r.seconds,
    relayedPps: relayed,
    lossPct: r.sent > 0 ? (100 * (r.sent - r.received)) / r.sent : NaN,
    reordered: r.reordered,
    cpuUsPerPacket: r.daemonRunS >= 0 && r.received > 0 ? (r.daemonRunS * 1e6) / r.received : NaN,
    statUsPerPacket: r.daemonCpuS >= 0 && r.received > 0 ? (r.daemonCpuS * 1e6) / r.received : NaN,
    softirqUsPerPacket: r.received > 0 ? (r.extraRunS * 1e6) / r.received : NaN,
    machineUsPerPacket: r.machineBusyS >= 0 && r.received > 0 ? (r.machineBusyS * 1e6) / r.received : NaN,
    daemonCpuPct: r.daemonRunS >= 0 ? (100 * r.daemonRunS) / r.seconds : NaN,
    p50us: r.p50us,
    p99us: r.p99us,
    p999us: r.p999us,
    genCpuPct: (100 * r.genCpuS) / r.seconds,
    genMaxLagMs: r.maxLagTicks,
    kernelDrops,
    valid: r.maxLagTicks <= 50 && r.skippedTicks === 0,
  };
}

async function measure(kind: DaemonKind, o: Options, genBin: string, log: (s: string) => void): Promise<DaemonResult> {
  const maxCalls = o.calls[o.calls.length - 1];
  const [portMin, portMax] = o.ports;
  if ((portMax - portMin + 1) / 4 < maxCalls * 1.1) {
    throw new Error(`--ports=${portMin}-${portMax} is too small for ${maxCalls} calls (4 ports each)`);
  }
  const extra = kind === 'ours' && o.kernel ? ['--table=0', '--no-fallback'] : [];
  const { d, gen } = await startLoad(kind, o, genBin, [portMin, portMax], extra);
  try {
    const pid = d.pid!;
    await sleep(1000);
    const rss0 = rssKb(pid);
    const t0 = Date.now();
    await setUpCalls(d, gen, maxCalls, `${kind}-${process.pid}`);
    const setupS = (Date.now() - t0) / 1000;
    await sleep(1000);
    const rss1 = rssKb(pid);
    log(`${kind}: ${maxCalls} calls set up in ${setupS.toFixed(1)} s, RSS ${rss0} -> ${rss1} kB`);
    const steps: Step[] = [];
    const softirqd = ksoftirqdPids(cpuNumbers(o.daemonCpus));
    for (const n of o.calls) {
      const drops0 = udpRcvbufErrors();
      const r = await gen.run(n, o.warmupS * 1000, o.durationS * 1000, pid, o.rate, softirqd);
      const s = toStep(r, udpRcvbufErrors() - drops0);
      steps.push(s);
      log(
        `${kind}: ${n} calls: ${s.relayedPps.toFixed(0)} pkt/s relayed, loss ${s.lossPct.toFixed(3)} %, ` +
          `${s.cpuUsPerPacket.toFixed(2)} us CPU/pkt, p50 ${s.p50us} us, p99 ${s.p99us} us`,
      );
      if (!d.running()) throw new Error(`${kind} daemon exited:\n${d.logTail(20)}`);
      await sleep(300);
    }
    return {
      kind, argv: d.argv, setupS, memKbPerCall: (rss1 - rss0) / maxCalls, rssKbBefore: rss0, rssKbAfter: rss1, steps,
    };
  } finally {
    await gen.stop();
    await d.stop();
  }
}

// ---- the syscall prototype (bench/relay/syscalls.c) --------------------------

const PROTO_MODES = ['lt', 'lt1', 'et', 'etm', 'etc', 'uring'];

/** Compiles bench/relay/syscalls.c, with io_uring when liburing is installed (and asked for). */
function buildProto(modes: string[]): string {
  const src = path.join(REPO_ROOT, 'bench', 'relay', 'syscalls.c');
  const bin = path.join(REPO_ROOT, 'dist', 'bench', 'relay', 'syscalls');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const args = ['-O2', '-Wall', '-o', bin, src];
  if (modes.includes('uring')) {
    try {
      execFileSync('cc', [...args, '-DHAVE_URING', '-luring'], { stdio: 'ignore' });
      return bin;
    } catch {
      console.error('syscalls.c: liburing not found (apt-get install liburing-dev): mode uring will fail');
    }
  }
  execFileSync('cc', args, { stdio: 'inherit' });
  return bin;
}

/** Measures the prototype in one mode the way measure() measures a daemon (no ng, no memory figure). */
async function measureProto(
  mode: string, o: Options, genBin: string, protoBin: string, log: (s: string) => void,
): Promise<DaemonResult> {
  const maxCalls = o.calls[o.calls.length - 1];
  const gen = new Generator(genBin, o.genCpus, o.socks);
  let proto: ChildProcess | null = null;
  try {
    await gen.start();
    proto = spawn('taskset', ['-c', o.daemonCpus, protoBin, mode, String(maxCalls), gen.portsA.join(','), gen.portsB.join(',')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    children.add(proto);
    const ports: Array<[number, number]> = [];
    await new Promise<void>((resolve, reject) => {
      const rl = readline.createInterface({ input: proto!.stdout! });
      rl.on('line', (l) => {
        if (l === 'ready') {
          rl.close();
          resolve();
        } else {
          const [a, b] = l.split(' ').map(Number);
          ports.push([a, b]);
        }
      });
      proto!.on('exit', (code) => reject(new Error(`syscalls ${mode} exited with code ${code}`)));
    });
    // The socket facing side A is where A sends to, and the other way round.
    for (const [toA, toB] of ports) gen.addCall(toA, toB);
    const softirqd = ksoftirqdPids(cpuNumbers(o.daemonCpus));
    const steps: Step[] = [];
    for (const n of o.calls) {
      const drops0 = udpRcvbufErrors();
      const r = await gen.run(n, o.warmupS * 1000, o.durationS * 1000, proto.pid!, o.rate, softirqd);
      const s = toStep(r, udpRcvbufErrors() - drops0);
      steps.push(s);
      log(`proto-${mode}: ${n} calls: ${s.cpuUsPerPacket.toFixed(2)} us CPU/pkt, loss ${s.lossPct.toFixed(3)} %`);
    }
    return { kind: `proto-${mode}`, argv: [mode], setupS: NaN, memKbPerCall: NaN, rssKbBefore: NaN, rssKbAfter: NaN, steps };
  } finally {
    await gen.stop();
    if (proto && proto.exitCode === null && proto.pid !== undefined) {
      try {
        process.kill(-proto.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      children.delete(proto);
    }
  }
}

/**
 * The generator sending to itself, no daemon in between, at each step's call
 * count: the latency it and loopback add, and the machine time it costs.
 */
async function baseline(o: Options, genBin: string): Promise<Step[]> {
  const gen = new Generator(genBin, o.genCpus, o.socks);
  try {
    await gen.start();
    const k = gen.portsA.length;
    const max = o.calls[o.calls.length - 1];
    // Each side sends straight to the other side's socket.
    for (let i = 0; i < max; i++) gen.addCall(gen.portsB[i % k], gen.portsA[i % k]);
    const steps: Step[] = [];
    for (const n of o.calls) steps.push(toStep(await gen.run(n, 500, 3000, 0, o.rate)));
    return steps;
  } finally {
    await gen.stop();
  }
}

// ---- output ----------------------------------------------------------------

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

const LOSS_LIMIT_PCT = 0.1;

function notes(s: Step): string {
  const out: string[] = [];
  if (!s.valid) out.push(`generator stalled ${fmt(s.genMaxLagMs, 0)} ms: step not valid`);
  if (s.kernelDrops > 0) out.push(`${s.kernelDrops} UDP receive-buffer drops in the system`);
  return out.join('; ');
}

/** Machine busy time per packet of the baseline run, by call count (empty without one). */
const baselineMachineUs = new Map<number, number>();

/** The highest step with loss under the limit (null if none). */
function best(r: DaemonResult): Step | null {
  let b: Step | null = null;
  for (const s of r.steps) if (s.valid && s.lossPct < LOSS_LIMIT_PCT) b = s;
  return b;
}

function report(o: Options, results: Map<string, DaemonResult | string>, base: Step | null): void {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(
    `relay: ${o.rate} pkt/s each way per call, ${o.warmupS} s warm-up + ${o.durationS} s measured per step, ` +
      `daemons on CPU ${o.daemonCpus} with --num-threads=${o.threads}, generator on CPU ${o.genCpus} ` +
      `(${os.cpus().length} cores, load average ${load})`,
  );
  if (base) {
    console.log(
      `baseline without a daemon (${base.calls} calls, generator to itself): p50 ${base.p50us} us, ` +
        `p99 ${base.p99us} us, loss ${fmt(base.lossPct, 3)} %; machine us/pkt ` +
        [...baselineMachineUs].map(([n, us]) => `${fmt(us, 2)} (${n} calls)`).join(', '),
    );
  }
  console.log(
    'daemon      calls  offered/s  relayed/s  loss %  reord  CPU us/pkt  softirq us/pkt  machine us/pkt  daemon CPU %  ' +
      'p50 us  p99 us  p99.9 us  gen CPU %  notes',
  );
  for (const [kind, r] of results) {
    if (typeof r === 'string') {
      console.log(`${kind.padEnd(10)}  not measured: ${r}`);
      continue;
    }
    for (const s of r.steps) {
      console.log(
        `${kind.padEnd(10)}  ${String(s.calls).padStart(5)}  ${fmt(s.offeredPps, 0).padStart(9)}  ` +
          `${fmt(s.relayedPps, 0).padStart(9)}  ${fmt(s.lossPct, 3).padStart(6)}  ${String(s.reordered).padStart(5)}  ` +
          `${fmt(s.cpuUsPerPacket, 2).padStart(10)}  ${fmt(s.softirqUsPerPacket, 2).padStart(14)}  ` +
          `${fmt(s.machineUsPerPacket, 2).padStart(14)}  ` +
          `${fmt(s.daemonCpuPct, 1).padStart(12)}  ` +
          `${String(s.p50us).padStart(6)}  ${String(s.p99us).padStart(6)}  ${String(s.p999us).padStart(8)}  ` +
          `${fmt(s.genCpuPct, 0).padStart(9)}  ${notes(s)}`,
      );
    }
  }
  console.log('');
  console.log('daemon      max relayed/s at <0.1 % loss  memory per idle call  call set-up');
  for (const [kind, r] of results) {
    if (typeof r === 'string') continue;
    const b = best(r);
    const max = b ? `${fmt(b.relayedPps, 0)} (${b.calls} calls)` : 'none';
    console.log(
      `${kind.padEnd(10)}  ${max.padStart(28)}  ${(fmt(r.memKbPerCall, 1) + ' kB').padStart(20)}  ` +
        `${fmt(r.setupS, 1)} s for ${r.steps[r.steps.length - 1]?.calls} calls`,
    );
  }
  const ours = results.get('ours');
  const ref = results.get('reference');
  if (ours && ref && typeof ours !== 'string' && typeof ref !== 'string') {
    const bo = best(ours);
    const br = best(ref);
    const parts: string[] = [];
    if (bo && br) parts.push(`max relayed/s x${fmt(bo.relayedPps / br.relayedPps, 2)}`);
    parts.push(`memory per call x${fmt(ours.memKbPerCall / ref.memKbPerCall, 2)}`);
    console.log(`ours/reference: ${parts.join(', ')}`);
    // Per step, where both daemons relayed with < 0.1 % loss. A daemon near
    // 100 % CPU batches more per wake-up (cheaper per packet) while its queues
    // and latency grow: read those rows with that in mind.
    // What relaying adds to the machine: its busy time per packet less the
    // baseline's (the generator alone moving the same packets).
    console.log('ours/reference  calls  CPU/pkt  machine/pkt  machine-baseline/pkt    p50    p99  ours CPU %  reference CPU %');
    for (const so of ours.steps) {
      const sr = ref.steps.find((x) => x.calls === so.calls);
      if (!sr || !so.valid || !sr.valid || so.lossPct >= LOSS_LIMIT_PCT || sr.lossPct >= LOSS_LIMIT_PCT) continue;
      console.log(
        `${''.padEnd(14)}  ${String(so.calls).padStart(5)}  ${fmt(so.cpuUsPerPacket / sr.cpuUsPerPacket, 2).padStart(7)}  ` +
          `${fmt(so.machineUsPerPacket / sr.machineUsPerPacket, 2).padStart(11)}  ` +
          `${fmt((so.machineUsPerPacket - (baselineMachineUs.get(so.calls) ?? NaN)) / (sr.machineUsPerPacket - (baselineMachineUs.get(so.calls) ?? NaN)), 2).padStart(20)}  ` +
          `${fmt(so.p50us / sr.p50us, 2).padStart(5)}  ${fmt(so.p99us / sr.p99us, 2).padStart(5)}  ` +
          `${fmt(so.daemonCpuPct, 0).padStart(10)}  ${fmt(sr.daemonCpuPct, 0).padStart(15)}`,
      );
    }
  }
}

/** Each figure's median over several runs of one daemon (runs with the same steps). */
function medianResult(runs: DaemonResult[]): DaemonResult {
  const med = (xs: number[]): number => {
    const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    if (!v.length) return NaN;
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const first = runs[0];
  const steps = first.steps.map((s0, i) => {
    // Over the runs in which the step was valid (all of them if it never was).
    const all = runs.map((r) => r.steps[i]).filter((x): x is Step => x !== undefined);
    const valid = all.filter((x) => x.valid);
    const use = valid.length ? valid : all;
    const out: Step = { ...s0, valid: valid.length > 0 };
    for (const key of Object.keys(s0) as Array<keyof Step>) {
      if (key === 'calls' || key === 'valid') continue;
      (out[key] as number) = med(use.map((x) => x[key] as number));
    }
    return out;
  });
  return {
    kind: first.kind,
    argv: first.argv,
    setupS: med(runs.map((r) => r.setupS)),
    memKbPerCall: med(runs.map((r) => r.memKbPerCall)),
    rssKbBefore: med(runs.map((r) => r.rssKbBefore)),
    rssKbAfter: med(runs.map((r) => r.rssKbAfter)),
    steps,
  };
}

/**
 * --kernel: runs this bench again inside a network namespace of its own (lo up,
 * nothing else), so that the tc program attaches to that namespace's loopback
 * and not to the machine's; returns its exit code.
 */
function runInNamespace(): number {
  const ns = createNetns({ links: 0 });
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, __filename, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, RTPE_BENCH_NETNS: ns.name },
    });
    return r.status ?? 1;
  } finally {
    ns.remove();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.kernel && !process.env.RTPE_BENCH_NETNS) process.exit(runInNamespace());
  const genBin = buildGenerator();
  const kinds: string[] = o.proto.length ? o.proto.map((m) => `proto-${m}`) : o.only ? [o.only] : ['ours', 'reference'];
  const runs = new Map<string, Array<DaemonResult | string>>(kinds.map((k) => [k, []]));
  const protoBin = o.proto.length ? buildProto(o.proto) : '';
  const log = (s: string): void => {
    if (!o.json) console.error(s);
  };
  const bases = o.baseline ? await baseline(o, genBin) : [];
  for (const b of bases) baselineMachineUs.set(b.calls, b.machineUsPerPacket);
  // The latency line shows the step closest to 500 calls.
  const base = bases.length ? bases.reduce((x, y) => (Math.abs(y.calls - 500) < Math.abs(x.calls - 500) ? y : x)) : null;
  for (let r = 0; r < o.repeat; r++) {
    for (const kind of kinds) {
      if (kind === 'reference' && !referenceAvailable()) {
        runs.get(kind)!.push('not installed (apt-get install rtpengine-daemon)');
        continue;
      }
      try {
        const res = kind.startsWith('proto-')
          ? await measureProto(kind.slice('proto-'.length), o, genBin, protoBin, log)
          : await measure(kind as DaemonKind, o, genBin, log);
        runs.get(kind)!.push(res);
      } catch (e) {
        runs.get(kind)!.push((e instanceof Error ? e.message : String(e)).split('\n')[0]);
      }
    }
  }
  if (o.json) {
    console.log(JSON.stringify({ options: o, baseline: base, runs: Object.fromEntries(runs) }, null, 2));
    return;
  }
  for (let r = 0; r < o.repeat; r++) {
    if (o.repeat > 1) console.log(`\n== run ${r + 1} of ${o.repeat}`);
    report(o, new Map(kinds.map((k) => [k, runs.get(k)![r]])), r === 0 ? base : null);
  }
  if (o.repeat > 1) {
    const medians = new Map<string, DaemonResult | string>();
    for (const kind of kinds) {
      const ok = runs.get(kind)!.filter((x): x is DaemonResult => typeof x !== 'string');
      medians.set(kind, ok.length ? medianResult(ok) : String(runs.get(kind)![0]));
    }
    console.log(`\n== medians of ${o.repeat} runs`);
    report(o, medians, null);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
