// Audio through codecs for tests: tones encoded into RTP with the stand-alone
// native Transcoder, RTP decoded back to PCM, and checks that what arrives is the
// tone (level, purity) and one well-formed RTP stream.

import { strict as assert } from 'assert';
import { findCodec, nativeCodecSpec, NativeCodecSpec, NegotiatedCodec } from '../../src/codec/table';
import { backendAvailable, codecNative, NativeTranscoder } from '../../src/codec/native';
import { buildRtp, parseRtp, Received, RtpPacket } from './rtp';
import { concat, db, fromL16, mean, rms, sine, toL16, toneAmplitude } from './audio';

export const HOST = '127.0.0.1';
export const AMP = 8000; // about -12 dBFS
export const SSRC = 0x5a5a0001;
export const L16_PT = 96;

export { sleep } from './process';

export function spec(name: string, pt: number, extra: Partial<NegotiatedCodec> = {}): NativeCodecSpec {
  const c = findCodec(name);
  assert.ok(c, name);
  return nativeCodecSpec(c, { payloadType: pt, ...extra });
}

export function l16(rate: number, channels = 1, ptime = 20): NativeCodecSpec {
  return spec('L16', L16_PT, { clockRate: rate, channels, ptime });
}

/** The audio rate a test reads or writes a codec at: opus at 48 kHz, the others at their own rate. */
export function pcmRate(s: NativeCodecSpec): number {
  return s.name === 'opus' ? 48000 : s.sampleRate;
}

export function transcoder(inSpec: NativeCodecSpec, outSpec: NativeCodecSpec): NativeTranscoder {
  return new (codecNative().Transcoder)({ in: inSpec, out: outSpec });
}

/**
 * Every codec the README lists as supported must be there: .ci/run installs
 * its library, so a missing one fails the test, never skips it.
 */
export function requireCodec(name: string): void {
  const c = findCodec(name)!;
  assert.ok(
    backendAvailable(c.backend.decoder, false) && backendAvailable(c.backend.encoder, true),
    `${name} is not available from the linked libraries`,
  );
}

export interface ToneOptions {
  count?: number;
  freq?: number;
  seq?: number;
  ts?: number;
  ssrc?: number;
  /** Index of the first 20 ms block in the tone (phase continuity across calls). */
  first?: number;
}

/**
 * `count` 20 ms blocks of a tone encoded into codec s (as the stand-alone
 * Transcoder packetizes it): RTP packets starting at seq and ts, the
 * timestamps advancing in s's clock.
 */
export function encodeTone(s: NativeCodecSpec, o: ToneOptions = {}): Buffer[] {
  const rate = pcmRate(s);
  const n = rate / 50;
  const enc = transcoder(l16(rate), s);
  const out: Buffer[] = [];
  const first = o.first ?? 0;
  for (let i = 0; i < (o.count ?? 100); i++) {
    const pkt = buildRtp({
      pt: L16_PT,
      seq: ((o.seq ?? 1000) + i) & 0xffff,
      ts: ((o.ts ?? 50000) + i * n) >>> 0,
      ssrc: o.ssrc ?? SSRC,
      payload: toL16(sine(rate, o.freq ?? 1000, (first + i) * n, n, AMP)),
    });
    const r = enc.input(pkt, i * 20);
    assert.ok(r, 'the encoder takes L16');
    out.push(...r);
  }
  assert.equal(enc.stats().errors, 0);
  return out;
}

/** Decodes RTP packets of codec s to PCM at pcmRate(s) (interleaved when channels > 1). */
export function decode(s: NativeCodecSpec, packets: Buffer[], channels = 1): Int16Array {
  const dec = transcoder(s, l16(pcmRate(s), channels));
  const parts: Int16Array[] = [];
  packets.forEach((p, i) => {
    const r = dec.input(p, i * s.ptime);
    assert.ok(r, `the decoder takes payload type ${p[1] & 0x7f}`);
    for (const b of r) parts.push(fromL16(parseRtp(b)!.payload));
  });
  return concat(parts);
}

/** A tone at freq is in the window, at the input level within tolDb, carrying `purity` of the power. */
export function assertTone(
  pcm: Int16Array,
  rate: number,
  o: { freq?: number; tolDb?: number; purity?: number; from?: number; seconds?: number } = {},
): void {
  const from = Math.round((o.from ?? 0.5) * rate);
  const len = Math.round((o.seconds ?? 1) * rate);
  const win = pcm.subarray(from, from + len);
  assert.equal(win.length, len, `enough audio (${pcm.length} samples at ${rate} Hz)`);
  const a = toneAmplitude(win, rate, o.freq ?? 1000);
  const levelDb = db(a / AMP);
  assert.ok(Math.abs(levelDb) <= (o.tolDb ?? 3), `tone level ${levelDb.toFixed(2)} dB off`);
  const purity = (a * a) / 2 / rms(win) ** 2;
  assert.ok(purity >= (o.purity ?? 0.9), `tone carries ${(purity * 100).toFixed(1)} % of the power`);
  assert.ok(Math.abs(mean(win)) < 200, `DC ${mean(win).toFixed(0)}`);
}

/** An RTP packet as bytes again (for the decoder). */
export function rebuild(p: RtpPacket): Buffer {
  return buildRtp({ pt: p.pt, seq: p.seq, ts: p.ts, ssrc: p.ssrc, marker: p.marker, payload: p.payload });
}

export function rtpOf(rs: Received[]): RtpPacket[] {
  return rs.map((r) => {
    assert.ok(r.rtp, 'RTP arrives');
    return r.rtp;
  });
}

/**
 * One RTP stream: one SSRC, sequence numbers +1 each, the payload type, the
 * timestamp step, and the marker bit exactly on the packets in `markers`.
 */
export function assertStream(ps: RtpPacket[], o: { pt: number; tsStep: number; markers?: number[]; ssrc?: number }): void {
  assert.ok(ps.length > 1, 'packets');
  const markers = o.markers ?? [0];
  ps.forEach((p, i) => {
    assert.equal(p.pt, o.pt, `payload type of packet ${i}`);
    assert.equal(p.ssrc, o.ssrc ?? ps[0].ssrc, `SSRC of packet ${i}`);
    assert.equal(p.marker, markers.includes(i), `marker of packet ${i}`);
    if (i === 0) return;
    assert.equal(p.seq, (ps[i - 1].seq + 1) & 0xffff, `sequence number of packet ${i}`);
    assert.equal((p.ts - ps[i - 1].ts) >>> 0, o.tsStep, `timestamp step at packet ${i}`);
  });
}

/**
 * An AMR SID_UPDATE frame in an octet-aligned payload: no mode request, one
 * table-of-contents entry (frame type 8), 35 bits of comfort noise parameters
 * (LSF indices 0 and the energy index given), the update bit and a mode.
 */
export function amrSid(energy: number): Buffer {
  const bits: number[] = [];
  const put = (v: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1);
  };
  put(0, 3);
  put(0, 26);
  put(energy, 6);
  put(1, 1);
  put(7, 3);
  while (bits.length % 8) bits.push(0);
  const bytes: number[] = [];
  for (let i = 0; i < bits.length; i += 8) bytes.push(bits.slice(i, i + 8).reduce((a, b) => a * 2 + b, 0));
  return Buffer.from([0xf0, (8 << 3) | 4, ...bytes]);
}
