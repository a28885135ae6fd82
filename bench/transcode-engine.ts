// Transcoding in the media engine: CPU time of the engine thread per
// transcoded stream direction, with real UDP through the relay.
//
//   node dist/bench/transcode-engine.js [--streams=20] [--seconds=8] [--warmup=2]
//                                       [--pairs=PCMA-opus,PCMU-G722,PCMA-G729,PCMA-AMR-WB]
//                                       [--json]
//
// For each codec pair (and first a plain relay of the same packets, for
// comparison) a MediaEngine with one engine thread is started in this process
// with --streams stream pairs: stream a_i has a codec route that transcodes
// the input codec into the output codec towards stream b_i, whose endpoint is
// one UDP socket here that counts what arrives. One sender socket here sends
// 50 packets/s to every a_i (20 ms of a speech-like signal, pre-encoded with
// the stand-alone Transcoder, sequence numbers and timestamps continued), the
// streams' send times spread evenly over each 20 ms. After --warmup seconds,
// the engine thread's CPU time is read from /proc/self/task/<tid>/schedstat
// (time on CPU as the scheduler accounts it) at the start and end of
// --seconds; the figures are that time as a share of one core, per stream
// direction, and per input packet; loss is counted over the whole run after
// the last packets have arrived. The sender and the receiver are JavaScript
// on the main thread and are not counted. Figures move with whatever else runs
// on the machine; compare runs of the same day. Benchmarks never run in `npm
// test`.

import * as dgram from 'dgram';
import * as fs from 'fs';
import { EngineError, MediaEngine, StreamConfig } from '../src/media/engine';
import { findCodec, nativeCodecSpec, NativeCodecSpec } from '../src/codec/table';
import { backendAvailable, codecNative } from '../src/codec/native';

const HOST = '127.0.0.1';

interface Options {
  streams: number;
  seconds: number;
  warmup: number;
  pairs: [string, string][];
  json: boolean;
}

const PTS: Record<string, number> = { PCMA: 8, PCMU: 0, G722: 9, G729: 18, opus: 111, 'AMR-WB': 98, GSM: 3, speex: 97 };

function parsePair(s: string): [string, string] {
  // Codec names may contain '-' (AMR-WB): split at the first '-' after a known input name.
  for (const name of Object.keys(PTS)) if (s.startsWith(name + '-')) return [name, s.slice(name.length + 1)];
  throw new Error(`unknown pair ${s}`);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    streams: 20,
    seconds: 8,
    warmup: 2,
    pairs: [
      ['PCMA', 'opus'],
      ['PCMU', 'G722'],
      ['PCMA', 'G729'],
      ['PCMA', 'AMR-WB'],
    ],
    json: false,
  };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    if (m[1] === 'streams') o.streams = Number(m[2]);
    else if (m[1] === 'seconds') o.seconds = Number(m[2]);
    else if (m[1] === 'warmup') o.warmup = Number(m[2]);
    else if (m[1] === 'pairs') o.pairs = m[2]!.split(',').map(parsePair);
    else if (m[1] === 'json') o.json = true;
    else throw new Error(`unknown option --${m[1]}`);
  }
  return o;
}

function spec(name: string): NativeCodecSpec {
  const c = findCodec(name);
  if (!c) throw new Error(`unknown codec ${name}`);
  return nativeCodecSpec(c, { payloadType: PTS[name] });
}

/** One second of a speech-like signal (three tones, slow envelope, a little noise) as 20 ms packets of codec s. */
function speech(s: NativeCodecSpec): Buffer[] {
  const rate = s.name === 'opus' ? 48000 : s.sampleRate;
  const n = rate / 50;
  const enc = new (codecNative().Transcoder)({ in: nativeCodecSpec(findCodec('L16')!, { payloadType: 96, clockRate: rate }), out: s });
  const out: Buffer[] = [];
  let seed = 1;
  for (let p = 0; p < 50; p++) {
    const b = Buffer.alloc(12 + 2 * n);
    b[0] = 0x80;
    b[1] = 96;
    b.writeUInt16BE(p, 2);
    b.writeUInt32BE(p * n, 4);
    b.writeUInt32BE(0x5eed, 8);
    for (let i = 0; i < n; i++) {
      const t = (p * n + i) / rate;
      const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * t);
      seed = (seed * 1103515245 + 12345) >>> 0;
      const v =
        env * (4000 * Math.sin(2 * Math.PI * 220 * t) + 2500 * Math.sin(2 * Math.PI * 680 * t) + 1200 * Math.sin(2 * Math.PI * 1900 * t)) +
        ((seed / 2 ** 32) * 2 - 1) * 300;
      b.writeInt16BE(Math.max(-32768, Math.min(32767, Math.round(v))), 12 + 2 * i);
    }
    out.push(...(enc.input(b, p * 20) ?? []));
  }
  return out;
}

/** Nanoseconds on CPU of this process's engine threads (rtpe-media-*), from schedstat. */
function engineCpuNs(): number {
  let ns = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread has exited
    }
    if (!comm.startsWith('rtpe-media')) continue;
    ns += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  pair: string;
  streams: number;
  pktsInPerS: number;
  pktsOutPerS: number;
  loss: number;
  cpuPercent: number;
  cpuPerStreamPercent: number;
  usPerPacket: number;
  framesEncoded: number;
  transcodeErrors: number;
  /** Whole run, warm-up included: sent here, received and sent by the engine, received here. */
  run: { sent: number; engineIn: number; engineOut: number; engineDropped: number; received: number };
}

let nextPort = 46000;

async function measure(o: Options, label: string, inSpec: NativeCodecSpec, outSpec: NativeCodecSpec | null): Promise<Row> {
  const engine = new MediaEngine({ threads: 1, onEvents: () => undefined });
  const sender = dgram.createSocket('udp4');
  const receiver = dgram.createSocket('udp4');
  let received = 0;
  receiver.on('message', () => received++);
  await Promise.all([
    new Promise<void>((r) => sender.bind(0, HOST, () => r())),
    new Promise<void>((r) => receiver.bind(0, HOST, () => r())),
  ]);
  // The receiver runs on the busy main thread: give it room.
  receiver.setRecvBufferSize(8 << 20);
  const open = (): { id: number; port: number } => {
    for (let tries = 0; tries < 4000; tries++) {
      const port = nextPort;
      nextPort = nextPort >= 49999 ? 46000 : nextPort + 1;
      try {
        return { id: engine.openStream([{ family: 4, address: HOST, port }]), port };
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error('no free port');
  };
  const base: Omit<StreamConfig, 'endpoint' | 'sink'> = { rtcpSink: null, learning: 'off', strictSource: false, mediaHandover: false, tos: null };
  const ports: number[] = [];
  const ids: number[] = [];
  const sinkIds: number[] = [];
  for (let i = 0; i < o.streams; i++) {
    const a = open();
    const b = open();
    engine.configure(a.id, {
      ...base,
      endpoint: { family: 4, address: HOST, port: sender.address().port },
      sink: b.id,
      codecs: outSpec
        ? { transcode: [{ in: inSpec }], out: outSpec, passthrough: [], inCnPt: -1, outCnPt: -1, silenceDbov: -1, dtxDelayMs: 60, maxDtxMs: 30000 }
        : null,
    });
    engine.configure(b.id, { ...base, endpoint: { family: 4, address: HOST, port: receiver.address().port }, sink: a.id });
    ports.push(a.port);
    ids.push(a.id);
    sinkIds.push(b.id);
  }

  const packets = speech(inSpec);
  const step = (inSpec.clockRate * 20) / 1000;
  let sent = 0;
  let running = true;
  const start = Date.now();
  // Stream i sends at start + i * 20 / streams + k * 20 ms.
  const next = new Array<number>(o.streams).fill(0);
  const loop = (async () => {
    while (running) {
      const now = Date.now() - start;
      for (let i = 0; i < o.streams; i++) {
        const k = next[i];
        if ((i * 20) / o.streams + k * 20 > now) continue;
        const p = Buffer.from(packets[k % packets.length]);
        p.writeUInt16BE(k & 0xffff, 2);
        p.writeUInt32BE((k * step) >>> 0, 4);
        p.writeUInt32BE(0x1000 + i, 8);
        sender.send(p, ports[i], HOST);
        sent++;
        next[i] = k + 1;
      }
      await sleep(1);
    }
  })();
  await sleep(o.warmup * 1000);
  const sent0 = sent;
  const recv0 = received;
  const cpu0 = engineCpuNs();
  const t0 = process.hrtime.bigint();
  await sleep(o.seconds * 1000);
  const cpu1 = engineCpuNs();
  const t1 = process.hrtime.bigint();
  const sentN = sent - sent0;
  const recvN = received - recv0;
  running = false;
  await loop;
  await sleep(200);
  const stats = engine.statsMany(ids);
  const sinkStats = engine.statsMany(sinkIds);
  engine.close();
  sender.close();
  receiver.close();

  const wall = Number(t1 - t0) / 1e9;
  const cpu = (cpu1 - cpu0) / 1e9;
  // Loss over the whole run, once what was in flight has arrived: the
  // window's own counts differ by the packets queued at its two ends.
  const expectedOut = outSpec ? sent * (20 / outSpec.ptime) : sent;
  return {
    pair: label,
    streams: o.streams,
    pktsInPerS: sentN / wall,
    pktsOutPerS: recvN / wall,
    loss: Math.max(0, 1 - received / expectedOut),
    cpuPercent: (100 * cpu) / wall,
    cpuPerStreamPercent: (100 * cpu) / wall / o.streams,
    usPerPacket: (cpu * 1e6) / sentN,
    framesEncoded: stats.reduce((s, x) => s + x.framesEncoded, 0),
    transcodeErrors: stats.reduce((s, x) => s + x.transcodeErrors, 0),
    run: {
      sent,
      engineIn: stats.reduce((s, x) => s + x.packets, 0),
      engineOut: sinkStats.reduce((s, x) => s + x.packetsOut, 0),
      engineDropped: stats.reduce((s, x) => s + x.dropped, 0),
      received,
    },
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  rows.push(await measure(o, 'PCMA relay (no route)', spec('PCMA'), null));
  for (const [a, b] of o.pairs) {
    for (const name of [a, b]) {
      const c = findCodec(name)!;
      if (!backendAvailable(c.backend.decoder, false) || !backendAvailable(c.backend.encoder, true))
        throw new Error(`${name} is not available from the linked libraries`);
    }
    rows.push(await measure(o, `${a} -> ${b}`, spec(a), spec(b)));
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ options: o, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `engine CPU per transcoded stream direction: ${o.streams} streams x 50 packets/s, ` +
      `${o.seconds} s measured after ${o.warmup} s, one engine thread\n\n`,
  );
  const head = ['pair', 'pkt/s in', 'pkt/s out', 'loss %', 'engine CPU %', 'CPU %/stream', 'µs/packet'];
  const w = [24, 10, 11, 8, 14, 14, 11];
  process.stdout.write(head.map((h, i) => (i === 0 ? h.padEnd(w[i]) : h.padStart(w[i]))).join('') + '\n');
  for (const r of rows) {
    const cells = [
      r.pair,
      r.pktsInPerS.toFixed(0),
      r.pktsOutPerS.toFixed(0),
      (100 * r.loss).toFixed(2),
      r.cpuPercent.toFixed(1),
      r.cpuPerStreamPercent.toFixed(3),
      r.usPerPacket.toFixed(1),
    ];
    process.stdout.write(cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('') + '\n');
    if (r.transcodeErrors) process.stdout.write(`  (${r.transcodeErrors} transcode errors)\n`);
  }
  process.stdout.write('\nwhole runs (warm-up included): packets sent, received by the engine, sent by it, received back\n\n');
  for (const r of rows) {
    const x = r.run;
    process.stdout.write(
      `${r.pair.padEnd(24)}${String(x.sent).padStart(9)}${String(x.engineIn).padStart(9)}${String(x.engineOut).padStart(9)}` +
        `${String(x.received).padStart(9)}${x.engineDropped ? `  (${x.engineDropped} dropped by the engine)` : ''}\n`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
