// The mixing audio player (--audio-player, --audio-buffer-length,
// --audio-buffer-delay, the `audio-player=` key) in a live call through a real
// daemon: the caller sends a 400 Hz tone in PCMA while `play media` plays a
// 1000 Hz WAV file to the callee. With the audio player engaged the callee's
// decoded audio holds both tones (Goertzel), in one RTP stream (one SSRC,
// continuous sequence numbers and timestamps) paced at 20 ms; without it the
// playback replaces the caller's audio, as before. Each --audio-player mode and
// each key value engages it when the manual says.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DaemonHandle, startDaemon } from '../helpers/daemon';
import { closeLiveCalls, startLiveCall, type LiveCall } from '../helpers/live-call';
import { decode, encodeTone, pcmRate, rebuild, spec } from '../helpers/codec-audio';
import { toneAmplitude, writeWav } from '../helpers/audio';
import { buildSdp } from '../helpers/sdp';
import { parseRtp, type Received, type RunningStream } from '../helpers/rtp';

import { sleep } from '../helpers/process';
const PCMA = spec('PCMA', 8);
const CALLER_HZ = 400;
const PLAYED_HZ = 1000;
/** A Goertzel amplitude clearly there: the tones are sent at 8000 (about -12 dBFS). */
const PRESENT = 4000;
/** ... and clearly absent. */
const ABSENT = 800;

/** One 20 ms PCMA payload of the caller's tone (400 Hz repeats every 160 samples). */
const CALLER_PAYLOAD = parseRtp(encodeTone(PCMA, { freq: CALLER_HZ, count: 1 })[0])!.payload;

interface Tones {
  caller: number;
  played: number;
}

/** The two tones' amplitudes in what the callee received between `from` and `to` (Date.now()), in `codec`. */
function tonesIn(rs: Received[], from: number, to: number, codec = PCMA): Tones {
  const ps = rs.filter((r) => r.rtp && r.at >= from && r.at < to && r.rtp.pt === codec.payloadType).map((r) => rebuild(r.rtp!));
  assert.ok(ps.length >= 10, `${ps.length} ${codec.name} packets arrived in the window`);
  const pcm = decode(codec, ps);
  const rate = pcmRate(codec);
  return { caller: toneAmplitude(pcm, rate, CALLER_HZ), played: toneAmplitude(pcm, rate, PLAYED_HZ) };
}

/**
 * One RTP stream: one SSRC and sequence numbers +1 each; audio timestamps +160
 * each except at up to `handovers` points (the audio player taking over or letting
 * go, an RFC 4733 event in between), where they advance as much as the time that
 * passed (within 60 ms). Event packets (`untimed`) keep their event's start.
 */
function assertOneStream(rs: Received[], handovers = 0, untimed: (pt: number) => boolean = () => false): void {
  assert.ok(rs.length > 10, `${rs.length} packets`);
  let other = 0;
  let prev: Received | null = null;
  rs.forEach((r, i) => {
    const p = r.rtp!;
    if (i > 0) {
      assert.equal(p.ssrc, rs[0].rtp!.ssrc, `packet ${i} keeps the SSRC`);
      assert.equal(p.seq, (rs[i - 1].rtp!.seq + 1) & 0xffff, `packet ${i} follows (seq ${rs[i - 1].rtp!.seq} -> ${p.seq})`);
    }
    if (untimed(p.pt)) return;
    if (prev) {
      const step = (p.ts - prev.rtp!.ts) >>> 0;
      if (step !== 160) {
        other++;
        const ms = step / 8;
        assert.ok(Math.abs(ms - (r.at - prev.at)) <= 60, `timestamp step ${step} at packet ${i} (seq ${p.seq}) after ${r.at - prev.at} ms`);
      }
    }
    prev = r;
  });
  assert.ok(other <= handovers, `${other} timestamp steps other than 160 (${handovers} handovers)`);
}

/** Packets arrive every 20 ms: as many as the time they span says, none in bursts. */
function assertPaced(rs: Received[]): void {
  const span = rs[rs.length - 1].at - rs[0].at;
  const expected = span / 20 + 1;
  assert.ok(Math.abs(rs.length - expected) <= Math.max(3, expected * 0.05), `${rs.length} packets in ${span} ms`);
  const gaps = rs.slice(1).map((r, i) => r.at - rs[i].at);
  const bursts = gaps.filter((g) => g <= 2).length;
  // A loaded machine delays a packet now and then; steady pacing keeps that rare.
  assert.ok(bursts <= rs.length * 0.1, `${bursts} of ${gaps.length} packets came right after the previous one`);
}

describe('audio player (--audio-player, --audio-buffer-length, --audio-buffer-delay, audio-player=)', function () {
  this.timeout(60000);
  let dir = '';
  let wav = '';
  const daemons: DaemonHandle[] = [];
  const calls: LiveCall[] = [];
  const streams: RunningStream[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-mix-'));
    wav = path.join(dir, 'tone-1k.wav');
    writeWav(wav, 8000, PLAYED_HZ, 1200);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.stop();
    await closeLiveCalls(calls);
    for (const d of daemons.splice(0)) await d.stop();
  });

  async function daemon(args: string[] = []): Promise<DaemonHandle> {
    const d = await startDaemon({ args });
    daemons.push(d);
    return d;
  }

  /**
   * A PCMA call in which the caller sends its tone every 20 ms; with `callee` the
   * callee answers that codec only (the caller's audio is transcoded into it).
   */
  async function call(d: DaemonHandle, o: { offer?: Record<string, unknown>; callee?: [number, string]; events?: boolean; payload?: (i: number) => Buffer } = {}): Promise<LiveCall> {
    const c = await startLiveCall(d, {
      name: 'mix', codecs: o.events ? [[8, 'PCMA/8000'], [101, 'telephone-event/8000']] : [[8, 'PCMA/8000']], answerCodecs: o.callee ? [o.callee] : undefined,
      offer: o.callee ? { ...o.offer, codec: { transcode: [o.callee[1].split('/')[0]] } } : o.offer,
    });
    calls.push(c);
    streams.push(c.caller.startStream(c.fromCaller, { pt: 8, payload: o.payload ?? CALLER_PAYLOAD }));
    // The callee sends too (silence in PCMA; what it sends matters to no test), so that both directions are live.
    streams.push(c.callee.startStream(c.fromCallee, { pt: 8, payload: Buffer.alloc(160, 0xd5) }));
    await c.callee.waitFor(5, 3000);
    return c;
  }

  /** Plays the 1 kHz file to the callee; resolves with what the callee received during the playback (in `codec`). */
  async function playToCallee(d: DaemonHandle, c: LiveCall, codec = PCMA): Promise<{ during: Tones; rs: Received[]; start: number }> {
    const start = Date.now();
    const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'callee-tag', file: wav });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await sleep(1000);
    const rs = c.callee.packets((p) => p.rtp !== null && p.at >= start);
    return { during: tonesIn(rs, start + 200, start + 1000, codec), rs, start };
  }

  it('--audio-player=always: the callee hears the caller and the played file mixed, in one steadily paced RTP stream', async () => {
    const d = await daemon(['--audio-player=always']);
    const c = await call(d);
    await sleep(300);
    const before = Date.now();
    await sleep(400);
    const alone = tonesIn(c.callee.packets(), before, Date.now());
    assert.ok(alone.caller > PRESENT && alone.played < ABSENT, `before playing: ${JSON.stringify(alone)}`);
    const { during, rs, start } = await playToCallee(d, c);
    assert.ok(during.caller > PRESENT, `the caller's tone is still heard: ${JSON.stringify(during)}`);
    assert.ok(during.played > PRESENT, `the played tone is heard: ${JSON.stringify(during)}`);
    await sleep(600);
    const all = c.callee.packets((p) => p.rtp !== null && p.at >= before);
    assertOneStream(all);
    assertPaced(all.filter((p) => p.at >= start));
    assert.ok(rs.length > 0);
  });

  it('without the audio player (--audio-player=on-demand, the default) the playback replaces the caller\'s audio', async () => {
    const d = await daemon();
    const c = await call(d);
    await sleep(300);
    const { during } = await playToCallee(d, c);
    assert.ok(during.played > PRESENT, `the played tone is heard: ${JSON.stringify(during)}`);
    assert.ok(during.caller < ABSENT, `the caller's tone is replaced: ${JSON.stringify(during)}`);
  });

  it('--audio-player=always keeps sending to the callee (silence) while the caller is quiet', async () => {
    const d = await daemon(['--audio-player=always']);
    const c = await call(d);
    await sleep(300);
    streams[0].stop();
    await sleep(100);
    const from = Date.now();
    await sleep(600);
    const quiet = c.callee.packets((p) => p.rtp !== null && p.at >= from);
    assert.ok(quiet.length >= 25, `${quiet.length} packets in 600 ms without input`);
    const t = tonesIn(quiet, from, Date.now());
    assert.ok(t.caller < ABSENT && t.played < ABSENT, `silence: ${JSON.stringify(t)}`);
    assertOneStream(c.callee.packets((p) => p.rtp !== null));
  });

  it('--audio-player=play-media mixes while media plays, then forwards the caller\'s packets unchanged in the same RTP stream', async () => {
    const d = await daemon(['--audio-player=play-media']);
    const c = await call(d);
    await sleep(300);
    const before = c.callee.packets((p) => p.rtp !== null);
    // Before any playback: plain forwarding, the caller's own payload.
    assert.ok(before.slice(-5).every((r) => r.rtp!.payload.equals(CALLER_PAYLOAD)), 'forwarded unchanged before');
    const { during, start } = await playToCallee(d, c);
    assert.ok(during.caller > PRESENT && during.played > PRESENT, `both tones: ${JSON.stringify(during)}`);
    // The file lasts 1.2 s: the audio player lets go after it.
    await sleep(1500);
    const after = c.callee.packets((p) => p.rtp !== null && p.at >= start + 1700);
    assert.ok(after.length >= 10, `${after.length} packets after the playback`);
    assert.ok(after.every((r) => r.rtp!.payload.equals(CALLER_PAYLOAD)), 'forwarded unchanged after the playback');
    assertOneStream(c.callee.packets((p) => p.rtp !== null && p.at >= start - 200), 2);
  });

  it('--audio-player=play-media: stop media ends the mix early and forwarding resumes in the same RTP stream', async () => {
    const d = await daemon(['--audio-player=play-media']);
    const c = await call(d);
    await sleep(300);
    const start = Date.now();
    const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'callee-tag', file: wav });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await sleep(500);
    const during = tonesIn(c.callee.packets(), start + 150, Date.now());
    assert.ok(during.caller > PRESENT && during.played > PRESENT, `both tones: ${JSON.stringify(during)}`);
    const stop = await d.ng.request({ command: 'stop media', 'call-id': c.callId, 'from-tag': 'callee-tag' });
    assert.equal(stop.result, 'ok', JSON.stringify(stop));
    const stopped = Date.now();
    await sleep(500);
    const after = c.callee.packets((p) => p.rtp !== null && p.at >= stopped + 150);
    assert.ok(after.length >= 10 && after.every((p) => p.rtp!.payload.equals(CALLER_PAYLOAD)), 'forwarded unchanged after stop media');
    assertOneStream(c.callee.packets((p) => p.rtp !== null && p.at >= start - 200), 2);
  });

  it('--audio-player=play-media in a transcoded call: after a short playback the transcoded stream continues at its pace, nothing concealed in a burst', async () => {
    const d = await daemon(['--audio-player=play-media']);
    const c = await call(d, { callee: [0, 'PCMU/8000'] });
    await sleep(300);
    const start = Date.now();
    const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'callee-tag', file: wav });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await sleep(400);
    assert.equal((await d.ng.request({ command: 'stop media', 'call-id': c.callId, 'from-tag': 'callee-tag' })).result, 'ok');
    const stopped = Date.now();
    await sleep(800);
    const rs = c.callee.packets((p) => p.rtp !== null && p.at >= start - 200);
    assertOneStream(rs, 2);
    assertPaced(rs);
    const after = tonesIn(rs, stopped + 200, Date.now(), spec('PCMU', 0));
    assert.ok(after.caller > PRESENT && after.played < ABSENT, `the caller alone after the playback: ${JSON.stringify(after)}`);
  });

  it('--audio-player=transcoding engages it for a transcoded call only', async () => {
    const d = await daemon(['--audio-player=transcoding']);
    // The callee answers PCMU only: the caller's PCMA is transcoded.
    const t = await call(d, { callee: [0, 'PCMU/8000'] });
    const plain = await call(d);
    await sleep(300);
    const [mixed, replaced] = await Promise.all([playToCallee(d, t, spec('PCMU', 0)), playToCallee(d, plain)]);
    assert.ok(mixed.during.caller > PRESENT && mixed.during.played > PRESENT, `transcoded call, both tones: ${JSON.stringify(mixed.during)}`);
    assert.ok(replaced.during.caller < ABSENT && replaced.during.played > PRESENT, `plain call, replaced: ${JSON.stringify(replaced.during)}`);
  });

  it('--audio-player=transcoding with an opus callee: the mix runs at 48 kHz and both tones come out of the opus decoder', async () => {
    const d = await daemon(['--audio-player=transcoding']);
    const c = await call(d, { callee: [96, 'opus/48000/2'] });
    await sleep(500);
    const { during } = await playToCallee(d, c, spec('opus', 96));
    assert.ok(during.caller > PRESENT && during.played > PRESENT, `both tones: ${JSON.stringify(during)}`);
  });

  it('the audio-player key (as a key or a flags item) overrides --audio-player: off disables it, always engages it', async () => {
    const dAlways = await daemon(['--audio-player=always']);
    const off = await call(dAlways, { offer: { 'audio player': 'off' } });
    const dDefault = await daemon();
    const on = await call(dDefault, { offer: { flags: ['audio-player=always'] } });
    await sleep(300);
    const [a, b] = await Promise.all([playToCallee(dAlways, off), playToCallee(dDefault, on)]);
    assert.ok(a.during.caller < ABSENT && a.during.played > PRESENT, `audio-player=off replaces: ${JSON.stringify(a.during)}`);
    assert.ok(b.during.caller > PRESENT && b.during.played > PRESENT, `audio-player=always mixes: ${JSON.stringify(b.during)}`);
  });

  it('play DTMF to a party whose audio player is engaged: the events go out in its RTP stream, then the mix continues it', async () => {
    const d = await daemon(['--audio-player=always']);
    const c = await call(d, { events: true });
    await sleep(300);
    const start = Date.now();
    const r = await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'callee-tag', code: '5', duration: 200 });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await sleep(800);
    const rs = c.callee.packets((p) => p.rtp !== null && p.at >= start - 200);
    const events = rs.filter((p) => p.rtp!.pt === 101);
    assert.ok(events.length >= 4, `${events.length} RFC 4733 packets`);
    assert.equal(events[0].rtp!.payload[0], 5, 'the event is digit 5');
    const after = tonesIn(rs, events[events.length - 1].at + 200, Date.now());
    assert.ok(after.caller > PRESENT, `the caller is heard again after the digit: ${JSON.stringify(after)}`);
    assertOneStream(rs, 2, (pt) => pt === 101);
  });

  it('--audio-buffer-delay is the latency a new source starts with', async () => {
    /** How long after the caller's first tone packet the callee hears it, with the given delay. */
    const latency = async (delayMs: number): Promise<number> => {
      const d = await daemon(['--audio-player=always', `--audio-buffer-delay=${delayMs}`]);
      let toneFrom = 0;
      // 400 ms of silence first (the caller is a source from its first packet), then the tone.
      const c = await call(d, {
        payload: (i) => {
          if (i < 20) return Buffer.alloc(160, 0xd5);
          if (!toneFrom) toneFrom = Date.now();
          return CALLER_PAYLOAD;
        },
      });
      await sleep(1000);
      assert.ok(toneFrom > 0, 'the tone was sent');
      const heard = c.callee.packets((p) => p.rtp !== null && p.at >= toneFrom)
        .find((p) => toneAmplitude(decode(PCMA, [rebuild(p.rtp!)]), 8000, CALLER_HZ) > PRESENT / 2);
      assert.ok(heard, 'the callee hears the tone');
      return heard.at - toneFrom;
    };
    const short = await latency(5);
    const long = await latency(300);
    assert.ok(short < 100, `5 ms delay: heard after ${short} ms`);
    assert.ok(Math.abs(long - short - 295) <= 60, `300 ms delay: heard after ${long} ms (5 ms: ${short} ms)`);
  });

  it('an unknown audio-player= value is logged and ignored', async () => {
    const d = await daemon(['--audio-player=always']);
    const sdp = buildSdp({ address: '127.0.0.1', media: [{ port: 4000, formats: [8], attributes: [], extraAttributes: ['sendrecv'] }] });
    const r = await d.ng.request({ command: 'offer', 'call-id': `mix-bad-${process.pid}`, 'from-tag': 'caller-tag', sdp, 'audio-player': 'sometimes' });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await sleep(100);
    assert.ok(d.logLines().some((l) => /Unknown 'audio-player' value 'sometimes'/.test(l)), 'the log names the value');
  });

  it('an --audio-buffer-length too short for two packets leaves the call forwarding, with a warning in the log', async () => {
    const d = await daemon(['--audio-player=always', '--audio-buffer-length=30']);
    const c = await call(d);
    await sleep(300);
    const recent = c.callee.packets((p) => p.rtp !== null).slice(-5);
    assert.ok(recent.every((r) => r.rtp!.payload.equals(CALLER_PAYLOAD)), 'forwarded unchanged');
    assert.ok(d.logLines().some((l) => /Cannot engage the audio player.*at least two packets/.test(l)), 'the log says why');
  });
});
