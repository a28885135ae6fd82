// DTMF through transcoding routes, driven like a proxy drives the daemon: offer
// and answer over ng, then real RTP between two UDP peers on 127.0.0.1 carrying
// speech-like packets and a key press, either as RFC 4733 telephone-event packets
// or as in-band tones. What each peer receives is checked as the phone would see
// it: the event's payload type, its one timestamp, the durations in the
// receiver's clock, the three end packets, one continuous sequence; or, for
// in-band tones, the two DTMF frequencies measured with a Goertzel filter
// independent of the daemon's spandsp.

import { strict as assert } from 'assert';
import { DaemonHandle, skipUnlessReference, startDaemon } from '../helpers/daemon';
import { buildSdp, mediaEndpoint, rtpmaps } from '../helpers/sdp';
import { buildRtp, Endpoint, parseRtp, RtpPacket, RtpPeer } from '../helpers/rtp';
import { decode, encodeTone, requireCodec, sleep, spec, SSRC } from '../helpers/codec-audio';
import { assertOnePress, encodeBlocks, events, keyBlocks, keyLevels, keyPress, toneBlocks } from '../helpers/dtmf';

const HOST = '127.0.0.1';
interface Media { formats: number[]; rtpmaps: string[] }

interface Call {
  a: RtpPeer;
  b: RtpPeer;
  /** Where each peer sends: the daemon's port in the SDP that peer received. */
  aTo: Endpoint;
  bTo: Endpoint;
  answerSdp: string;
  offerSdp: string;
}

let callSeq = 0;

async function call(d: DaemonHandle, offer: Media, answer: Media, offerFlags: Record<string, unknown>): Promise<Call> {
  const a = await RtpPeer.open(HOST);
  const b = await RtpPeer.open(HOST);
  const callId = `dtmf-${process.pid}-${++callSeq}`;
  const sdp = (port: number, m: Media): string =>
    buildSdp({ address: HOST, media: [{ port, formats: m.formats, attributes: m.rtpmaps, extraAttributes: ['sendrecv'] }] });
  const o = await d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(a.port, offer), ...offerFlags });
  assert.equal(o.result, 'ok', JSON.stringify(o));
  const r = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(b.port, answer) });
  assert.equal(r.result, 'ok', JSON.stringify(r));
  return { a, b, aTo: mediaEndpoint(String(r.sdp)), bTo: mediaEndpoint(String(o.sdp)), answerSdp: String(r.sdp), offerSdp: String(o.sdp) };
}

/** PCMA packets of silence (the test's "speech"). */
const pcmaSilence = (seq: number, ts: number): Buffer => buildRtp({ pt: 8, seq, ts, ssrc: SSRC });

/** Sends faster than real time (our transcoder follows RTP timestamps) unless paced (the reference schedules by the clock). */
async function sendAll(from: RtpPeer, to: Endpoint, packets: Buffer[], paceMs = 5): Promise<void> {
  for (const p of packets) {
    await from.send(to, p);
    await sleep(paceMs);
  }
  await sleep(paceMs > 5 ? 1000 : 300);
}

function rtp(peer: RtpPeer): RtpPacket[] {
  return peer.received.map((r) => r.rtp).filter((p): p is RtpPacket => p !== null);
}

/** Every packet that arrived is one stream: one SSRC, sequence numbers +1 each. */
function assertOneStream(ps: RtpPacket[]): void {
  assert.ok(ps.length > 1, 'packets arrived');
  for (let i = 1; i < ps.length; i++) {
    assert.equal(ps[i].ssrc, ps[0].ssrc, `SSRC of packet ${i}`);
    assert.equal(ps[i].seq, (ps[i - 1].seq + 1) & 0xffff, `sequence number of packet ${i} (pt ${ps[i].pt})`);
  }
}

const PCMA_TE: Media = { formats: [8, 101], rtpmaps: ['rtpmap:8 PCMA/8000', 'rtpmap:101 telephone-event/8000', 'fmtp:101 0-15'] };
const OPUS_TE48: Media = { formats: [96, 97], rtpmaps: ['rtpmap:96 opus/48000/2', 'rtpmap:97 telephone-event/48000', 'fmtp:97 0-15'] };

describe('DTMF through transcoding', function () {
  this.timeout(60000);
  const peers: RtpPeer[] = [];
  const daemons: DaemonHandle[] = [];
  let d: DaemonHandle;

  async function track(c: Call): Promise<Call> {
    peers.push(c.a, c.b);
    return c;
  }

  before(async function () {
    for (const c of ['PCMA', 'PCMU', 'opus']) requireCodec(c);
    d = await startDaemon();
    daemons.push(d);
  });

  after(async function () {
    for (const p of peers) await p.close();
    for (const x of daemons) await x.stop();
  });

  /** A PCMA+te/8000 caller pressing 5 towards an opus+te/48000 callee. */
  async function pcmaToOpus(daemon: DaemonHandle, paceMs = 5): Promise<{ got: RtpPacket[]; eventTs: number }> {
    const c = await track(await call(daemon, PCMA_TE, OPUS_TE48, { codec: { transcode: ['opus'] } }));
    assert.equal(rtpmaps(c.answerSdp).get(101), 'telephone-event/8000', 'the caller keeps its telephone-event');
    const press = keyPress({ audio: pcmaSilence, tsStep: 160, evPt: 101, evStep: 160, event: 5, steps: 10, before: 15, after: 15, audioDuring: true });
    await sendAll(c.a, c.aTo, press.packets, paceMs);
    return { got: rtp(c.b), eventTs: press.eventTs };
  }

  it('PCMA+telephone-event/8000 to opus+telephone-event/48000: the event gets the callee\'s type, x6 durations, one timestamp on the opus timeline', async function () {
    const { got } = await pcmaToOpus(d);
    assertOneStream(got);
    const evs = events(got, 97);
    assert.equal(events(got, 101).length, 0, 'no packet keeps the caller\'s event type');
    assert.equal(evs.length, 12, 'every event packet is translated, the three end packets included');
    assertOnePress(evs, 5);
    assert.deepEqual(evs.map((e) => e.duration), [960, 1920, 2880, 3840, 4800, 5760, 6720, 7680, 8640, 9600, 9600, 9600]);
    // The event sits where the audio would have continued, in the 48 kHz clock.
    const idx = got.findIndex((p) => p.pt === 97);
    const before = got.slice(0, idx).filter((p) => p.pt === 96);
    assert.ok(before.length >= 10, `${before.length} opus packets before the event`);
    assert.equal(evs[0].ts, (before[before.length - 1].ts + 960) >>> 0, 'event timestamp continues the audio timeline');
    // Suppression: no audio of the time the event covers, and the audio goes on after it.
    const opus = got.filter((p) => p.pt === 96);
    const during = opus.filter((p) => ((p.ts - evs[0].ts) | 0) >= 0 && ((p.ts - evs[0].ts) | 0) < 9600);
    assert.equal(during.length, 0, 'audio during the event is suppressed');
    const after = got.slice(got.findIndex((p, i) => i > idx && p.pt === 96));
    assert.ok(after.length >= 10, 'audio resumes after the event');
    assert.equal(after[0].ts, (evs[0].ts + 9600) >>> 0, 'audio resumes where the event ended');
  });

  it('opus+telephone-event/48000 to PCMA+telephone-event/8000: durations are divided by 6', async function () {
    const c = await track(await call(d, PCMA_TE, OPUS_TE48, { codec: { transcode: ['opus'] } }));
    // Opus from the callee: 20 ms frames of a tone, re-stamped into the key press's timeline.
    const frames = encodeTone(spec('opus', 96), { count: 40, freq: 300 }).map((b) => parseRtp(b)!.payload);
    const opusHum = (seq: number, ts: number, i: number): Buffer => buildRtp({ pt: 96, seq, ts, ssrc: SSRC, payload: frames[i] });
    const press = keyPress({ audio: opusHum, tsStep: 960, evPt: 97, evStep: 960, event: 9, steps: 8, before: 15, after: 10 });
    await sendAll(c.b, c.bTo, press.packets);
    const got = rtp(c.a);
    assertOneStream(got);
    const evs = events(got, 101);
    assertOnePress(evs, 9);
    assert.deepEqual(evs.map((e) => e.duration), [160, 320, 480, 640, 800, 960, 1120, 1280, 1280, 1280]);
    const idx = got.findIndex((p) => p.pt === 101);
    const pcma = got.slice(0, idx).filter((p) => p.pt === 8);
    assert.equal(evs[0].ts, (pcma[pcma.length - 1].ts + 160) >>> 0, 'event timestamp continues the PCMA timeline');
  });

  it('PCMA+telephone-event caller, PCMU callee without it: the caller is answered without telephone-event (as the reference does)', async function () {
    const c = await track(await call(d, PCMA_TE, { formats: [0], rtpmaps: ['rtpmap:0 PCMU/8000'] }, {}));
    assert.deepEqual([...rtpmaps(c.answerSdp).values()], ['PCMA/8000']);
  });

  /** The telephone-event type the callee was offered for transcoding. */
  function offeredEvent(c: Call): number {
    const te = [...rtpmaps(c.offerSdp)].find(([, v]) => v === 'telephone-event/8000');
    assert.ok(te, `the callee is offered telephone-event: ${c.offerSdp}`);
    return te[0];
  }

  it('caller without telephone-event, callee offered it for transcoding (PCMU+te): its key press reaches the PCMA caller as in-band tones', async function () {
    const c = await track(await call(d, { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] }, { formats: [0], rtpmaps: ['rtpmap:0 PCMU/8000'] },
      { codec: { transcode: ['PCMU', 'telephone-event'] } }));
    const te = offeredEvent(c);
    await c.b.close();
    peers.pop();
    // The callee answers PCMU with the offered telephone-event (a second call on the same daemon).
    const c2 = await track(await call(d, { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [0, te], rtpmaps: ['rtpmap:0 PCMU/8000', `rtpmap:${te} telephone-event/8000`, `fmtp:${te} 0-15`] },
      { codec: { transcode: ['PCMU', 'telephone-event'] } }));
    assert.deepEqual([...rtpmaps(c2.answerSdp).values()], ['PCMA/8000'], 'the caller gets no telephone-event');
    const pcmu = (seq: number, ts: number): Buffer => buildRtp({ pt: 0, seq, ts, ssrc: SSRC, payload: Buffer.alloc(160, 0xff) });
    const press = keyPress({ audio: pcmu, tsStep: 160, evPt: te, evStep: 160, event: 5, steps: 15, before: 20, after: 20 });
    await sendAll(c2.b, c2.bTo, press.packets);
    const got = rtp(c2.a);
    assert.ok(got.every((p) => p.pt === 8), `only PCMA reaches the caller: ${[...new Set(got.map((p) => p.pt))]}`);
    assertOneStream(got);
    const pcm = decode(spec('PCMA', 8), got.map((p) => buildRtp({ pt: p.pt, seq: p.seq, ts: p.ts, ssrc: p.ssrc, payload: p.payload })));
    const tone = toneBlocks(pcm, '5');
    assert.ok(tone >= 13 && tone <= 17, `the 300 ms key press sounds in ${tone} blocks of 20 ms`);
    assert.equal(toneBlocks(pcm, '9'), 0, 'no other key sounds');
    // The tone lies where the event was: after the 20 blocks of silence.
    const first = keyLevels(pcm, '5').findIndex((l) => l.low > 1000 && l.high > 1000);
    assert.ok(first >= 19 && first <= 22, `the tone starts at block ${first}`);
  });

  /**
   * PCMA on both sides, telephone-event offered to the callee for transcoding:
   * the caller's in-band 9 reaches the callee as events, the callee's event 1
   * reaches the caller as tones.
   */
  async function tonesBothWays(d: DaemonHandle, paceMs: number): Promise<void> {
    const offerFlags = { codec: { transcode: ['telephone-event'] } };
    const probe = await track(await call(d, { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] }, { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] }, offerFlags));
    const te = offeredEvent(probe);
    const c = await track(await call(d, { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [8, te], rtpmaps: ['rtpmap:8 PCMA/8000', `rtpmap:${te} telephone-event/8000`, `fmtp:${te} 0-15`] }, offerFlags));
    // The caller presses 9 in-band: 300 ms of tone between silence.
    const blocks = [...keyBlocks(null, 20), ...keyBlocks('9', 15), ...keyBlocks(null, 20)];
    await sendAll(c.a, c.aTo, encodeBlocks(spec('PCMA', 8), blocks, 3000, 80000), paceMs);
    const got = rtp(c.b);
    assertOneStream(got);
    const evs = events(got, te);
    assertOnePress(evs, 9);
    const last = evs[evs.length - 1].duration;
    assert.ok(last >= 1600 && last <= 2800, `the event lasts ${last} (the tone: 2400)`);
    // Each tone is about -13 dBm0: the event carries that level as its volume.
    assert.ok(evs.every((e) => e.volume >= 8 && e.volume <= 18), `volumes ${evs.map((e) => e.volume)}`);
    // The event replaces the audio it covers (suppression), on the same timeline.
    const during = got.filter((p) => p.pt === 8 && ((p.ts - evs[0].ts) | 0) >= 0 && ((p.ts - evs[0].ts) | 0) < last);
    assert.equal(during.length, 0, 'no audio during the event');
    const lag = (evs[0].ts - (80000 + 20 * 160)) | 0;
    assert.ok(lag >= 0 && lag <= 800, `the event starts within 100 ms of the tone (${lag})`);

    // The callee presses 1 as an event: the caller, without telephone-event, hears it.
    const press = keyPress({ audio: pcmaSilence, tsStep: 160, evPt: te, evStep: 160, event: 1, steps: 15, before: 20, after: 20 });
    await sendAll(c.b, c.bTo, press.packets, paceMs);
    const back = rtp(c.a);
    assert.ok(back.every((p) => p.pt === 8), 'only PCMA reaches the caller');
    const pcm = decode(spec('PCMA', 8), back.map((p) => buildRtp({ pt: p.pt, seq: p.seq, ts: p.ts, ssrc: p.ssrc, payload: p.payload })));
    const tone = toneBlocks(pcm, '1');
    assert.ok(tone >= 13 && tone <= 17, `the 300 ms key press sounds in ${tone} blocks of 20 ms`);
  }

  it('PCMA both sides, telephone-event only offered to the callee for transcoding: in-band tones become events, events become tones', async function () {
    await tonesBothWays(d, 5);
  });

  it('the reference (rtpengine 10.5) does the same with in-band tones and events between PCMA sides', async function () {
    skipUnlessReference(this);
    const ref = await startDaemon({ bin: 'reference' });
    daemons.push(ref);
    await tonesBothWays(ref, 20);
  });

  it('the reference (rtpengine 10.5) translates the same key press into the same packets', async function () {
    skipUnlessReference(this);
    const ref = await startDaemon({ bin: 'reference' });
    daemons.push(ref);
    // What the opus side sees from the event on, relative to its first packet:
    // kind, timestamp, sequence, event fields. (Before the event the reference
    // holds one packet of audio in its encoder and drops it when the event
    // comes, placing the event 20 ms earlier; at the end it still holds one.
    // Ours sends that audio and places the event after it.)
    const shape = (ps: RtpPacket[]): string[] => {
      const from = ps.findIndex((p) => p.pt === 97);
      assert.ok(from > 0, 'audio, then the event');
      return ps.slice(from).map((p) => {
        const at = `${(p.ts - ps[from].ts) | 0} ${(p.seq - ps[from].seq) & 0xffff}`;
        if (p.pt !== 97) return `${p.pt} ${at}`;
        const e = events([p], 97)[0];
        return `event ${at} ${e.event} ${e.end} ${e.duration} ${e.volume}${e.marker ? ' M' : ''}`;
      });
    };
    const theirs = shape((await pcmaToOpus(ref, 20)).got);
    const ours = shape((await pcmaToOpus(d, 20)).got);
    assert.equal(theirs.filter((x) => x.startsWith('event')).length, 12, 'the reference sends the whole event');
    assert.ok(ours.length - theirs.length <= 1 && ours.length >= theirs.length, `${ours.length} packets, the reference ${theirs.length}`);
    assert.deepEqual(ours.slice(0, theirs.length), theirs);
  });

  it('--dtmf-no-suppress: audio keeps flowing beside the translated events', async function () {
    const d2 = await startDaemon({ args: ['--dtmf-no-suppress'] });
    daemons.push(d2);
    const { got } = await pcmaToOpus(d2);
    assertOneStream(got);
    const evs = events(got, 97);
    assertOnePress(evs, 5);
    const during = got.filter((p) => p.pt === 96 && ((p.ts - evs[0].ts) | 0) >= 0 && ((p.ts - evs[0].ts) | 0) < 9600);
    assert.ok(during.length >= 8, `${during.length} opus packets during the event`);
  });
});
