// Transcoding benchmark: what a transcoded call costs the daemon, beside the
// reference rtpengine, for the pairs a proxy meets most.
//
//   node dist/bench/transcode.js [--calls=20] [--warmup=2] [--duration=10]
//                                [--pairs=PCMA-opus,PCMU-G722,PCMA-G729,PCMA-AMR-WB]
//                                [--daemon-cpus=1] [--gen-cpus=0] [--threads=1] [--socks=4]
//                                [--only=ours|reference] [--json]
//
// For each pair CALLER-CALLEE, and for each daemon (ours, then the reference
// when /usr/bin/rtpengine exists; both started the same way as bench/relay.ts
// starts them: test/helpers/daemon.ts, --table=-1, loopback,
// --num-threads=THREADS, log level 4, long media timeouts, pinned with
// `taskset -a` to --daemon-cpus):
//   1. --calls calls are set up over ng: the caller offers only CALLER (a
//      static payload type) with `codec: { transcode: [CALLEE] }`, the callee
//      answers with the CALLEE entry of the rewritten offer only (its payload
//      type, rtpmap and fmtp), so the daemon decodes and encodes each way;
//   2. the daemon's CPU time with the calls set up and no media is read over
//      one second (`idle ms/s`);
//   3. the C load generator (bench/relay/loadgen.c in replay mode, pinned to
//      --gen-cpus) plays both ends: 50 packets/s each way per call of a 1 kHz
//      tone encoded once into each codec with the native Transcoder (one
//      second, replayed in a loop with each call's own sequence numbers,
//      timestamps and SSRC), for --warmup + --duration seconds. It reports the
//      daemon's CPU time over the measured window (all threads, from
//      /proc/PID/task/*/schedstat, beside utime + stime from /proc/PID/stat)
//      and, per direction, the packets sent in the window and those the other
//      end received from the call's proxy port that carry one of their RTP
//      sequence numbers (both daemons keep the sender's numbering when they
//      transcode packet for packet; the calls send on for 100 ms after the
//      window, uncounted, so that a packet a transcoder holds back comes out).
// Figures: daemon CPU in ms per second per call (ms/s/call; 10 ms/s is 1 % of
// a core), calls per core (1000 / that), loss each way, and ours/reference
// for calls per core. The per-call figure includes the daemon's fixed cost
// (timers, idle threads) shared by --calls calls; `idle ms/s` shows it.
//
// Everything runs on 127.0.0.1; every process started here is stopped at the
// end (also on error). Benchmarks never run in `npm test`.

import * as os from 'os';
import { DaemonHandle, DaemonKind, referenceAvailable } from '../test/helpers/daemon';
import { attributeValues, buildSdp, mediaEndpoint, parseSdp } from '../test/helpers/sdp';
import { parseRtp } from '../test/helpers/rtp';
import { encodeTone } from '../test/helpers/codec-audio';
import { sleep } from '../test/helpers/process';
import { findCodec, nativeCodecSpec } from '../src/codec/table';
import { backendAvailable } from '../src/codec/native';
import { buildGenerator, GenResult, Generator, startLoad } from './relay/generator';
import { cpuNumbers, ksoftirqdPids, threadsRunSeconds, udpRcvbufErrors } from './proc';
import { readArgs } from './args';

interface Pair {
  caller: string;
  callee: string;
}

interface Options {
  calls: number;
  warmupS: number;
  durationS: number;
  pairs: Pair[];
  daemonCpus: string;
  genCpus: string;
  threads: number;
  socks: number;
  only: DaemonKind | null;
  json: boolean;
}

const USAGE =
  'usage: node dist/bench/transcode.js [--calls=20] [--warmup=2] [--duration=10] ' +
  '[--pairs=PCMA-opus,PCMU-G722,PCMA-G729,PCMA-AMR-WB] [--daemon-cpus=1] [--gen-cpus=0] ' +
  '[--threads=1] [--socks=4] [--only=ours|reference] [--json]';

/** Packets per second each way per call, and their duration. */
const RATE = 50;
const PTIME = 20;

/** CALLER-CALLEE; codec names may contain '-' (AMR-WB), so the caller is the longest known name that fits. */
function parsePair(s: string): Pair {
  for (let i = s.indexOf('-'); i > 0; i = s.indexOf('-', i + 1)) {
    const caller = s.slice(0, i);
    const callee = s.slice(i + 1);
    const c = findCodec(caller);
    if (c && findCodec(callee)) {
      if (c.payloadType === null) throw new Error(`--pairs: the caller's codec needs a static payload type, ${caller} has none`);
      return { caller: c.name, callee: findCodec(callee)!.name };
    }
  }
  throw new Error(`--pairs: '${s}' is not CALLER-CALLEE with two known codecs`);
}

function parseArgs(argv: string[]): Options {
  const cpus = os.cpus().length;
  const o: Options = {
    calls: 20,
    warmupS: 2,
    durationS: 10,
    pairs: ['PCMA-opus', 'PCMU-G722', 'PCMA-G729', 'PCMA-AMR-WB'].map(parsePair),
    // The daemon gets the last core, the generator the first; on one core both share it.
    daemonCpus: String(Math.max(0, cpus - 1)),
    genCpus: '0',
    threads: 1,
    socks: 4,
    only: null,
    json: false,
  };
  readArgs(argv, USAGE, ({ key: k, value: v, num, cpuList }) => {
    if (k === '--calls') o.calls = Math.floor(num(500));
    else if (k === '--warmup') o.warmupS = num(30);
    else if (k === '--duration') o.durationS = num(120);
    else if (k === '--pairs') o.pairs = v.split(',').map(parsePair);
    else if (k === '--daemon-cpus') o.daemonCpus = cpuList();
    else if (k === '--gen-cpus') o.genCpus = cpuList();
    else if (k === '--threads') o.threads = Math.floor(num(64));
    else if (k === '--socks') o.socks = Math.floor(num(64));
    else if (k === '--only' && (v === 'ours' || v === 'reference')) o.only = v;
    else if (k === '--json') o.json = true;
    else return false;
    return true;
  });
  return o;
}

// ---- the media: a tone encoded once per codec ----------------------------------

/** How one side sends: payload type, timestamp step per packet, and one second of payloads. */
interface Media {
  pt: number;
  tsStep: number;
  payloads: Buffer[];
}

const encoded = new Map<string, Buffer[]>();

/**
 * One second of a 1 kHz tone in codec `name` with fmtp `fmtp`, as RTP
 * payloads of 20 ms (encoded once per codec and fmtp). Opus is encoded mono,
 * as a peer without stereo=1 sends it.
 */
function tonePayloads(name: string, fmtp: string | undefined): Buffer[] {
  const key = `${name}|${fmtp ?? ''}`;
  let out = encoded.get(key);
  if (!out) {
    const c = findCodec(name)!;
    const s = nativeCodecSpec(c, { payloadType: 96, ptime: PTIME, fmtp, channels: name === 'opus' ? 1 : undefined });
    out = encodeTone(s, { count: RATE }).map((p) => parseRtp(p)!.payload);
    if (out.length !== RATE) throw new Error(`${name}: one second of tone gave ${out.length} packets, not ${RATE}`);
    encoded.set(key, out);
  }
  return out;
}

function requireCodec(name: string): void {
  const c = findCodec(name)!;
  if (!backendAvailable(c.backend.decoder, false) || !backendAvailable(c.backend.encoder, true)) {
    throw new Error(`${name} is not available from the linked libraries`);
  }
}

// ---- the calls -------------------------------------------------------------------

function replySdp(reply: Record<string, unknown>, what: string): string {
  if (reply.result !== 'ok') throw new Error(`${what}: ${JSON.stringify(reply).slice(0, 300)}`);
  return Buffer.isBuffer(reply.sdp) ? reply.sdp.toString('latin1') : String(reply.sdp ?? '');
}

/** The payload type, rtpmap value and fmtp of codec `name` in media 0 of an SDP (null when absent). */
function findFormat(sdp: string, name: string): { pt: number; rtpmap: string; fmtp: string | undefined } | null {
  const p = parseSdp(sdp);
  for (const v of attributeValues(p, 'rtpmap')) {
    const m = /^(\d+)\s+([^/\s]+)(\/\S+)?/.exec(v ?? '');
    if (!m || m[2].toLowerCase() !== name.toLowerCase()) continue;
    const pt = Number(m[1]);
    const fmtp = attributeValues(p, 'fmtp').map((f) => /^(\d+)\s+(.*)$/.exec(f ?? '')).find((f) => f && Number(f[1]) === pt);
    return { pt, rtpmap: `${m[2]}${m[3] ?? ''}`, fmtp: fmtp ? fmtp[2] : undefined };
  }
  return null;
}

/**
 * Sets up the calls of one pair on daemon d and hands them to the generator;
 * returns how each side sends (the callee's payload type and fmtp come from
 * the daemon's rewritten offer, and are the same for every call).
 */
async function setUpCalls(d: DaemonHandle, gen: Generator, o: Options, pair: Pair, tag: string): Promise<[Media, Media]> {
  const callerPt = findCodec(pair.caller)!.payloadType!;
  const callerRate = findCodec(pair.caller)!.clockRate!;
  let calleeFormat: { pt: number; rtpmap: string; fmtp: string | undefined } | null = null;
  const k = gen.portsA.length;
  for (let i = 0; i < o.calls; i++) {
    const callId = `transcode-${tag}-${i}`;
    const offer = replySdp(
      await d.ng.request({
        command: 'offer',
        'call-id': callId,
        'from-tag': `a${i}`,
        sdp: buildSdp({
          sessionId: i + 1,
          sessionName: 'bench',
          media: [{ port: gen.portsA[i % k], formats: [callerPt], extraAttributes: [`ptime:${PTIME}`, 'sendrecv'] }],
        }),
        codec: { transcode: [pair.callee] },
      }, { timeoutMs: 5000 }),
      `offer of call ${i}`,
    );
    const f = findFormat(offer, pair.callee);
    if (!f) throw new Error(`offer of call ${i}: no ${pair.callee} in the rewritten offer:\n${offer}`);
    if (calleeFormat && (calleeFormat.pt !== f.pt || calleeFormat.fmtp !== f.fmtp)) {
      throw new Error(`offer of call ${i}: ${pair.callee} as ${f.pt} '${f.fmtp}', earlier calls had ${calleeFormat.pt} '${calleeFormat.fmtp}'`);
    }
    calleeFormat = f;
    const answer = replySdp(
      await d.ng.request({
        command: 'answer',
        'call-id': callId,
        'from-tag': `a${i}`,
        'to-tag': `b${i}`,
        sdp: buildSdp({
          sessionId: i + 1,
          sessionName: 'bench',
          media: [{
            port: gen.portsB[i % k],
            formats: [f.pt],
            attributes: [`rtpmap:${f.pt} ${f.rtpmap}`, ...(f.fmtp !== undefined ? [`fmtp:${f.pt} ${f.fmtp}`] : [])],
            extraAttributes: [`ptime:${PTIME}`, 'sendrecv'],
          }],
        }),
      }, { timeoutMs: 5000 }),
      `answer of call ${i}`,
    );
    if (!parseSdp(answer).media[0]?.formats.includes(String(callerPt))) {
      throw new Error(`answer of call ${i}: the caller's ${pair.caller} is not in the rewritten answer:\n${answer}`);
    }
    gen.addCall(mediaEndpoint(answer).port, mediaEndpoint(offer).port);
  }
  const callee = findCodec(pair.callee)!;
  return [
    { pt: callerPt, tsStep: (callerRate * PTIME) / 1000, payloads: tonePayloads(pair.caller, undefined) },
    { pt: calleeFormat!.pt, tsStep: (callee.clockRate! * PTIME) / 1000, payloads: tonePayloads(pair.callee, calleeFormat!.fmtp) },
  ];
}

// ---- one measurement -------------------------------------------------------------

interface Measurement {
  kind: DaemonKind;
  argv: string[];
  calls: number;
  seconds: number;
  /** Daemon CPU (all threads, scheduler accounting) per second per call, ms. */
  cpuMsPerSPerCall: number;
  /** The same from utime + stime in /proc/PID/stat (tick-sampled). */
  statMsPerSPerCall: number;
  /** 1000 / cpuMsPerSPerCall: calls one core would carry at this cost. */
  callsPerCore: number;
  daemonCpuPct: number;
  /** Daemon CPU with the calls set up and no media, ms per second. */
  idleMsPerS: number;
  /** ksoftirqd time of the daemon's CPUs in the window, ms per second. */
  softirqMsPerS: number;
  /**
   * Loss A->B (caller to callee) and B->A, %: packets sent in the measured
   * window against the received packets with their sequence numbers.
   */
  lossPct: [number, number];
  /** Loss over the whole run (warm-up and draining included), %. */
  lossAllPct: [number, number];
  /** Packets per stream (call and direction) sent but not received over the whole run (tail included). */
  heldPerStream: [number, number];
  callerPt: number;
  calleePt: number;
  kernelDrops: number;
  genCpuPct: number;
  /** False when the generator stalled (more than 50 ms late, or ticks skipped). */
  valid: boolean;
  gen: GenResult;
}

function lossPct(sent: number, received: number): number {
  return sent > 0 ? (100 * (sent - received)) / sent : NaN;
}

async function measure(kind: DaemonKind, pair: Pair, o: Options, genBin: string, log: (s: string) => void): Promise<Measurement> {
  const { d, gen } = await startLoad(kind, o, genBin, Math.max(100, o.calls * 4 + 16));
  try {
    const pid = d.pid!;
    const [a, b] = await setUpCalls(d, gen, o, pair, `${kind}-${process.pid}`);
    for (const p of a.payloads) gen.addFrame(0, a.pt, a.tsStep, p);
    for (const p of b.payloads) gen.addFrame(1, b.pt, b.tsStep, p);
    await sleep(500);
    const idle0 = threadsRunSeconds(pid);
    const t0 = process.hrtime.bigint();
    await sleep(1000);
    const idleMsPerS = ((threadsRunSeconds(pid) - idle0) * 1000) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const drops0 = udpRcvbufErrors();
    const softirqd = ksoftirqdPids(cpuNumbers(o.daemonCpus));
    const r = await gen.run(o.calls, o.warmupS * 1000, o.durationS * 1000, pid, RATE, softirqd);
    const kernelDrops = udpRcvbufErrors() - drops0;
    if (!d.running()) throw new Error(`${kind} daemon exited:\n${d.logTail(20)}`);
    const perCall = (s: number): number => (s >= 0 ? (s * 1000) / r.seconds / o.calls : NaN);
    const m: Measurement = {
      kind,
      argv: d.argv,
      calls: o.calls,
      seconds: r.seconds,
      cpuMsPerSPerCall: perCall(r.daemonRunS),
      statMsPerSPerCall: perCall(r.daemonCpuS),
      callsPerCore: 1000 / perCall(r.daemonRunS),
      daemonCpuPct: (100 * r.daemonRunS) / r.seconds,
      idleMsPerS,
      softirqMsPerS: (r.extraRunS * 1000) / r.seconds,
      lossPct: [lossPct(r.sentDir[0], r.receivedDir[0]), lossPct(r.sentDir[1], r.receivedDir[1])],
      lossAllPct: [lossPct(r.sentAll[0], r.receivedAll[0]), lossPct(r.sentAll[1], r.receivedAll[1])],
      heldPerStream: [(r.sentAll[0] - r.receivedAll[0]) / o.calls, (r.sentAll[1] - r.receivedAll[1]) / o.calls],
      callerPt: a.pt,
      calleePt: b.pt,
      kernelDrops,
      genCpuPct: (100 * r.genCpuS) / r.seconds,
      valid: r.maxLagTicks <= 50 && r.skippedTicks === 0,
      gen: r,
    };
    log(
      `${pairName(pair)} ${kind}: ${fmt(m.cpuMsPerSPerCall, 2)} ms/s per call, ${fmt(m.callsPerCore, 0)} calls/core, ` +
        `loss ${fmt(m.lossPct[0], 3)} / ${fmt(m.lossPct[1], 3)} %`,
    );
    return m;
  } finally {
    await gen.stop();
    await d.stop();
  }
}

// ---- output ---------------------------------------------------------------------

/** How much more than the reference's calls per core the issue asks for. */
const TARGET = 1.2;

function pairName(p: Pair): string {
  return `${p.caller}<->${p.callee}`;
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function notes(m: Measurement): string {
  const out: string[] = [];
  if (!m.valid) out.push(`generator stalled ${m.gen.maxLagTicks} ms: not valid`);
  if (m.gen.wrongPt > 0) out.push(`${m.gen.wrongPt} packets in the wrong payload type`);
  if (m.gen.seqAhead > 0) out.push(`${m.gen.seqAhead} packets with sequence numbers never sent: the daemon renumbers, loss not reliable`);
  if (m.gen.reordered > 0) out.push(`${m.gen.reordered} reordered`);
  if (m.gen.sendErrors > 0) out.push(`${m.gen.sendErrors} send errors`);
  if (m.gen.foreign > 0) out.push(`${m.gen.foreign} foreign packets (RTCP or unknown source)`);
  if (m.kernelDrops > 0) out.push(`${m.kernelDrops} UDP receive-buffer drops in the system`);
  // Over the whole run, a packet per stream still inside the daemon at the
  // end of the tail (a resampler's delay held as a whole packet) is not loss.
  const short = m.heldPerStream;
  if (short[0] !== 0 || short[1] !== 0) {
    out.push(`whole run: ${fmt(short[0], 1)} / ${fmt(short[1], 1)} packets per stream not out at the end`);
  }
  return out.join('; ');
}

function report(o: Options, results: Array<{ pair: Pair; byKind: Map<DaemonKind, Measurement | string> }>): void {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(
    `transcode: ${o.calls} transcoded calls per pair, ${RATE} packets/s each way per call (a 1 kHz tone encoded ` +
      `once per codec, replayed by bench/relay/loadgen.c), ${o.warmupS} s warm-up + ${o.durationS} s measured; ` +
      `daemons with --num-threads=${o.threads} on CPU ${o.daemonCpus}, generator on CPU ${o.genCpus} ` +
      `(${os.cpus().length} cores, load average ${load})`,
  );
  console.log(
    'pair              daemon      ms/s/call  % core/call  calls/core  loss A->B %  loss B->A %  daemon CPU %  ' +
      'idle ms/s  gen CPU %  notes',
  );
  for (const { pair, byKind } of results) {
    for (const [kind, m] of byKind) {
      const head = `${pairName(pair).padEnd(16)}  ${kind.padEnd(10)}`;
      if (typeof m === 'string') {
        console.log(`${head}  not measured: ${m}`);
        continue;
      }
      console.log(
        `${head}  ${fmt(m.cpuMsPerSPerCall, 2).padStart(9)}  ${fmt(m.cpuMsPerSPerCall / 10, 3).padStart(11)}  ` +
          `${fmt(m.callsPerCore, 0).padStart(10)}  ${fmt(m.lossPct[0], 3).padStart(11)}  ${fmt(m.lossPct[1], 3).padStart(11)}  ` +
          `${fmt(m.daemonCpuPct, 1).padStart(12)}  ${fmt(m.idleMsPerS, 2).padStart(9)}  ${fmt(m.genCpuPct, 1).padStart(9)}  ${notes(m)}`,
      );
    }
  }
  const both = results.filter(({ byKind }) => typeof byKind.get('ours') === 'object' && typeof byKind.get('reference') === 'object');
  if (!both.length) return;
  console.log('');
  console.log(`ours/reference, calls per core (target: at least x${TARGET.toFixed(1)})`);
  for (const { pair, byKind } of both) {
    const ours = byKind.get('ours') as Measurement;
    const ref = byKind.get('reference') as Measurement;
    const ratio = ours.callsPerCore / ref.callsPerCore;
    const verdict = !ours.valid || !ref.valid ? 'a step was not valid' : ratio >= TARGET ? 'met' : 'not met';
    console.log(
      `${pairName(pair).padEnd(16)}  x${fmt(ratio, 2).padEnd(6)} (${fmt(ours.callsPerCore, 0)} vs ${fmt(ref.callsPerCore, 0)}): ${verdict}`,
    );
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  for (const p of o.pairs) {
    requireCodec(p.caller);
    requireCodec(p.callee);
  }
  const genBin = buildGenerator();
  const kinds: DaemonKind[] = o.only ? [o.only] : ['ours', 'reference'];
  const log = (s: string): void => {
    if (!o.json) console.error(s);
  };
  const results: Array<{ pair: Pair; byKind: Map<DaemonKind, Measurement | string> }> = [];
  // Pair by pair, ours then the reference: both see about the same machine load.
  for (const pair of o.pairs) {
    const byKind = new Map<DaemonKind, Measurement | string>();
    for (const kind of kinds) {
      if (kind === 'reference' && !referenceAvailable()) {
        byKind.set(kind, 'not installed (apt-get install rtpengine-daemon)');
        continue;
      }
      try {
        byKind.set(kind, await measure(kind, pair, o, genBin, log));
      } catch (e) {
        byKind.set(kind, (e instanceof Error ? e.message : String(e)).split('\n')[0]);
      }
      await sleep(300);
    }
    results.push({ pair, byKind });
  }
  if (o.json) {
    const out = results.map(({ pair, byKind }) => ({ pair: pairName(pair), ...Object.fromEntries(byKind) }));
    console.log(JSON.stringify({ options: o, loadavg: os.loadavg(), results: out }, null, 2));
    return;
  }
  report(o, results);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
