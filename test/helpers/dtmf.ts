// DTMF for tests: key presses as a phone sends them (RFC 4733 event packets on
// the audio's timeline, or in-band tone blocks), the events that arrive parsed
// and checked, and in-band tones measured with a Goertzel filter (independent of
// the daemon's spandsp).

import { strict as assert } from 'assert';
import { buildRtp, RtpPacket } from './rtp';
import { L16_PT, l16, pcmRate, SSRC, transcoder } from './codec-audio';
import type { NativeCodecSpec } from '../../src/codec/table';
import { sine, toL16, toneAmplitude } from './audio';

export const KEYS: Record<string, { event: number; low: number; high: number }> = {
  '1': { event: 1, low: 697, high: 1209 },
  '5': { event: 5, low: 770, high: 1336 },
  '9': { event: 9, low: 852, high: 1477 },
};

export function eventPayload(event: number, end: boolean, duration: number): Buffer {
  return Buffer.from([event, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
}

export interface Press {
  /** Builds the audio packet at sequence number seq and timestamp ts. */
  audio: (seq: number, ts: number, i: number) => Buffer;
  tsStep: number;
  evPt: number;
  /** Clock units of the event per 20 ms. */
  evStep: number;
  event: number;
  /** Event packets before the end (each 20 ms longer); then three end packets. */
  steps: number;
  before: number;
  after: number;
  /** Audio keeps coming during the event (as from a phone that does not mute). */
  audioDuring?: boolean;
}

/**
 * A key press as a phone sends it: audio, the event packets (the first with the
 * marker, durations growing every 20 ms, the end packet three times, all at the
 * timestamp where the key went down), then audio again from where the event ended.
 */
export function keyPress(p: Press): { packets: Buffer[]; eventTs: number } {
  const out: Buffer[] = [];
  let seq = 2000;
  let ts = 160000;
  let n = 0;
  for (let i = 0; i < p.before; i++, ts += p.tsStep) out.push(p.audio(seq++, ts, n++));
  const eventTs = ts;
  for (let i = 1; i <= p.steps + 2; i++) {
    const end = i >= p.steps;
    const dur = Math.min(i, p.steps) * p.evStep;
    out.push(buildRtp({ pt: p.evPt, seq: seq++, ts: eventTs, ssrc: SSRC, marker: i === 1, payload: eventPayload(p.event, end, dur) }));
    if (p.audioDuring && i < p.steps) out.push(p.audio(seq++, eventTs + (i - 1) * p.tsStep, n++));
  }
  ts = eventTs + p.steps * p.tsStep;
  for (let i = 0; i < p.after; i++, ts += p.tsStep) out.push(p.audio(seq++, ts, n++));
  return { packets: out, eventTs };
}

/** `count` 20 ms blocks at `rate` Hz: the key's two tones (about -16 dBFS each) or silence. */
export function keyBlocks(key: string | null, count: number, rate = 8000): Int16Array[] {
  const n = rate / 50;
  const out: Int16Array[] = [];
  for (let i = 0; i < count; i++) {
    const b = new Int16Array(n);
    if (key) {
      const lo = sine(rate, KEYS[key].low, i * n, n, 5000);
      const hi = sine(rate, KEYS[key].high, i * n, n, 5000);
      for (let j = 0; j < n; j++) b[j] = lo[j] + hi[j];
    }
    out.push(b);
  }
  return out;
}

/** Encodes 20 ms blocks of PCM (at pcmRate(s)) into RTP packets of codec s starting at seq and ts. */
export function encodeBlocks(s: NativeCodecSpec, blocks: Int16Array[], seq: number, ts: number): Buffer[] {
  const enc = transcoder(l16(pcmRate(s)), s);
  const step = s.clockRate / 50;
  const out: Buffer[] = [];
  blocks.forEach((b, i) => {
    const r = enc.input(buildRtp({ pt: L16_PT, seq: seq + i, ts: ts + i * step, ssrc: SSRC, payload: toL16(b) }), i * 20);
    assert.ok(r, `the encoder takes L16 for ${s.name}`);
    out.push(...r);
  });
  return out;
}

export interface Event { event: number; end: boolean; volume: number; duration: number; ts: number; marker: boolean }

export function events(ps: RtpPacket[], pt: number): Event[] {
  return ps.filter((p) => p.pt === pt).map((p) => ({
    event: p.payload[0], end: (p.payload[1] & 0x80) !== 0, volume: p.payload[1] & 0x3f,
    duration: p.payload.readUInt16BE(2), ts: p.ts, marker: p.marker,
  }));
}

/** One key press as RFC 4733 describes it: one timestamp, growing durations, the marker first, three end packets last. */
export function assertOnePress(evs: Event[], event: number): void {
  assert.ok(evs.length >= 4, `${evs.length} event packets`);
  for (const e of evs) {
    assert.equal(e.event, event, 'event code');
    assert.equal(e.ts, evs[0].ts, 'one timestamp per event');
  }
  assert.ok(evs[0].marker, 'the first event packet has the marker');
  assert.deepEqual(evs.map((e) => e.end), [...evs.slice(3).map(() => false), true, true, true], 'the end bit on the last three');
  const last = evs[evs.length - 1].duration;
  assert.deepEqual(evs.slice(-3).map((e) => e.duration), [last, last, last], 'the end packets repeat the final duration');
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i].duration >= evs[i - 1].duration, 'durations grow');
}

/** The Goertzel amplitudes at a key's two frequencies in each 20 ms block of PCM at `rate` Hz. */
export function keyLevels(pcm: Int16Array, key: string, rate = 8000): Array<{ low: number; high: number }> {
  const n = rate / 50;
  const out: Array<{ low: number; high: number }> = [];
  for (let i = 0; i + n <= pcm.length; i += n) {
    const w = pcm.subarray(i, i + n);
    out.push({ low: toneAmplitude(w, rate, KEYS[key].low), high: toneAmplitude(w, rate, KEYS[key].high) });
  }
  return out;
}

/** 20 ms blocks where both tones of the key sound (well above the codec's noise). */
export function toneBlocks(pcm: Int16Array, key: string, rate = 8000): number {
  return keyLevels(pcm, key, rate).filter((l) => l.low > 1000 && l.high > 1000).length;
}
