// ICE connectivity checks on media ports: the daemon answers STUN binding requests
// as an ice-lite agent with the credentials it wrote into the SDP. A test ICE agent
// (test/helpers/stun.ts) computes MESSAGE-INTEGRITY and FINGERPRINT itself. The
// answers are checked against the reference daemon too when it is installed (it
// is a full ICE agent, but answers a peer's checks the same way).

import { strict as assert } from 'assert';
import { attachDaemonLogs, daemonKinds, startDaemon, type DaemonHandle, type DaemonKind } from '../helpers/daemon';
import type { BDict } from '../helpers/ng-client';
import { RtpPeer, buildRtp } from '../helpers/rtp';
import { simpleAudioSdp } from '../helpers/sdp';
import * as stun from '../helpers/stun';

const AGENT_UFRAG = 'agnt';
const AGENT_PWD = 'agentpasswordagentpassword';

interface IceCall {
  callId: string;
  /** The daemon's credentials and ports towards the callee (from the offer it returned). */
  ice: { ufrag: string; pwd: string; rtpPort: number; rtcpPort: number | null };
  /** The caller's side of the daemon (the port in the answer it returned). */
  callerPort: number;
  caller: RtpPeer;
  /** The callee's ICE agent, which sends the checks. */
  agent: RtpPeer;
  /** The address the callee's SDP advertises: not where the checks come from. */
  decoy: RtpPeer;
  host: string;
}

/** Waits for the STUN answer with this transaction id; null if none comes in time. */
async function answerTo(peer: RtpPeer, transactionId: Buffer, timeoutMs = 1000): Promise<{ msg: stun.StunMessage; port: number } | null> {
  const match = (r: { data: Buffer }): boolean => {
    const m = stun.parseStun(r.data);
    return m !== null && m.type !== stun.BINDING_REQUEST && m.transactionId.equals(transactionId);
  };
  try {
    const [r] = await peer.waitFor(1, timeoutMs, match);
    return { msg: stun.parseStun(r.data) as stun.StunMessage, port: r.from.port };
  } catch {
    return null;
  }
}

function streamsOf(q: BDict, tag: string): BDict[] {
  const tags = q['tags'] as BDict;
  const medias = (tags[tag] as BDict)['medias'] as BDict[];
  return medias[0]['streams'] as BDict[];
}

function suite(kind: DaemonKind, host: string): void {
  const family = host.includes(':') ? 'IPv6' : 'IPv4';
  describe(`STUN checks on media ports over ${family} (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;
    let peers: RtpPeer[] = [];
    let calls: string[] = [];
    let n = 0;

    before(async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--delete-delay=0', `--interface=${host}`] });
    });
    after(async () => {
      await d?.stop();
    });
    afterEach(async () => {
      for (const callId of calls) await d.ng.request({ command: 'delete', 'call-id': callId });
      calls = [];
      await Promise.all(peers.map((p) => p.close()));
      peers = [];
    });
    attachDaemonLogs(() => d);

    async function open(): Promise<RtpPeer> {
      const p = await RtpPeer.open(host);
      peers.push(p);
      return p;
    }

    async function iceCall(ice: 'force' | 'remove' = 'force'): Promise<IceCall> {
      const callId = `stun-${process.pid}-${++n}`;
      calls.push(callId);
      const caller = await open();
      const agent = await open();
      const decoy = await open();
      const offer = await d.ng.request({
        command: 'offer', 'call-id': callId, 'from-tag': 'caller', ICE: ice,
        sdp: simpleAudioSdp(caller.port, { address: host, formats: [8] }),
      });
      assert.equal(offer.result, 'ok', JSON.stringify(offer));
      const offerSdp = String(offer.sdp);
      const creds = ice === 'force' ? stun.iceFromSdp(offerSdp) : { ufrag: 'none', pwd: 'none', rtpPort: Number(/m=audio (\d+)/.exec(offerSdp)?.[1]), rtcpPort: null };
      const answer = await d.ng.request({
        command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee',
        sdp: simpleAudioSdp(decoy.port, {
          address: host, formats: [8],
          extra: [`ice-ufrag:${AGENT_UFRAG}`, `ice-pwd:${AGENT_PWD}`, `candidate:1 1 UDP 2130706431 ${host} ${agent.port} typ host`],
        }),
      });
      assert.equal(answer.result, 'ok', JSON.stringify(answer));
      const callerPort = Number(/m=audio (\d+)/.exec(String(answer.sdp))?.[1]);
      return { callId, ice: creds, callerPort, caller, agent, decoy, host };
    }

    async function check(c: IceCall, o: Partial<stun.BindingRequestOptions> & { port?: number } = {}): Promise<{ msg: stun.StunMessage; port: number } | null> {
      const { packet, transactionId } = stun.buildBindingRequest({
        username: `${c.ice.ufrag}:${AGENT_UFRAG}`,
        password: c.ice.pwd,
        priority: 1853824767,
        // An ice-lite daemon leaves the controlling role to the peer; the reference,
        // a full agent that offered, keeps it (and answers a second controlling
        // agent with 487 Role Conflict).
        controlling: kind === 'ours',
        ...o,
      });
      await c.agent.send({ address: host, port: o.port ?? c.ice.rtpPort }, packet);
      return answerTo(c.agent, transactionId);
    }

    it('a check with the advertised credentials is answered from the checked port, naming the sender', async () => {
      const c = await iceCall();
      const r = await check(c);
      assert.ok(r, 'no answer to a valid binding request');
      assert.equal(r.port, c.ice.rtpPort, 'answered from another port');
      assert.equal(r.msg.type, stun.BINDING_SUCCESS, `type 0x${r.msg.type.toString(16)}, error ${stun.errorCode(r.msg)}`);
      assert.deepEqual(stun.xorMappedAddress(r.msg), { family: host.includes(':') ? 6 : 4, address: host, port: c.agent.port });
      assert.ok(stun.integrityOk(r.msg, c.ice.pwd), 'MESSAGE-INTEGRITY is not keyed with the advertised ice-pwd');
      assert.ok(stun.fingerprintOk(r.msg), 'bad FINGERPRINT');
      // FINGERPRINT last, MESSAGE-INTEGRITY right before it.
      const types = r.msg.attrs.map((a) => a.type);
      assert.deepEqual(types.slice(-2), [stun.ATTR.MESSAGE_INTEGRITY, stun.ATTR.FINGERPRINT]);
    });

    it('the RTCP component is answered on the RTCP port', async () => {
      const c = await iceCall();
      assert.ok(c.ice.rtcpPort, 'no RTCP candidate in the offer');
      const r = await check(c, { port: c.ice.rtcpPort ?? 0 });
      assert.ok(r, 'no answer on the RTCP port');
      assert.equal(r.port, c.ice.rtcpPort);
      assert.equal(r.msg.type, stun.BINDING_SUCCESS);
      assert.ok(stun.integrityOk(r.msg, c.ice.pwd));
    });

    it('a check keyed with the wrong password gets 401 Unauthorized', async () => {
      const c = await iceCall();
      const r = await check(c, { password: 'not-the-password-at-all' });
      assert.ok(r, 'no answer');
      assert.equal(r.msg.type, stun.BINDING_ERROR);
      assert.equal(stun.errorCode(r.msg), 401);
      assert.ok(stun.fingerprintOk(r.msg));
    });

    it('a check for another ufrag gets 401 Unauthorized', async () => {
      const c = await iceCall();
      const r = await check(c, { username: `x${c.ice.ufrag}:${AGENT_UFRAG}` });
      assert.ok(r, 'no answer');
      assert.equal(r.msg.type, stun.BINDING_ERROR);
      assert.equal(stun.errorCode(r.msg), 401);
    });

    it('a check without MESSAGE-INTEGRITY gets 400 Bad Request', async () => {
      const c = await iceCall();
      const r = await check(c, { password: null });
      assert.ok(r, 'no answer');
      assert.equal(r.msg.type, stun.BINDING_ERROR);
      assert.equal(stun.errorCode(r.msg), 400);
    });

    it('a check with a bad FINGERPRINT is not answered', async () => {
      const c = await iceCall();
      const r = await check(c, { fingerprint: 'bad' });
      assert.equal(r, null, 'a message with a bad FINGERPRINT was answered');
      // The same request with a good one still works: nothing was learned from the bad one.
      assert.ok(await check(c));
    });

    it('a check on a call without ICE gets 401 Unauthorized', async () => {
      const c = await iceCall('remove');
      const r = await check(c);
      assert.ok(r, 'no answer');
      assert.equal(stun.errorCode(r.msg), 401);
    });

    if (kind !== 'ours') return;

    it('rejected and unanswered checks are counted as errors of the stream', async () => {
      const c = await iceCall();
      await check(c, { fingerprint: 'bad' });
      await check(c, { password: 'wrong-password-wrong-password' });
      const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
      const rtp = streamsOf(q, 'callee')[0];
      assert.equal((rtp['stats'] as BDict)['errors'], 2);
      assert.equal((rtp['stats'] as BDict)['packets'], 0, 'STUN counted as media');
    });

    it('after a nominated check, media from the other side goes to the checking address', async () => {
      const c = await iceCall();
      const r = await check(c, { useCandidate: true });
      assert.ok(r && r.msg.type === stun.BINDING_SUCCESS, 'check failed');
      for (let i = 0; i < 5; i++) {
        await c.caller.send({ address: host, port: c.callerPort }, buildRtp({ pt: 8, seq: 100 + i, ts: 160 * i, ssrc: 0x1234 }));
      }
      const got = await c.agent.waitFor(5, 2000, (p) => p.rtp !== null);
      assert.equal(got[0].from.port, c.ice.rtpPort);
      assert.equal(c.decoy.packets((p) => p.rtp !== null).length, 0, 'media went to the SDP address instead');
      const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
      const ep = streamsOf(q, 'callee')[0]['endpoint'] as BDict;
      assert.equal(ep['port'], c.agent.port, 'query does not show the checked endpoint');
    });

    it('an unnominated check moves the endpoint until a nominated one fixes it', async () => {
      const c = await iceCall();
      const other = await open();
      assert.ok(await check(c));  // from the agent, not nominated
      // A nominated check from another candidate wins.
      const { packet, transactionId } = stun.buildBindingRequest({
        username: `${c.ice.ufrag}:${AGENT_UFRAG}`, password: c.ice.pwd, controlling: true, useCandidate: true,
      });
      await other.send({ address: host, port: c.ice.rtpPort }, packet);
      assert.ok(await answerTo(other, transactionId));
      // A later unnominated check from the agent no longer moves it.
      assert.ok(await check(c));
      await c.caller.send({ address: host, port: c.callerPort }, buildRtp({ pt: 8, seq: 1, ts: 0, ssrc: 0x4321 }));
      await other.waitFor(1, 2000, (p) => p.rtp !== null);
      assert.equal(c.agent.packets((p) => p.rtp !== null).length, 0);
    });

    it('a binding indication is swallowed without an answer or an error', async () => {
      const c = await iceCall();
      const r = await check(c, { type: stun.BINDING_INDICATION });
      assert.equal(r, null);
      const q = await d.ng.request({ command: 'query', 'call-id': c.callId });
      assert.equal(((streamsOf(q, 'callee')[0]['stats'] as BDict)['errors']), 0);
    });

    it('an unknown comprehension-required attribute gets 420 naming it', async () => {
      const c = await iceCall();
      const r = await check(c, { extra: [{ type: 0x0033, value: Buffer.from('abcd') }] });
      assert.ok(r, 'no answer');
      assert.equal(stun.errorCode(r.msg), 420);
      assert.deepEqual(stun.getAttr(r.msg, stun.ATTR.UNKNOWN_ATTRIBUTES), Buffer.from([0x00, 0x33]));
    });
  });
}

for (const kind of daemonKinds()) {
  suite(kind, '127.0.0.1');
  suite(kind, '::1');
}
