// SDES-SRTP through the daemon: a real daemon, offer/answer over ng with
// a=crypto keying, and UDP peers on 127.0.0.1 that protect and unprotect with
// the test's own RFC 3711 implementation (test/helpers/srtp.ts). The plain side
// must receive exactly the cleartext the SRTP side protected; the SRTP side must
// authenticate and decrypt what the daemon sends it; what fails authentication
// or is replayed is dropped and counted in the stream's errors. The same checks
// run against the reference daemon when it is installed.

import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DaemonHandle, daemonKinds, startDaemon, type DaemonKind } from '../helpers/daemon';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';
import { buildRtcpSr, buildRtp, parseRtp } from '../helpers/rtp';
import { cryptoLines, newInlineKey, SrtpSession } from '../helpers/srtp';
import { assertTone, decode, encodeTone, pcmRate, rebuild, requireCodec, spec } from '../helpers/codec-audio';
import { readPcap } from '../helpers/pcap';
import { sleep } from '../helpers/process';

const HOST = '127.0.0.1';

/** A UDP peer that keeps every datagram it receives, raw. */
class RawPeer {
  readonly sock = dgram.createSocket('udp4');
  readonly got: Buffer[] = [];
  port = 0;

  async open(): Promise<number> {
    this.sock.on('message', (m) => this.got.push(m));
    await new Promise<void>((r) => this.sock.bind(0, HOST, () => r()));
    this.port = this.sock.address().port;
    return this.port;
  }

  async send(to: { address: string; port: number }, ...packets: Buffer[]): Promise<void> {
    for (const p of packets) {
      await new Promise<void>((r) => this.sock.send(p, to.port, to.address, () => r()));
      await sleep(3);
    }
  }

  /** What arrived since `from`, after a moment for the last packets. */
  async received(from: number, count: number, timeoutMs = 3000): Promise<Buffer[]> {
    const end = Date.now() + timeoutMs;
    while (this.got.length - from < count && Date.now() < end) await sleep(20);
    await sleep(50);
    return this.got.slice(from);
  }

  close(): void {
    this.sock.close();
  }
}

interface Side {
  peer: RawPeer;
  /** The daemon's RTP address and port in the SDP this side received. */
  to: { address: string; port: number };
  /** The daemon's RTCP port for this side (the a=rtcp line). */
  rtcpTo: { address: string; port: number };
  /** What this side protects with and unprotects with; null for a plain side. */
  tx: SrtpSession | null;
  rx: SrtpSession | null;
}

interface SrtpCall {
  callId: string;
  caller: Side;
  callee: Side;
  offerSdp: string;
  answerSdp: string;
}

let seq = 0;

function sdpOf(port: number, proto: string, formats: number[], crypto: string[], mux = false): string {
  const rtpmaps = formats.map((f) => `rtpmap:${f} ${f === 8 ? 'PCMA/8000' : 'PCMU/8000'}`);
  // RTCP on the RTP port: a peer's single socket gets both.
  const rtcp = mux ? [`rtcp:${port}`, 'rtcp-mux'] : [`rtcp:${port}`];
  return buildSdp({ address: HOST, media: [{ port, proto, formats, attributes: rtpmaps, extraAttributes: ['sendrecv', ...rtcp, ...crypto] }] });
}

function rtcpPortOf(sdp: string): number {
  const m = /^a=rtcp:(\d+)/m.exec(sdp);
  assert.ok(m, `a=rtcp in ${sdp}`);
  return Number(m[1]);
}

/**
 * Sets up a call. With callerSuite, the caller offers RTP/SAVP with that suite and
 * its own key; with calleeSuite, the daemon offers SRTP to the callee, which
 * answers the line of that suite with its own key.
 */
async function srtpCall(d: DaemonHandle, o: { callerSuite?: string; calleeSuite?: string; callerPt?: number; calleePt?: number; mux?: boolean; offerExtra?: Record<string, unknown> }): Promise<SrtpCall> {
  const a = new RawPeer();
  const b = new RawPeer();
  await a.open();
  await b.open();
  const callId = `srtp-${process.pid}-${++seq}`;
  const callerKey = o.callerSuite ? newInlineKey(o.callerSuite) : null;
  const callerPt = o.callerPt ?? 0;
  const calleePt = o.calleePt ?? callerPt;
  const offerSdp = sdpOf(a.port, o.callerSuite ? 'RTP/SAVP' : 'RTP/AVP', [callerPt],
    o.callerSuite ? [`crypto:1 ${o.callerSuite} inline:${callerKey}`] : [], o.mux);
  const offer = await d.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: offerSdp,
    'transport-protocol': o.calleeSuite ? 'RTP/SAVP' : 'RTP/AVP', ...o.offerExtra,
  });
  assert.equal(offer.result, 'ok', JSON.stringify(offer));
  const toCallee = String(offer.sdp);
  let calleeTx: SrtpSession | null = null;
  let calleeRx: SrtpSession | null = null;
  let answerCrypto: string[] = [];
  if (o.calleeSuite) {
    assert.match(toCallee, /^m=audio \d+ RTP\/SAVP /m);
    const line = cryptoLines(toCallee).find((c) => c.suite === o.calleeSuite);
    assert.ok(line, `the offer to the callee has ${o.calleeSuite}:\n${toCallee}`);
    const calleeKey = newInlineKey(o.calleeSuite);
    calleeTx = SrtpSession.fromInline(o.calleeSuite, calleeKey);
    calleeRx = SrtpSession.fromInline(o.calleeSuite, line.key);
    answerCrypto = [`crypto:${line.tag} ${o.calleeSuite} inline:${calleeKey}`];
  } else {
    assert.match(toCallee, /^m=audio \d+ RTP\/AVP /m);
    assert.equal(cryptoLines(toCallee).length, 0, 'no a=crypto towards a plain callee');
  }
  const answerSdp = sdpOf(b.port, o.calleeSuite ? 'RTP/SAVP' : 'RTP/AVP', [calleePt], answerCrypto, o.mux);
  const answer = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: answerSdp });
  assert.equal(answer.result, 'ok', JSON.stringify(answer));
  const toCaller = String(answer.sdp);
  let callerTx: SrtpSession | null = null;
  let callerRx: SrtpSession | null = null;
  if (o.callerSuite && callerKey) {
    assert.match(toCaller, /^m=audio \d+ RTP\/SAVP /m);
    const lines = cryptoLines(toCaller);
    assert.equal(lines.length, 1, `one a=crypto in the answer to the caller:\n${toCaller}`);
    assert.equal(lines[0].tag, 1);
    assert.equal(lines[0].suite, o.callerSuite);
    assert.notEqual(lines[0].key, callerKey, "the daemon's own key");
    callerTx = SrtpSession.fromInline(o.callerSuite, callerKey);
    callerRx = SrtpSession.fromInline(o.callerSuite, lines[0].key);
  } else {
    assert.equal(cryptoLines(toCaller).length, 0);
  }
  const side = (peer: RawPeer, sdp: string, tx: SrtpSession | null, rx: SrtpSession | null): Side => {
    const to = mediaEndpoint(sdp);
    return { peer, to, rtcpTo: { address: to.address, port: rtcpPortOf(sdp) }, tx, rx };
  };
  return {
    callId,
    caller: side(a, toCaller, callerTx, callerRx),
    callee: side(b, toCallee, calleeTx, calleeRx),
    offerSdp,
    answerSdp,
  };
}

function rtpPackets(n: number, ssrc: number, pt = 0, firstSeq = 1000): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(buildRtp({ pt, seq: (firstSeq + i) & 0xffff, ts: 160 * i, ssrc, payload: crypto.randomBytes(160) }));
  return out;
}

/** Sends cleartext from one side (protected if it speaks SRTP) and returns what the other side received, unprotected if it speaks SRTP. */
async function carry(from: Side, to: Side, plain: Buffer[], rtcp = false): Promise<Buffer[]> {
  const start = to.peer.got.length;
  const wire = plain.map((p) => (from.tx ? (rtcp ? from.tx.protectRtcp(p) : from.tx.protectRtp(p)) : p));
  await from.peer.send(rtcp ? from.rtcpTo : from.to, ...wire);
  const got = await to.peer.received(start, plain.length);
  return got.map((g) => (to.rx ? (rtcp ? to.rx.unprotectRtcp(g) : to.rx.unprotectRtp(g)) : g));
}

async function streamErrors(d: DaemonHandle, callId: string, tag: string): Promise<number> {
  const q = await d.ng.request({ command: 'query', 'call-id': callId });
  const tags = q.tags as Record<string, { medias: Array<{ streams: Array<{ stats: { errors: number } }> }> }>;
  return tags[tag].medias[0].streams.reduce((n, s) => n + Number(s.stats.errors), 0);
}

for (const kind of daemonKinds()) {
  describe(`SDES-SRTP media through the daemon (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle;
    const calls: SrtpCall[] = [];

    before(async function () {
      d = await startDaemon({ bin: kind as DaemonKind });
    });

    after(async function () {
      for (const c of calls) {
        c.caller.peer.close();
        c.callee.peer.close();
      }
      if (d) await d.stop();
    });

    async function open(o: Parameters<typeof srtpCall>[1]): Promise<SrtpCall> {
      const c = await srtpCall(d, o);
      calls.push(c);
      return c;
    }

    // NULL_HMAC_SHA1_80 on ours only: the reference 10.5 forwards nothing of an
    // SRTP caller with that suite and stops answering ng requests afterwards.
    const suites = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'];
    if (kind === 'ours') suites.push('NULL_HMAC_SHA1_80');
    for (const suite of suites) {
      it(`SRTP caller (${suite}) to a plain callee: each side gets exactly the other's cleartext, RTP and RTCP`, async function () {
        const c = await open({ callerSuite: suite });
        const up = rtpPackets(20, 0x1111);
        assert.deepEqual(await carry(c.caller, c.callee, up), up);
        const down = rtpPackets(20, 0x2222);
        assert.deepEqual(await carry(c.callee, c.caller, down), down);
        const sr = [buildRtcpSr(0x1111), buildRtcpSr(0x1111)];
        assert.deepEqual(await carry(c.caller, c.callee, sr, true), sr);
        const sr2 = [buildRtcpSr(0x2222)];
        assert.deepEqual(await carry(c.callee, c.caller, sr2, true), sr2);
        assert.equal(await streamErrors(d, c.callId, 'caller'), 0);
      });

      it(`plain caller to an SRTP callee (${suite}, answered from the daemon's offer): cleartext both ways, RTP and RTCP`, async function () {
        const c = await open({ calleeSuite: suite });
        const up = rtpPackets(20, 0x3333);
        assert.deepEqual(await carry(c.caller, c.callee, up), up);
        const down = rtpPackets(20, 0x4444);
        assert.deepEqual(await carry(c.callee, c.caller, down), down);
        const sr = [buildRtcpSr(0x4444)];
        assert.deepEqual(await carry(c.callee, c.caller, sr, true), sr);
        const sr2 = [buildRtcpSr(0x3333)];
        assert.deepEqual(await carry(c.caller, c.callee, sr2, true), sr2);
      });
    }

    it('SRTP on both legs (AES_256_CM_HMAC_SHA1_80 from the caller, AES_CM_128_HMAC_SHA1_32 towards the callee): re-keyed per leg', async function () {
      const c = await open({ callerSuite: 'AES_256_CM_HMAC_SHA1_80', calleeSuite: 'AES_CM_128_HMAC_SHA1_32' });
      const up = rtpPackets(10, 0x5555);
      assert.deepEqual(await carry(c.caller, c.callee, up), up);
      const down = rtpPackets(10, 0x6666);
      assert.deepEqual(await carry(c.callee, c.caller, down), down);
    });

    it('with rtcp-mux, SRTCP on the RTP port is decrypted and plain RTCP encrypted (SRTP caller, SRTP callee)', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80', calleeSuite: 'AES_CM_128_HMAC_SHA1_80', mux: true });
      const up = rtpPackets(3, 0x1212);
      assert.deepEqual(await carry(c.caller, c.callee, up), up);
      c.caller.rtcpTo = c.caller.to;
      c.callee.rtcpTo = c.callee.to;
      const sr = [buildRtcpSr(0x1212)];
      assert.deepEqual(await carry(c.caller, c.callee, sr, true), sr);
      const sr2 = [buildRtcpSr(0x3434)];
      assert.deepEqual(await carry(c.callee, c.caller, sr2, true), sr2);
    });

    it('session parameters UNENCRYPTED_SRTP and UNENCRYPTED_SRTCP: authenticated cleartext both ways, echoed in the answer', async function () {
      const a = new RawPeer();
      const b = new RawPeer();
      await a.open();
      await b.open();
      const callId = `srtp-params-${process.pid}-${++seq}`;
      const key = newInlineKey('AES_CM_128_HMAC_SHA1_80');
      const params = { encryptRtp: false, encryptRtcp: false };
      const offer = await d.ng.request({
        command: 'offer', 'call-id': callId, 'from-tag': 'caller', 'transport-protocol': 'RTP/AVP',
        sdp: sdpOf(a.port, 'RTP/SAVP', [0], [`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key} UNENCRYPTED_SRTP UNENCRYPTED_SRTCP`]),
      });
      const answer = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdpOf(b.port, 'RTP/AVP', [0], []) });
      const line = cryptoLines(String(answer.sdp))[0];
      assert.equal(line.rest, 'UNENCRYPTED_SRTP UNENCRYPTED_SRTCP');
      const side = (peer: RawPeer, sdp: string, tx: SrtpSession | null, rx: SrtpSession | null): Side => {
        const to = mediaEndpoint(sdp);
        return { peer, to, rtcpTo: { address: to.address, port: rtcpPortOf(sdp) }, tx, rx };
      };
      const c: SrtpCall = {
        callId, offerSdp: '', answerSdp: '',
        caller: side(a, String(answer.sdp), SrtpSession.fromInline('AES_CM_128_HMAC_SHA1_80', key, params), SrtpSession.fromInline('AES_CM_128_HMAC_SHA1_80', line.key, params)),
        callee: side(b, String(offer.sdp), null, null),
      };
      calls.push(c);
      const up = rtpPackets(5, 0x4545);
      assert.deepEqual(await carry(c.caller, c.callee, up), up);
      const start = a.got.length;
      const down = rtpPackets(5, 0x5454);
      assert.deepEqual(await carry(c.callee, c.caller, down), down);
      // On the wire to the caller: the payload in the clear, followed by the tag.
      for (let i = 0; i < down.length; i++) assert.deepEqual(a.got[start + i].subarray(0, down[i].length), down[i]);
      const sr = [buildRtcpSr(0x4545)];
      assert.deepEqual(await carry(c.caller, c.callee, sr, true), sr);
    });

    it('a re-INVITE with the same SDPs keeps the SRTP contexts: the rollover counter continues across it', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80' });
      const down = rtpPackets(8, 0x6789, 0, 0xfffc);
      assert.deepEqual(await carry(c.callee, c.caller, down), down);
      const again = await d.ng.request({ command: 'offer', 'call-id': c.callId, 'from-tag': 'caller', sdp: c.offerSdp, 'transport-protocol': 'RTP/AVP' });
      assert.equal(again.result, 'ok');
      const reanswer = await d.ng.request({ command: 'answer', 'call-id': c.callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: c.answerSdp });
      assert.equal(cryptoLines(String(reanswer.sdp))[0].key, (c.caller.rx as SrtpSession).master.toString('base64'), 'the same key');
      // After the wrap (ROC 1): a context made anew would start again at ROC 0 and fail authentication here.
      const more = rtpPackets(5, 0x6789, 0, 4);
      assert.deepEqual(await carry(c.callee, c.caller, more), more);
      const up = rtpPackets(3, 0x9876);
      assert.deepEqual(await carry(c.caller, c.callee, up), up);
    });

    it('a sequence number wrap keeps decrypting and encrypting (rollover counter)', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80' });
      const up = rtpPackets(12, 0x7777, 0, 0xfffa);
      assert.deepEqual(await carry(c.caller, c.callee, up), up);
      const down = rtpPackets(12, 0x8888, 0, 0xfffa);
      assert.deepEqual(await carry(c.callee, c.caller, down), down);
    });

    it('a tampered packet and one under a wrong key are dropped and counted in the errors of the stream', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80' });
      const tx = c.caller.tx as SrtpSession;
      const good = rtpPackets(3, 0x9999);
      const wire = good.map((p) => tx.protectRtp(p));
      const before = c.callee.peer.got.length;
      await c.caller.peer.send(c.caller.to, wire[0]);
      assert.equal((await c.callee.peer.received(before, 1)).length, 1);
      const tampered = Buffer.from(wire[1]);
      tampered[30] ^= 0x40;
      const wrongKey = SrtpSession.fromInline('AES_CM_128_HMAC_SHA1_80', newInlineKey('AES_CM_128_HMAC_SHA1_80')).protectRtp(good[2]);
      await c.caller.peer.send(c.caller.to, tampered, wrongKey);
      await sleep(300);
      assert.equal(c.callee.peer.got.length, before + 1, 'neither went through');
      assert.ok((await streamErrors(d, c.callId, 'caller')) >= 2, 'two errors counted');
      if (kind === 'ours') {
        // A replay too (the reference 10.5 forwards a replayed packet).
        await c.caller.peer.send(c.caller.to, wire[0]);
        await sleep(200);
        assert.equal(c.callee.peer.got.length, before + 1, 'the replayed packet did not go through');
        assert.ok((await streamErrors(d, c.callId, 'caller')) >= 3, 'the replay counted as an error');
      }
      // The genuine packets still go through.
      await c.caller.peer.send(c.caller.to, wire[1], wire[2]);
      const got = await c.callee.peer.received(before + 1, 2);
      assert.deepEqual(got, [good[1], good[2]]);
    });

    // Transcoding is our media path's business: checked on ours only.
    if (kind === 'ours') it('PCMA from an SRTP caller is transcoded to PCMU for a plain callee and back', async function () {
      requireCodec('PCMA');
      requireCodec('PCMU');
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80', callerPt: 8, calleePt: 0, offerExtra: { codec: { transcode: ['PCMU'] } } });
      const tone = encodeTone(spec('PCMA', 8), { count: 60 });
      const atCallee = (await carry(c.caller, c.callee, tone)).map((b) => parseRtp(b)).filter((p) => p && p.pt === 0);
      assert.ok(atCallee.length >= 40, `${atCallee.length} PCMU packets at the callee`);
      assertTone(decode(spec('PCMU', 0), atCallee.map((p) => rebuild(p as NonNullable<typeof p>))), pcmRate(spec('PCMU', 0)), { from: 0.3, seconds: 0.6 });
      const back = encodeTone(spec('PCMU', 0), { count: 60 });
      const atCaller = (await carry(c.callee, c.caller, back)).map((b) => parseRtp(b)).filter((p) => p && p.pt === 8);
      assert.ok(atCaller.length >= 40, `${atCaller.length} PCMA packets at the caller`);
      assertTone(decode(spec('PCMA', 8), atCaller.map((p) => rebuild(p as NonNullable<typeof p>))), pcmRate(spec('PCMA', 8)), { from: 0.3, seconds: 0.6 });
    });

    // Ours only: the reference 10.5 sends nothing for play DTMF on a call without a codec handler.
    if (kind === 'ours') it('play DTMF to an SRTP caller: the in-band tone it receives is encrypted with the key it was given', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_80' });
      // Media from the caller first, so that both daemons know where it is.
      await carry(c.caller, c.callee, rtpPackets(3, 0x1357));
      const start = c.caller.peer.got.length;
      const r = await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller', code: '5', duration: 200 });
      assert.deepEqual(r, { result: 'ok' });
      const got = await c.caller.peer.received(start, 8, 3000);
      assert.ok(got.length >= 8, `${got.length} packets at the caller`);
      const rx = c.caller.rx as SrtpSession;
      const plain = got.map((g) => rx.unprotectRtp(g)).map((b) => parseRtp(b)).filter((p) => p && p.pt === 0);
      assert.ok(plain.length >= 8, `${plain.length} PCMU packets decrypted`);
      // Some of them carry the tone (not PCMU silence).
      assert.ok(plain.some((p) => p && p.payload.some((b) => b !== 0xff && b !== 0x7f)), 'the tone');
    });

    it('query shows the crypto suite of each SRTP stream and the SDES media flag', async function () {
      const c = await open({ callerSuite: 'AES_CM_128_HMAC_SHA1_32' });
      const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
      const tags = q.tags as Record<string, { medias: Array<{ flags: string[]; streams: Array<Record<string, unknown>> }> }>;
      const caller = tags.caller.medias[0];
      assert.ok(caller.flags.includes('SDES'), JSON.stringify(caller.flags));
      for (const s of caller.streams) assert.equal(s['crypto suite'], 'AES_CM_128_HMAC_SHA1_32');
      const callee = tags.callee.medias[0];
      assert.ok(!callee.flags.includes('SDES'));
      for (const s of callee.streams) assert.equal(s['crypto suite'], undefined);
    });
  });
}

describe('SDES-SRTP call recording (ours)', function () {
  this.timeout(30000);
  let d: DaemonHandle;
  let dir: string;
  let c: SrtpCall | null = null;

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-srtp-rec-'));
    d = await startDaemon({ args: [`--recording-dir=${dir}`, '--recording-method=pcap', '--delete-delay=0'] });
  });

  after(async function () {
    if (c) {
      c.caller.peer.close();
      c.callee.peer.close();
    }
    if (d) await d.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the pcap of an SRTP call holds the decrypted packets of the SRTP side', async function () {
    c = await srtpCall(d, { callerSuite: 'AES_CM_128_HMAC_SHA1_80', offerExtra: { 'record call': 'yes' } });
    const up = rtpPackets(5, 0xabcd);
    assert.deepEqual(await carry(c.caller, c.callee, up), up);
    const down = rtpPackets(5, 0xdcba);
    assert.deepEqual(await carry(c.callee, c.caller, down), down);
    assert.equal((await d.ng.request({ command: 'delete', 'call-id': c.callId })).result, 'ok');
    const metaDir = path.join(dir, 'metadata');
    const end = Date.now() + 5000;
    while (Date.now() < end && !(fs.existsSync(metaDir) && fs.readdirSync(metaDir).length > 0)) await sleep(50);
    const pcaps = fs.readdirSync(path.join(dir, 'pcaps'));
    assert.equal(pcaps.length, 1);
    const recorded = readPcap(path.join(dir, 'pcaps', pcaps[0])).packets.map((p) => p.payload);
    // What the caller sent encrypted is in the file in the clear; so is what the callee sent.
    for (const p of [...up, ...down]) assert.ok(recorded.some((r) => r.equals(p)), `packet seq ${p.readUInt16BE(2)} recorded in the clear`);
    assert.equal(recorded.length, up.length + down.length);
  });
});

describe('--log-srtp-keys (ours)', function () {
  this.timeout(30000);
  let d: DaemonHandle;
  let c: SrtpCall | null = null;

  before(async function () {
    // Error level only: the keys must show up without debug logging.
    d = await startDaemon({ args: ['--log-srtp-keys', '--log-level=3'] });
  });

  after(async function () {
    if (c) {
      c.caller.peer.close();
      c.callee.peer.close();
    }
    if (d) await d.stop();
  });

  it("logs each SRTP side's inbound and outbound keys at error level", async function () {
    c = await srtpCall(d, { callerSuite: 'AES_CM_128_HMAC_SHA1_80' });
    const callerKey = cryptoLines(c.offerSdp)[0].key;
    const end = Date.now() + 3000;
    const line = (): string | undefined => d.logLines().find((l) => l.includes(`SRTP keys of 'caller'`) && l.includes(c?.callId ?? '?'));
    while (!line() && Date.now() < end) await sleep(50);
    const l = line();
    assert.ok(l, `a key line in:\n${d.logTail(20)}`);
    assert.ok(l.includes(`inbound AES_CM_128_HMAC_SHA1_80 ${callerKey}`), l);
    assert.match(l, /outbound AES_CM_128_HMAC_SHA1_80 [A-Za-z0-9+/=]{40}/);
  });
});
