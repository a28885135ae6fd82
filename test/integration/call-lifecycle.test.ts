// A call's life as the SIP proxy and the media peers see it: re-INVITEs, forked
// branches, delete and delete delay, list, the timeouts, the session limit, port
// exhaustion, ng over TCP and retransmitted requests. Real UDP peers on 127.0.0.1.
// Runs against ours by default (RTPE_TEST_DAEMON=reference for the reference).

import { strict as assert } from 'assert';
import { attachDaemonLogs, DaemonHandle, DaemonOptions, startDaemon } from '../helpers/daemon';
import type { BDict, Transport } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { Endpoint, fmtEndpoint, Received, RtpPeer } from '../helpers/rtp';
import { buildSdp, mediaEndpoint, mediaPorts } from '../helpers/sdp';

// ---------------------------------------------------------------- helpers

let callSeq = 0;
function newCallId(what: string): string {
  callSeq++;
  return `life-${what}-${process.pid}-${callSeq}`;
}

let sessionVersion = 1;
function sdpFor(port: number): string {
  return buildSdp({ sessionVersion: sessionVersion++, media: [{ port, formats: [8], extraAttributes: ['sendrecv'] }] });
}

interface Leg {
  callId: string;
  fromTag: string;
}

async function offer(d: DaemonHandle, leg: Leg, port: number, extra: Record<string, unknown> = {}, transport?: Transport): Promise<BDict> {
  return d.ng.request(
    { command: 'offer', 'call-id': leg.callId, 'from-tag': leg.fromTag, sdp: sdpFor(port), ...extra },
    { transport },
  );
}

async function answer(d: DaemonHandle, leg: Leg, toTag: string, port: number, extra: Record<string, unknown> = {}, transport?: Transport): Promise<BDict> {
  return d.ng.request(
    { command: 'answer', 'call-id': leg.callId, 'from-tag': leg.fromTag, 'to-tag': toTag, sdp: sdpFor(port), ...extra },
    { transport },
  );
}

function ok(reply: BDict, what: string): BDict {
  assert.equal(reply.result, 'ok', `${what} failed: ${JSON.stringify(reply)}`);
  return reply;
}

interface Established {
  leg: Leg;
  /** Where A sends (advertised to A) and where B sends (advertised to B). */
  toA: Endpoint;
  toB: Endpoint;
}

/** Offer from `a`, answer from `b` (to-tag "callee"). */
async function establish(d: DaemonHandle, what: string, a: RtpPeer | number, b: RtpPeer | number): Promise<Established> {
  const leg = { callId: newCallId(what), fromTag: 'caller' };
  const o = ok(await offer(d, leg, typeof a === 'number' ? a : a.port), 'offer');
  const an = ok(await answer(d, leg, 'callee', typeof b === 'number' ? b : b.port), 'answer');
  return { leg, toA: mediaEndpoint(String(an.sdp)), toB: mediaEndpoint(String(o.sdp)) };
}

const fromEp = (e: Endpoint) => (r: Received): boolean => r.from.port === e.port && r.from.address === e.address;

/** Sends `n` packets each way and waits for all of them at the other end, from the advertised ports. */
async function expectMediaFlows(a: RtpPeer, b: RtpPeer, toA: Endpoint, toB: Endpoint, n = 3): Promise<void> {
  a.clear();
  b.clear();
  for (let i = 0; i < n; i++) {
    await a.sendRtp(toA, { pt: 8, seq: 100 + i, ts: 16000 + 160 * i, ssrc: 0xa1a1a1a1 });
    await b.sendRtp(toB, { pt: 8, seq: 500 + i, ts: 32000 + 160 * i, ssrc: 0xb2b2b2b2 });
  }
  const atB = await b.waitFor(n, 3000);
  const atA = await a.waitFor(n, 3000);
  assert.ok(atB.every(fromEp(toB)), `B got media from ${atB.map((r) => fmtEndpoint(r.from)).join(', ')}, expected ${fmtEndpoint(toB)}`);
  assert.ok(atA.every(fromEp(toA)), `A got media from ${atA.map((r) => fmtEndpoint(r.from)).join(', ')}, expected ${fmtEndpoint(toA)}`);
  assert.ok(atB.every((r) => r.rtp?.ssrc === 0xa1a1a1a1));
  assert.ok(atA.every((r) => r.rtp?.ssrc === 0xb2b2b2b2));
}

async function query(d: DaemonHandle, callId: string): Promise<BDict> {
  return d.ng.request({ command: 'query', 'call-id': callId });
}

async function list(d: DaemonHandle, limit?: number): Promise<string[]> {
  const r = ok(await d.ng.request({ command: 'list', limit }), 'list');
  return (r.calls as string[]).map(String);
}

async function statistics(d: DaemonHandle): Promise<BDict> {
  return ok(await d.ng.request({ command: 'statistics' }), 'statistics').statistics as BDict;
}

async function totalStat(d: DaemonHandle, key: string): Promise<number> {
  return Number(((await statistics(d)).totalstatistics as BDict)[key]);
}

/** Media ports in use on the first interface, as `statistics` reports them. */
async function portsUsed(d: DaemonHandle): Promise<number> {
  const ifaces = (await statistics(d)).interfaces as BDict[];
  return Number((ifaces[0].ports as BDict).used);
}

/** Every local port of every stream of a query reply. */
function localPorts(q: BDict): number[] {
  const out: number[] = [];
  for (const t of Object.values(q.tags as BDict) as BDict[]) {
    for (const m of t.medias as BDict[]) {
      for (const s of m.streams as BDict[]) if (s['local port'] !== undefined) out.push(Number(s['local port']));
    }
  }
  return out.sort((x, y) => x - y);
}

/** Polls until `cond` holds; returns the milliseconds it took, or throws after `timeoutMs`. */
async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - start;
}

// ---------------------------------------------------------------- tests

describe('call lifecycle', function () {
  this.timeout(30000);
  let d: DaemonHandle | undefined;
  const peers: RtpPeer[] = [];
  attachDaemonLogs(() => d);

  async function daemon(opts: DaemonOptions = {}): Promise<DaemonHandle> {
    d = await startDaemon(opts);
    return d;
  }

  async function peer(): Promise<RtpPeer> {
    const p = await RtpPeer.open();
    peers.push(p);
    return p;
  }

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await d?.stop();
    d = undefined;
  });

  describe('re-INVITE', () => {
    it('a second offer and answer from the same endpoints keep the daemon ports on both sides', async () => {
      const dm = await daemon();
      const a = await peer();
      const b = await peer();
      const c = await establish(dm, 'reinvite', a, b);
      const used = await portsUsed(dm);
      const o2 = ok(await offer(dm, c.leg, a.port), 're-offer');
      const a2 = ok(await answer(dm, c.leg, 'callee', b.port), 're-answer');
      assert.deepEqual(mediaEndpoint(String(o2.sdp)), c.toB, 'the port towards the callee moved');
      assert.deepEqual(mediaEndpoint(String(a2.sdp)), c.toA, 'the port towards the caller moved');
      assert.equal(await portsUsed(dm), used, 'the re-INVITE allocated ports');
      await expectMediaFlows(a, b, c.toA, c.toB);
    });

    it('a re-offer with a new caller port gets new ports towards the callee and the media follows', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const a = await peer();
      const a2 = await peer();
      const b = await peer();
      const c = await establish(dm, 'moved', a, b);
      await expectMediaFlows(a, b, c.toA, c.toB);
      a.clear();
      const o2 = ok(await offer(dm, c.leg, a2.port), 're-offer');
      const an2 = ok(await answer(dm, c.leg, 'callee', b.port), 're-answer');
      const toB2 = mediaEndpoint(String(o2.sdp));
      const toA2 = mediaEndpoint(String(an2.sdp));
      // As the reference does: the callee gets a fresh port, the caller keeps its.
      assert.notEqual(toB2.port, c.toB.port, 'the callee was not given a new port');
      assert.deepEqual(toA2, c.toA, 'the port towards the caller changed');
      await expectMediaFlows(a2, b, toA2, toB2);
      assert.equal(a.packets().length, 0, 'the old caller port still got media');
      ok(await dm.ng.request({ command: 'delete', 'call-id': c.leg.callId, 'from-tag': 'caller' }), 'delete');
      assert.equal(await portsUsed(dm), 0, 'ports of the re-offered call are still held after its delete');
    });
  });

  describe('forked branches (via-branch)', () => {
    it('each branch gets its own ports, the answered one carries the media, and deleting the other by via-branch removes only it', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const a = await peer();
      const b1 = await peer();
      const b2 = await peer();
      const leg = { callId: newCallId('fork'), fromTag: 'caller' };
      const o1 = ok(await offer(dm, leg, a.port, { 'via-branch': 'z9hG4bK-branch1' }), 'offer branch 1');
      const o2 = ok(await offer(dm, leg, a.port, { 'via-branch': 'z9hG4bK-branch2' }), 'offer branch 2');
      const toB1 = mediaEndpoint(String(o1.sdp));
      const toB2 = mediaEndpoint(String(o2.sdp));
      assert.notEqual(toB1.port, toB2.port, 'both branches were offered the same port');

      const an = ok(await answer(dm, leg, 'callee-2', b2.port, { 'via-branch': 'z9hG4bK-branch2' }), 'answer branch 2');
      const toA = mediaEndpoint(String(an.sdp));
      await expectMediaFlows(a, b2, toA, toB2);
      assert.equal(b1.packets().length, 0, 'the unanswered branch got media');

      const before = localPorts(ok(await query(dm, leg.callId), 'query'));
      assert.ok(before.includes(toB1.port));
      ok(await dm.ng.request({ command: 'delete', 'call-id': leg.callId, 'from-tag': leg.fromTag, 'via-branch': 'z9hG4bK-branch1' }), 'delete branch 1');
      const q = ok(await query(dm, leg.callId), 'query after deleting branch 1');
      const after = localPorts(q);
      assert.ok(!after.includes(toB1.port), `branch 1's port ${toB1.port} is still in the call: ${after.join(', ')}`);
      assert.ok(after.includes(toB2.port) && after.includes(toA.port), 'the answered branch lost its ports');
      assert.ok((q.tags as BDict)['callee-2'], 'the answered branch is gone');
      await expectMediaFlows(a, b2, toA, toB2);
    });

    it('an answer for the first of two branches connects the caller with that branch', async () => {
      const dm = await daemon();
      const a = await peer();
      const b1 = await peer();
      const b2 = await peer();
      const leg = { callId: newCallId('fork1'), fromTag: 'caller' };
      const o1 = ok(await offer(dm, leg, a.port, { 'via-branch': 'z9hG4bK-first' }), 'offer branch 1');
      ok(await offer(dm, leg, a.port, { 'via-branch': 'z9hG4bK-second' }), 'offer branch 2');
      const an = ok(await answer(dm, leg, 'callee-1', b1.port, { 'via-branch': 'z9hG4bK-first' }), 'answer branch 1');
      await expectMediaFlows(a, b1, mediaEndpoint(String(an.sdp)), mediaEndpoint(String(o1.sdp)));
      assert.equal(b2.packets().length, 0);
    });

    it('deleting the only branch by via-branch ends the call', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const leg = { callId: newCallId('fork-only'), fromTag: 'caller' };
      ok(await offer(dm, leg, 40000, { 'via-branch': 'z9hG4bK-only' }), 'offer');
      ok(await dm.ng.request({ command: 'delete', 'call-id': leg.callId, 'from-tag': leg.fromTag, 'via-branch': 'z9hG4bK-only' }), 'delete');
      assert.equal((await query(dm, leg.callId))['error-reason'], 'Unknown call-id');
      assert.equal(await portsUsed(dm), 0, 'ports were left allocated');
    });
  });

  describe('delete, delete delay and list', () => {
    it('with --delete-delay=0 a deleted call is gone at once and its ports are free', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const a = await peer();
      const b = await peer();
      const c = await establish(dm, 'del0', a, b);
      await expectMediaFlows(a, b, c.toA, c.toB);
      const del = ok(await dm.ng.request({ command: 'delete', 'call-id': c.leg.callId, 'from-tag': c.leg.fromTag }), 'delete');
      assert.ok(del.tags, 'the delete reply does not carry the call figures');
      assert.deepEqual(await query(dm, c.leg.callId), { result: 'error', 'error-reason': 'Unknown call-id' });
      assert.equal(await portsUsed(dm), 0);
      assert.ok(!(await list(dm)).includes(c.leg.callId));
      await a.sendRtp(c.toA, { pt: 8, seq: 1, ts: 1, ssrc: 1 });
      assert.equal(await b.countDuring(300), 0, 'media is still relayed after the delete');
    });

    it('with --delete-delay=2 a deleted call stays queryable for about two seconds, then disappears', async () => {
      const dm = await daemon({ args: ['--delete-delay=2'] });
      const c = await establish(dm, 'del2', 40000, 40100);
      const t0 = Date.now();
      ok(await dm.ng.request({ command: 'delete', 'call-id': c.leg.callId, 'from-tag': c.leg.fromTag }), 'delete');
      await sleep(500);
      ok(await query(dm, c.leg.callId), 'query half a second after the delete');
      await waitUntil('the deleted call disappears', async () => (await query(dm, c.leg.callId)).result === 'error', 5000);
      const gone = Date.now() - t0;
      assert.ok(gone >= 1000, `the call disappeared after ${gone} ms, before its delete delay`);
      assert.equal(await portsUsed(dm), 0);
    });

    it('a deleted call cannot be answered any more', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const leg = { callId: newCallId('del-answer'), fromTag: 'caller' };
      ok(await offer(dm, leg, 40000), 'offer');
      ok(await dm.ng.request({ command: 'delete', 'call-id': leg.callId, 'from-tag': leg.fromTag }), 'delete');
      assert.deepEqual(await answer(dm, leg, 'callee', 40100), { result: 'error', 'error-reason': 'Unknown call-id' });
    });

    it('list names every call, and limit caps how many', async () => {
      const dm = await daemon();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const leg = { callId: newCallId('list'), fromTag: 'caller' };
        ok(await offer(dm, leg, 40000 + 2 * i), 'offer');
        ids.push(leg.callId);
      }
      assert.deepEqual((await list(dm)).sort(), [...ids].sort());
      const two = await list(dm, 2);
      assert.equal(two.length, 2);
      assert.ok(two.every((id) => ids.includes(id)));
      assert.deepEqual(await list(dm, 0), []);
      assert.deepEqual((await list(dm, 100)).sort(), [...ids].sort());
      assert.deepEqual(await dm.ng.request({ command: 'list', limit: -1 }), { result: 'error', 'error-reason': 'invalid limit, must be >= 0' });
    });
  });

  describe('timeouts', () => {
    it('--timeout=2 ends an answered call without media and counts it, while a call with steady RTP stays', async () => {
      const dm = await daemon({ args: ['--timeout=2', '--delete-delay=0'] });
      const a = await peer();
      const b = await peer();
      const idle = await establish(dm, 'idle', 40000, 40100);
      const live = await establish(dm, 'live', a, b);
      const sa = a.startStream(live.toA, { ssrc: 0xc3c3c3c3 });
      const sb = b.startStream(live.toB, { ssrc: 0xd4d4d4d4 });
      try {
        await waitUntil('the idle call times out', async () => !(await list(dm)).includes(idle.leg.callId), 6000);
        await sleep(1500);
        assert.ok((await list(dm)).includes(live.leg.callId), 'the call with media timed out too');
        assert.equal(await totalStat(dm, 'timeoutsessions'), 1);
        b.clear();
        await b.waitFor(10, 2000, (r) => r.rtp?.ssrc === 0xc3c3c3c3);
      } finally {
        sa.stop();
        sb.stop();
      }
      assert.equal((await query(dm, idle.leg.callId))['error-reason'], 'Unknown call-id');
    });

    it('--offer-timeout only lengthens the wait of an unanswered call, as in the reference', async () => {
      // With --timeout=2 and --offer-timeout=4, an offer-only call goes after about 4 s
      // without media (counted as a timeout), while an answered one goes after 2 s.
      const dm = await daemon({ args: ['--timeout=2', '--offer-timeout=4', '--delete-delay=0'] });
      const leg = { callId: newCallId('offer-only'), fromTag: 'caller' };
      ok(await offer(dm, leg, 40000), 'offer');
      const t0 = Date.now();
      await waitUntil('the offer-only call is removed', async () => !(await list(dm)).includes(leg.callId), 9000);
      const took = Date.now() - t0;
      assert.ok(took >= 2500, `the unanswered call went after ${took} ms, before its offer timeout`);
      assert.equal(await totalStat(dm, 'timeoutsessions'), 1);
      assert.equal(await totalStat(dm, 'offertimeoutsessions'), 0);
      assert.equal(await portsUsed(dm), 0, 'the removed call left ports allocated');
    });

    it('--final-timeout=3 ends a call even while media flows', async () => {
      const dm = await daemon({ args: ['--final-timeout=3', '--delete-delay=0'] });
      const a = await peer();
      const b = await peer();
      const c = await establish(dm, 'final', a, b);
      const t0 = Date.now();
      const sa = a.startStream(c.toA, { ssrc: 0xe5e5e5e5 });
      const sb = b.startStream(c.toB, { ssrc: 0xf6f6f6f6 });
      try {
        await b.waitFor(5, 2000);
        await waitUntil('the final timeout ends the call', async () => !(await list(dm)).includes(c.leg.callId), 7000);
        const took = Date.now() - t0;
        assert.ok(took >= 1500, `the call ended after ${took} ms, well before its final timeout`);
        await sleep(100);
        assert.equal(await b.countDuring(400), 0, 'media is still relayed after the final timeout');
      } finally {
        sa.stop();
        sb.stop();
      }
      assert.equal(await totalStat(dm, 'finaltimeoutsessions'), 1);
      assert.equal(await portsUsed(dm), 0);
    });
  });

  describe('limits', () => {
    it('--max-sessions=2 refuses a third call with the reference wording and counts it', async () => {
      const dm = await daemon({ args: ['--max-sessions=2', '--delete-delay=0'] });
      const c1 = await establish(dm, 'max1', 40000, 40100);
      await establish(dm, 'max2', 40200, 40300);
      const leg3 = { callId: newCallId('max3'), fromTag: 'caller' };
      assert.deepEqual(await offer(dm, leg3, 40400), { result: 'error', 'error-reason': 'Parallel session limit reached' });
      assert.equal(await totalStat(dm, 'rejectedsessions'), 1);
      assert.equal((await query(dm, leg3.callId))['error-reason'], 'Unknown call-id');
      // A re-INVITE of a call already there is not a new session.
      ok(await offer(dm, c1.leg, 40000), 're-offer at the limit');
      ok(await dm.ng.request({ command: 'delete', 'call-id': c1.leg.callId, 'from-tag': 'caller' }), 'delete');
      ok(await offer(dm, leg3, 40400), 'offer after a call ended');
      assert.equal(await totalStat(dm, 'rejectedsessions'), 1);
    });

    it('a tiny port range runs out of ports without disturbing the call that has them, and frees them on delete', async () => {
      // Four ports: one RTP/RTCP pair for each side of one call.
      const dm = await daemon({ args: ['--delete-delay=0'], mediaPorts: 4 });
      assert.equal(dm.portMax - dm.portMin, 3);
      const a = await peer();
      const b = await peer();
      const c = await establish(dm, 'ports', a, b);
      await expectMediaFlows(a, b, c.toA, c.toB);
      const q1 = ok(await query(dm, c.leg.callId), 'query');

      const leg2 = { callId: newCallId('no-ports'), fromTag: 'caller' };
      assert.deepEqual(await offer(dm, leg2, 40000), { result: 'error', 'error-reason': 'Ran out of ports' });
      assert.equal((await query(dm, leg2.callId))['error-reason'], 'Unknown call-id');
      assert.ok(!(await list(dm)).includes(leg2.callId));
      const q2 = ok(await query(dm, c.leg.callId), 'query after the failed offer');
      assert.deepEqual(localPorts(q2), localPorts(q1));
      assert.deepEqual(Object.keys(q2.tags as BDict).sort(), Object.keys(q1.tags as BDict).sort());
      await expectMediaFlows(a, b, c.toA, c.toB);

      ok(await dm.ng.request({ command: 'delete', 'call-id': c.leg.callId, 'from-tag': 'caller' }), 'delete');
      assert.equal(await portsUsed(dm), 0);
      // Again and again: no port leaks.
      for (let i = 0; i < 4; i++) {
        const again = await establish(dm, `reuse${i}`, a, b);
        const ports = [again.toA.port, again.toB.port];
        assert.ok(ports.every((p) => p >= dm.portMin && p + 1 <= dm.portMax), `ports ${ports.join(', ')} outside the range`);
        await expectMediaFlows(a, b, again.toA, again.toB);
        ok(await dm.ng.request({ command: 'delete', 'call-id': again.leg.callId, 'from-tag': 'caller' }), 'delete');
      }
      assert.equal(await portsUsed(dm), 0);
    });
  });

  describe('ng transport', () => {
    it('offer, answer and delete work over ng TCP', async () => {
      const dm = await daemon({ args: ['--delete-delay=0'] });
      const a = await peer();
      const b = await peer();
      const leg = { callId: newCallId('tcp'), fromTag: 'caller' };
      const o = ok(await offer(dm, leg, a.port, {}, 'tcp'), 'offer over TCP');
      const an = ok(await answer(dm, leg, 'callee', b.port, {}, 'tcp'), 'answer over TCP');
      await expectMediaFlows(a, b, mediaEndpoint(String(an.sdp)), mediaEndpoint(String(o.sdp)));
      const q = ok(await dm.ng.request({ command: 'query', 'call-id': leg.callId }, { transport: 'tcp' }), 'query over TCP');
      assert.deepEqual(Object.keys(q.tags as BDict).sort(), ['callee', 'caller']);
      ok(await dm.ng.request({ command: 'delete', 'call-id': leg.callId, 'from-tag': 'caller' }, { transport: 'tcp' }), 'delete over TCP');
      assert.equal((await query(dm, leg.callId))['error-reason'], 'Unknown call-id');
      assert.equal(await portsUsed(dm), 0);
    });

    it('a retransmitted offer (same cookie) gets the identical SDP and allocates no ports', async () => {
      const dm = await daemon();
      const leg = { callId: newCallId('retrans'), fromTag: 'caller' };
      const body = { command: 'offer', 'call-id': leg.callId, 'from-tag': 'caller', sdp: sdpFor(40000) };
      const first = ok(await dm.ng.request(body, { cookie: `retrans-${process.pid}` }), 'offer');
      const used = await portsUsed(dm);
      assert.equal(used, 4);
      for (let i = 0; i < 3; i++) {
        const again = await dm.ng.request(body, { cookie: `retrans-${process.pid}` });
        assert.deepEqual(again, first, 'the retransmission was answered differently');
      }
      assert.equal(await portsUsed(dm), used, 'a retransmission allocated ports');
      assert.deepEqual(mediaPorts(String(first.sdp)).length, 1);
    });
  });
});
