// The media engine transcodes: a stream with a codec route decodes what its
// peer sends and re-encodes it for the sink's peer, on the engine thread. A
// tone is encoded here with the stand-alone Transcoder, sent as real RTP over
// UDP on 127.0.0.1 to the engine, and what arrives on the other side is
// checked as an RTP stream (payload type, one SSRC, continuous sequence,
// timestamps in the output clock) and decoded back to check frequency and
// level. The Transcoder's gap logic follows RTP timestamps, not arrival
// times, so packets are sent faster than real time (comfort noise, which
// follows the clock, is sent in real time).

import { strict as assert } from 'assert';
import { CodecRoute, EngineError, MediaEngine } from '../../src/media/engine';
import { NegotiatedCodec } from '../../src/codec/table';
import { buildRtp, buildRtcpRr, parseRtp } from '../helpers/rtp';
import {
  HOST, SSRC, sleep, spec, pcmRate, requireCodec, encodeTone, decode, assertTone, rebuild, rtpOf, assertStream,
} from '../helpers/codec-audio';
import { channel, db, rms } from '../helpers/audio';
import { assertOnePress, encodeBlocks, events, keyBlocks, keyPress, toneBlocks } from '../helpers/dtmf';
import { collect, EngineCall, EngineCalls, route, sendAll, streamConfig } from '../helpers/engine-calls';

describe('media engine: transcoding', function () {
  this.timeout(20000);
  const calls = new EngineCalls(44600, 44999);
  let engine: MediaEngine;
  const call = (codecs: CodecRoute | null): Promise<EngineCall> => calls.call(codecs);

  beforeEach(function () {
    calls.setUp();
    engine = calls.engine;
  });

  afterEach(async function () {
    await calls.tearDown();
  });

  // ------------------------------------------------------------ codec pairs

  interface PairCase {
    from: [string, number, Partial<NegotiatedCodec>?];
    to: [string, number, Partial<NegotiatedCodec>?];
    lossy?: boolean;
    /** Output channels to decode and check (opus stereo=1). */
    channels?: number;
  }
  const pairs: PairCase[] = [
    { from: ['PCMA', 8], to: ['PCMU', 0] },
    { from: ['PCMU', 0], to: ['PCMA', 8] },
    { from: ['PCMA', 8], to: ['G722', 9] },
    { from: ['G722', 9], to: ['PCMA', 8] },
    { from: ['PCMU', 0], to: ['G729', 18], lossy: true },
    { from: ['G729', 18], to: ['PCMU', 0], lossy: true },
    { from: ['PCMA', 8], to: ['opus', 111], lossy: true },
    { from: ['PCMA', 8], to: ['opus', 111, { fmtp: 'stereo=1;useinbandfec=1' }], lossy: true, channels: 2 },
    { from: ['opus', 111], to: ['PCMA', 8], lossy: true },
    { from: ['PCMA', 8], to: ['AMR-WB', 98], lossy: true },
    { from: ['PCMU', 0], to: ['GSM', 3], lossy: true },
    { from: ['PCMA', 8], to: ['speex', 97], lossy: true },
    { from: ['G722', 9], to: ['opus', 111], lossy: true },
    { from: ['opus', 111], to: ['G722', 9], lossy: true },
  ];
  for (const c of pairs) {
    const [inName, inPt, inExtra] = c.from;
    const [outName, outPt, outExtra] = c.to;
    const label = `${inName} -> ${outName}${outExtra?.fmtp ? ` (${outExtra.fmtp})` : ''}`;
    it(`${label}: the tone arrives in ${outName}, one RTP stream in the output clock`, async function () {
      requireCodec(inName);
      requireCodec(outName);
      const inSpec = spec(inName, inPt, inExtra);
      const outSpec = spec(outName, outPt, outExtra);
      const { A, B, a } = await call(route([inSpec], outSpec));
      const sent = encodeTone(inSpec, { count: 100 });
      assert.ok(sent.length >= 99, `${sent.length} ${inName} packets to send`);
      await sendAll(A, a.port, sent);
      // Two seconds of input; a resampler or codec delay may hold back one packet.
      const ps = rtpOf(await collect(B, 98));
      assert.ok(ps.length >= 98 && ps.length <= 100, `${ps.length} packets`);
      assertStream(ps, { pt: outPt, tsStep: (outSpec.ptime * outSpec.clockRate) / 1000 });
      if (outName === 'opus') {
        // The TOC byte's stereo flag (RFC 6716 3.1) says how it was encoded.
        const stereo = (c.channels ?? 1) === 2;
        assert.ok(ps.every((p) => ((p.payload[0] & 0x04) !== 0) === stereo), `opus packets are ${stereo ? 'stereo' : 'mono'}`);
      }
      const pcm = decode(outSpec, ps.map(rebuild), c.channels ?? 1);
      const rate = pcmRate(outSpec);
      const tol = c.lossy ? { purity: 0.75, tolDb: 4 } : {};
      if ((c.channels ?? 1) === 2) {
        assertTone(channel(pcm, 2, 0), rate, tol);
        assertTone(channel(pcm, 2, 1), rate, tol);
      } else {
        assertTone(pcm, rate, tol);
      }
      const st = engine.stats(a.id);
      assert.equal(st.transcoded, true);
      assert.equal(st.packets, sent.length);
      assert.equal(st.dropped, 0);
      assert.equal(st.transcodeErrors, 0);
      assert.ok(st.framesDecoded >= sent.length, `${st.framesDecoded} frames decoded`);
      assert.ok(st.framesEncoded >= ps.length, `${st.framesEncoded} frames encoded`);
      assert.equal(st.payloadType, inPt);
    });
  }

  // ------------------------------------------------------ repacketization

  for (const ptime of [30, 60]) {
    it(`PCMA 20 ms -> PCMA ${ptime} ms: repacketized, timestamps by ${ptime * 8}`, async function () {
      const inSpec = spec('PCMA', 8);
      const outSpec = spec('PCMA', 8, { ptime });
      const { A, B, a, b } = await call(route([inSpec], outSpec));
      await sendAll(A, a.port, encodeTone(inSpec, { count: 120 }));
      const expected = (120 * 20) / ptime;
      const ps = rtpOf(await collect(B, expected));
      assert.equal(ps.length, expected);
      assertStream(ps, { pt: 8, tsStep: ptime * 8 });
      assert.ok(ps.every((p) => p.payload.length === ptime * 8), 'payload of one packet');
      assertTone(decode(outSpec, ps.map(rebuild)), 8000);
      assert.equal(engine.stats(b.id).packetsOut, expected, 'counted as sent by the sink stream');
    });
  }

  // ------------------------------------------- one output stream, whatever comes in

  it('passthrough packets get their payload type rewritten and the transcoded stream\'s SSRC, sequence and timeline', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('PCMU', 0), { passthrough: [{ pt: 101, outPt: 96 }] }));
    // Ten packets from one source, then a new source with its own timeline
    // (the output goes on with the first one's SSRC and timeline).
    const NEW_SSRC = 0x0badcafe;
    const audio = [
      ...encodeTone(spec('PCMA', 8), { count: 10, ssrc: SSRC, seq: 7000, ts: 3000 }),
      ...encodeTone(spec('PCMA', 8), { count: 50, ssrc: NEW_SSRC, seq: 20000, ts: 4000000000, first: 10 }),
    ];
    const eventTs = parseRtp(audio[20])!.ts;
    // An RFC 4733 event during packets 20..25, interleaved with the audio.
    const packets: Buffer[] = [];
    audio.forEach((p, i) => {
      packets.push(p);
      if (i >= 20 && i < 26) {
        const payload = Buffer.from([5, 10, 0, 0]);
        payload.writeUInt16BE((i - 19) * 160, 2);
        packets.push(buildRtp({ pt: 101, seq: 20000 + i, ts: eventTs, ssrc: NEW_SSRC, marker: i === 20, payload }));
      }
    });
    await sendAll(A, a.port, packets);
    const ps = rtpOf(await collect(B, 66));
    assert.equal(ps.length, 66);
    ps.forEach((p, i) => {
      assert.equal(p.ssrc, SSRC, `SSRC of packet ${i}`);
      if (i > 0) assert.equal(p.seq, (ps[i - 1].seq + 1) & 0xffff, `sequence number of packet ${i}`);
    });
    const events = ps.filter((p) => p.pt === 96);
    const pcmu = ps.filter((p) => p.pt === 0);
    assert.equal(events.length, 6);
    assert.equal(pcmu.length, 60);
    assert.ok(ps.every((p) => p.pt === 0 || p.pt === 96), 'no other payload type');
    pcmu.forEach((p, i) => {
      // (the new source's first packet has a marker: a talkspurt starts there)
      assert.equal(p.marker, i === 0 || i === 10, `marker of PCMU packet ${i}`);
      if (i > 0) assert.equal((p.ts - pcmu[i - 1].ts) >>> 0, 160, `timestamp step at PCMU packet ${i}`);
    });
    assert.notEqual(pcmu[20].ts, eventTs, 'the output timeline is not the new source\'s');
    // The event keeps its input timestamp's place among the audio, its payload and its marker.
    const audioTs = pcmu[20].ts;
    events.forEach((e, k) => {
      assert.equal(e.ts, audioTs, `event packet ${k} on the audio timeline`);
      assert.equal(e.marker, k === 0, `marker of event packet ${k}`);
      assert.equal(e.payload.readUInt16BE(2), (k + 1) * 160, 'event payload unchanged');
    });
    // In arrival order each event packet follows its audio packet.
    assert.equal(ps.findIndex((p) => p.pt === 96), 21);
    assert.equal(engine.stats(a.id).dropped, 0);
  });

  it('a codec change of the input keeps one output stream: same SSRC, continuous sequence and timestamps', async function () {
    requireCodec('G722');
    const { A, B, a } = await call(route([spec('PCMA', 8), spec('G722', 9)], spec('PCMU', 0)));
    const first = encodeTone(spec('PCMA', 8), { count: 60, seq: 100, ts: 8000, freq: 1000 });
    // The sender starts a new timeline with the new codec (same SSRC).
    const second = encodeTone(spec('G722', 9), { count: 60, seq: 160, ts: 3000000000, freq: 440 });
    await sendAll(A, a.port, [...first, ...second]);
    const ps = rtpOf(await collect(B, 118));
    assert.ok(ps.length >= 118 && ps.length <= 120, `${ps.length} packets`);
    // The first G722 packet starts a talkspurt of the new Transcoder: a marker, nothing else.
    const switchAt = ps.findIndex((p, i) => i > 0 && p.marker);
    assert.ok(switchAt >= 59 && switchAt <= 61, `marker at ${switchAt}`);
    assertStream(ps, { pt: 0, tsStep: 160, markers: [0, switchAt], ssrc: SSRC });
    const pcm = decode(spec('PCMU', 0), ps.map(rebuild));
    assertTone(pcm, 8000, { freq: 1000, from: 0.2, seconds: 0.8 });
    assertTone(pcm, 8000, { freq: 440, from: 1.4, seconds: 0.8, purity: 0.85 });
    assert.equal(engine.stats(a.id).transcodeErrors, 0);
  });

  it('garbage payloads are counted as transcode errors and the stream recovers with the next good packet', async function () {
    requireCodec('G729');
    const g729 = spec('G729', 18);
    const { A, B, a } = await call(route([g729], spec('PCMU', 0)));
    const good = encodeTone(g729, { count: 90, seq: 1, ts: 0 });
    const packets = good.map((p, i) => {
      if (i < 10 || i >= 18) return p;
      // Eight payloads no G.729 packet has (not 10-byte frames with an optional 2-byte SID).
      const len = [1, 3, 7, 13, 33, 61, 5, 3][i - 10];
      const q = parseRtp(p)!;
      return buildRtp({ pt: q.pt, seq: q.seq, ts: q.ts, ssrc: q.ssrc, payload: Buffer.alloc(len, 0x5a + i) });
    });
    await sendAll(A, a.port, packets);
    const ps = rtpOf(await collect(B, 90));
    assert.equal(ps.length, 90, 'the bad packets\' time is concealed');
    assertStream(ps, { pt: 0, tsStep: 160, ssrc: SSRC });
    const st = engine.stats(a.id);
    assert.equal(st.transcodeErrors, 8);
    assert.equal(st.packets, 90);
    assertTone(decode(spec('PCMU', 0), ps.slice(20).map(rebuild)), 8000, { from: 0.1, purity: 0.75, tolDb: 4 });
  });

  it('configuring the same route again keeps the Transcoder: no new talkspurt, no lost partial packet', async function () {
    const inSpec = spec('PCMA', 8);
    const outSpec = spec('PCMA', 8, { ptime: 30 });
    const { A, B, a, aCfg } = await call(route([inSpec], outSpec));
    const packets = encodeTone(inSpec, { count: 90 });
    await sendAll(A, a.port, packets.slice(0, 46));
    await B.waitFor(30, 3000);
    // Re-signalling: an equal route built anew, as the control plane would.
    engine.configure(a.id, { ...aCfg, codecs: route([spec('PCMA', 8)], spec('PCMA', 8, { ptime: 30 })) });
    await sendAll(A, a.port, packets.slice(46));
    const ps = rtpOf(await collect(B, 60));
    assert.equal(ps.length, 60);
    assertStream(ps, { pt: 8, tsStep: 240, markers: [0] });
    assertTone(decode(outSpec, ps.map(rebuild)), 8000);
  });

  it('a changed route replaces the Transcoders: the output stream continues, with a marker at the change', async function () {
    requireCodec('G722');
    const inputs = [spec('PCMA', 8), spec('G722', 9)];
    const { A, B, a, aCfg } = await call(route(inputs, spec('PCMU', 0)));
    // PCMA, then G722 on another timeline: the output timeline is no longer the input's.
    const pcma = encodeTone(spec('PCMA', 8), { count: 20, seq: 1, ts: 160000 });
    const g722 = encodeTone(spec('G722', 9), { count: 40, seq: 21, ts: 2000000000, first: 20 });
    await sendAll(A, a.port, [...pcma, ...g722.slice(0, 20)]);
    await B.waitFor(39, 3000);
    engine.configure(a.id, { ...aCfg, codecs: route(inputs, spec('PCMA', 8)) });
    await sendAll(A, a.port, g722.slice(20));
    const ps = rtpOf(await collect(B, 58));
    assert.ok(ps.length >= 58 && ps.length <= 60, `${ps.length} packets`);
    const changeAt = ps.findIndex((p) => p.pt === 8);
    assert.ok(changeAt >= 38 && changeAt <= 40, `PCMA from packet ${changeAt}`);
    assert.ok(ps.slice(changeAt).every((p) => p.pt === 8), 'PCMA after the change');
    const switchAt = ps.findIndex((p, i) => i > 0 && p.marker);
    assert.ok(switchAt >= 19 && switchAt <= 21, `marker at ${switchAt}`);
    ps.forEach((p, i) => {
      assert.equal(p.ssrc, SSRC, `SSRC of packet ${i}`);
      assert.equal(p.marker, i === 0 || i === switchAt || i === changeAt, `marker of packet ${i}`);
      if (i > 0) {
        assert.equal(p.seq, (ps[i - 1].seq + 1) & 0xffff, `sequence number of packet ${i}`);
        assert.equal((p.ts - ps[i - 1].ts) >>> 0, 160, `timestamp step at packet ${i}`);
      }
    });
  });

  it('back to plain relaying the sender\'s numbering goes out again, and a later route starts from it', async function () {
    const { A, B, a, aCfg } = await call(route([spec('PCMA', 8)], spec('PCMU', 0)));
    const packets = encodeTone(spec('PCMA', 8), { count: 15, seq: 100, ts: 0 });
    await sendAll(A, a.port, packets.slice(0, 5));
    await B.waitFor(5, 3000);
    engine.configure(a.id, { ...aCfg, codecs: null });
    await sendAll(A, a.port, packets.slice(5, 10));
    await B.waitFor(10, 3000);
    engine.configure(a.id, { ...aCfg, codecs: route([spec('PCMA', 8)], spec('PCMU', 0)) });
    await sendAll(A, a.port, packets.slice(10));
    const ps = rtpOf(await collect(B, 15));
    // (A route that kept counting from its previous packets would send 105.. again.)
    assert.deepEqual(ps.map((p) => p.seq), Array.from({ length: 15 }, (_, i) => 100 + i));
    assert.deepEqual(ps.map((p) => p.pt), [0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 0, 0, 0, 0, 0]);
    assert.ok(ps.every((p) => p.ssrc === SSRC));
  });

  // ------------------------------------------------------------ dispatch

  it('payload types the route has no entry for are dropped and counted', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('PCMU', 0), { passthrough: [{ pt: 101, outPt: 101 }] }));
    for (let i = 0; i < 5; i++) await A.sendRtp({ address: HOST, port: a.port }, { pt: 99, seq: i, ts: i * 160, ssrc: SSRC });
    const good = encodeTone(spec('PCMA', 8), { count: 5, seq: 5, ts: 800 });
    await sendAll(A, a.port, good);
    const ps = rtpOf(await collect(B, 5));
    assert.equal(ps.length, 5);
    assert.ok(ps.every((p) => p.pt === 0));
    const st = engine.stats(a.id);
    assert.equal(st.packets, 10);
    assert.equal(st.dropped, 5);
  });

  it('RTCP is forwarded unchanged by a stream that transcodes', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('PCMU', 0)));
    const rr = buildRtcpRr(SSRC, [{ ssrc: 0x01020304, fractionLost: 3, highestSeq: 77 }]);
    await A.send({ address: HOST, port: a.port }, rr);
    const [got] = await B.waitFor(1, 3000);
    assert.deepEqual(got.data, rr);
  });

  it('without a route (codecs null) packets are relayed unchanged and the stream is not transcoded', async function () {
    const { A, B, a } = await call(null);
    const p = buildRtp({ pt: 8, seq: 9, ts: 1234, ssrc: SSRC, marker: true });
    await A.send({ address: HOST, port: a.port }, p);
    const [got] = await B.waitFor(1, 3000);
    assert.deepEqual(got.data, p);
    const st = engine.stats(a.id);
    assert.equal(st.transcoded, false);
    assert.equal(st.framesDecoded, 0);
  });

  it('a route that only renumbers payload types is not transcoding and keeps the input timeline', async function () {
    const { A, B, a } = await call(route([], null, { passthrough: [{ pt: 8, outPt: 8 }, { pt: 101, outPt: 100 }] }));
    await A.sendRtp({ address: HOST, port: a.port }, { pt: 8, seq: 40, ts: 1600, ssrc: SSRC });
    await A.sendRtp({ address: HOST, port: a.port }, { pt: 101, seq: 41, ts: 1760, ssrc: SSRC, marker: true, payload: Buffer.from([1, 0, 0, 160]) });
    await A.sendRtp({ address: HOST, port: a.port }, { pt: 8, seq: 43, ts: 2080, ssrc: SSRC });
    const ps = rtpOf(await B.waitFor(3, 3000));
    assert.deepEqual(ps.map((p) => [p.pt, p.seq, p.ts, p.marker]), [[8, 40, 1600, false], [100, 41, 1760, true], [8, 42, 2080, false]]);
    assert.equal(engine.stats(a.id).transcoded, false);
  });

  it('an unusable codec spec throws EINVAL naming the codec and leaves the stream as it was', async function () {
    const { a, aCfg } = await call(route([spec('PCMA', 8)], spec('PCMU', 0)));
    const tries: [CodecRoute, RegExp][] = [
      [route([spec('PCMA', 8)], spec('iLBC', 97)), /iLBC/],
      [route([spec('PCMA', 8)], { ...spec('G729', 18), ptime: 25 }), /G729/],
      [route([spec('PCMA', 8)], null), /output codec/],
      [route([spec('PCMA', 8)], spec('PCMU', 0), { passthrough: [{ pt: 8, outPt: 8 }] }), /payload type 8/],
    ];
    for (const [bad, msg] of tries) {
      assert.throws(
        () => engine.configure(a.id, { ...aCfg, codecs: bad }),
        (e: unknown) => e instanceof EngineError && e.code === 'EINVAL' && msg.test(e.message),
      );
    }
    assert.equal(engine.stats(a.id).transcoded, true, 'the previous route is kept');
  });

  // ------------------------------------------------------------ DTX

  it('after a CN packet the engine keeps comfort noise flowing for maxDtxMs (tick)', async function () {
    const { A, B, a } = await call(route([spec('PCMU', 0)], spec('PCMA', 8), { inCnPt: 13, dtxDelayMs: 40, maxDtxMs: 200 }));
    const audio = encodeTone(spec('PCMU', 0), { count: 10, seq: 1, ts: 0 });
    await sendAll(A, a.port, audio);
    await B.waitFor(10, 3000);
    await A.sendRtp({ address: HOST, port: a.port }, { pt: 13, seq: 11, ts: 1600, ssrc: SSRC, payload: Buffer.from([40]) });
    // 40 ms of delay, then 200 ms of noise in 20 ms packets; then nothing more.
    await sleep(600);
    const ps = rtpOf(B.packets());
    assert.equal(ps.length, 20, `${ps.length} packets: 10 of audio, 10 of comfort noise`);
    assertStream(ps, { pt: 8, tsStep: 160, ssrc: SSRC });
    const noise = decode(spec('PCMA', 8), ps.slice(10).map(rebuild));
    const expected = 32767 * 10 ** (-40 / 20);
    assert.ok(Math.abs(db(rms(noise) / expected)) < 3, `noise RMS ${rms(noise).toFixed(1)}, expected ${expected.toFixed(1)}`);
    // The noise arrived paced by the engine's clock (180 ms nominal), not in one
    // burst; a loaded machine may delay a tick and catch up with the next.
    const arrivals = B.packets().slice(10).map((r) => r.at);
    assert.ok(arrivals[9] - arrivals[0] >= 90, `noise spread over ${arrivals[9] - arrivals[0]} ms`);
  });

  // ------------------------------------------------------------ DTMF

  const pcmaSilence = (seq: number, ts: number): Buffer => buildRtp({ pt: 8, seq, ts, ssrc: SSRC });

  it('telephone-event towards a G722 peer without it is played as in-band tones (16 kHz audio, 8000 Hz clock)', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('G722', 9), { events: [{ pt: 101, outPt: -1, clockRate: 8000, outClockRate: 8000 }] }));
    const press = keyPress({ audio: pcmaSilence, tsStep: 160, evPt: 101, evStep: 160, event: 5, steps: 15, before: 20, after: 20 });
    await sendAll(A, a.port, press.packets);
    const ps = rtpOf(await collect(B, 50));
    assert.ok(ps.every((p) => p.pt === 9), 'only G722 arrives');
    assert.equal(ps.length, 55, 'one packet per 20 ms: the tone stands in for the event packets');
    for (let i = 1; i < ps.length; i++) assert.equal(ps[i].ts, (ps[i - 1].ts + 160) >>> 0, `timestamp of packet ${i}`);
    const pcm = decode(spec('G722', 9), ps.map(rebuild));
    const tone = toneBlocks(pcm, '5', 16000);
    assert.ok(tone >= 13 && tone <= 17, `the 300 ms key press sounds in ${tone} blocks of 20 ms`);
    assert.equal(toneBlocks(pcm, '9', 16000), 0, 'no other key sounds');
    assert.equal(engine.stats(a.id).transcodeErrors, 0);
  });

  it('a digit in G722 input is detected and sent as telephone-event/8000 with the audio it covers left out', async function () {
    const { A, B, a } = await call(route([spec('G722', 9)], spec('PCMA', 8), { outEventPt: 101, outEventClock: 8000 }));
    const blocks = [...keyBlocks(null, 20, 16000), ...keyBlocks('9', 15, 16000), ...keyBlocks(null, 20, 16000)];
    await sendAll(A, a.port, encodeBlocks(spec('G722', 9), blocks, 500, 40000));
    const ps = rtpOf(await collect(B, 45));
    const evs = events(ps, 101);
    assertOnePress(evs, 9);
    const last = evs[evs.length - 1].duration;
    assert.ok(last >= 1600 && last <= 2800, `the event lasts ${last} (the tone: 2400)`);
    const audio = ps.filter((p) => p.pt === 8);
    assert.equal(audio.filter((p) => ((p.ts - evs[0].ts) | 0) >= 0 && ((p.ts - evs[0].ts) | 0) < last).length, 0, 'no audio during the event');
    for (let i = 1; i < ps.length; i++) assert.equal(ps[i].seq, (ps[i - 1].seq + 1) & 0xffff, `sequence number of packet ${i}`);
  });

  it('with suppressDtmf false the detected digit\'s audio is sent beside its events', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('PCMU', 0), { outEventPt: 101, outEventClock: 8000, suppressDtmf: false }));
    const blocks = [...keyBlocks(null, 10), ...keyBlocks('1', 15), ...keyBlocks(null, 10)];
    await sendAll(A, a.port, encodeBlocks(spec('PCMA', 8), blocks, 500, 40000));
    const ps = rtpOf(await collect(B, 40));
    assertOnePress(events(ps, 101), 1);
    assert.equal(ps.filter((p) => p.pt === 0).length, 35, 'every audio packet is sent');
  });

  it('a telephone-event packet too short for an event is counted as a transcode error, the stream goes on', async function () {
    const { A, B, a } = await call(route([spec('PCMA', 8)], spec('PCMU', 0), { events: [{ pt: 101, outPt: 100, clockRate: 8000, outClockRate: 8000 }] }));
    const packets = [pcmaSilence(1, 0), buildRtp({ pt: 101, seq: 2, ts: 160, ssrc: SSRC, payload: Buffer.from([5, 10]) }), pcmaSilence(3, 160), pcmaSilence(4, 320)];
    await sendAll(A, a.port, packets);
    const ps = rtpOf(await collect(B, 3));
    assert.deepEqual(ps.map((p) => p.pt), [0, 0, 0]);
    assert.equal(engine.stats(a.id).transcodeErrors, 1);
  });

  it('telephone-event played as tones without a transcoded codec is refused with EINVAL', function () {
    const s = calls.openStream();
    assert.throws(() => engine.configure(s.id, streamConfig({ codecs: route([], null, { events: [{ pt: 101, outPt: -1, clockRate: 8000, outClockRate: 8000 }] }) })),
      (err: unknown) => err instanceof EngineError && err.code === 'EINVAL' && /tones/.test(err.message));
  });
});
