// Codec cost: microseconds of CPU per 20 ms of audio, for encoding and decoding
// each codec through the native layer, and for whole transcoding graphs
// (decode, resample, re-frame, encode) of the codec pairs the issue names.
//
//   node dist/bench/codecs.js [--seconds=20] [--json]
//   LD_PRELOAD=/tmp/libcount.so node dist/bench/codecs.js   (allocation counts, bench/alloc-count.c)
//
// The figures come from the Transcoder's own counters (nanoseconds spent in
// the codec calls and in input(), native/codec/transcoder.h): the JavaScript
// that feeds the packets here is not counted. The signal is speech-like: three
// tones with a slowly varying envelope plus a little noise. Figures move with
// whatever else runs on the machine; compare runs of the same day.

import { findCodec, nativeCodecSpec, NativeCodecSpec, NegotiatedCodec } from '../src/codec/table';
import { backendAvailable, codecNative, NativeTranscoder } from '../src/codec/native';

interface Options {
  seconds: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 20, json: false };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    if (m[1] === 'seconds') o.seconds = Number(m[2]);
    else if (m[1] === 'json') o.json = true;
    else throw new Error(`unknown option --${m[1]}`);
  }
  return o;
}

function spec(name: string, pt: number, extra: Partial<NegotiatedCodec> = {}): NativeCodecSpec {
  return nativeCodecSpec(findCodec(name)!, { payloadType: pt, ...extra });
}

function l16(rate: number): NativeCodecSpec {
  return spec('L16', 96, { clockRate: rate });
}

/** 20 ms L16 packets of a speech-like signal at rate. */
function speechPackets(rate: number, seconds: number): Buffer[] {
  const n = rate / 50;
  const out: Buffer[] = [];
  let seed = 1;
  for (let p = 0; p < seconds * 50; p++) {
    const b = Buffer.alloc(12 + 2 * n);
    b[0] = 0x80;
    b[1] = 96;
    b.writeUInt16BE(p & 0xffff, 2);
    b.writeUInt32BE((p * n) >>> 0, 4);
    b.writeUInt32BE(0x5eed, 8);
    for (let i = 0; i < n; i++) {
      const t = (p * n + i) / rate;
      const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * t);
      seed = (seed * 1103515245 + 12345) >>> 0;
      const v = env * (4000 * Math.sin(2 * Math.PI * 220 * t) + 2500 * Math.sin(2 * Math.PI * 680 * t) + 1200 * Math.sin(2 * Math.PI * 1900 * t)) +
        ((seed / 2 ** 32) * 2 - 1) * 300;
      b.writeInt16BE(Math.max(-32768, Math.min(32767, Math.round(v))), 12 + 2 * i);
    }
    out.push(b);
  }
  return out;
}

function run(t: NativeTranscoder, packets: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  packets.forEach((p, i) => out.push(...(t.input(p, i * 20) ?? [])));
  return out;
}

interface CodecRow {
  codec: string;
  encodeUs: number;
  decodeUs: number;
  bytesPer20ms: number;
}

interface PairRow {
  pair: string;
  totalUs: number;
  decodeUs: number;
  encodeUs: number;
  /** Heap allocations per packet, when bench/alloc-count.c is preloaded. */
  allocsPerPacket: number | null;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const n = codecNative();
  const codecs: { label: string; name: string; rate: number; extra?: Partial<NegotiatedCodec> }[] = [
    { label: 'PCMA', name: 'PCMA', rate: 8000 },
    { label: 'PCMU', name: 'PCMU', rate: 8000 },
    { label: 'G722', name: 'G722', rate: 16000 },
    { label: 'G723 (30 ms)', name: 'G723', rate: 8000, extra: { ptime: 30 } },
    { label: 'G729 (bcg729)', name: 'G729', rate: 8000 },
    { label: 'GSM', name: 'GSM', rate: 8000 },
    { label: 'speex 8k', name: 'speex', rate: 8000, extra: { clockRate: 8000 } },
    { label: 'speex 16k', name: 'speex', rate: 16000 },
    { label: 'AMR 12.2', name: 'AMR', rate: 8000, extra: { bitrate: 12200 } },
    { label: 'AMR-WB 23.85', name: 'AMR-WB', rate: 16000, extra: { bitrate: 23850 } },
    { label: 'opus 48k c10', name: 'opus', rate: 48000 },
    { label: 'opus 48k c5', name: 'opus', rate: 48000, extra: { complexity: 5 } },
    { label: 'opus 8k c10', name: 'opus', rate: 8000 },
    { label: 'opus 16k c10', name: 'opus', rate: 16000 },
  ];
  const rows: CodecRow[] = [];
  const cache = new Map<number, Buffer[]>();
  const source = (rate: number): Buffer[] => {
    if (!cache.has(rate)) cache.set(rate, speechPackets(rate, o.seconds));
    return cache.get(rate)!;
  };
  for (const c of codecs) {
    const entry = findCodec(c.name)!;
    if (!backendAvailable(entry.backend.decoder, false) || !backendAvailable(entry.backend.encoder, true)) continue;
    const cs = spec(c.name, 97, c.extra);
    const enc = new n.Transcoder({ in: l16(c.rate), out: cs });
    const coded = run(enc, source(c.rate));
    const dec = new n.Transcoder({ in: cs, out: l16(c.rate) });
    run(dec, coded);
    const frames20 = o.seconds * 50;
    rows.push({
      codec: c.label,
      encodeUs: enc.stats().nsEncode / 1000 / frames20,
      decodeUs: dec.stats().nsDecode / 1000 / frames20,
      bytesPer20ms: coded.reduce((s, p) => s + p.length - 12, 0) / frames20,
    });
  }

  const pts: Record<string, number> = { PCMA: 8, PCMU: 0, G722: 9, G729: 18, opus: 111, 'AMR-WB': 99, GSM: 3, speex: 97 };
  const pairs: [string, string][] = [
    ['PCMA', 'opus'],
    ['opus', 'PCMA'],
    ['PCMU', 'G722'],
    ['G722', 'PCMU'],
    ['PCMA', 'G729'],
    ['G729', 'PCMA'],
    ['PCMA', 'AMR-WB'],
    ['AMR-WB', 'PCMA'],
    ['PCMA', 'PCMU'],
  ];
  const pairRows: PairRow[] = [];
  for (const [a, b] of pairs) {
    const ea = findCodec(a)!;
    const eb = findCodec(b)!;
    if (!backendAvailable(ea.backend.encoder, true) || !backendAvailable(eb.backend.encoder, true)) continue;
    const sa = spec(a, pts[a]);
    const sb = spec(b, pts[b]);
    const rate = a === 'opus' ? 48000 : sa.sampleRate;
    const src = run(new n.Transcoder({ in: l16(rate), out: sa }), source(rate));
    // Fed from C++ (Transcoder.run) after a warm-up round: no JavaScript per packet.
    const t = new n.Transcoder({ in: sa, out: sb });
    const r = t.run(src, 1);
    const s = t.stats();
    const frames = src.length * 2; // warm-up round + measured round, for the codec counters
    pairRows.push({
      pair: `${a} -> ${b}`,
      totalUs: r.ns / 1000 / src.length,
      decodeUs: s.nsDecode / 1000 / frames,
      encodeUs: s.nsEncode / 1000 / frames,
      allocsPerPacket: r.allocations >= 0 ? r.allocations / src.length : null,
    });
  }

  if (o.json) {
    process.stdout.write(JSON.stringify({ seconds: o.seconds, codecs: rows, pairs: pairRows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`codec cost, microseconds per 20 ms of audio (${o.seconds} s of speech-like signal)\n\n`);
  process.stdout.write(`${'codec'.padEnd(16)}${'encode µs'.padStart(11)}${'decode µs'.padStart(11)}${'bytes/20ms'.padStart(12)}\n`);
  for (const r of rows)
    process.stdout.write(`${r.codec.padEnd(16)}${r.encodeUs.toFixed(1).padStart(11)}${r.decodeUs.toFixed(1).padStart(11)}${r.bytesPer20ms.toFixed(1).padStart(12)}\n`);
  process.stdout.write(`\ntranscoding graph (one direction, 20 ms packets), microseconds per packet\n\n`);
  process.stdout.write(`${'pair'.padEnd(18)}${'total µs'.padStart(10)}${'decode'.padStart(9)}${'encode'.padStart(9)}${'allocs/pkt'.padStart(12)}\n`);
  for (const r of pairRows)
    process.stdout.write(
      `${r.pair.padEnd(18)}${r.totalUs.toFixed(1).padStart(10)}${r.decodeUs.toFixed(1).padStart(9)}${r.encodeUs.toFixed(1).padStart(9)}` +
        `${(r.allocsPerPacket === null ? '-' : r.allocsPerPacket.toFixed(1)).padStart(12)}\n`,
    );
  if (pairRows.some((r) => r.allocsPerPacket === null))
    process.stdout.write('\n(allocs/pkt: preload bench/alloc-count.c to count heap allocations, see its header)\n');
}

main();
