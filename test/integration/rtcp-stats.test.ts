// RTCP figures in `query` and `delete`: two peers exchange RTP and RTCP sender and
// receiver reports through the daemon, and the SSRC dictionary shows loss, jitter,
// round-trip times and the MOS computed from them the way the reference computes
// it (daemon/ssrc.c). The reports are timed so that every leg's round trip is
// 20 ms plus loopback: a known MOS. When the reference daemon is installed, the
// same traffic goes through it and both replies must agree.

import { strict as assert } from 'assert';
import { attachDaemonLogs, daemonKinds, referenceAvailable, startDaemon, REFERENCE_BIN, type DaemonHandle, type DaemonKind } from '../helpers/daemon';
import type { BDict, BValue } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { RtpPeer, buildRtcpRr, buildRtcpSr, buildRtp, parseRtcp, type ReportBlock } from '../helpers/rtp';
import { simpleAudioSdp } from '../helpers/sdp';

const HOST = '127.0.0.1';
// Short legs keep the MOS (39) the same even when a loaded machine adds tens of ms.
const LEG_RTT_MS = 20;
// What each receiver report says about the stream it reports on.
const REPORT: Omit<ReportBlock, 'ssrc' | 'lsr' | 'dlsr'> = { fractionLost: 13, cumulativeLost: 7, highestSeq: 300, jitter: 80 };

interface Side {
  rtp: RtpPeer;
  rtcp: RtpPeer;
  ssrc: number;
  /** The daemon's RTP port for this side (where this side sends). */
  port: number;
  /** Where this side sends RTCP: port + 1, or port when muxed. */
  rtcpPort: number;
}

/** An RTP socket and an RTCP socket on the port after it. */
async function openPair(): Promise<{ rtp: RtpPeer; rtcp: RtpPeer }> {
  for (let i = 0; i < 50; i++) {
    const rtp = await RtpPeer.open(HOST);
    try {
      const rtcp = await RtpPeer.open(HOST, rtp.port + 1);
      return { rtp, rtcp };
    } catch {
      await rtp.close();
    }
  }
  throw new Error('no two consecutive free UDP ports');
}

/** An RTCP XR (PT 207) with one VoIP metrics block (RFC 3611 4.7) about `about`. */
function buildXrVoipMetrics(sender: number, about: number, roundTripMs: number): Buffer {
  const b = Buffer.alloc(8 + 36);
  b[0] = 0x80;
  b[1] = 207;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b[8] = 7;  // block type: VoIP metrics
  b.writeUInt16BE(36 / 4 - 1, 10);
  b.writeUInt32BE(about >>> 0, 12);
  b.writeUInt16BE(roundTripMs, 8 + 16);  // round trip delay
  b[8 + 28] = 40;  // MOS-LQ 4.0, unused
  return b;
}

function middle32(sr: Buffer): number {
  return ((sr.readUInt32BE(8) & 0xffff) * 0x10000 + (sr.readUInt32BE(12) >>> 16)) >>> 0;
}

function rtcpOf(ssrc: number, pt: number) {
  return (r: { data: Buffer }): boolean => {
    const parts = parseRtcp(r.data);
    return parts !== null && parts.length > 0 && r.data[1] === pt && parts[0].ssrc === ssrc;
  };
}

/**
 * One report exchange: `from` sends a sender report, `to` receives it and answers
 * with a receiver report about `from` whose DLSR hides LEG_RTT_MS of the time it
 * held it, so the daemon measures LEG_RTT_MS plus loopback for `to`'s leg.
 */
async function reportExchange(from: Side, to: Side, mangle?: (block: ReportBlock) => void): Promise<void> {
  const seen = to.rtcp.packets(rtcpOf(from.ssrc, 200)).length;
  await from.rtcp.send({ address: HOST, port: from.rtcpPort }, buildRtcpSr(from.ssrc, { packets: 50, octets: 8000 }));
  const got = await to.rtcp.waitFor(seen + 1, 2000, rtcpOf(from.ssrc, 200));
  const sr = got[seen];
  await sleep(LEG_RTT_MS + 20);
  const held = Date.now() - sr.at - LEG_RTT_MS;
  const block: ReportBlock = { ssrc: from.ssrc, ...REPORT, lsr: middle32(sr.data), dlsr: Math.round((held / 1000) * 65536) };
  mangle?.(block);
  const rrSeen = from.rtcp.packets(rtcpOf(to.ssrc, 201)).length;
  await to.rtcp.send({ address: HOST, port: to.rtcpPort }, buildRtcpRr(to.ssrc, [block]));
  // Once it is forwarded, the daemon has processed it.
  await from.rtcp.waitFor(rrSeen + 1, 2000, rtcpOf(to.ssrc, 201));
}

interface CallSides {
  callId: string;
  a: Side;
  b: Side;
  close(): Promise<void>;
}

/** Sets up a call between two fresh peers and sends some RTP both ways. */
async function setUpCall(d: DaemonHandle, callId: string, opts: { mux?: boolean; ssrcs?: [number, number] } = {}): Promise<CallSides> {
  const pa = await openPair();
  const pb = await openPair();
  const extra = opts.mux ? ['rtcp-mux'] : [];
  const offer = await d.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'caller',
    sdp: simpleAudioSdp(pa.rtp.port, { formats: [8, 0], extra }),
  });
  assert.equal(offer.result, 'ok', JSON.stringify(offer));
  const answer = await d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee',
    sdp: simpleAudioSdp(pb.rtp.port, { formats: [8], extra }),
  });
  assert.equal(answer.result, 'ok', JSON.stringify(answer));
  const portB = Number(/m=audio (\d+)/.exec(String(offer.sdp))?.[1]);
  const portA = Number(/m=audio (\d+)/.exec(String(answer.sdp))?.[1]);
  const [ssrcA, ssrcB] = opts.ssrcs ?? [0x11111111, 0x22222222];
  const side = (p: { rtp: RtpPeer; rtcp: RtpPeer }, ssrc: number, port: number): Side => ({
    rtp: p.rtp, rtcp: opts.mux ? p.rtp : p.rtcp, ssrc, port, rtcpPort: opts.mux ? port : port + 1,
  });
  const a = side(pa, ssrcA, portA);
  const b = side(pb, ssrcB, portB);
  for (let i = 0; i < 20; i++) {
    await a.rtp.send({ address: HOST, port: a.port }, buildRtp({ pt: 8, seq: 1000 + i, ts: 160 * i, ssrc: a.ssrc }));
    await b.rtp.send({ address: HOST, port: b.port }, buildRtp({ pt: 8, seq: 2000 + i, ts: 160 * i, ssrc: b.ssrc }));
  }
  await a.rtp.waitFor(20, 2000, (r) => r.rtp !== null);
  await b.rtp.waitFor(20, 2000, (r) => r.rtp !== null);
  return {
    callId, a, b,
    close: async () => {
      for (const p of [pa.rtp, pa.rtcp, pb.rtp, pb.rtcp]) await p.close();
    },
  };
}

/** `rounds` rounds of reports both ways, a little over a second apart. */
async function reportRounds(c: CallSides, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const start = Date.now();
    await reportExchange(c.a, c.b);  // B reports on A: a sample under B's SSRC
    await reportExchange(c.b, c.a);  // A reports on B: a sample under A's SSRC
    if (i + 1 < rounds) await sleep(Math.max(0, 1100 - (Date.now() - start)));
  }
}

function dict(v: BValue | undefined, what: string): BDict {
  assert.ok(v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v), `${what} is not a dictionary: ${JSON.stringify(v)}`);
  return v as BDict;
}

function streams(q: BDict, tag: string): BDict[] {
  const media = (dict(dict(q['tags'], 'tags')[tag], tag)['medias'] as BDict[])[0];
  return media['streams'] as BDict[];
}

function mediaOf(q: BDict, tag: string): BDict {
  return (dict(dict(q['tags'], 'tags')[tag], tag)['medias'] as BDict[])[0];
}

function between(v: BValue | undefined, lo: number, hi: number, what: string): void {
  assert.ok(typeof v === 'number' && v >= lo && v <= hi, `${what} = ${JSON.stringify(v)}, expected ${lo}..${hi}`);
}

const REPLIES: Partial<Record<DaemonKind, BDict>> = {};

for (const kind of daemonKinds()) {
  describe(`RTCP figures and MOS in query and delete (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle;
    let n = 0;
    const callId = (): string => `rtcp-${process.pid}-${++n}`;

    before(async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--delete-delay=0'] });
    });
    after(async () => {
      await d?.stop();
    });
    attachDaemonLogs(() => d);

    it('receiver reports with 20 ms legs, 5 % loss and 10 ms jitter give MOS 3.9 for both SSRCs', async () => {
      const c = await setUpCall(d, callId());
      try {
        await reportRounds(c, 3);
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        assert.equal(q.result, 'ok');
        REPLIES[kind] = q;
        const ssrcs = dict(q['SSRC'], 'SSRC');
        const now = Math.floor(Date.now() / 1000);
        // B reported first, before A's leg was known: its first sample has no MOS.
        for (const [ssrc, samples, blocks] of [[c.b.ssrc, 2, 3], [c.a.ssrc, 3, 3]] as const) {
          const e = dict(ssrcs[String(ssrc)], `SSRC ${ssrc}`);
          assert.equal(e['cumulative loss'], 7);
          const avg = dict(e['average MOS'], 'average MOS');
          assert.equal(avg['MOS'], 39, JSON.stringify(e));
          assert.equal(avg['jitter'], 10);
          assert.equal(avg['packet loss'], 5);
          assert.equal(avg['samples'], samples);
          between(avg['round-trip time'], 2 * LEG_RTT_MS * 1000 - 4000, 2 * LEG_RTT_MS * 1000 + 60000, 'average round-trip time');
          between(avg['round-trip time leg'], LEG_RTT_MS * 1000 - 2000, LEG_RTT_MS * 1000 + 30000, 'average round-trip time leg');
          for (const k of ['lowest MOS', 'highest MOS']) {
            const b = dict(e[k], k);
            assert.equal(b['MOS'], 39);
            between(b['reported at'], now - 10, now + 1, `${k} reported at`);
          }
          const prog = dict(e['MOS progression'], 'MOS progression');
          assert.equal(prog['interval'], 0);
          assert.equal((prog['entries'] as BDict[]).length, blocks);
        }
        const first = ((dict(ssrcs[String(c.b.ssrc)], 'B')['MOS progression'] as BDict)['entries'] as BDict[])[0];
        assert.equal(first['MOS'], 0, 'a sample without the other leg has no MOS-CQ');
        assert.equal(first['round-trip time'], 0);
        // Each stream names the SSRC it receives; each media the codec it carries.
        assert.equal(streams(q, 'caller')[0]['SSRC'], c.a.ssrc);
        assert.equal(streams(q, 'caller')[1]['SSRC'], c.a.ssrc);
        assert.equal(streams(q, 'callee')[0]['SSRC'], c.b.ssrc);
        assert.equal(mediaOf(q, 'caller')['codec'], 'PCMA/8000');
        assert.equal(mediaOf(q, 'callee')['codec'], 'PCMA/8000');
        // delete answers with the same figures (the reference does when given a from-tag,
        // as proxies send it).
        const del = await d.ng.request({ command: 'delete', 'call-id': c.callId, 'from-tag': 'caller' });
        assert.equal(del.result, 'ok');
        assert.deepEqual(dict(del['SSRC'], 'delete SSRC')[String(c.a.ssrc)], ssrcs[String(c.a.ssrc)]);
      } finally {
        await c.close();
      }
    });

    it('RTCP muxed on the RTP port is read as well', async () => {
      const c = await setUpCall(d, callId(), { mux: true, ssrcs: [0x33333333, 0x44444444] });
      try {
        await reportRounds(c, 2);
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        const e = dict(dict(q['SSRC'], 'SSRC')[String(c.a.ssrc)], 'SSRC A');
        assert.equal(dict(e['average MOS'], 'average')['MOS'], 39, JSON.stringify(e));
        await d.ng.request({ command: 'delete', 'call-id': c.callId });
      } finally {
        await c.close();
      }
    });

    it('a report whose LSR matches no sender report has no round trip and, for MOS-CQ, no MOS', async () => {
      const c = await setUpCall(d, callId(), { ssrcs: [0x55555555, 0x66666666] });
      try {
        await reportExchange(c.a, c.b, (b) => { b.lsr = 0x12345678; });
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        // No sample with a MOS: the reference leaves the SSRC out.
        assert.deepEqual(dict(q['SSRC'], 'SSRC'), {});
        await d.ng.request({ command: 'delete', 'call-id': c.callId });
      } finally {
        await c.close();
      }
    });

    it('an XR VoIP-metrics round-trip delay about the reporter replaces the round trip', async () => {
      const c = await setUpCall(d, callId(), { ssrcs: [0x5a5a5a5a, 0x6b6b6b6b] });
      try {
        await c.b.rtcp.send({ address: HOST, port: c.b.rtcpPort }, buildXrVoipMetrics(c.b.ssrc, c.b.ssrc, 300));
        await c.a.rtcp.waitFor(1, 2000, (r) => r.data[1] === 207);
        await reportExchange(c.a, c.b);
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        const avg = dict(dict(dict(q['SSRC'], 'SSRC')[String(c.b.ssrc)], 'SSRC B')['average MOS'], 'average');
        assert.equal(avg['round-trip time'], 300000);
        // R = 93.2 - (300 + 20 + 10 - 120)/10 - 12.5
        assert.equal(avg['MOS'], 30);
        between(avg['round-trip time leg'], LEG_RTT_MS * 1000 - 2000, LEG_RTT_MS * 1000 + 30000, 'round-trip time leg');
        await d.ng.request({ command: 'delete', 'call-id': c.callId });
      } finally {
        await c.close();
      }
    });

    it('an SSRC seen only in RTP is not listed', async () => {
      const c = await setUpCall(d, callId(), { ssrcs: [0x77777777, 0x78787878] });
      try {
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        assert.deepEqual(dict(q['SSRC'], 'SSRC'), {});
        await d.ng.request({ command: 'delete', 'call-id': c.callId });
      } finally {
        await c.close();
      }
    });
  });

  describe(`MOS-LQ (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle;

    before(async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--delete-delay=0', '--mos=LQ'] });
    });
    after(async () => {
      await d?.stop();
    });
    attachDaemonLogs(() => d);

    it('--mos=LQ gives a MOS without a round trip', async () => {
      const c = await setUpCall(d, `lq-${process.pid}`);
      try {
        await reportExchange(c.a, c.b, (b) => { b.lsr = 0x12345678; });
        const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
        const e = dict(dict(q['SSRC'], 'SSRC')[String(c.b.ssrc)], 'SSRC B');
        const avg = dict(e['average MOS'], 'average MOS');
        // jitter 10 ms and 5 % loss alone: R = 93.2 - 30/40 - 12.5.
        assert.equal(avg['MOS'], 40, JSON.stringify(e));
        assert.equal(avg['round-trip time'], 0);
      } finally {
        await c.close();
      }
    });
  });
}

describe('RTCP figures agree with the reference daemon', function () {
  it('the same traffic gives the same SSRC keys and figures', function () {
    if (!referenceAvailable()) {
      console.log(`      (skipped: reference daemon ${REFERENCE_BIN} is not installed; apt-get install rtpengine-daemon)`);
      this.skip();
    }
    const ours = REPLIES.ours;
    const ref = REPLIES.reference;
    if (!ours || !ref) {
      console.log('      (skipped: the traffic test did not complete for both daemons)');
      this.skip();
      return;
    }
    const exact = new Set(['MOS', 'jitter', 'packet loss', 'samples', 'cumulative loss', 'interval']);
    const compare = (a: BValue, b: BValue, path: string): void => {
      if (typeof a === 'number' && typeof b === 'number') {
        const key = path.slice(path.lastIndexOf('.') + 1);
        if (exact.has(key)) assert.equal(a, b, `${path}: ours ${a}, reference ${b}`);
        else if (key.startsWith('round-trip')) assert.ok(Math.abs(a - b) <= 20000, `${path}: ours ${a}, reference ${b}`);
        else if (key === 'reported at') assert.ok(Math.abs(a - b) <= 60, `${path}: ours ${a}, reference ${b}`);
        return;
      }
      if (Array.isArray(a) && Array.isArray(b)) {
        assert.equal(a.length, b.length, `${path}: ${a.length} entries, reference ${b.length}`);
        a.forEach((x, i) => compare(x, b[i], `${path}[${i}]`));
        return;
      }
      const da = dict(a, path);
      const db = dict(b, `reference ${path}`);
      assert.deepEqual(Object.keys(da).sort(), Object.keys(db).sort(), `${path}: keys differ`);
      for (const k of Object.keys(da)) compare(da[k], db[k], `${path}.${k}`);
    };
    compare(dict(ours['SSRC'], 'SSRC'), dict(ref['SSRC'], 'SSRC'), 'SSRC');
    for (const tag of ['caller', 'callee']) {
      assert.equal(mediaOf(ours, tag)['codec'], mediaOf(ref, tag)['codec']);
      streams(ours, tag).forEach((s, i) => assert.equal(s['SSRC'], streams(ref, tag)[i]['SSRC'], `${tag} stream ${i} SSRC`));
    }
  });
});
