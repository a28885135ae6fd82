// Transcoding as a proxy drives it: offer/answer over ng with codec flags, then
// real RTP carrying a tone between two UDP peers on 127.0.0.1. What arrives on
// each side is decoded and checked: the codec the peer negotiated, one RTP
// stream with the right timestamp step, and the tone at its level. Runs against
// ours (the reference transcodes too, but the point here is our media path).

import { strict as assert } from 'assert';
import { DaemonHandle, startDaemon } from '../helpers/daemon';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';
import { PacketPeer as Peer, parseRtp } from '../helpers/rtp';
import { assertStream, assertTone, decode, encodeTone, pcmRate, rebuild, requireCodec, spec } from '../helpers/codec-audio';
import type { NativeCodecSpec } from '../../src/codec/table';

const HOST = '127.0.0.1';
import { sleep } from '../helpers/process';

let seq = 0;

interface Call {
  a: Peer;
  b: Peer;
  /** Where each peer sends: the daemon's port in the SDP that peer received. */
  toDaemonFromA: { address: string; port: number };
  toDaemonFromB: { address: string; port: number };
  callId: string;
}

async function call(d: DaemonHandle, offerMedia: { formats: number[]; rtpmaps: string[] }, answerMedia: { formats: number[]; rtpmaps: string[] },
  offerExtra: Record<string, unknown>): Promise<Call> {
  const a = new Peer();
  const b = new Peer();
  const pa = await a.open();
  const pb = await b.open();
  const callId = `transcode-${process.pid}-${++seq}`;
  const sdp = (port: number, m: { formats: number[]; rtpmaps: string[] }): string =>
    buildSdp({ address: HOST, media: [{ port, formats: m.formats, attributes: m.rtpmaps, extraAttributes: ['sendrecv'] }] });
  const offer = await d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(pa, offerMedia), ...offerExtra });
  assert.equal(offer.result, 'ok', JSON.stringify(offer));
  const answer = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(pb, answerMedia) });
  assert.equal(answer.result, 'ok', JSON.stringify(answer));
  return { a, b, callId, toDaemonFromA: mediaEndpoint(String(answer.sdp)), toDaemonFromB: mediaEndpoint(String(offer.sdp)) };
}

/** Sends a tone in `from` from one peer and checks it arrives at the other in `to`. */
async function through(sender: Peer, receiver: Peer, dest: { address: string; port: number }, from: NativeCodecSpec, to: NativeCodecSpec,
  lossy = false): Promise<void> {
  const packets = encodeTone(from, { count: 100 });
  await sender.send(packets, dest);
  await sleep(300);
  const got = receiver.got.filter((p) => p.pt === to.payloadType);
  // 100 packets of 20 ms went out; most of their audio must come back, in to's ptime.
  const least = Math.floor((100 * 20 * 0.6) / to.ptime);
  assert.ok(got.length >= least, `${got.length} ${to.name} packets arrived (of ${receiver.got.length})`);
  const samplesPerPacket = (to.clockRate * to.ptime) / 1000;
  assertStream(got, { pt: to.payloadType, tsStep: samplesPerPacket });
  assertTone(decode(to, got.map(rebuild), 1), pcmRate(to), { from: 0.4, seconds: 1, ...(lossy ? { purity: 0.75, tolDb: 4 } : {}) });
}

describe('transcoding through the daemon', function () {
  this.timeout(60000);
  let d: DaemonHandle;
  const calls: Call[] = [];

  before(async function () {
    for (const c of ['PCMA', 'PCMU', 'opus', 'G722', 'G729']) requireCodec(c);
    d = await startDaemon();
  });

  after(async function () {
    for (const c of calls) {
      c.a.close();
      c.b.close();
    }
    if (d) await d.stop();
  });

  it('PCMA caller, opus callee (transcode=opus): audio is transcoded both ways and query says so', async function () {
    const c = await call(d,
      { formats: [8, 101], rtpmaps: ['rtpmap:8 PCMA/8000', 'rtpmap:101 telephone-event/8000'] },
      { formats: [96], rtpmaps: ['rtpmap:96 opus/48000/2'] },
      { codec: { transcode: ['opus'] } });
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMA', 8), spec('opus', 96));
    await through(c.b, c.a, c.toDaemonFromB, spec('opus', 96), spec('PCMA', 8));
    const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
    const flags = JSON.stringify(q.tags);
    assert.ok(flags.includes('transcoding'), `query shows transcoding: ${flags}`);
  });

  it('an answer sharing no codec with the offer (PCMA offered, PCMU answered) is transcoded', async function () {
    const c = await call(d,
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [0], rtpmaps: ['rtpmap:0 PCMU/8000'] },
      {});
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMA', 8), spec('PCMU', 0));
    await through(c.b, c.a, c.toDaemonFromB, spec('PCMU', 0), spec('PCMA', 8));
  });

  it('OpenSIPS flags codec-mask-PCMA transcode-G722: the callee gets G722 only, the caller keeps PCMA', async function () {
    const c = await call(d,
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [9], rtpmaps: ['rtpmap:9 G722/8000'] },
      { flags: ['codec-mask-PCMA', 'transcode-G722'] });
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMA', 8), spec('G722', 9));
    await through(c.b, c.a, c.toDaemonFromB, spec('G722', 9), spec('PCMA', 8));
  });

  it('ptime=30 repacketizes 20 ms PCMA into 30 ms packets towards the callee', async function () {
    const c = await call(d,
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { ptime: 30 });
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMA', 8), spec('PCMA', 8, { ptime: 30 }));
  });

  it('G729 to the callee with transcode=G729', async function () {
    const c = await call(d,
      { formats: [0], rtpmaps: ['rtpmap:0 PCMU/8000'] },
      { formats: [18], rtpmaps: ['rtpmap:18 G729/8000', 'fmtp:18 annexb=no'] },
      { codec: { transcode: ['G729'] } });
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMU', 0), spec('G729', 18, { fmtp: 'annexb=no' }));
  });

  // The codec pairs of the transcoding issue, each way through the daemon: the
  // caller offers its codec and asks for the callee's with `transcode`, the callee
  // answers with that codec only.
  interface DaemonPair {
    caller: { name: string; pt: number; rtpmap: string; fmtp?: string; clockRate?: number };
    callee: { name: string; pt: number; rtpmap: string; fmtp?: string; clockRate?: number };
    transcode: string;
    lossy?: boolean;
  }
  const daemonPairs: DaemonPair[] = [
    { caller: { name: 'PCMA', pt: 8, rtpmap: 'PCMA/8000' }, callee: { name: 'PCMU', pt: 0, rtpmap: 'PCMU/8000' }, transcode: 'PCMU' },
    { caller: { name: 'PCMA', pt: 8, rtpmap: 'PCMA/8000' }, callee: { name: 'G722', pt: 9, rtpmap: 'G722/8000' }, transcode: 'G722' },
    { caller: { name: 'PCMU', pt: 0, rtpmap: 'PCMU/8000' }, callee: { name: 'G729', pt: 18, rtpmap: 'G729/8000', fmtp: 'annexb=no' }, transcode: 'G729', lossy: true },
    { caller: { name: 'PCMA', pt: 8, rtpmap: 'PCMA/8000' }, callee: { name: 'opus', pt: 96, rtpmap: 'opus/48000/2', fmtp: 'stereo=1;useinbandfec=1' }, transcode: 'opus', lossy: true },
    { caller: { name: 'PCMA', pt: 8, rtpmap: 'PCMA/8000' }, callee: { name: 'AMR-WB', pt: 96, rtpmap: 'AMR-WB/16000', fmtp: 'octet-align=1' }, transcode: 'AMR-WB', lossy: true },
    { caller: { name: 'PCMU', pt: 0, rtpmap: 'PCMU/8000' }, callee: { name: 'GSM', pt: 3, rtpmap: 'GSM/8000' }, transcode: 'GSM', lossy: true },
    { caller: { name: 'PCMA', pt: 8, rtpmap: 'PCMA/8000' }, callee: { name: 'speex', pt: 96, rtpmap: 'speex/8000', clockRate: 8000 }, transcode: 'speex', lossy: true },
    { caller: { name: 'G722', pt: 9, rtpmap: 'G722/8000' }, callee: { name: 'opus', pt: 96, rtpmap: 'opus/48000/2' }, transcode: 'opus', lossy: true },
  ];
  for (const pc of daemonPairs) {
    it(`${pc.caller.name} caller, ${pc.callee.name} callee (transcode=${pc.transcode}): the tone arrives decodable both ways`, async function () {
      requireCodec(pc.caller.name);
      requireCodec(pc.callee.name);
      const media = (m: DaemonPair['caller']): { formats: number[]; rtpmaps: string[] } =>
        ({ formats: [m.pt], rtpmaps: [`rtpmap:${m.pt} ${m.rtpmap}`, ...(m.fmtp ? [`fmtp:${m.pt} ${m.fmtp}`] : [])] });
      const c = await call(d, media(pc.caller), media(pc.callee), { codec: { transcode: [pc.transcode] } });
      calls.push(c);
      const specOf = (m: DaemonPair['caller']): NativeCodecSpec =>
        spec(m.name, m.pt, { ...(m.fmtp ? { fmtp: m.fmtp } : {}), ...(m.clockRate ? { clockRate: m.clockRate } : {}) });
      const callerSpec = specOf(pc.caller);
      const calleeSpec = specOf(pc.callee);
      await through(c.a, c.b, c.toDaemonFromA, callerSpec, calleeSpec, pc.lossy);
      await through(c.b, c.a, c.toDaemonFromB, calleeSpec, callerSpec, pc.lossy);
    });
  }

  it('ptime=60 repacketizes 20 ms PCMA into 60 ms packets towards the callee', async function () {
    const c = await call(d,
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { ptime: 60 });
    calls.push(c);
    await through(c.a, c.b, c.toDaemonFromA, spec('PCMA', 8), spec('PCMA', 8, { ptime: 60 }));
  });

  it('a call whose codecs match is relayed untouched (no transcoding flag)', async function () {
    const c = await call(d,
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
      {});
    calls.push(c);
    const packets = encodeTone(spec('PCMA', 8), { count: 20, ssrc: 0x1234 });
    await c.a.send(packets, c.toDaemonFromA);
    await sleep(200);
    assert.equal(c.b.got.length, 20);
    assert.deepEqual(c.b.got.map((p) => p.payload.toString('hex')), packets.map((p) => parseRtp(p)!.payload.toString('hex')));
    assert.equal(c.b.got[0].ssrc, 0x1234, 'the sender\'s SSRC is kept');
    const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
    assert.ok(!JSON.stringify(q.tags).includes('transcoding'));
  });
});
