// block/unblock media, silence/unsilence media, block/unblock DTMF and
// start/stop forwarding, driven over ng during a live call between two UDP
// peers. Each step sends the same packets both ways (audio and RFC 4733 events
// from the caller, audio from the callee) and checks what each peer receives.
// The same assertions run against the reference daemon when it is installed:
// they are what rtpengine 10.5 does.

import { strict as assert } from 'assert';
import { DaemonHandle, attachDaemonLogs, daemonKinds, startDaemon } from '../helpers/daemon';
import { RtpPeer } from '../helpers/rtp';
import { closeLiveCalls, startLiveCall, type LiveCall } from '../helpers/live-call';
import { assertTone, decode, encodeTone, pcmRate, rebuild, requireCodec, spec } from '../helpers/codec-audio';

const HOST = '127.0.0.1';
import { sleep } from '../helpers/process';

const CODECS: Record<string, { pt: number; rtpmap: string }> = {
  PCMA: { pt: 8, rtpmap: 'PCMA/8000' },
  PCMU: { pt: 0, rtpmap: 'PCMU/8000' },
  G722: { pt: 9, rtpmap: 'G722/8000' },
  opus: { pt: 96, rtpmap: 'opus/48000/2' },
};
const DTMF_PT = 101;

interface ControlledCall extends LiveCall {
  codec: string;
}

/** What arrived at a peer during one step, as "pt:first payload bytes in hex". */
type Seen = string[];

async function liveCall(d: DaemonHandle, codec = 'PCMA'): Promise<ControlledCall> {
  const { pt, rtpmap } = CODECS[codec];
  const c = await startLiveCall(d, { name: 'media-control', codecs: [[pt, rtpmap], [DTMF_PT, 'telephone-event/8000']] });
  return { ...c, codec };
}

/**
 * Sends three audio packets (payload bytes 0x55/0x54 alternating) and two DTMF
 * event packets from the caller, three audio packets from the callee, and
 * returns what each side received.
 */
async function exchange(c: ControlledCall): Promise<{ atCallee: Seen; atCaller: Seen }> {
  c.caller.clear();
  c.callee.clear();
  const pt = CODECS[c.codec].pt;
  const audio = (k: number): Buffer => Buffer.alloc(160, k % 2 ? 0x54 : 0x55);
  for (let k = 0; k < 3; k++) {
    await c.caller.sendRtp(c.fromCaller, { pt, seq: c.seq, ts: c.seq * 160, ssrc: 0x1111, payload: audio(k) });
    await c.callee.sendRtp(c.fromCallee, { pt, seq: c.seq, ts: c.seq * 160, ssrc: 0x2222, payload: audio(k) });
    c.seq++;
    await sleep(15);
  }
  for (let k = 0; k < 2; k++) {
    // Event 5, volume 10, duration 160.
    await c.caller.sendRtp(c.fromCaller, { pt: DTMF_PT, seq: c.seq++, ts: 100000, ssrc: 0x1111, payload: Buffer.from([5, 10, 0, 160]) });
    await sleep(15);
  }
  await sleep(150);
  const seen = (p: RtpPeer): Seen => p.packets((r) => r.rtp !== null).map((r) => `${r.rtp!.pt}:${r.rtp!.payload.subarray(0, 2).toString('hex')}`);
  return { atCallee: seen(c.callee), atCaller: seen(c.caller) };
}

async function ng(d: DaemonHandle, c: ControlledCall, command: string, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await d.ng.request({ command, 'call-id': c.callId, ...extra });
  assert.deepEqual(r, { result: 'ok' }, `${command} ${JSON.stringify(extra)}`);
}

const AUDIO = (pt: number): Seen => [`${pt}:5555`, `${pt}:5454`, `${pt}:5555`];
const EVENTS: Seen = [`${DTMF_PT}:050a`, `${DTMF_PT}:050a`];

for (const kind of daemonKinds()) {
  describe(`in-call media control (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;
    const calls: ControlledCall[] = [];
    attachDaemonLogs(() => d);

    before(async function () {
      d = await startDaemon({ bin: kind });
    });

    after(async function () {
      await closeLiveCalls(calls);
      if (d) await d.stop();
    });

    async function call(codec = 'PCMA'): Promise<ControlledCall> {
      const c = await liveCall(d, codec);
      calls.push(c);
      return c;
    }

    it('block media with a from-tag drops that party\'s audio but not its DTMF events; unblock media lets it through again', async function () {
      const c = await call();
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
      await ng(d, c, 'block media', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: AUDIO(8) });
      await ng(d, c, 'unblock media', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
    });

    it('block media without a tag blocks the whole call; unblocking one party leaves it blocked, unblock media without a tag lifts it', async function () {
      const c = await call();
      await ng(d, c, 'block media');
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: [] });
      await ng(d, c, 'unblock media', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: [] });
      await ng(d, c, 'unblock media');
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
    });

    it('unblock media without a tag leaves a party\'s block in place; the all flag clears it too', async function () {
      const c = await call();
      await ng(d, c, 'block media', { 'from-tag': 'caller-tag' });
      await ng(d, c, 'unblock media');
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: AUDIO(8) });
      await ng(d, c, 'unblock media', { flags: ['all'] });
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
    });

    it('block media with the all flag blocks both directions', async function () {
      const c = await call();
      await ng(d, c, 'block media', { flags: ['all'] });
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: [] });
    });

    it('a label or an address names the party: label callee blocks the callee, address 127.0.0.1 the first party with it (the caller)', async function () {
      const c = await call();
      await ng(d, c, 'block media', { label: 'callee' });
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: [] });
      await ng(d, c, 'unblock media', { label: 'callee' });
      await ng(d, c, 'block media', { address: HOST });
      assert.deepEqual(await exchange(c), { atCallee: EVENTS, atCaller: AUDIO(8) });
    });

    it('block DTMF drops the party\'s RFC 4733 events and keeps its audio; unblock DTMF lets them through', async function () {
      const c = await call();
      await ng(d, c, 'block DTMF', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: AUDIO(8), atCaller: AUDIO(8) });
      await ng(d, c, 'unblock DTMF', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
    });

    for (const [codec, fill] of [['PCMA', 'd5d5'], ['PCMU', 'ffff'], ['G722', 'fafa']]) {
      it(`silence media overwrites ${codec} payloads with its silence byte (0x${fill.slice(0, 2)}), keeping length and DTMF; unsilence media restores them`, async function () {
        const c = await call(codec);
        const pt = CODECS[codec].pt;
        await ng(d, c, 'silence media', { 'from-tag': 'caller-tag' });
        const during = await exchange(c);
        assert.deepEqual(during, { atCallee: [`${pt}:${fill}`, `${pt}:${fill}`, `${pt}:${fill}`, ...EVENTS], atCaller: AUDIO(pt) });
        const silenced = c.callee.packets((r) => r.rtp?.pt === pt);
        assert.ok(silenced.every((r) => r.rtp!.payload.length === 160 && r.rtp!.payload.every((x) => x === parseInt(fill.slice(0, 2), 16))));
        await ng(d, c, 'unsilence media', { 'from-tag': 'caller-tag' });
        assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(pt), ...EVENTS], atCaller: AUDIO(pt) });
      });
    }

    it('silence media leaves a codec without a silence pattern (opus) untouched', async function () {
      const c = await call('opus');
      await ng(d, c, 'silence media');
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(96), ...EVENTS], atCaller: AUDIO(96) });
    });

    it('on a transcoded call (PCMA caller, opus callee) silence media makes the callee hear silence, block media stops its audio, and unblocking brings the tone back', async function () {
      requireCodec('opus');
      const c = await startLiveCall(d, { name: 'media-control-transcode', codecs: [[8, 'PCMA/8000']], answer: {} , offer: { codec: { transcode: ['opus'] } } });
      calls.push({ ...c, codec: 'PCMA' });
      // The callee answers opus only: redo the answer with it.
      const answer = await d.ng.request({
        command: 'answer', 'call-id': c.callId, 'from-tag': 'caller-tag', 'to-tag': 'callee-tag',
        sdp: `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${c.callee.port} RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=sendrecv\r\n`,
      });
      assert.equal(answer.result, 'ok', JSON.stringify(answer));
      const pcma = spec('PCMA', 8);
      const opus = spec('opus', 96);
      let block = 0;
      /** Sends one second of tone and returns the opus packets the callee got. */
      const second = async (): Promise<Buffer[]> => {
        c.callee.clear();
        const packets = encodeTone(pcma, { count: 50, seq: 1000 + block * 50, ts: 50000 + block * 8000, first: block * 50 });
        block++;
        for (const p of packets) {
          await c.caller.send(c.fromCaller, p);
          await sleep(18);
        }
        await sleep(200);
        return c.callee.packets((r) => r.rtp?.pt === 96).map((r) => rebuild(r.rtp!));
      };
      const level = (pcm: Int16Array): number => Math.sqrt(pcm.reduce((a, x) => a + x * x, 0) / Math.max(1, pcm.length));

      await ng(d, c as ControlledCall, 'silence media', { 'from-tag': 'caller-tag' });
      const silent = await second();
      assert.ok(silent.length >= 40, `${silent.length} opus packets while silenced`);
      assert.ok(level(decode(opus, silent, 2).subarray(48000 * 2 * 0.2)) < 100, 'the callee hears silence');

      await ng(d, c as ControlledCall, 'unsilence media', { 'from-tag': 'caller-tag' });
      await ng(d, c as ControlledCall, 'block media', { 'from-tag': 'caller-tag' });
      const blocked = await second();
      assert.ok(blocked.length <= 2, `${blocked.length} opus packets arrived while blocked`);

      await ng(d, c as ControlledCall, 'unblock media', { 'from-tag': 'caller-tag' });
      const back = await second();
      assert.ok(back.length >= 40, `${back.length} opus packets after unblock`);
      const pcm = decode(opus, back, 2);
      const mono = new Int16Array(pcm.length / 2);
      for (let i = 0; i < mono.length; i++) mono[i] = pcm[2 * i];
      assertTone(mono, pcmRate(opus), { from: 0.3, seconds: 0.5 });
    });

    it('errors name the problem and change nothing: no call-id, unknown call, unknown from-tag, label or address', async function () {
      const c = await call();
      for (const command of ['block media', 'unblock media', 'silence media', 'unsilence media', 'block DTMF', 'unblock DTMF', 'start forwarding', 'stop forwarding']) {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{}, 'No call-id in message'],
          [{ 'call-id': 'no-such-call' }, 'Unknown call-ID'],
          [{ 'call-id': c.callId, 'from-tag': 'nobody' }, 'From-tag given, but no such tag exists'],
          [{ 'call-id': c.callId, label: 'nobody' }, 'No monologue matching the given label'],
          [{ 'call-id': c.callId, address: '192.0.2.1' }, 'Failed to match address to any tag'],
          [{ 'call-id': c.callId, address: 'not-an-address' }, 'Failed to parse network address'],
        ];
        for (const [args, reason] of cases) {
          const r = await d.ng.request({ command, ...args });
          assert.deepEqual(r, { result: 'error', 'error-reason': reason }, `${command} ${JSON.stringify(args)}`);
        }
      }
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
    });

    it('start forwarding and stop forwarding are accepted for the call or a party and leave the media as it was', async function () {
      const c = await call();
      await ng(d, c, 'start forwarding');
      await ng(d, c, 'start forwarding', { 'from-tag': 'caller-tag' });
      assert.deepEqual(await exchange(c), { atCallee: [...AUDIO(8), ...EVENTS], atCaller: AUDIO(8) });
      await ng(d, c, 'stop forwarding', { flags: ['all'] });
    });
  });
}
