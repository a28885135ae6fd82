// The media relay as a user sees it: two real UDP peers, a caller A and a callee
// B, set up by offer/answer through a daemon, exchanging RTP and RTCP. Every test
// checks what arrives where, from which port, and what `query` says afterwards.
// Runs against ours by default (RTPE_TEST_DAEMON=reference for the reference).

import { strict as assert } from 'assert';
import { attachDaemonLogs, DaemonHandle, startDaemon } from '../helpers/daemon';
import type { BDict } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import {
  buildRtcpRr, buildRtcpSdes, buildRtcpSr, buildRtp, Endpoint, fmtEndpoint, isRtcp, parseRtp, Received, RtpPeer,
} from '../helpers/rtp';
import { buildSdp, connectionAddress, hasAttribute, mediaEndpoint, rtcpAttribute } from '../helpers/sdp';

// ---------------------------------------------------------------- helpers

let callSeq = 0;
function newCallId(): string {
  callSeq++;
  return `relay-${process.pid}-${callSeq}-${Date.now()}`;
}

/** One side of a call: where its SDP says it receives media. */
interface Side {
  address: string;
  port: number;
  /** Extra a= lines of its m= section. */
  attributes?: string[];
}

interface CallSetup {
  callId: string;
  offerSdp: string;
  answerSdp: string;
  /** Where A sends RTP: the endpoint the daemon advertised to A (in the answer it returned). */
  toA: Endpoint;
  /** Where B sends RTP: the endpoint the daemon advertised to B (in the offer it returned). */
  toB: Endpoint;
  /** The daemon's RTCP ports towards A and B (a=rtcp of each rewritten SDP). */
  rtcpToA: Endpoint;
  rtcpToB: Endpoint;
}

function sideSdp(s: Side): string {
  return buildSdp({
    address: s.address,
    media: [{ port: s.port, formats: [8], extraAttributes: ['sendrecv', ...(s.attributes ?? [])] }],
  });
}

function rtcpEndpoint(sdp: string): Endpoint {
  const rtp = mediaEndpoint(sdp);
  const a = rtcpAttribute(sdp);
  return { address: a?.address ?? rtp.address, port: a?.port ?? rtp.port + 1 };
}

/** Offer from A (tag "caller"), answer from B (tag "callee"). */
async function setupCall(
  d: DaemonHandle,
  a: Side,
  b: Side,
  extra: { offer?: Record<string, unknown>; answer?: Record<string, unknown> } = {},
): Promise<CallSetup> {
  const callId = newCallId();
  const offer = await d.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sideSdp(a), ...extra.offer,
  });
  assert.equal(offer.result, 'ok', `offer failed: ${JSON.stringify(offer)}`);
  const answer = await d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sideSdp(b), ...extra.answer,
  });
  assert.equal(answer.result, 'ok', `answer failed: ${JSON.stringify(answer)}`);
  const offerSdp = String(offer.sdp);
  const answerSdp = String(answer.sdp);
  return {
    callId, offerSdp, answerSdp,
    toA: mediaEndpoint(answerSdp),
    toB: mediaEndpoint(offerSdp),
    rtcpToA: rtcpEndpoint(answerSdp),
    rtcpToB: rtcpEndpoint(offerSdp),
  };
}

const peers: RtpPeer[] = [];

async function peer(host = '127.0.0.1', port = 0): Promise<RtpPeer> {
  const p = await RtpPeer.open(host, port);
  peers.push(p);
  return p;
}

/** Two peers on consecutive ports: RTP on the first, RTCP on the next. */
async function peerPair(host = '127.0.0.1'): Promise<{ rtp: RtpPeer; rtcp: RtpPeer }> {
  for (let i = 0; i < 20; i++) {
    const rtp = await RtpPeer.open(host);
    if (rtp.port < 65535) {
      try {
        const rtcp = await RtpPeer.open(host, rtp.port + 1);
        peers.push(rtp, rtcp);
        return { rtp, rtcp };
      } catch {
        /* the odd neighbour is taken: try another port */
      }
    }
    await rtp.close();
  }
  throw new Error(`no two consecutive free UDP ports on ${host}`);
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address;
}

const fromEndpoint = (e: Endpoint) => (r: Received): boolean => sameEndpoint(r.from, e);
const withSsrc = (ssrc: number) => (r: Received): boolean => r.rtp !== null && r.rtp.ssrc === ssrc;

/** A payload that tells packets apart: 160 bytes, all of them derived from `tag` and `i`. */
function payload(tag: number, i: number): Buffer {
  const b = Buffer.alloc(160);
  for (let k = 0; k < b.length; k++) b[k] = (tag * 31 + i * 7 + k) & 0xff;
  return b;
}

/**
 * Sends `n` RTP packets from `from` to `to` (one every 5 ms) and returns them as
 * sent, so that the receiver's copies can be compared byte for byte.
 */
async function sendRtp(from: RtpPeer, to: Endpoint, n: number, ssrc: number, first = { seq: 1000, ts: 50000 }): Promise<Buffer[]> {
  const sent: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const pkt = buildRtp({
      pt: 8, seq: (first.seq + i) & 0xffff, ts: (first.ts + 160 * i) >>> 0, ssrc, marker: i === 0, payload: payload(ssrc & 0xff, i),
    });
    sent.push(pkt);
    await from.send(to, pkt);
    await sleep(5);
  }
  return sent;
}

/** Asserts that `receiver` got exactly the packets `sent`, in order, from `source`. */
async function expectRelayed(receiver: RtpPeer, sent: Buffer[], ssrc: number, source: Endpoint): Promise<void> {
  const got = await receiver.waitFor(sent.length, 3000, withSsrc(ssrc));
  got.forEach((r, i) => {
    assert.ok(
      sameEndpoint(r.from, source),
      `packet ${i} arrived from ${fmtEndpoint(r.from)}, expected the daemon's port ${fmtEndpoint(source)}`,
    );
    const want = parseRtp(sent[i]);
    assert.ok(want && r.rtp);
    assert.equal(r.rtp.seq, want.seq, `packet ${i}: sequence number`);
    assert.equal(r.rtp.ts, want.ts, `packet ${i}: timestamp`);
    assert.equal(r.rtp.ssrc, want.ssrc, `packet ${i}: SSRC`);
    assert.equal(r.rtp.pt, want.pt, `packet ${i}: payload type`);
    assert.equal(r.rtp.marker, want.marker, `packet ${i}: marker bit`);
    assert.ok(r.data.equals(sent[i]), `packet ${i} was altered on the way`);
  });
}

function tagOf(q: BDict, tag: string): BDict {
  const tags = q.tags as BDict;
  const t = tags[tag] as BDict | undefined;
  assert.ok(t, `query has no tag '${tag}': ${Object.keys(tags).join(', ')}`);
  return t;
}

/** Stream `component` (0 = RTP, 1 = RTCP) of the first media of `tag` in a query reply. */
function streamOf(q: BDict, tag: string, component: 0 | 1 = 0): BDict {
  const medias = tagOf(q, tag).medias as BDict[];
  return (medias[0].streams as BDict[])[component];
}

function statsOf(s: BDict): { packets: number; bytes: number; errors: number } {
  const st = s.stats as BDict;
  return { packets: Number(st.packets), bytes: Number(st.bytes), errors: Number(st.errors) };
}

async function query(d: DaemonHandle, callId: string): Promise<BDict> {
  const q = await d.ng.request({ command: 'query', 'call-id': callId });
  assert.equal(q.result, 'ok', `query failed: ${JSON.stringify(q)}`);
  return q;
}

/** Polls `query` until `ok` holds (counters are updated by the engine thread). */
async function queryUntil(d: DaemonHandle, callId: string, ok: (q: BDict) => boolean, timeoutMs = 2000): Promise<BDict> {
  const deadline = Date.now() + timeoutMs;
  let q = await query(d, callId);
  while (!ok(q) && Date.now() < deadline) {
    await sleep(50);
    q = await query(d, callId);
  }
  return q;
}

async function closePeers(): Promise<void> {
  await Promise.all(peers.splice(0).map((p) => p.close()));
}

// ---------------------------------------------------------------- tests

describe('relay: RTP and RTCP between two peers through the daemon', function () {
  this.timeout(20000);
  let d: DaemonHandle | undefined;
  attachDaemonLogs(() => d);

  before(async () => {
    d = await startDaemon();
  });
  afterEach(closePeers);
  after(async () => {
    await d?.stop();
    d = undefined;
  });

  it('RTP from the caller reaches the callee from the port advertised to the callee, unchanged', async () => {
    const a = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint);
    const sent = await sendRtp(a, c.toA, 10, 0x11112222);
    await expectRelayed(b, sent, 0x11112222, c.toB);
    assert.equal(a.packets().length, 0, 'the caller got its own packets back');
  });

  it('RTP from the callee reaches the caller from the port advertised to the caller, unchanged', async () => {
    const a = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint);
    const sent = await sendRtp(b, c.toB, 10, 0x33334444, { seq: 65530, ts: 0xfffffe00 });
    await expectRelayed(a, sent, 0x33334444, c.toA);
  });

  it('RTP flows both ways at once without mixing the directions', async () => {
    const a = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint);
    const sa = a.startStream(c.toA, { ssrc: 0xaaaa0001, count: 25, intervalMs: 10 });
    const sb = b.startStream(c.toB, { ssrc: 0xbbbb0001, count: 25, intervalMs: 10 });
    await Promise.all([sa.done, sb.done]);
    const atB = await b.waitFor(25, 3000, withSsrc(0xaaaa0001));
    const atA = await a.waitFor(25, 3000, withSsrc(0xbbbb0001));
    assert.ok(atB.every(fromEndpoint(c.toB)));
    assert.ok(atA.every(fromEndpoint(c.toA)));
    assert.equal(b.packets(withSsrc(0xbbbb0001)).length, 0, "the callee got its own stream back");
    assert.equal(a.packets(withSsrc(0xaaaa0001)).length, 0, "the caller got its own stream back");
    // Sequence numbers arrive in order on loopback.
    const seqs = atB.map((r) => r.rtp!.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1] + 1) & 0xffff);
  });

  it('RTCP sent to the RTP port + 1 is relayed between the RTCP ports, both ways', async () => {
    const a = await peerPair();
    const b = await peerPair();
    const c = await setupCall(d!, a.rtp.endpoint, b.rtp.endpoint);
    assert.equal(c.rtcpToA.port, c.toA.port + 1, 'the daemon RTCP port towards A is its RTP port + 1');
    assert.equal(c.rtcpToB.port, c.toB.port + 1, 'the daemon RTCP port towards B is its RTP port + 1');

    const sr = Buffer.concat([buildRtcpSr(0x0a0a0a0a, { packets: 10, octets: 1600 }), buildRtcpSdes(0x0a0a0a0a, 'a@test')]);
    await a.rtcp.send(c.rtcpToA, sr);
    const [atB] = await b.rtcp.waitFor(1, 3000);
    assert.ok(atB.data.equals(sr), 'the sender report was altered');
    assert.ok(sameEndpoint(atB.from, c.rtcpToB), `RTCP reached B from ${fmtEndpoint(atB.from)}, expected ${fmtEndpoint(c.rtcpToB)}`);

    const rr = buildRtcpRr(0x0b0b0b0b, [{ ssrc: 0x0a0a0a0a, highestSeq: 1009 }]);
    await b.rtcp.send(c.rtcpToB, rr);
    const [atA] = await a.rtcp.waitFor(1, 3000);
    assert.ok(atA.data.equals(rr), 'the receiver report was altered');
    assert.ok(sameEndpoint(atA.from, c.rtcpToA), `RTCP reached A from ${fmtEndpoint(atA.from)}, expected ${fmtEndpoint(c.rtcpToA)}`);

    // Nothing leaked onto the RTP ports.
    assert.equal(a.rtp.packets().length + b.rtp.packets().length, 0);
    const q = await queryUntil(d!, c.callId, (x) => statsOf(streamOf(x, 'caller', 1)).packets >= 1 && statsOf(streamOf(x, 'callee', 1)).packets >= 1);
    assert.deepEqual(statsOf(streamOf(q, 'caller', 1)), { packets: 1, bytes: sr.length, errors: 0 });
    assert.deepEqual(statsOf(streamOf(q, 'callee', 1)), { packets: 1, bytes: rr.length, errors: 0 });
  });

  it('a caller that multiplexes RTCP talks to a callee that does not (rtcp-mux demux)', async () => {
    const a = await peer();
    const b = await peerPair();
    const c = await setupCall(
      d!,
      { ...a.endpoint, attributes: ['rtcp-mux', `rtcp:${a.port}`] },
      b.rtp.endpoint,
      { offer: { 'rtcp-mux': ['demux'] } },
    );
    assert.ok(!hasAttribute(c.offerSdp, 'rtcp-mux'), 'rtcp-mux was offered to the callee despite demux');
    assert.ok(hasAttribute(c.answerSdp, 'rtcp-mux'), 'the caller was not told that RTCP stays multiplexed');

    // RTCP from A on its RTP port reaches B on B's RTCP port.
    const sr = Buffer.concat([buildRtcpSr(0x0c0c0c0c), buildRtcpSdes(0x0c0c0c0c, 'a@mux')]);
    await a.send(c.toA, sr);
    const [atB] = await b.rtcp.waitFor(1, 3000);
    assert.ok(atB.data.equals(sr));
    assert.ok(sameEndpoint(atB.from, c.rtcpToB), `RTCP reached B from ${fmtEndpoint(atB.from)}, expected ${fmtEndpoint(c.rtcpToB)}`);
    assert.equal(b.rtp.packets().length, 0, "muxed RTCP was sent to the callee's RTP port");

    // RTCP from B's RTCP port reaches A on A's (only) port, from the daemon's RTP port.
    const rr = buildRtcpRr(0x0d0d0d0d, [{ ssrc: 0x0c0c0c0c }]);
    await b.rtcp.send(c.rtcpToB, rr);
    const [atA] = await a.waitFor(1, 3000, (r) => isRtcp(r.data));
    assert.ok(atA.data.equals(rr));
    assert.ok(sameEndpoint(atA.from, c.toA), `RTCP reached A from ${fmtEndpoint(atA.from)}, expected ${fmtEndpoint(c.toA)}`);

    // RTP still uses the RTP ports on both sides.
    const sent = await sendRtp(a, c.toA, 3, 0x0c0c0c0c);
    await expectRelayed(b.rtp, sent, 0x0c0c0c0c, c.toB);
    const back = await sendRtp(b.rtp, c.toB, 3, 0x0d0d0d0d);
    await expectRelayed(a, back, 0x0d0d0d0d, c.toA);
  });

  it("replies go to where the caller really sends from, not to the port its SDP names", async () => {
    const aSdp = await peer(); // named in the SDP, never sends
    const aReal = await peer(); // the caller's real source (a NAT, say)
    const b = await peer();
    const c = await setupCall(d!, aSdp.endpoint, b.endpoint);
    const sent = await sendRtp(aReal, c.toA, 3, 0x01010101);
    await expectRelayed(b, sent, 0x01010101, c.toB);
    const back = await sendRtp(b, c.toB, 3, 0x02020202);
    await expectRelayed(aReal, back, 0x02020202, c.toA);
    assert.equal(aSdp.packets().length, 0, 'packets went to the SDP address after the real source was learned');
    const q = await query(d!, c.callId);
    const ep = streamOf(q, 'caller').endpoint as BDict;
    assert.equal(Number(ep.port), aReal.port, 'query shows the learned endpoint');
    assert.equal(Number((streamOf(q, 'caller')['advertised endpoint'] as BDict).port), aSdp.port);
  });

  it('during the learning window the endpoint follows the newest source and is not confirmed yet', async () => {
    const aSdp = await peer();
    const a1 = await peer();
    const a2 = await peer();
    const b = await peer();
    const c = await setupCall(d!, aSdp.endpoint, b.endpoint);
    await sendRtp(a1, c.toA, 2, 0x1c1c1c1c);
    await b.waitFor(2, 3000, withSsrc(0x1c1c1c1c));
    await sendRtp(a2, c.toA, 2, 0x1d1d1d1d);
    await b.waitFor(2, 3000, withSsrc(0x1d1d1d1d));
    const back = await sendRtp(b, c.toB, 2, 0x1e1e1e1e);
    await expectRelayed(a2, back, 0x1e1e1e1e, c.toA);
    assert.equal(a1.packets().length + aSdp.packets().length, 0);
    const s = streamOf(await query(d!, c.callId), 'caller');
    assert.equal(Number((s.endpoint as BDict).port), a2.port);
    assert.ok(!(s.flags as string[]).includes('confirmed'), `confirmed within the learning window: ${(s.flags as string[]).join(', ')}`);
  });

  it('with asymmetric, replies go to the SDP address even though the caller sends from elsewhere', async () => {
    const aSdp = await peer();
    const aReal = await peer();
    const b = await peer();
    const c = await setupCall(d!, aSdp.endpoint, b.endpoint, { offer: { flags: ['asymmetric'] } });
    const sent = await sendRtp(aReal, c.toA, 3, 0x03030303);
    await expectRelayed(b, sent, 0x03030303, c.toB);
    const back = await sendRtp(b, c.toB, 3, 0x04040404);
    await expectRelayed(aSdp, back, 0x04040404, c.toA);
    assert.equal(aReal.packets().length, 0, 'an asymmetric caller got replies at its source address');
  });

  it('malformed datagrams on a media port are counted and dropped without disturbing the stream', async () => {
    const a = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint);
    const stream = a.startStream(c.toA, { ssrc: 0x05050505, count: 40, intervalMs: 10 });
    await b.waitFor(5, 3000, withSsrc(0x05050505));
    const junk = [
      Buffer.from([0x80]), // one byte
      Buffer.from([0x80, 0x08, 0x00, 0x01]), // a header cut after 4 bytes
      buildRtp({ pt: 8, seq: 1, ts: 1, ssrc: 0x05050505 }).subarray(0, 11), // RTP one byte short of a header
      Buffer.alloc(172, 0x40), // version 1
      Buffer.alloc(172, 0xc0), // version 3
      Buffer.from('INVITE sip:bob@example.com SIP/2.0\r\n\r\n'), // not media at all
    ];
    for (const j of junk) await a.send(c.toA, j);
    await stream.done;
    const got = await b.waitFor(40, 3000, withSsrc(0x05050505));
    const seqs = got.map((r) => r.rtp!.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1] + 1) & 0xffff, 'a packet of the stream was lost');
    const others = b.packets((r) => !withSsrc(0x05050505)(r));
    assert.equal(others.length, 0, `malformed datagrams were forwarded: ${others.map((r) => r.data.length).join(', ')} bytes`);

    const q = await queryUntil(d!, c.callId, (x) => statsOf(streamOf(x, 'caller')).errors >= junk.length);
    const st = statsOf(streamOf(q, 'caller'));
    assert.equal(st.errors, junk.length, 'each malformed datagram counts as one error');
    assert.equal(st.packets, 40, 'only well-formed packets count as packets');
    assert.equal(st.bytes, got.reduce((n, r) => n + r.data.length, 0));

    // And the call goes on afterwards, both ways.
    const back = await sendRtp(b, c.toB, 3, 0x06060606);
    await expectRelayed(a, back, 0x06060606, c.toA);
  });
});

describe('relay: endpoint learning with --endpoint-learning=immediate', function () {
  this.timeout(20000);
  let d: DaemonHandle | undefined;
  attachDaemonLogs(() => d);

  before(async () => {
    d = await startDaemon({ args: ['--endpoint-learning=immediate'] });
  });
  afterEach(closePeers);
  after(async () => {
    await d?.stop();
    d = undefined;
  });

  it('with strict source, packets from another source after learning are dropped and counted as errors', async () => {
    const a = await peer();
    const intruder = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint, { offer: { flags: ['strict source'] } });
    const sent = await sendRtp(a, c.toA, 3, 0x07070707);
    await expectRelayed(b, sent, 0x07070707, c.toB);
    await queryUntil(d!, c.callId, (x) => (streamOf(x, 'caller').flags as string[]).includes('confirmed'));

    await sendRtp(intruder, c.toA, 5, 0x08080808);
    assert.equal(await b.countDuring(300, withSsrc(0x08080808)), 0);
    assert.equal(b.packets(withSsrc(0x08080808)).length, 0, 'packets from a foreign source were forwarded');

    const q = await queryUntil(d!, c.callId, (x) => statsOf(streamOf(x, 'caller')).errors >= 5);
    const s = streamOf(q, 'caller');
    assert.equal(statsOf(s).errors, 5, 'each refused packet counts as an error');
    assert.equal(Number((s.endpoint as BDict).port), a.port, 'the endpoint stayed with the first source');
    assert.ok((s.flags as string[]).includes('strict source address'), `flags: ${(s.flags as string[]).join(', ')}`);

    // The real caller still gets through, and replies still go to it.
    const more = await sendRtp(a, c.toA, 2, 0x07070707, { seq: 2000, ts: 90000 });
    await b.waitFor(sent.length + more.length, 3000, withSsrc(0x07070707));
    const back = await sendRtp(b, c.toB, 2, 0x09090909);
    await expectRelayed(a, back, 0x09090909, c.toA);
    assert.equal(intruder.packets().length, 0);
  });

  it('without strict source, a confirmed endpoint is kept but packets from elsewhere are still relayed', async () => {
    const a = await peer();
    const other = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint);
    await sendRtp(a, c.toA, 2, 0x0e0e0e0e);
    await b.waitFor(2, 3000, withSsrc(0x0e0e0e0e));
    const sent = await sendRtp(other, c.toA, 3, 0x0f0f0f0f);
    await expectRelayed(b, sent, 0x0f0f0f0f, c.toB);
    const back = await sendRtp(b, c.toB, 2, 0x10101010);
    await expectRelayed(a, back, 0x10101010, c.toA);
    assert.equal(other.packets().length, 0, 'a stray source took over the confirmed endpoint');
  });

  it('with media handover, a new source takes over the stream and gets the replies', async () => {
    const a = await peer();
    const a2 = await peer();
    const b = await peer();
    const c = await setupCall(d!, a.endpoint, b.endpoint, { offer: { flags: ['media handover'] } });
    await sendRtp(a, c.toA, 2, 0x12121212);
    await b.waitFor(2, 3000, withSsrc(0x12121212));
    const back1 = await sendRtp(b, c.toB, 2, 0x13131313);
    await expectRelayed(a, back1, 0x13131313, c.toA);

    const sent = await sendRtp(a2, c.toA, 3, 0x14141414);
    await expectRelayed(b, sent, 0x14141414, c.toB);
    const back2 = await sendRtp(b, c.toB, 3, 0x15151515, { seq: 3000, ts: 7000 });
    await expectRelayed(a2, back2, 0x15151515, c.toA);
    assert.equal(a.packets(withSsrc(0x15151515)).length, 0, 'the old source still got replies after the handover');
    const q = await query(d!, c.callId);
    assert.equal(Number((streamOf(q, 'caller').endpoint as BDict).port), a2.port);
    assert.ok((streamOf(q, 'caller').flags as string[]).includes('media handover'));
  });

  it('query after traffic shows per-stream packets, bytes, last packet, confirmed and matching totals', async () => {
    const a = await peerPair();
    const b = await peerPair();
    const c = await setupCall(d!, a.rtp.endpoint, b.rtp.endpoint);
    const before = await query(d!, c.callId);
    assert.ok(!(streamOf(before, 'caller').flags as string[]).includes('confirmed'), 'confirmed before any packet');
    assert.deepEqual(statsOf(streamOf(before, 'caller')), { packets: 0, bytes: 0, errors: 0 });

    const startSec = Math.floor(Date.now() / 1000);
    const fromA = await sendRtp(a.rtp, c.toA, 7, 0x16161616);
    const fromB = await sendRtp(b.rtp, c.toB, 4, 0x17171717);
    const rtcpA = buildRtcpSr(0x16161616, { packets: 7 });
    await a.rtcp.send(c.rtcpToA, rtcpA);
    await b.rtp.waitFor(7, 3000, withSsrc(0x16161616));
    await a.rtp.waitFor(4, 3000, withSsrc(0x17171717));
    await b.rtcp.waitFor(1, 3000);
    const endSec = Math.ceil(Date.now() / 1000);

    const sum = (bufs: Buffer[]): number => bufs.reduce((n, x) => n + x.length, 0);
    const q = await queryUntil(d!, c.callId, (x) => statsOf(streamOf(x, 'caller', 1)).packets >= 1);
    const aRtp = streamOf(q, 'caller');
    const bRtp = streamOf(q, 'callee');
    assert.deepEqual(statsOf(aRtp), { packets: 7, bytes: sum(fromA), errors: 0 });
    assert.deepEqual(statsOf(bRtp), { packets: 4, bytes: sum(fromB), errors: 0 });
    assert.deepEqual(statsOf(streamOf(q, 'caller', 1)), { packets: 1, bytes: rtcpA.length, errors: 0 });
    assert.deepEqual(statsOf(streamOf(q, 'callee', 1)), { packets: 0, bytes: 0, errors: 0 });
    assert.equal(Number(aRtp['local port']), c.toA.port, "the caller's stream is the port advertised to the caller");
    assert.equal(Number(bRtp['local port']), c.toB.port, "the callee's stream is the port advertised to the callee");
    for (const s of [aRtp, bRtp, streamOf(q, 'caller', 1)]) {
      const last = Number(s['last packet']);
      assert.ok(last >= startSec && last <= endSec, `last packet ${last} not within ${startSec}..${endSec}`);
      assert.ok((s.flags as string[]).includes('confirmed'), `flags: ${(s.flags as string[]).join(', ')}`);
    }
    assert.ok(!(streamOf(q, 'callee', 1).flags as string[]).includes('confirmed'), 'an RTCP stream without packets is confirmed');
    const totals = q.totals as BDict;
    assert.deepEqual(totals.RTP, { packets: 11, bytes: sum(fromA) + sum(fromB), errors: 0 });
    assert.deepEqual(totals.RTCP, { packets: 1, bytes: rtcpA.length, errors: 0 });
  });
});

describe('relay: IPv6', function () {
  this.timeout(20000);
  let d: DaemonHandle | undefined;
  attachDaemonLogs(() => d);
  afterEach(async () => {
    await closePeers();
    await d?.stop();
    d = undefined;
  });

  it('relays RTP and RTCP both ways between two IPv6 peers (--interface=::1)', async () => {
    d = await startDaemon({ args: ['--interface=::1'] });
    const a = await peerPair('::1');
    const b = await peerPair('::1');
    const c = await setupCall(d, { address: '::1', port: a.rtp.port }, { address: '::1', port: b.rtp.port });
    assert.equal(c.toA.address, '::1');
    assert.equal(c.toB.address, '::1');
    const sent = await sendRtp(a.rtp, c.toA, 5, 0x18181818);
    await expectRelayed(b.rtp, sent, 0x18181818, c.toB);
    const back = await sendRtp(b.rtp, c.toB, 5, 0x19191919);
    await expectRelayed(a.rtp, back, 0x19191919, c.toA);
    const rr = buildRtcpRr(0x19191919);
    await b.rtcp.send(c.rtcpToB, rr);
    const [atA] = await a.rtcp.waitFor(1, 3000);
    assert.ok(atA.data.equals(rr));
    assert.ok(sameEndpoint(atA.from, c.rtcpToA));
  });

  it('bridges an IPv4 caller to an IPv6 callee with address family IP6', async () => {
    d = await startDaemon({ args: ['--interface=127.0.0.1', '--interface=::1'] });
    const a = await peerPair('127.0.0.1');
    const b = await peerPair('::1');
    const c = await setupCall(
      d,
      { address: '127.0.0.1', port: a.rtp.port },
      { address: '::1', port: b.rtp.port },
      { offer: { 'address family': 'IP6' } },
    );
    assert.equal(connectionAddress(c.offerSdp), '::1', 'the callee is not offered an IPv6 address');
    assert.equal(connectionAddress(c.answerSdp), '127.0.0.1', 'the caller is not answered with its IPv4 address');
    const sent = await sendRtp(a.rtp, c.toA, 5, 0x1a1a1a1a);
    await expectRelayed(b.rtp, sent, 0x1a1a1a1a, c.toB);
    const back = await sendRtp(b.rtp, c.toB, 5, 0x1b1b1b1b);
    await expectRelayed(a.rtp, back, 0x1b1b1b1b, c.toA);
    const sr = buildRtcpSr(0x1a1a1a1a);
    await a.rtcp.send(c.rtcpToA, sr);
    const [atB] = await b.rtcp.waitFor(1, 3000);
    assert.ok(atB.data.equals(sr));
    assert.ok(sameEndpoint(atB.from, c.rtcpToB), `RTCP reached B from ${fmtEndpoint(atB.from)}`);
  });
});
