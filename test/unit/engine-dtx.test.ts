// Discontinuous transmission in the media engine, as the receiving peer sees
// it: the DTX buffer (--dtx-delay with --dtx-buffer, --dtx-lag, --dtx-shift)
// re-times jittery input to a steady packet pace and fills gaps, with silence
// or with the comfort noise of --dtx-cn-params; silence towards a CN peer
// goes out as the --cn-payload bytes; AMR SID frames give the decoder's own
// comfort noise (--amr-dtx=native) or the --dtx-cn-params noise (--amr-dtx=CN).
// Real UDP on 127.0.0.1, packets sent in real time (the buffer follows the
// clock), what arrives decoded and measured.

import { strict as assert } from 'assert';
import type { CodecRoute } from '../../src/media/engine';
import { buildRtp, Received, RtpPeer } from '../helpers/rtp';
import { HOST, SSRC, sleep, spec, encodeTone, decode, assertTone, rebuild, rtpOf, assertStream, amrSid } from '../helpers/codec-audio';
import { db, rms } from '../helpers/audio';
import { EngineCalls, route } from '../helpers/engine-calls';

/**
 * The RMS of the gap noise for a --dtx-cn-params level: as the reference
 * measures, 6 dB below the RFC 3389 level (full-scale RMS 32767 at 0 dBov).
 */
function dtxNoiseRms(level: number): number {
  return (32767 * 10 ** (-level / 20)) / 2;
}

const PCMU = spec('PCMU', 0);
const PCMA = spec('PCMA', 8);
const AMR = spec('AMR', 96, { fmtp: 'octet-align=1' });

/**
 * A PCMU to PCMA route with the DTX buffer on (the reference's defaults) and
 * `over` on top. Filling stops 400 ms after the last packet (--max-dtx).
 */
function buffered(over: Partial<CodecRoute> = {}): CodecRoute {
  return route([PCMU], PCMA, {
    dtxDelayMs: 60, maxDtxMs: 400, dtxBuffered: true, dtxBufferPackets: 10, dtxLagMs: 100, dtxShiftMs: 5, ...over,
  });
}

/** Sends packets at the given times (ms after the first), in order. */
async function sendAt(from: RtpPeer, port: number, packets: Buffer[], times: number[]): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < packets.length; i++) {
    const wait = t0 + times[i] - Date.now();
    if (wait > 0) await sleep(wait);
    await from.send({ address: HOST, port }, packets[i]);
  }
}

/** Gaps between arrivals, ms. */
function intervals(rs: Received[]): number[] {
  return rs.slice(1).map((r, i) => r.at - rs[i].at);
}

function share(xs: number[], lo: number, hi: number): number {
  return xs.filter((x) => x >= lo && x <= hi).length / xs.length;
}

/** Waits until nothing arrives for quietMs; returns everything received. */
async function settle(peer: RtpPeer, quietMs = 300): Promise<Received[]> {
  while ((await peer.countDuring(quietMs)) > 0);
  return peer.packets();
}

describe('media engine: DTX buffer, comfort noise and silence', function () {
  this.timeout(20000);
  const calls = new EngineCalls(45200, 45399);

  beforeEach(function () {
    calls.setUp();
  });

  afterEach(async function () {
    await calls.tearDown();
  });

  it('--dtx-delay: jittery input leaves the engine at a steady 20 ms pace, complete and in order', async function () {
    const { A, B, a } = await calls.call(buffered());
    const audio = encodeTone(PCMU, { count: 50, seq: 1, ts: 0 });
    // Up to 30 ms of jitter (less than the 60 ms delay), in order.
    let seed = 7;
    const times: number[] = [];
    for (let i = 0; i < audio.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      times.push(Math.max(times[i - 1] ?? 0, i * 20 + (seed >>> 16) % 31));
    }
    await sendAt(A, a.port, audio, times);
    const all = await settle(B);
    const got = all.slice(0, 50);
    const ps = rtpOf(got);
    assert.equal(ps.length, 50, 'every packet comes out once');
    assert.ok(rms(decode(PCMA, rtpOf(all.slice(50)).map(rebuild))) < 20, 'then silence until --max-dtx');
    assertStream(ps, { pt: 8, tsStep: 160, ssrc: SSRC });
    assertTone(decode(PCMA, ps.map(rebuild)), 8000, { from: 0.1, seconds: 0.8 });
    const sent = times.slice(1).map((t, i) => t - times[i]);
    const out = intervals(got);
    const steadyIn = share(sent, 14, 26);
    const steadyOut = share(out, 14, 26);
    assert.ok(steadyIn < 0.5, `the input is jittery (${(steadyIn * 100).toFixed(0)} % of gaps near 20 ms)`);
    assert.ok(steadyOut >= 0.85, `output gaps near 20 ms: ${(steadyOut * 100).toFixed(0)} % (${out.join(' ')})`);
  });

  for (const cnParams of [undefined, [40]]) {
    const what = cnParams ? 'comfort noise at the --dtx-cn-params level (40)' : 'silence';
    it(`--dtx-delay: a gap in the input is filled at the pace with ${what}`, async function () {
      const { A, B, a } = await calls.call(buffered({ dtxCnParams: cnParams }));
      const audio = encodeTone(PCMU, { count: 30, seq: 1, ts: 0 });
      // Packets 10-19 never come (no CN either): 200 ms of nothing.
      const sent = [...audio.slice(0, 10), ...audio.slice(20)];
      const times = sent.map((_, i) => (i < 10 ? i * 20 : (i + 10) * 20));
      await sendAt(A, a.port, sent, times);
      const got = (await settle(B)).slice(0, 30);
      const ps = rtpOf(got);
      assert.equal(ps.length, 30, `${ps.length} packets: 20 of audio and 10 filled`);
      assertTone(decode(PCMA, ps.slice(20).map(rebuild)), 8000, { from: 0.02, seconds: 0.15 });
      assertStream(ps, { pt: 8, tsStep: 160, ssrc: SSRC });
      const filled = decode(PCMA, ps.slice(11, 19).map(rebuild));
      if (cnParams) {
        const expected = dtxNoiseRms(40);
        assert.ok(Math.abs(db(rms(filled) / expected)) < 3, `noise RMS ${rms(filled).toFixed(1)}, expected ${expected.toFixed(1)}`);
      } else {
        assert.ok(rms(filled) < 20, `silence: RMS ${rms(filled).toFixed(1)}`);
      }
      const gapArrivals = intervals(got.slice(9, 22));
      assert.ok(share(gapArrivals, 12, 28) >= 0.8, `filled packets paced at 20 ms: ${gapArrivals.join(' ')}`);
    });
  }

  it('--max-dtx: after the input stops, filling goes on at the pace for max-dtx, then stops', async function () {
    const { A, B, a } = await calls.call(buffered({ maxDtxMs: 300 }));
    const audio = encodeTone(PCMU, { count: 10, seq: 1, ts: 0 });
    await sendAt(A, a.port, audio, audio.map((_, i) => i * 20));
    await sleep(700);
    const got = B.packets();
    const extra = got.length - 10;
    // Released 60 ms behind the input, filled until 300 ms after the last packet arrived.
    assert.ok(extra >= 9 && extra <= 14, `${extra} filled packets after the input stopped`);
    assertStream(rtpOf(got), { pt: 8, tsStep: 160, ssrc: SSRC });
    assert.equal(await B.countDuring(200), 0, 'and then nothing');
  });

  it('--dtx-shift: a burst that overflows the buffer speeds the timer up; nothing is lost', async function () {
    const { A, B, a } = await calls.call(buffered());
    const audio = encodeTone(PCMU, { count: 40, seq: 1, ts: 0 });
    await sendAt(A, a.port, audio, audio.map(() => 0));
    const got = (await settle(B)).slice(0, 40);
    assert.equal(got.length, 40);
    assertTone(decode(PCMA, rtpOf(got).map(rebuild)), 8000, { from: 0.1, seconds: 0.6 });
    assertStream(rtpOf(got), { pt: 8, tsStep: 160, ssrc: SSRC });
    // 30 steps 5 ms early while 10 packets and 100 ms wait, then 9 at 20 ms: about 630 ms instead of 780.
    const span = got[39].at - got[0].at;
    assert.ok(span >= 540 && span <= 720, `40 packets over ${span} ms`);
    assert.equal(calls.engine.stats(a.id).dropped, 0);
  });

  it('--dtx-shift=0: a burst that overflows the buffer is cut down to the buffer, the rest counted as dropped', async function () {
    const { A, B, a } = await calls.call(buffered({ dtxShiftMs: 0 }));
    const audio = encodeTone(PCMU, { count: 40, seq: 1, ts: 0 });
    await sendAt(A, a.port, audio, audio.map(() => 0));
    const all = rtpOf(await settle(B));
    // The tone, then silence (filling until --max-dtx).
    const tone = all.findIndex((p, i) => i > 0 && rms(decode(PCMA, [rebuild(p)])) < 20);
    assert.equal(tone, 10, 'the packets released once fewer than 10 wait');
    assertStream(all, { pt: 8, tsStep: 160, ssrc: SSRC });
    const out = intervals(B.packets().slice(0, 10));
    assert.ok(share(out, 14, 26) >= 0.75, `at the pace: ${out.join(' ')}`);
    assert.equal(calls.engine.stats(a.id).dropped, 30);
  });

  it('--dtx-delay with telephone-event passthrough: events go out at once, the audio timeline stays continuous', async function () {
    const { A, B, a } = await calls.call(buffered({ passthrough: [{ pt: 101, outPt: 101 }] }));
    const audio = encodeTone(PCMU, { count: 40, seq: 1, ts: 0 });
    // An event (digit 5) during packets 10-19: one event packet after each audio packet.
    const packets: Buffer[] = [];
    const times: number[] = [];
    audio.forEach((p, i) => {
      packets.push(p);
      times.push(i * 20);
      if (i >= 10 && i < 20) {
        const end = i === 19 ? 0x80 : 0;
        const duration = (i - 9) * 160;
        packets.push(buildRtp({ pt: 101, seq: 1000 + i, ts: 1600, ssrc: SSRC, marker: i === 10,
          payload: Buffer.from([5, end | 10, duration >> 8, duration & 0xff]) }));
        times.push(i * 20 + 1);
      }
    });
    await sendAt(A, a.port, packets, times);
    const got = rtpOf(await settle(B));
    const pcma = got.filter((p) => p.pt === 8).slice(0, 40);
    const events = got.filter((p) => p.pt === 101);
    assert.equal(events.length, 10, 'every event packet');
    assert.equal(pcma.length, 40, 'every audio packet');
    pcma.forEach((p, i) => assert.equal((p.ts - pcma[0].ts) >>> 0, i * 160, `audio timestamp of packet ${i}`));
    assertTone(decode(PCMA, pcma.map(rebuild)), 8000, { from: 0.1, seconds: 0.6 });
    // The event carries the output timestamp of audio packet 10.
    for (const e of events) assert.equal((e.ts - pcma[0].ts) >>> 0, 1600, 'event timestamp on the audio timeline');
    // It leaves about --dtx-delay before the audio it belongs to.
    const first = got.indexOf(events[0]);
    assert.ok(first < got.indexOf(pcma[10]), 'the event goes out ahead of the buffered audio');
  });

  for (const cnPayload of [undefined, [20, 120, 130]]) {
    const expected = Buffer.from(cnPayload ?? [32]);
    it(`--silence-detect: silence towards a peer that takes CN goes out as the --cn-payload bytes (${expected.toString('hex')})`, async function () {
      const { A, B, a } = await calls.call(route([PCMU], PCMA, { outCnPt: 13, silenceDbov: 50, cnPayload }));
      const silent = Array.from({ length: 10 }, (_, i) =>
        buildRtp({ pt: 0, seq: 11 + i, ts: 1600 + i * 160, ssrc: SSRC, payload: Buffer.alloc(160, 0xff) }));
      const packets = [...encodeTone(PCMU, { count: 10, seq: 1, ts: 0 }), ...silent];
      await sendAt(A, a.port, packets, packets.map((_, i) => i * 5));
      const ps = rtpOf(await settle(B, 200));
      assert.equal(ps.length, 20);
      assert.ok(ps.slice(0, 10).every((p) => p.pt === 8), 'the tone as PCMA');
      const cn = ps.slice(10);
      assert.ok(cn.every((p) => p.pt === 13 && p.payload.equals(expected)), `CN packets with ${expected.toString('hex')}`);
      cn.forEach((p, i) => assert.equal((p.ts - ps[9].ts) >>> 0, (i + 1) * 160, 'on the timeline'));
    });
  }

  // ------------------------------------------------------------ AMR SID

  /** Sends 10 AMR tone packets and a SID, lets DTX run, returns the RMS of the audio after the tone. */
  async function afterSid(over: Partial<CodecRoute>, energy: number): Promise<number> {
    const { A, B, a } = await calls.call(route([AMR], PCMA, { dtxDelayMs: 40, maxDtxMs: 200, ...over }));
    const audio = encodeTone(AMR, { count: 10, seq: 1, ts: 0 });
    const sid = buildRtp({ pt: 96, seq: 11, ts: 1600, ssrc: SSRC, payload: amrSid(energy) });
    const packets = [...audio, sid];
    await sendAt(A, a.port, packets, packets.map((_, i) => i * 20));
    const ps = rtpOf(await settle(B));
    assert.ok(ps.length >= 18, `${ps.length} packets: 10 of audio, the SID's and comfort noise`);
    assertStream(ps, { pt: 8, tsStep: 160, ssrc: SSRC });
    return rms(decode(PCMA, ps.slice(11).map(rebuild)));
  }

  it('--amr-dtx=native: the decoder makes comfort noise from the SID frame, at the level it carries', async function () {
    const quiet = await afterSid({}, 40);
    const loud = await afterSid({}, 60);
    assert.ok(quiet > 50, `noise after a SID with energy index 40: RMS ${quiet.toFixed(1)}`);
    assert.ok(db(loud / quiet) > 15, `a higher SID energy gives louder noise (${quiet.toFixed(0)} -> ${loud.toFixed(0)})`);
  });

  it('--amr-dtx=CN: the SID frame and the gap after it get the --dtx-cn-params noise, whatever the SID says', async function () {
    const expected = dtxNoiseRms(30);
    for (const energy of [40, 60]) {
      const level = await afterSid({ amrDtxCn: true, dtxCnParams: [30] }, energy);
      assert.ok(Math.abs(db(level / expected)) < 3, `SID energy ${energy}: RMS ${level.toFixed(1)}, expected ${expected.toFixed(1)}`);
    }
  });

  it('--amr-dtx=CN without --dtx-cn-params keeps the decoder\'s comfort noise, as the reference does', async function () {
    const native = await afterSid({}, 60);
    const level = await afterSid({ amrDtxCn: true }, 60);
    assert.ok(Math.abs(db(level / native)) < 1, `RMS ${level.toFixed(1)}, native ${native.toFixed(1)}`);
  });

  it('a CN payload that is empty or too long is refused with EINVAL', async function () {
    const { a, aCfg } = await calls.call(null);
    for (const bad of [[], Array.from({ length: 256 }, () => 1), [300]]) {
      assert.throws(() => calls.engine.configure(a.id, { ...aCfg, codecs: route([PCMU], PCMA, { cnPayload: bad }) }),
        (e: unknown) => e instanceof Error && /cnPayload/.test(e.message));
    }
  });
});
