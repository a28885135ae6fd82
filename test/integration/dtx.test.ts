// DTX and comfort noise options as a peer sees them through a daemon: a PCMU
// caller and a PCMA callee (transcoded), the caller's RTP sent in real time
// over UDP on 127.0.0.1, what reaches the callee timed, decoded and measured.
// Runs against ours and, when installed, the reference with the same options,
// so both must pass the same assertions.
//
//   --dtx-delay=60 --dtx-cn-params=40: jittery input leaves at a steady pace,
//     a gap in the input is filled with noise at the level the reference makes
//   --silence-detect with --cn-payload: silent audio towards a callee that
//     takes CN goes out as CN packets carrying exactly the configured bytes
//   --dtx-shift: a burst is played out faster (5) or cut to the buffer (0)
//   --amr-dtx: an AMR SID gives the decoder's comfort noise (native) or the
//     --dtx-cn-params noise (CN)

import { strict as assert } from 'assert';
import { DaemonHandle, daemonKinds, startDaemon } from '../helpers/daemon';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';
import { buildRtp, Received, RtpPeer } from '../helpers/rtp';
import { HOST, SSRC, sleep, spec, encodeTone, decode, rebuild, rtpOf, requireCodec, amrSid } from '../helpers/codec-audio';
import { db, rms } from '../helpers/audio';

const PCMU = spec('PCMU', 0);
const PCMA = spec('PCMA', 8);
const AMR = spec('AMR', 96, { fmtp: 'octet-align=1' });

interface Leg {
  caller: RtpPeer;
  callee: RtpPeer;
  /** Where the caller sends (the daemon's port in the answer). */
  toDaemon: { address: string; port: number };
}

let callSeq = 0;

/** Offer PCMU (or AMR) from the caller, answer PCMA (and what else the formats say) from the callee. */
async function transcodedCall(d: DaemonHandle, calleeFormats: number[], calleeRtpmaps: string[], amr = false): Promise<Leg> {
  const caller = await RtpPeer.open(HOST);
  const callee = await RtpPeer.open(HOST);
  const callId = `dtx-${process.pid}-${++callSeq}`;
  const sdp = (port: number, formats: number[], rtpmaps: string[]): string =>
    buildSdp({ address: HOST, media: [{ port, formats, attributes: rtpmaps, extraAttributes: ['sendrecv'] }] });
  const offer = await d.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'caller',
    sdp: amr ? sdp(caller.port, [96], ['rtpmap:96 AMR/8000', 'fmtp:96 octet-align=1']) : sdp(caller.port, [0], ['rtpmap:0 PCMU/8000']),
    codec: { transcode: ['PCMA', 'CN'] },
  });
  assert.equal(offer.result, 'ok', JSON.stringify(offer));
  const answer = await d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(callee.port, calleeFormats, calleeRtpmaps),
  });
  assert.equal(answer.result, 'ok', JSON.stringify(answer));
  return { caller, callee, toDaemon: mediaEndpoint(String(answer.sdp)) };
}

/** Sends packets at the given times (ms after the first), in order. */
async function sendAt(from: RtpPeer, to: { address: string; port: number }, packets: Buffer[], times: number[]): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < packets.length; i++) {
    const wait = t0 + times[i] - Date.now();
    if (wait > 0) await sleep(wait);
    await from.send(to, packets[i]);
  }
}

function intervals(rs: Received[]): number[] {
  return rs.slice(1).map((r, i) => r.at - rs[i].at);
}

for (const kind of daemonKinds()) {
  // The reference's DTX timer races with a burst being read: about one run in
  // four it fills a step or two in the middle of the burst or drops a packet of
  // it. Ours is held to the exact figures.
  const slack = kind === 'reference' ? 2 : 0;
  describe(`DTX buffer and comfort noise through the daemon (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;
    const legs: Leg[] = [];

    before(async function () {
      for (const c of ['PCMA', 'PCMU']) requireCodec(c);
      // --max-dtx=3: the reference counts it in whole seconds of the clock, so
      // with 1 it may stop (and drop the rest of the call's audio) within ms.
      d = await startDaemon({
        bin: kind,
        args: ['--dtx-delay=60', '--max-dtx=3', '--dtx-cn-params=40', '--silence-detect=0.5', '--cn-payload=60', '--cn-payload=100', '--cn-payload=150'],
      });
    });

    after(async function () {
      await Promise.all(legs.flatMap((l) => [l.caller.close(), l.callee.close()]));
      if (d) await d.stop();
    });

    it('jittery input reaches the callee at a steady pace; a gap is filled with --dtx-cn-params noise', async function () {
      const leg = await transcodedCall(d, [8], ['rtpmap:8 PCMA/8000']);
      legs.push(leg);
      const audio = encodeTone(PCMU, { count: 60, seq: 1, ts: 0 });
      // Packets 30-44 never come (300 ms); the rest with up to 30 ms of jitter.
      const sent: Buffer[] = [];
      const times: number[] = [];
      let seed = 11;
      audio.forEach((p, i) => {
        if (i >= 30 && i < 45) return;
        seed = (seed * 1103515245 + 12345) >>> 0;
        sent.push(p);
        times.push(Math.max(times[times.length - 1] ?? 0, i * 20 + (seed >>> 16) % 31));
      });
      await sendAt(leg.caller, leg.toDaemon, sent, times);
      await sleep(300);
      const got = leg.callee.packets().filter((r) => r.rtp?.pt === 8);
      assert.ok(got.length >= 60, `${got.length} PCMA packets: 45 of audio and 15 filled`);
      const ps = rtpOf(got.slice(0, 60));
      ps.forEach((p, i) => i > 0 && assert.equal((p.ts - ps[i - 1].ts) >>> 0, 160, `timestamp step at packet ${i}`));
      const noise = decode(PCMA, ps.slice(32, 43).map(rebuild));
      // Both daemons: 6 dB below the RFC 3389 level (libavcodec's comfort noise in the reference).
      const expected = (32767 * 10 ** (-40 / 20)) / 2;
      assert.ok(Math.abs(db(rms(noise) / expected)) < 3, `gap noise RMS ${rms(noise).toFixed(1)}, expected about ${expected.toFixed(1)}`);
      const out = intervals(got.slice(0, 60));
      const steady = out.filter((x) => x >= 12 && x <= 28).length / out.length;
      assert.ok(steady >= 0.8, `output gaps near 20 ms: ${(steady * 100).toFixed(0)} % (${out.join(' ')})`);
    });

    it('silence towards a callee that takes CN goes out as CN packets with the --cn-payload bytes', async function () {
      const leg = await transcodedCall(d, [8, 13], ['rtpmap:8 PCMA/8000', 'rtpmap:13 CN/8000']);
      legs.push(leg);
      const tone = encodeTone(PCMU, { count: 20, seq: 1, ts: 0 });
      const silent = Array.from({ length: 20 }, (_, i) =>
        buildRtp({ pt: 0, seq: 21 + i, ts: 3200 + i * 160, ssrc: SSRC, payload: Buffer.alloc(160, 0xff) }));
      const packets = [...tone, ...silent];
      await sendAt(leg.caller, leg.toDaemon, packets, packets.map((_, i) => i * 20));
      await sleep(300);
      const cn = leg.callee.packets().filter((r) => r.rtp?.pt === 13);
      assert.ok(cn.length >= 10, `${cn.length} CN packets`);
      const expected = Buffer.from([60, 100, 150]);
      for (const r of cn) assert.ok(r.rtp!.payload.equals(expected), `CN payload ${r.rtp!.payload.toString('hex')}`);
    });

    it('--amr-dtx=native: after an AMR SID the callee hears the decoder\'s comfort noise at the SID\'s energy', async function () {
      const quiet = await afterAmrSid(d, 40);
      const loud = await afterAmrSid(d, 60);
      assert.ok(quiet > 50 && db(loud / quiet) > 15, `SID energy 40: RMS ${quiet.toFixed(0)}, 60: RMS ${loud.toFixed(0)}`);
    });

    it('--dtx-shift=5: a burst that overflows the buffer is played out faster, nothing lost', async function () {
      const { audio, filled } = await burst(d, slack);
      assert.ok(audio >= 45 - slack && audio <= 45, `${audio} packets of the burst, all 45 expected`);
      assert.ok(filled > 0, 'then filling after the input stopped');
    });
  });

  describe(`DTX buffer with --dtx-shift=0 through the daemon (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;

    before(async function () {
      d = await startDaemon({ bin: kind, args: ['--dtx-delay=60', '--max-dtx=3', '--dtx-shift=0'] });
    });

    after(async function () {
      if (d) await d.stop();
    });

    it('a burst that overflows the buffer is cut to the last 10 packets; the output timeline skips the rest', async function () {
      const { audio } = await burst(d, slack);
      // 2 or 3 released before the burst lands, then the 10 the buffer may hold.
      assert.ok(audio >= 12 - slack && audio <= 13 + slack, `${audio} packets of audio`);
    });
  });

  describe(`--amr-dtx=CN through the daemon (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;

    before(async function () {
      requireCodec('AMR');
      d = await startDaemon({ bin: kind, args: ['--dtx-delay=60', '--max-dtx=3', '--amr-dtx=CN', '--dtx-cn-params=30'] });
    });

    after(async function () {
      if (d) await d.stop();
    });

    it('an AMR SID and the gap after it reach the callee as the --dtx-cn-params noise, whatever the SID says', async function () {
      const expected = (32767 * 10 ** (-30 / 20)) / 2;
      for (const energy of [40, 60]) {
        const level = await afterAmrSid(d, energy);
        assert.ok(Math.abs(db(level / expected)) < 3, `SID energy ${energy}: RMS ${level.toFixed(1)}, expected about ${expected.toFixed(1)}`);
      }
    });
  });
}

/** 10 packets of an AMR tone and a SID at the pace; the RMS of what the callee gets after the tone. */
async function afterAmrSid(d: DaemonHandle, energy: number): Promise<number> {
  const leg = await transcodedCall(d, [8], ['rtpmap:8 PCMA/8000'], true);
  try {
    const packets = [...encodeTone(AMR, { count: 10, seq: 1, ts: 0 }),
      buildRtp({ pt: 96, seq: 11, ts: 1600, ssrc: SSRC, payload: amrSid(energy) })];
    await sendAt(leg.caller, leg.toDaemon, packets, packets.map((_, i) => i * 20));
    await sleep(500);
    const ps = rtpOf(leg.callee.packets());
    assert.ok(ps.length >= 25, `${ps.length} packets: the tone, then comfort noise`);
    return rms(decode(PCMA, ps.slice(11, 25).map(rebuild)));
  } finally {
    await Promise.all([leg.caller.close(), leg.callee.close()]);
  }
}

/**
 * 5 packets of a tone at the 20 ms pace, then the next 40 at once. Returns how
 * many tone and filler packets reached the callee, after checking that they
 * form one timeline (timestamps +160 each, the tone first). `strayFillers`: how
 * many filler packets may sit between tone packets — the reference's DTX timer
 * sometimes fires while the burst is being read (seen in about one run in three
 * on this machine); ours never does.
 */
async function burst(d: DaemonHandle, strayFillers = 0): Promise<{ audio: number; filled: number }> {
  const leg = await transcodedCall(d, [8], ['rtpmap:8 PCMA/8000']);
  try {
    const packets = encodeTone(PCMU, { count: 45, seq: 1, ts: 0 });
    await sendAt(leg.caller, leg.toDaemon, packets, packets.map((_, i) => Math.min(i, 5) * 20));
    await sleep(1500);
    const ps = rtpOf(leg.callee.packets());
    ps.forEach((p, i) => i > 0 && assert.equal((p.ts - ps[i - 1].ts) >>> 0, 160, `timestamp step at packet ${i}`));
    // The tone is at -12 dBFS; what fills gaps is far quieter (silence or comfort noise).
    const filler = ps.map((p) => rms(decode(PCMA, [rebuild(p)])) < 1000);
    const end = filler.lastIndexOf(false) + 1;
    const stray = filler.slice(0, end).filter((q) => q).length;
    assert.ok(stray <= strayFillers, `filler only after the tone (${stray} filler packets between tone packets)`);
    return { audio: end - stray, filled: filler.length - end };
  } finally {
    await Promise.all([leg.caller.close(), leg.callee.close()]);
  }
}
