// End to end: SIPp caller → Kamailio (rtpengine module) → SIPp callee, with the
// media anchored on the daemon over ng, and real RTP in both directions.
//
// Each call has one side played by SIPp (its SDP names SIPp's own media port;
// SIPp plays g711a.pcap from there and echoes what it receives) and the other
// side by a UDP socket of this test (its port is written into that SIPp's SDP).
// The socket checks the strict path on its side: RTP from SIPp reaches it from
// exactly the address the daemon put into the SDP it was given, and RTP it sends
// comes back as SIPp's echo, which proves the other leg works too. The two tests
// swap the roles, so each direction is checked strictly once.
//
// The daemon runs with --delete-delay=0: with the default (30 s) a deleted
// call stays listed until the delay runs out, in the reference as in ours.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { DaemonHandle, DaemonKind, REFERENCE_BIN, referenceAvailable, startDaemon } from '../helpers/daemon';
import { KamailioHandle, kamailioAvailable, startKamailio, KAMAILIO_BIN } from '../helpers/kamailio';
import { SippHandle, sippAvailable, startSipp, waitUntilBound, SipMessage, SIPP_BIN } from '../helpers/sipp';
import { allocatePortRange, freeUdpPort, PortRange } from '../helpers/ports';
import { Endpoint, fmtEndpoint, Received, RtpPeer } from '../helpers/rtp';
import { mediaEndpoint } from '../helpers/sdp';
import { sleep } from '../helpers/process';

const CALL_MS = 3000; // how long the caller keeps the call up before BYE

function skipWithReason(ctx: Mocha.Context, reason: string): void {
  console.log(`      (skipped: ${reason})`);
  ctx.skip();
}

function isInvite(m: SipMessage): boolean {
  return m.method === 'INVITE' && m.body.includes('m=audio');
}

function isInviteOk(m: SipMessage): boolean {
  return m.status === 200 && m.cseqMethod === 'INVITE' && m.body.includes('m=audio');
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

async function listedCalls(d: DaemonHandle): Promise<string[]> {
  const r = await d.ng.request({ command: 'list', limit: 1000 });
  assert.equal(r.result, 'ok', `list failed: ${JSON.stringify(r)}`);
  const calls = r.calls;
  assert.ok(Array.isArray(calls), `list reply has no calls list: ${JSON.stringify(r)}`);
  return calls.map(String);
}

/** Polls `list` until `callId` is absent; resolves with the last list seen. */
async function waitUntilUnlisted(d: DaemonHandle, callId: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let calls = await listedCalls(d);
  while (calls.includes(callId) && Date.now() < deadline) {
    await sleep(100);
    calls = await listedCalls(d);
  }
  return calls;
}

for (const kind of ['ours', 'reference'] as DaemonKind[]) {
  describe(`e2e: Kamailio and SIPp with the ${kind} daemon`, function () {
    this.timeout(60000);

    let daemon: DaemonHandle | undefined;
    let kamailio: KamailioHandle | undefined;
    let uasSipPort = 0;
    let traceDir = '';
    const sipps: SippHandle[] = [];
    const peers: RtpPeer[] = [];
    const ranges: PortRange[] = [];

    before(async function () {
      if (kind === 'reference' && !referenceAvailable()) {
        return skipWithReason(this, `reference daemon ${REFERENCE_BIN} is not installed (apt-get install rtpengine-daemon)`);
      }
      if (!kamailioAvailable()) return skipWithReason(this, `${KAMAILIO_BIN} is not installed (apt-get install kamailio)`);
      if (!sippAvailable()) return skipWithReason(this, `${SIPP_BIN} is not installed (apt-get install sip-tester)`);
      if (process.getuid && process.getuid() !== 0) {
        return skipWithReason(this, 'SIPp plays pcap audio through a raw socket, which needs root');
      }
      daemon = await startDaemon({ bin: kind, args: ['--delete-delay=0'] });
      uasSipPort = await freeUdpPort();
      kamailio = await startKamailio({ ngPort: daemon.ngPort, calleeUri: `sip:127.0.0.1:${uasSipPort}` });
    });

    after(async function () {
      await kamailio?.stop();
      await daemon?.stop();
    });

    beforeEach(function () {
      traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-e2e-sipp-'));
    });

    afterEach(async function () {
      const t = this.currentTest;
      await Promise.all(sipps.map((s) => s.stop()));
      await Promise.all(peers.map((p) => p.close()));
      if (t && t.state === 'failed' && t.err) {
        const parts: string[] = [];
        for (const s of sipps) parts.push(s.report());
        if (kamailio) parts.push(`--- last Kamailio output ---\n${kamailio.logTail(40)}`);
        if (daemon) parts.push(`--- last ${kind} daemon output ---\n${daemon.logTail(40)}`);
        t.err.message += '\n' + parts.join('\n');
      }
      sipps.length = 0;
      peers.length = 0;
      for (const r of ranges.splice(0)) r.release();
      fs.rmSync(traceDir, { recursive: true, force: true });
    });

    /** Two media ports for each SIPp (it binds -mp and -mp+2). */
    async function sippMediaPorts(): Promise<{ uac: number; uas: number }> {
      const r = await allocatePortRange(8);
      ranges.push(r);
      return { uac: r.min, uas: r.min + 4 };
    }

    function newCallIdPattern(): { pattern: string; callId: string } {
      const tag = `e2e-${kind}-${randomBytes(4).toString('hex')}`;
      // SIPp expands %u to the call number (1 with -m 1) and %s to the local IP.
      return { pattern: `${tag}-%u@%s`, callId: `${tag}-1@127.0.0.1` };
    }

    function assertDaemonPort(ep: Endpoint, notPort: number, what: string): void {
      const d = daemon as DaemonHandle;
      assert.equal(ep.address, '127.0.0.1', `${what}: c= address is not the daemon's interface`);
      assert.notEqual(ep.port, notPort, `${what}: the SDP still points at the other party, not at the daemon`);
      assert.ok(
        ep.port >= d.portMin && ep.port <= d.portMax,
        `${what}: port ${ep.port} is outside the daemon's media range ${d.portMin}-${d.portMax}`,
      );
    }

    /**
     * The callee's SIPp. With `mediaFor` it only signals and its SDP names that
     * socket; without, it is its own media party (plays pcap, echoes RTP).
     */
    async function startCallee(mediaPort: number, mediaFor?: RtpPeer): Promise<SippHandle> {
      const uas = startSipp({
        scenario: mediaFor ? 'uas.xml' : 'uas-pcap.xml',
        sipPort: uasSipPort,
        mediaPort,
        keys: mediaFor ? { sdp_port: mediaFor.port } : {},
        rtpEcho: !mediaFor,
        traceDir,
      });
      sipps.push(uas);
      await waitUntilBound(uasSipPort, 5000, uas.proc);
      return uas;
    }

    /** The caller's SIPp, like startCallee(); the call goes through Kamailio. */
    function startCaller(callIdPattern: string, mediaPort: number, mediaFor?: RtpPeer): SippHandle {
      const k = kamailio as KamailioHandle;
      const uac = startSipp({
        scenario: mediaFor ? 'uac.xml' : 'uac-pcap.xml',
        remote: `127.0.0.1:${k.sipPort}`,
        mediaPort,
        keys: mediaFor ? { sdp_port: mediaFor.port } : {},
        rtpEcho: !mediaFor,
        durationMs: CALL_MS,
        callIdPattern,
        traceDir,
      });
      sipps.push(uac);
      return uac;
    }

    async function finishCall(uac: SippHandle, uas: SippHandle): Promise<void> {
      const c = await uac.wait(CALL_MS + 20000);
      assert.equal(c.timedOut, false, 'the caller did not finish the call in time');
      assert.equal(c.code, 0, `the caller's SIPp failed (exit ${c.code})`);
      const s = await uas.wait(10000);
      assert.equal(s.timedOut, false, 'the callee did not see the call end in time');
      assert.equal(s.code, 0, `the callee's SIPp failed (exit ${s.code})`);
    }

    it("the callee receives the caller's RTP from the address the daemon gave it, and the call is unlisted after BYE", async function () {
      const d = daemon as DaemonHandle;
      const ports = await sippMediaPorts();
      const callee = await RtpPeer.open('127.0.0.1');
      peers.push(callee);
      const { pattern, callId } = newCallIdPattern();

      const uas = await startCallee(ports.uas, callee);
      const uac = startCaller(pattern, ports.uac);

      // The offer as the callee got it must point at the daemon.
      const invite = await uas.waitForReceived(isInvite, 10000, 'an INVITE with SDP');
      const toCaller = mediaEndpoint(invite.body); // where the callee must send
      assertDaemonPort(toCaller, ports.uac, 'offer received by the callee');
      assert.ok((await listedCalls(d)).includes(callId), `list does not show ${callId} during the call`);

      const stream = callee.startStream(toCaller, { pt: 8, count: Math.floor(CALL_MS / 20) });
      const fromCaller = (r: Received): boolean => r.rtp !== null && r.rtp.ssrc !== stream.ssrc;
      const echoed = (r: Received): boolean => r.rtp !== null && r.rtp.ssrc === stream.ssrc;

      const played = await callee.waitFor(25, CALL_MS, fromCaller);
      for (const p of played) {
        assert.ok(
          sameEndpoint(p.from, toCaller),
          `caller RTP reached the callee from ${fmtEndpoint(p.from)}, not from ${fmtEndpoint(toCaller)} as in its SDP`,
        );
        assert.equal(p.rtp?.pt, 8, 'the caller plays PCMA (payload type 8)');
      }
      // SIPp echoes what it gets, so our packets coming back prove the callee→caller leg.
      const echoes = await callee.waitFor(10, CALL_MS, echoed);
      for (const p of echoes) {
        assert.ok(sameEndpoint(p.from, toCaller), `echo came from ${fmtEndpoint(p.from)}, not ${fmtEndpoint(toCaller)}`);
      }

      // The answer as the caller got it must point at the daemon too.
      const ok = await uac.waitForReceived(isInviteOk, 5000, 'a 200 OK with SDP');
      assertDaemonPort(mediaEndpoint(ok.body), callee.port, 'answer received by the caller');

      await finishCall(uac, uas);
      const calls = await waitUntilUnlisted(d, callId, 3000);
      assert.ok(!calls.includes(callId), `list still shows ${callId} after BYE: ${JSON.stringify(calls)}`);
      const q = await d.ng.request({ command: 'query', 'call-id': callId });
      assert.equal(q.result, 'error', `query still finds ${callId} after BYE: ${JSON.stringify(q).slice(0, 300)}`);
    });

    it("the caller receives the callee's RTP from the address the daemon gave it, and the call is unlisted after BYE", async function () {
      const d = daemon as DaemonHandle;
      const ports = await sippMediaPorts();
      const caller = await RtpPeer.open('127.0.0.1');
      peers.push(caller);
      const { pattern, callId } = newCallIdPattern();

      const uas = await startCallee(ports.uas);
      const uac = startCaller(pattern, ports.uac, caller);

      const invite = await uas.waitForReceived(isInvite, 10000, 'an INVITE with SDP');
      assertDaemonPort(mediaEndpoint(invite.body), caller.port, 'offer received by the callee');

      const ok = await uac.waitForReceived(isInviteOk, 10000, 'a 200 OK with SDP');
      const toCallee = mediaEndpoint(ok.body); // where the caller must send
      assertDaemonPort(toCallee, ports.uas, 'answer received by the caller');
      assert.ok((await listedCalls(d)).includes(callId), `list does not show ${callId} during the call`);

      const stream = caller.startStream(toCallee, { pt: 8, count: Math.floor(CALL_MS / 20) });
      const fromCallee = (r: Received): boolean => r.rtp !== null && r.rtp.ssrc !== stream.ssrc;
      const echoed = (r: Received): boolean => r.rtp !== null && r.rtp.ssrc === stream.ssrc;

      const played = await caller.waitFor(25, CALL_MS, fromCallee);
      for (const p of played) {
        assert.ok(
          sameEndpoint(p.from, toCallee),
          `callee RTP reached the caller from ${fmtEndpoint(p.from)}, not from ${fmtEndpoint(toCallee)} as in its SDP`,
        );
        assert.equal(p.rtp?.pt, 8, 'the callee plays PCMA (payload type 8)');
      }
      const echoes = await caller.waitFor(10, CALL_MS, echoed);
      for (const p of echoes) {
        assert.ok(sameEndpoint(p.from, toCallee), `echo came from ${fmtEndpoint(p.from)}, not ${fmtEndpoint(toCallee)}`);
      }

      await finishCall(uac, uas);
      const calls = await waitUntilUnlisted(d, callId, 3000);
      assert.ok(!calls.includes(callId), `list still shows ${callId} after BYE: ${JSON.stringify(calls)}`);
      const q = await d.ng.request({ command: 'query', 'call-id': callId });
      assert.equal(q.result, 'error', `query still finds ${callId} after BYE: ${JSON.stringify(q).slice(0, 300)}`);
    });
  });
}
