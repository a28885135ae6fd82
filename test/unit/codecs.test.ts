// The codec table and the native codec layer: a 1 kHz tone generated here goes
// as L16 RTP through native Transcoders (L16 -> A -> B -> L16) and must come
// out at the same frequency and level, with RTP timing in the output clock.

import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { existsSync } from 'fs';
import {
  allCodecs,
  clampBitrate,
  clampPtime,
  findCodec,
  formatCodecList,
  nativeCodecSpec,
  NativeCodecSpec,
  NegotiatedCodec,
} from '../../src/codec/table';
import { backendAvailable, codecNative, NativeTranscoder, TranscoderOptions } from '../../src/codec/native';
import { buildRtp, parseRtp, RtpPacket } from '../helpers/rtp';
import { channel, concat, db, fromL16, mean, rms, sine, toL16, toneAmplitude } from '../helpers/audio';

const AMP = 8000; // about -12 dBFS
const SSRC = 0x11223344;
const L16_PT = 96;

function spec(name: string, pt: number, extra: Partial<NegotiatedCodec> = {}): NativeCodecSpec {
  const c = findCodec(name);
  assert.ok(c, name);
  return nativeCodecSpec(c, { payloadType: pt, ...extra });
}

function l16(rate: number, channels = 1, ptime = 20): NativeCodecSpec {
  return spec('L16', L16_PT, { clockRate: rate, channels, ptime });
}

function transcoder(opts: TranscoderOptions): NativeTranscoder {
  return new (codecNative().Transcoder)(opts);
}

/** Packet i of a 1 kHz L16 tone; null entries of a schedule are lost packets. */
function tonePacket(rate: number, i: number, channels = 1, ptime = 20): Buffer {
  const n = (rate * ptime) / 1000;
  return buildRtp({ pt: L16_PT, seq: 1000 + i, ts: 5000 + i * n, ssrc: SSRC, payload: toL16(sine(rate, 1000, i * n, n, AMP, channels)) });
}

/** Runs packets through transcoders in series; returns what each stage sent. */
function runChain(stages: NativeTranscoder[], packets: (Buffer | null)[], ptime = 20): Buffer[][] {
  const outs: Buffer[][] = stages.map(() => []);
  packets.forEach((pkt, i) => {
    if (!pkt) return;
    let cur = [pkt];
    stages.forEach((t, k) => {
      const next: Buffer[] = [];
      for (const p of cur) {
        const r = t.input(p, i * ptime);
        assert.ok(r, 'payload type accepted');
        next.push(...r);
      }
      outs[k].push(...next);
      cur = next;
    });
  });
  return outs;
}

function parsed(packets: Buffer[]): RtpPacket[] {
  return packets.map((b) => {
    const p = parseRtp(b);
    assert.ok(p, 'output is RTP');
    return p;
  });
}

/** Concatenated samples of L16 packets. */
function pcmOf(packets: Buffer[]): Int16Array {
  const parts = parsed(packets).map((p) => fromL16(p.payload));
  return concat(parts);
}

/** The 1 kHz tone is there, at the input level within tolerance, and dominates the signal. */
function assertTone(pcm: Int16Array, rate: number, opts: { tolDb?: number; purity?: number; from?: number } = {}): void {
  const from = Math.round((opts.from ?? 0.5) * rate);
  const win = pcm.subarray(from, from + rate); // one second: a whole number of cycles
  assert.equal(win.length, rate, `enough output (${pcm.length} samples)`);
  const a = toneAmplitude(win, rate, 1000);
  const levelDb = db(a / AMP);
  assert.ok(Math.abs(levelDb) <= (opts.tolDb ?? 3), `tone level ${levelDb.toFixed(2)} dB off`);
  const purity = (a * a) / 2 / (rms(win) ** 2);
  assert.ok(purity >= (opts.purity ?? 0.9), `tone carries ${(purity * 100).toFixed(1)} % of the power`);
  assert.ok(Math.abs(mean(win)) < 200, `DC ${mean(win).toFixed(0)}`);
}

/** Continuous sequence numbers, timestamps stepping by tsStep, one SSRC, marker on the first packet only. */
function assertTiming(packets: Buffer[], pt: number, tsStep: number, ssrc = SSRC, firstMarker = true): void {
  const ps = parsed(packets);
  assert.ok(ps.length > 1, 'packets');
  ps.forEach((p, i) => {
    assert.equal(p.pt, pt, 'payload type');
    assert.equal(p.ssrc, ssrc, 'SSRC');
    assert.equal(p.marker, i === 0 && firstMarker, `marker on packet ${i}`);
    if (i === 0) return;
    assert.equal(p.seq, (ps[i - 1].seq + 1) & 0xffff, `sequence at packet ${i}`);
    assert.equal((p.ts - ps[i - 1].ts) >>> 0, tsStep, `timestamp step at packet ${i}`);
  });
}

const available = (name: string): boolean => {
  const c = findCodec(name)!;
  return backendAvailable(c.backend.decoder, false) && backendAvailable(c.backend.encoder, true);
};


/**
 * Every codec the README lists as supported must be there: .ci/run installs its
 * library, so a missing one is a failure, never a silent skip.
 */
function requireCodec(name: string): void {
  assert.ok(available(name), `${name} is not available from the linked libraries`);
}

describe('codec table', () => {
  it('lists every codec of the reference once, with unique names', () => {
    const names = allCodecs().map((c) => c.name.toLowerCase());
    assert.equal(new Set(names).size, names.length);
    for (const n of ['PCMA', 'PCMU', 'G722', 'G723', 'G729', 'G729a', 'speex', 'GSM', 'iLBC', 'opus', 'AMR', 'AMR-WB', 'telephone-event', 'CN'])
      assert.ok(findCodec(n), n);
  });

  it('gives the static payload types of RFC 3551', () => {
    const pts: Record<string, number> = { PCMU: 0, GSM: 3, G723: 4, PCMA: 8, G722: 9, CN: 13, G729: 18 };
    for (const [name, pt] of Object.entries(pts)) assert.equal(findCodec(name)!.payloadType, pt, name);
    assert.equal(findCodec('opus')!.payloadType, null);
  });

  it('separates the RTP clock from the sample rate (G722 8000/16000, opus 48000/2)', () => {
    assert.equal(spec('G722', 9).clockRate, 8000);
    assert.equal(spec('G722', 9).sampleRate, 16000);
    const opus = spec('opus', 111);
    assert.equal(opus.clockRate, 48000);
    assert.equal(opus.channels, 2);
    assert.equal(opus.fmtp, 'useinbandfec=1');
    assert.equal(spec('speex', 97, { clockRate: 8000 }).sampleRate, 8000);
    assert.equal(spec('AMR-WB', 98).clockRate, 16000);
  });

  it('keeps ptime and bitrate within what a codec allows', () => {
    assert.equal(clampPtime(findCodec('G729')!, 25), 30);
    assert.equal(clampPtime(findCodec('G723')!, 20), 30);
    assert.equal(clampPtime(findCodec('AMR')!, 30), 40);
    assert.equal(clampBitrate(findCodec('AMR')!, 7000), 6700);
    assert.equal(clampBitrate(findCodec('AMR-WB')!, undefined), 14250);
    assert.equal(clampBitrate(findCodec('opus')!, 1000000), 510000);
  });

  it('--codecs reports support from the linked libraries in the reference format', () => {
    const text = formatCodecList(backendAvailable);
    assert.match(text, /^ {16}PCMA: fully supported$/m);
    assert.match(text, /^ {16}G729: fully supported$/m);
    assert.match(text, /^ {16}opus: fully supported$/m);
    assert.match(text, /^ {16}iLBC: supported for decoding only$/m);
    assert.match(text, /^ {14}vorbis: codec supported but lacks RTP definition$/m);
    assert.doesNotMatch(text, /L16/);
  });

  it('--codecs prints what the reference prints, when the reference is installed', function () {
    if (!existsSync('/usr/bin/rtpengine')) {
      console.log('      (skipped: /usr/bin/rtpengine is not installed)');
      this.skip();
    }
    const ref = spawnSync('/usr/bin/rtpengine', ['--codecs'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(ref.status, 0, `rtpengine --codecs failed: ${ref.stderr}`);
    assert.equal(formatCodecList(backendAvailable), ref.stdout);
  });
});

describe('native codecs: a 1 kHz tone survives L16 -> codec -> L16', () => {
  const cases: { name: string; rate: number; extra?: Partial<NegotiatedCodec>; tolDb?: number; purity?: number }[] = [
    { name: 'PCMA', rate: 8000 },
    { name: 'PCMU', rate: 8000 },
    { name: 'G722', rate: 16000 },
    { name: 'G723', rate: 8000, extra: { ptime: 30 }, purity: 0.8 },
    { name: 'G729', rate: 8000, purity: 0.8 },
    { name: 'GSM', rate: 8000, purity: 0.8 },
    { name: 'speex', rate: 8000, extra: { clockRate: 8000 }, purity: 0.8 },
    { name: 'speex', rate: 16000, purity: 0.8 },
    { name: 'speex', rate: 32000, extra: { clockRate: 32000 }, purity: 0.8 },
    { name: 'opus', rate: 48000 },
    { name: 'opus', rate: 16000 },
    { name: 'AMR', rate: 8000, purity: 0.8, tolDb: 4 },
    { name: 'AMR', rate: 8000, extra: { fmtp: 'octet-align=0', bitrate: 12200 }, purity: 0.8, tolDb: 4 },
    { name: 'AMR-WB', rate: 16000, purity: 0.8, tolDb: 4 },
    { name: 'AMR-WB', rate: 16000, extra: { fmtp: '' }, purity: 0.8, tolDb: 4 },
  ];
  for (const c of cases) {
    const label = `${c.name}${c.extra ? ' ' + JSON.stringify(c.extra) : ''} at ${c.rate} Hz`;
    it(label, function () {
      requireCodec(c.name);
      const cs = spec(c.name, 97, c.extra);
      const enc = transcoder({ in: l16(c.rate), out: cs });
      const dec = transcoder({ in: cs, out: l16(c.rate) });
      const packets = Array.from({ length: 100 }, (_, i) => tonePacket(c.rate, i));
      const [coded, pcmPackets] = runChain([enc, dec], packets);
      assertTiming(coded, 97, (cs.ptime * cs.clockRate) / 1000);
      assertTone(pcmOf(pcmPackets), c.rate, { tolDb: c.tolDb, purity: c.purity });
      assert.equal(enc.stats().errors, 0);
      assert.equal(dec.stats().errors, 0);
    });
  }

  it('opus stereo=1 carries two channels', () => {
    const cs = spec('opus', 111, { fmtp: 'stereo=1;useinbandfec=1' });
    const enc = transcoder({ in: l16(48000, 2), out: cs });
    assert.equal(enc.info().encoderChannels, 2);
    const dec = transcoder({ in: cs, out: l16(48000, 2) });
    const packets = Array.from({ length: 100 }, (_, i) => tonePacket(48000, i, 2));
    const [, pcmPackets] = runChain([enc, dec], packets);
    const pcm = pcmOf(pcmPackets);
    assertTone(channel(pcm, 2, 0), 48000);
    assertTone(channel(pcm, 2, 1), 48000);
  });
});

describe('native Transcoder: codec pairs', () => {
  const pairs: [string, string][] = [
    ['PCMA', 'PCMU'],
    ['PCMA', 'G722'],
    ['PCMU', 'G729'],
    ['PCMA', 'opus'],
    ['PCMU', 'GSM'],
    ['PCMA', 'speex'],
    ['PCMA', 'AMR'],
    ['PCMA', 'AMR-WB'],
    ['G722', 'opus'],
  ];
  const pts: Record<string, number> = { PCMA: 8, PCMU: 0, G722: 9, G729: 18, GSM: 3, opus: 111, speex: 97, AMR: 98, 'AMR-WB': 99 };
  const narrow = new Set(['PCMA', 'PCMU', 'G729', 'GSM', 'AMR']);
  for (const [x, y] of pairs) {
    for (const [a, b] of [
      [x, y],
      [y, x],
    ]) {
      it(`${a} -> ${b} keeps the tone, with ${b}'s clock and ptime`, function () {
        requireCodec(a);
        requireCodec(b);
        const sa = spec(a, pts[a]);
        const sb = spec(b, pts[b]);
        // The source runs at a's sample rate; the end is read at b's.
        const rateA = a === 'opus' ? 48000 : sa.sampleRate;
        const rateB = b === 'opus' ? 48000 : sb.sampleRate;
        const stages = [
          transcoder({ in: l16(rateA), out: sa }),
          transcoder({ in: sa, out: sb }),
          transcoder({ in: sb, out: l16(rateB) }),
        ];
        const packets = Array.from({ length: 100 }, (_, i) => tonePacket(rateA, i));
        const [, middle, end] = runChain(stages, packets);
        assertTiming(middle, pts[b], (sb.ptime * sb.clockRate) / 1000);
        const lossy = !['PCMA', 'PCMU', 'G722'].includes(a) || !['PCMA', 'PCMU', 'G722'].includes(b);
        assertTone(pcmOf(end), rateB, { purity: lossy ? 0.75 : 0.9, tolDb: lossy ? 4 : 3 });
        assert.equal(stages[1].stats().errors, 0);
        if (narrow.has(a) && narrow.has(b)) assert.equal(stages[1].info().decoderRate, stages[1].info().encoderRate);
      });
    }
  }

  it('opus runs at the narrowband side\'s rate (no resampling)', () => {
    const t = transcoder({ in: spec('opus', 111), out: spec('PCMA', 8) });
    assert.equal(t.info().decoderRate, 8000);
    const u = transcoder({ in: spec('PCMU', 0), out: spec('opus', 111) });
    assert.equal(u.info().encoderRate, 8000);
    assert.equal(u.info().packetSamples, 160);
  });
});

describe('native Transcoder: repacketization', () => {
  const cases: { codec: string; pt: number; from: number; to: number; count: number }[] = [
    { codec: 'PCMA', pt: 8, from: 20, to: 30, count: 66 },
    { codec: 'PCMA', pt: 8, from: 20, to: 40, count: 50 },
    { codec: 'PCMU', pt: 0, from: 20, to: 60, count: 33 },
    { codec: 'G729', pt: 18, from: 20, to: 30, count: 66 },
    { codec: 'opus', pt: 111, from: 20, to: 60, count: 33 },
    { codec: 'opus', pt: 111, from: 20, to: 30, count: 66 },
    { codec: 'AMR', pt: 98, from: 20, to: 40, count: 50 },
    { codec: 'GSM', pt: 3, from: 20, to: 40, count: 50 },
  ];
  for (const c of cases) {
    it(`${c.codec} ${c.from} ms -> ${c.to} ms: ${c.count} packets for 2 s, timestamps by ${c.to} ms`, function () {
      requireCodec(c.codec);
      const inSpec = spec(c.codec, c.pt, { ptime: c.from });
      const outSpec = spec(c.codec, c.pt, { ptime: c.to });
      const rate = c.codec === 'opus' ? 48000 : inSpec.sampleRate;
      const stages = [
        transcoder({ in: l16(rate), out: inSpec }),
        transcoder({ in: inSpec, out: outSpec }),
        transcoder({ in: outSpec, out: l16(rate) }),
      ];
      const packets = Array.from({ length: 100 }, (_, i) => tonePacket(rate, i));
      const [first, repacked, end] = runChain(stages, packets);
      assert.equal(first.length, 100);
      assert.equal(repacked.length, c.count);
      assertTiming(repacked, c.pt, (c.to * outSpec.clockRate) / 1000);
      assertTone(pcmOf(end), rate, { purity: 0.75, tolDb: 4 });
    });
  }

  it('a ptime that is not a multiple of the codec frame is refused', () => {
    const bad = { ...spec('G729', 18), ptime: 25 };
    assert.throws(() => transcoder({ in: spec('PCMA', 8), out: bad }), (e: Error & { code?: string }) => e.code === 'ECODEC');
  });

  it('a codec without an encoder cannot be the output (iLBC)', () => {
    assert.throws(() => transcoder({ in: spec('PCMA', 8), out: spec('iLBC', 97) }), /cannot be encoded|no encoder/);
  });
});

describe('native Transcoder: gaps, concealment and comfort noise', () => {
  it('lost packets are concealed: output sequence and timestamps stay continuous', () => {
    const stages = [
      transcoder({ in: l16(8000), out: spec('PCMA', 8) }),
      transcoder({ in: spec('PCMA', 8), out: spec('PCMU', 0) }),
      transcoder({ in: spec('PCMU', 0), out: l16(8000) }),
    ];
    const packets: (Buffer | null)[] = Array.from({ length: 100 }, (_, i) => tonePacket(8000, i));
    // Lose PCMA packets 40-42: drop them between the first and second stage.
    const [pcma] = runChain([stages[0]], packets);
    const lossy = pcma.map((p, i) => (i >= 40 && i <= 42 ? null : p));
    const [pcmu, end] = runChain(stages.slice(1), lossy);
    assert.equal(pcmu.length, 100, 'one packet per 20 ms, lost ones included');
    assertTiming(pcmu, 0, 160);
    assert.equal(stages[1].stats().concealedSamples, 480);
    // Packet loss concealment keeps the tone going through the gap.
    const pcm = pcmOf(end);
    const gap = pcm.subarray(40 * 160, 43 * 160);
    assert.ok(toneAmplitude(gap, 8000, 1000) > AMP / 4, 'tone carried through the gap');
    assertTone(pcm, 8000);
  });

  it('opus recovers a lost packet from in-band FEC', () => {
    const opus = spec('opus', 111, { fmtp: 'useinbandfec=1' });
    const enc = transcoder({ in: l16(8000), out: opus });
    const dec = transcoder({ in: opus, out: spec('PCMA', 8) });
    const [coded] = runChain([enc], Array.from({ length: 100 }, (_, i) => tonePacket(8000, i)));
    const [out] = runChain([dec], coded.map((p, i) => (i === 50 ? null : p)));
    assert.equal(out.length, 100);
    assertTiming(out, 8, 160);
    assert.equal(dec.stats().concealedSamples, 160);
  });

  it('G.729 frame erasure is concealed by bcg729', function () {
    requireCodec('G729');
    const enc = transcoder({ in: l16(8000), out: spec('G729', 18) });
    const dec = transcoder({ in: spec('G729', 18), out: l16(8000) });
    const [coded] = runChain([enc], Array.from({ length: 100 }, (_, i) => tonePacket(8000, i)));
    const [out] = runChain([dec], coded.map((p, i) => (i === 60 || i === 61 ? null : p)));
    assert.equal(out.length, 100);
    assert.equal(dec.stats().concealedSamples, 320);
    assertTone(pcmOf(out), 8000, { purity: 0.75 });
  });

  it('a gap longer than maxGapMs is skipped: timestamps jump, marker set', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: spec('PCMU', 0), maxGapMs: 500 });
    const pkt = (i: number): Buffer => buildRtp({ pt: 8, seq: 10 + i, ts: 1000 + i * 160, ssrc: SSRC, payload: Buffer.alloc(160, 0xd5) });
    const out: Buffer[] = [];
    for (let i = 0; i < 5; i++) out.push(...t.input(pkt(i))!);
    out.push(...t.input(pkt(105))!); // 2 s later
    const ps = parsed(out);
    assert.equal(ps.length, 6);
    assert.equal(ps[5].seq, (ps[4].seq + 1) & 0xffff, 'sequence stays continuous');
    assert.equal((ps[5].ts - ps[4].ts) >>> 0, 101 * 160, 'timestamp jumps over the gap');
    assert.ok(ps[5].marker);
    assert.equal(t.stats().resyncs, 1);
  });

  it('a configured SSRC, first sequence number and timestamp continue an output stream', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: spec('G722', 9), ssrc: 0xabcdef01, startSeq: 65535, startTs: 4294967200 });
    const out: Buffer[] = [];
    for (let i = 0; i < 3; i++) out.push(...t.input(buildRtp({ pt: 8, seq: 7 + i, ts: i * 160, ssrc: SSRC, payload: Buffer.alloc(160, 0xd5) }))!);
    const ps = parsed(out);
    assert.deepEqual(ps.map((p) => p.seq), [65535, 0, 1]);
    assert.deepEqual(ps.map((p) => p.ts), [4294967200, (4294967200 + 160) % 2 ** 32, (4294967200 + 320) % 2 ** 32]);
    assert.ok(ps.every((p) => p.ssrc === 0xabcdef01));
  });

  it('late and duplicate packets are dropped and counted', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: spec('PCMU', 0) });
    const pkt = (seq: number): Buffer => buildRtp({ pt: 8, seq, ts: seq * 160, ssrc: SSRC, payload: Buffer.alloc(160, 0xd5) });
    assert.equal(t.input(pkt(100))!.length, 1);
    assert.equal(t.input(pkt(101))!.length, 1);
    assert.equal(t.input(pkt(101))!.length, 0);
    assert.equal(t.input(pkt(99))!.length, 0);
    assert.equal(t.stats().dropped, 2);
  });

  it('other payload types are left to the caller', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: spec('PCMU', 0) });
    assert.equal(t.input(buildRtp({ pt: 101, seq: 1, ts: 0, ssrc: SSRC, payload: Buffer.from([1, 0, 0, 160]) })), null);
  });

  it('RFC 3389 CN input fills the silence with noise at the signalled level', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: l16(8000), inCnPt: 13 });
    const audio = (i: number, marker = false): Buffer =>
      buildRtp({ pt: 8, seq: 500 + i, ts: 8000 + i * 160, ssrc: SSRC, marker, payload: Buffer.alloc(160, 0xd5) });
    const out: Buffer[] = [];
    for (let i = 0; i < 10; i++) out.push(...t.input(audio(i))!);
    // CN at -50 dBov (flat spectrum), then 400 ms without packets, then a talkspurt.
    out.push(...t.input(buildRtp({ pt: 13, seq: 510, ts: 8000 + 10 * 160, ssrc: SSRC, payload: Buffer.from([50]) }))!);
    out.push(...t.input(audio(30, true))!);
    assert.equal(t.stats().cnIn, 1);
    const ps = parsed(out);
    assert.equal(ps.length, 31, 'the gap is filled packet by packet');
    assertTiming(out.slice(0, 30), L16_PT, 160);
    const noise = pcmOf(out.slice(10, 30));
    const expected = 32767 * 10 ** (-50 / 20);
    assert.ok(Math.abs(db(rms(noise) / expected)) < 3, `noise RMS ${rms(noise).toFixed(1)}, expected ${expected.toFixed(1)}`);
    assert.ok(ps[30].marker, 'the talkspurt after CN starts with a marker');
  });

  it('tick() keeps comfort noise flowing while the input is in DTX', () => {
    const t = transcoder({ in: spec('PCMU', 0), out: spec('PCMA', 8), inCnPt: 13, dtxDelayMs: 40 });
    t.input(buildRtp({ pt: 0, seq: 1, ts: 0, ssrc: SSRC, payload: Buffer.alloc(160, 0xff) }), 0);
    t.input(buildRtp({ pt: 13, seq: 2, ts: 160, ssrc: SSRC, payload: Buffer.from([60, 120, 130, 127]) }), 20);
    assert.equal(t.tick(40).length, 0, 'nothing before the DTX delay');
    const out = t.tick(20 + 40 + 200);
    assert.equal(out.length, 10, '200 ms of comfort noise');
    assertTiming(out, 8, 160, SSRC, false);
  });

  it('iLBC (decode only) splits 30 ms and 20 ms frames by payload size', function () {
    assert.ok(backendAvailable(findCodec('iLBC')!.backend.decoder, false), 'the iLBC decoder (libavcodec) must be available');
    const t = transcoder({ in: spec('iLBC', 97), out: l16(8000) });
    const payload = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 73 + 11) & 0xff));
    const a = t.input(buildRtp({ pt: 97, seq: 1, ts: 0, ssrc: SSRC, payload: payload(100) }))!;
    assert.equal(a.length, 3, 'two 30 ms frames: 60 ms');
    const b = t.input(buildRtp({ pt: 97, seq: 2, ts: 480, ssrc: SSRC, payload: payload(38) }))!;
    assert.equal(b.length, 1, 'one 20 ms frame of the other mode');
    assert.equal(t.stats().framesDecoded, 3);
    assert.equal(t.input(buildRtp({ pt: 97, seq: 3, ts: 640, ssrc: SSRC, payload: payload(40) }))!.length, 0);
    assert.equal(t.stats().errors, 1, 'a payload of neither size is an error');
  });

  for (const cnPayload of [undefined, [20, 40, 60]]) {
    const expected = Buffer.from(cnPayload ?? [32]);
    it(`silent packets towards a peer that takes CN go out as RFC 3389 comfort noise (payload ${expected.toString('hex')})`, () => {
      const t = transcoder({ in: l16(8000), out: spec('PCMA', 8), outCnPt: 13, silenceDbov: 60, cnPayload });
      const packets = Array.from({ length: 75 }, (_, i) =>
        i >= 25 && i < 50
          ? buildRtp({ pt: L16_PT, seq: 1000 + i, ts: 5000 + i * 160, ssrc: SSRC, payload: Buffer.alloc(320) })
          : tonePacket(8000, i),
      );
      const [out] = runChain([t], packets);
      const ps = parsed(out);
      assert.equal(ps.length, 75);
      ps.forEach((p, i) => {
        assert.equal(p.seq, (ps[0].seq + i) & 0xffff);
        assert.equal((p.ts - ps[0].ts) >>> 0, i * 160);
      });
      const cn = ps.filter((p) => p.pt === 13);
      assert.ok(cn.length >= 24 && cn.length <= 25, `${cn.length} CN packets`);
      assert.ok(cn.every((p) => p.payload.equals(expected)), 'the configured CN payload (--cn-payload, default 32)');
      const firstAfter = ps.findIndex((p, i) => i > 25 && p.pt === 8);
      assert.ok(ps[firstAfter].marker, 'audio after CN starts a talkspurt');
      assert.equal(t.stats().cnOut, cn.length);
    });
  }

  it('garbage payloads are counted and dropped; the next good packets decode', function () {
    const rnd = (n: number, seed: number): Buffer => {
      const b = Buffer.alloc(n);
      let s = seed;
      for (let i = 0; i < n; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        b[i] = s >>> 24;
      }
      return b;
    };
    // (speex is left out: libspeex prints a notice to stderr for each bad frame.)
    for (const name of ['G723', 'G729', 'GSM', 'opus', 'AMR', 'AMR-WB', 'iLBC']) {
      const c = findCodec(name)!;
      if (!backendAvailable(c.backend.decoder, false)) continue;
      const s = spec(name, 97);
      const rate = name === 'opus' ? 48000 : s.sampleRate;
      const step = (s.clockRate * s.ptime) / 1000;
      const t = transcoder({ in: s, out: l16(rate) });
      const out: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const len = [1, 3, 7, 13, 33, 61, 200, 3][i % 8];
        out.push(...t.input(buildRtp({ pt: 97, seq: i, ts: i * step, ssrc: SSRC, payload: rnd(len, i + 7) }), i * s.ptime)!);
      }
      const st = t.stats();
      assert.equal(st.packetsIn, 20, name);
      assert.ok(st.errors > 0, `${name}: errors counted`);
      if (!backendAvailable(c.backend.encoder, true)) continue;
      // Good packets after the garbage, continuing its sequence and timestamps.
      const enc = transcoder({ in: l16(rate, 1, s.ptime), out: s });
      const [good] = runChain([enc], Array.from({ length: 100 }, (_, i) => tonePacket(rate, i, 1, s.ptime)));
      const errors = t.stats().errors;
      const tail: Buffer[] = [];
      good.forEach((g, i) => {
        const p = parseRtp(g)!;
        const r = t.input(buildRtp({ pt: 97, seq: 20 + i, ts: (20 + i) * step, ssrc: SSRC, payload: p.payload }), (20 + i) * s.ptime);
        tail.push(...r!);
      });
      assert.equal(t.stats().errors, errors, `${name}: good packets decode`);
      assertTone(pcmOf(tail), rate, { purity: 0.75, tolDb: 4 });
    }
  });

  it('AMR packets carry CMR and table of contents, with the mode from mode-set', () => {
    const oa = spec('AMR', 98, { fmtp: 'octet-align=1;mode-set=0,2,4', bitrate: 12200, ptime: 40 });
    const t = transcoder({ in: l16(8000), out: oa });
    const [out] = runChain([t], Array.from({ length: 10 }, (_, i) => tonePacket(8000, i)));
    const p = parsed(out)[1];
    assert.equal(p.payload[0], 0xf0, 'CMR 15, no mode request');
    assert.equal(p.payload[1], 0x80 | (4 << 3) | 0x04, 'first ToC: follow-on, FT 4 (7.4 kbit/s), Q');
    assert.equal(p.payload[2], (4 << 3) | 0x04, 'last ToC');
    assert.equal(p.payload.length, 1 + 2 + 2 * 19, 'two 148-bit frames, octet-aligned');
    const be = spec('AMR', 98, { fmtp: 'mode-set=7', ptime: 20 });
    const u = transcoder({ in: l16(8000), out: be });
    const [outBe] = runChain([u], Array.from({ length: 5 }, (_, i) => tonePacket(8000, i)));
    // Bandwidth-efficient: 4 + 6 + 244 bits = 254 bits in 32 bytes.
    assert.equal(parsed(outBe)[1].payload.length, 32);
    assert.equal(parsed(outBe)[1].payload[0] >> 4, 15);
  });

  it('G.729 with annex B sends SID frames or nothing in silence, and its decoder makes comfort noise', function () {
    requireCodec('G729');
    const g729b = spec('G729', 18, { fmtp: 'annexb=yes' });
    const enc = transcoder({ in: l16(8000), out: g729b });
    const quiet = (i: number): Buffer => {
      const noise = new Int16Array(160);
      for (let k = 0; k < 160; k++) noise[k] = ((i * 160 + k) * 7919) % 31 - 15;
      return buildRtp({ pt: L16_PT, seq: i, ts: i * 160, ssrc: SSRC, payload: toL16(noise) });
    };
    const [out] = runChain([enc], Array.from({ length: 100 }, (_, i) => quiet(i)));
    const ps = parsed(out);
    assert.ok(ps.length < 100, `DTX: ${ps.length} packets for 100 frames of silence`);
    assert.ok(ps.some((p) => p.payload.length === 2 || p.payload.length === 12), 'a SID frame was sent');
    assert.ok(ps.every((p) => p.payload.length % 10 === 0 || p.payload.length % 10 === 2));
    const noDtx = transcoder({ in: l16(8000), out: spec('G729', 18) });
    assert.equal(runChain([noDtx], Array.from({ length: 20 }, (_, i) => quiet(i)))[0].length, 20, 'annexb=no: every frame sent');
    // The decoder fills the DTX gaps with the codec's comfort noise, driven by tick().
    const dec = transcoder({ in: g729b, out: l16(8000), dtxDelayMs: 40 });
    const decoded: Buffer[] = [];
    out.forEach((b, k) => decoded.push(...dec.input(b, (ps[k].ts / 160) * 20)!));
    for (let now = 0; now <= 2000; now += 20) decoded.push(...dec.tick(now));
    assert.ok(decoded.length >= 90, `${decoded.length} packets of comfort noise`);
    assertTiming(decoded, L16_PT, 160, SSRC, true);
    assert.equal(dec.stats().errors, 0);
  });

  it('malformed RTP is counted as an error', () => {
    const t = transcoder({ in: spec('PCMA', 8), out: spec('PCMU', 0) });
    assert.deepEqual(t.input(Buffer.from([0x80, 8, 0])), []);
    assert.deepEqual(t.input(Buffer.from([0x40, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xd5])), []);
    assert.equal(t.stats().errors, 2);
  });
});

describe('RFC 3389 comfort noise', () => {
  it('describes the level of a frame in -dBov and generates noise at that level', () => {
    const n = codecNative();
    const amp = 32767 * 10 ** (-30 / 20) * Math.sqrt(3); // uniform noise at -30 dBov RMS
    const noise = new Int16Array(1600);
    let s = 1;
    for (let i = 0; i < noise.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      noise[i] = Math.round(((s / 2 ** 32) * 2 - 1) * amp);
    }
    const payload = n.cnDescribe(noise);
    assert.equal(payload.length, 11, 'level and ten reflection coefficients');
    assert.ok(Math.abs(payload[0] - 30) <= 1, `level ${payload[0]}`);
    const gen = n.cnGenerate(payload, 8000);
    assert.ok(Math.abs(db(rms(gen) / rms(noise))) < 2, `generated RMS ${rms(gen).toFixed(0)} vs ${rms(noise).toFixed(0)}`);
    assert.equal(n.cnDescribe(new Int16Array(160))[0], 127, 'digital silence is -127 dBov');
  });

  it('keeps the spectral shape: low-pass noise stays low-pass', () => {
    const n = codecNative();
    const x = new Int16Array(4000);
    let s = 3;
    let prev = 0;
    for (let i = 0; i < x.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      prev = 0.9 * prev + ((s / 2 ** 32) * 2 - 1) * 1000;
      x[i] = Math.round(prev);
    }
    const gen = n.cnGenerate(n.cnDescribe(x), 8000);
    const low = toneAmplitude(gen, 8000, 200);
    const high = toneAmplitude(gen, 8000, 3500);
    // Goertzel on noise is rough; average a few bins on each side.
    let lo = low;
    let hi = high;
    for (const f of [300, 400, 500]) lo += toneAmplitude(gen, 8000, f);
    for (const f of [3200, 3300, 3400]) hi += toneAmplitude(gen, 8000, f);
    assert.ok(lo > 3 * hi, `low ${lo.toFixed(1)} high ${hi.toFixed(1)}`);
  });
});
