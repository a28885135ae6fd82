// The DTX buffer's timer on a simulated clock: the stand-alone Transcoder gets
// packets at chosen arrival times and a tick() every millisecond, and the
// test records the millisecond each output packet leaves. The rules (dtx.h):
// release --dtx-delay after the first packet, then one step per input packet
// duration; a late packet moves the timer --dtx-shift later; a backlog of at
// least --dtx-buffer packets and --dtx-lag ms moves it --dtx-shift earlier per
// step (or, with --dtx-shift=0, is dropped); a packet whose time was already
// filled is dropped.

import { strict as assert } from 'assert';
import { codecNative, type NativeTranscoder, type TranscoderOptions } from '../../src/codec/native';
import { parseRtp } from '../helpers/rtp';
import { spec, encodeTone } from '../helpers/codec-audio';

const PCMU = spec('PCMU', 0);
const PCMA = spec('PCMA', 8);

function bufferedTranscoder(over: Partial<TranscoderOptions> = {}): NativeTranscoder {
  return new (codecNative().Transcoder)({
    in: PCMU, out: PCMA, dtxDelayMs: 60, maxDtxMs: 400, dtxBuffered: true, dtxBufferPackets: 10, dtxLagMs: 100, dtxShiftMs: 5, ...over,
  });
}

interface Sent {
  at: number;
  ts: number;
}

/**
 * Delivers packets[i] at arrivals[i] (ms, non-decreasing; null: never) and
 * ticks every ms until untilMs; returns when each output packet left and its
 * timestamp relative to the first.
 */
function run(t: NativeTranscoder, packets: Buffer[], arrivals: (number | null)[], untilMs: number): Sent[] {
  const order = packets.map((p, i) => ({ p, at: arrivals[i] })).filter((x): x is { p: Buffer; at: number } => x.at !== null)
    .sort((x, y) => x.at - y.at);
  const out: Sent[] = [];
  const keep = (bufs: Buffer[] | null, now: number): void => {
    for (const b of bufs ?? []) out.push({ at: now, ts: parseRtp(b)!.ts });
  };
  let next = 0;
  for (let now = 0; now <= untilMs; now++) {
    while (next < order.length && order[next].at <= now) keep(t.input(order[next++].p, now), now);
    keep(t.tick(now), now);
  }
  return out.map((s) => ({ at: s.at, ts: (s.ts - out[0].ts) >>> 0 }));
}

function gaps(out: Sent[]): number[] {
  return out.slice(1).map((s, i) => s.at - out[i].at);
}

describe('DTX buffer timer (simulated clock)', function () {
  it('steady input leaves --dtx-delay later at exactly the input pace', function () {
    const t = bufferedTranscoder();
    const out = run(t, encodeTone(PCMU, { count: 20, seq: 1, ts: 0 }), Array.from({ length: 20 }, (_, i) => i * 20), 600);
    assert.equal(out[0].at, 60);
    assert.deepEqual(gaps(out.slice(0, 20)), Array(19).fill(20));
    out.forEach((s, i) => assert.equal(s.ts, i * 160));
    assert.equal(t.stats().dtxShifts, 0);
  });

  it('late packets move the timer --dtx-shift later per packet until it has caught up', function () {
    const t = bufferedTranscoder();
    // Packet 5 arrives 30 ms late (and 6-19 keep the 30 ms offset): released 60 ms
    // behind its arrival it would be early, so the timer steps back 5 ms per packet
    // until the packets spend the full delay in the buffer again.
    const arrivals = Array.from({ length: 20 }, (_, i) => i * 20 + (i >= 5 ? 30 : 0));
    // Run until the last packet is out (at 470), before any filling after the input stops.
    const out = run(t, encodeTone(PCMU, { count: 20, seq: 1, ts: 0 }), arrivals, 480);
    assert.equal(out.length, 20);
    const g = gaps(out);
    assert.equal(t.stats().dtxShifts, 6, 'six steps of 5 ms make up 30 ms');
    assert.equal(g.filter((x) => x === 25).length, 6);
    assert.equal(g.filter((x) => x === 20).length, 13);
    assert.equal(t.stats().dtxGaps, 0, 'no gap: the 60 ms delay covered the lateness');
    out.forEach((s, i) => assert.equal(s.ts, i * 160));
  });

  it('a backlog over --dtx-buffer and --dtx-lag makes the timer run --dtx-shift early per step, losing nothing', function () {
    const t = bufferedTranscoder();
    const out = run(t, encodeTone(PCMU, { count: 40, seq: 1, ts: 0 }), Array(40).fill(0), 1200).slice(0, 40);
    const g = gaps(out);
    // Steps 1-30 leave 10 or more packets behind (300+ ms): 15 ms each; then 20 ms.
    assert.deepEqual(g, [...Array(30).fill(15), ...Array(9).fill(20)]);
    out.forEach((s, i) => assert.equal(s.ts, i * 160));
    assert.equal(t.stats().dropped, 0);
  });

  it('with --dtx-shift=0 a backlog over the limits is dropped; the pace stays 20 ms', function () {
    const t = bufferedTranscoder({ dtxShiftMs: 0 });
    // The last packet leaves at 240; filling (silence) would follow from 260.
    const out = run(t, encodeTone(PCMU, { count: 40, seq: 1, ts: 0 }), Array(40).fill(0), 250);
    assert.equal(out.length, 10);
    assert.deepEqual(gaps(out), Array(9).fill(20));
    out.forEach((s, i) => assert.equal(s.ts, i * 160, 'one timeline without the dropped time'));
    assert.equal(t.stats().dropped, 30);
  });

  it('a packet arriving after its time was filled is dropped and moves the timer later', function () {
    const t = bufferedTranscoder();
    // Packet 5 arrives 90 ms late, after the step that needed it filled its 20 ms.
    const arrivals = Array.from({ length: 12 }, (_, i) => (i === 5 ? 190 : i * 20));
    const out = run(t, encodeTone(PCMU, { count: 12, seq: 1, ts: 0 }), arrivals, 400).slice(0, 12);
    assert.equal(t.stats().dtxGaps >= 1, true, 'its step was a gap');
    assert.equal(t.stats().dropped, 1, 'the late packet');
    out.forEach((s, i) => assert.equal(s.ts, i * 160, 'one packet per 20 ms of timeline'));
    assert.ok(t.stats().dtxShifts >= 1);
  });

  it('a flood beyond the room of the buffer is counted as dropped, and malformed packets as errors; nothing crashes', function () {
    const t = bufferedTranscoder({ dtxBufferPackets: 1000, dtxLagMs: 60000 });
    const flood = encodeTone(PCMU, { count: 600, seq: 1, ts: 0 });
    for (const p of flood) assert.deepEqual(t.input(p, 0), []);
    const room = Math.min(512, Math.floor(65536 / flood[0].length));
    assert.equal(t.stats().dropped, 600 - room, 'at most 512 packets or 64 KB wait');
    assert.deepEqual(t.input(Buffer.from([0x80, 0x00, 0x00]), 1), []);
    assert.equal(t.stats().errors, 1);
    let sent = 0;
    for (let now = 0; now <= 200; now++) sent += t.tick(now).length;
    assert.equal(sent, 8, 'released at the pace from 60 ms');
    assert.equal(t.stats().dropped, 600 - room, 'each drop counted once');
  });

  it('after the input stops, gaps are filled at the pace until --max-dtx, then nothing', function () {
    const t = bufferedTranscoder({ maxDtxMs: 200 });
    const out = run(t, encodeTone(PCMU, { count: 5, seq: 1, ts: 0 }), [0, 20, 40, 60, 80], 1000);
    // Released at 60-140; filled at 160-260 (the last step starts 180 ms after the last arrival).
    assert.deepEqual(out.map((s) => s.at), [60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 260]);
    out.forEach((s, i) => assert.equal(s.ts, i * 160));
    assert.equal(t.stats().dtxGaps, 7, 'six filled steps, and the one at 280 that stops the timer');
  });
});
