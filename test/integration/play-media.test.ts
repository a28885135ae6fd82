// play media, stop media and play DTMF as a proxy drives them: a live call between
// two UDP peers on 127.0.0.1 through a real daemon; the callee keeps sending RTP
// while the commands play to the caller, who checks what arrives: the codec it
// negotiated, the tone of the WAV file decoded again, one continuous RTP stream
// (SSRC, sequence numbers, timestamps) across start and stop with the marker bit
// at the start, RFC 4733 events or an in-band tone found by an independent
// Goertzel filter; and the reference's error replies.

import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DaemonHandle, skipUnlessReference, startDaemon } from '../helpers/daemon';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';
import { buildRtp, parseRtp, RtpPacket } from '../helpers/rtp';
import { assertTone, decode, rebuild, spec } from '../helpers/codec-audio';
import { toneAmplitude, rms, writeWav } from '../helpers/audio';

const HOST = '127.0.0.1';
import { sleep } from '../helpers/process';
const B_SSRC = 0x2222aaaa;
const SILENCE = Buffer.alloc(160, 0xd5); // A-law silence: what the callee sends

class Peer {
  readonly sock = dgram.createSocket('udp4');
  readonly got: Array<{ at: number; p: RtpPacket }> = [];
  async open(): Promise<number> {
    this.sock.on('message', (m) => {
      const p = parseRtp(m);
      if (p) this.got.push({ at: Date.now(), p });
    });
    await new Promise<void>((r) => this.sock.bind(0, HOST, () => r()));
    return this.sock.address().port;
  }
  close(): void {
    this.sock.close();
  }
}

interface LiveCall {
  callId: string;
  a: Peer;
  b: Peer;
  /** Stops the callee's stream. */
  stop(): void;
}

let n = 0;

/**
 * Caller A offers `offer` (with `offerExtra` keys), callee B answers `answer`; B then
 * sends silence every 20 ms in payload type `bPt` (8: A-law, 0: mu-law; null: nothing).
 */
async function liveCall(d: DaemonHandle, offer: { formats: number[]; rtpmaps: string[] }, answer: { formats: number[]; rtpmaps: string[] },
  opts: { bPt?: number | null; offerExtra?: Record<string, unknown> } = {}): Promise<LiveCall> {
  const a = new Peer();
  const b = new Peer();
  const pa = await a.open();
  const pb = await b.open();
  const callId = `play-${process.pid}-${++n}`;
  const sdp = (port: number, m: { formats: number[]; rtpmaps: string[] }): string =>
    buildSdp({ address: HOST, media: [{ port, formats: m.formats, attributes: m.rtpmaps, extraAttributes: ['sendrecv'] }] });
  const o = await d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(pa, offer), ...opts.offerExtra });
  assert.equal(o.result, 'ok', JSON.stringify(o));
  const an = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(pb, answer) });
  assert.equal(an.result, 'ok', JSON.stringify(an));
  const toDaemonFromB = mediaEndpoint(String(o.sdp));
  let seq = 1000;
  let ts = 50000;
  const bPt = opts.bPt === undefined ? 8 : opts.bPt;
  // mu-law 0xff is the same silence as A-law 0xd5 once decoded.
  const payload = bPt === 0 ? Buffer.alloc(160, 0xff) : SILENCE;
  const timer = setInterval(() => {
    if (bPt === null) return;
    b.sock.send(buildRtp({ pt: bPt, seq: seq++ & 0xffff, ts: (ts += 160) >>> 0, ssrc: B_SSRC, payload }), toDaemonFromB.port, toDaemonFromB.address);
  }, 20);
  return {
    callId, a, b,
    stop: () => {
      clearInterval(timer);
      a.close();
      b.close();
    },
  };
}

const PCMA_8 = { formats: [0, 8, 101], rtpmaps: ['rtpmap:101 telephone-event/8000'] };
const PCMA_ONLY = { formats: [8], rtpmaps: [] };
const ANSWER_PCMA_TE = { formats: [8, 101], rtpmaps: ['rtpmap:101 telephone-event/8000'] };

const played = (ps: RtpPacket[]): RtpPacket[] => ps.filter((p) => p.pt === 8 && !p.payload.equals(SILENCE));

/**
 * One RTP stream: one SSRC, every sequence number once and in order, and timestamps
 * that advance as time does (within 60 ms of the arrival times, for a loaded machine).
 */
function assertContinuous(got: Array<{ at: number; p: RtpPacket }>, clockRate = 8000, untimed: (p: RtpPacket) => boolean = () => false): void {
  assert.ok(got.length > 10, `${got.length} packets`);
  const t0 = got[0];
  for (let i = 1; i < got.length; i++) {
    const { p, at } = got[i];
    const prev = got[i - 1].p;
    assert.equal(p.ssrc, t0.p.ssrc, `packet ${i} keeps the SSRC`);
    assert.equal(p.seq, (prev.seq + 1) & 0xffff, `packet ${i} follows packet ${i - 1} (seq ${prev.seq} -> ${p.seq})`);
    assert.ok(((p.ts - prev.ts) >>> 0) < clockRate, `timestamp step ${(p.ts - prev.ts) >>> 0} at packet ${i}`);
    // RFC 4733: every packet of an event carries the event's start.
    if (untimed(p)) continue;
    const tsMs = (((p.ts - t0.p.ts) >>> 0) * 1000) / clockRate;
    assert.ok(Math.abs(tsMs - (at - t0.at)) <= 60, `packet ${i}: timestamp says ${tsMs} ms, arrived after ${at - t0.at} ms ${JSON.stringify(got.slice(Math.max(0, i-5), i+2).map((g) => [g.at - t0.at, g.p.seq, g.p.ts, g.p.marker]))}`);
  }
}

describe('play media / stop media / play DTMF', function () {
  this.timeout(60000);
  let d: DaemonHandle;
  let dir: string;
  let wav1k: string;
  let wav16k: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-play-'));
    wav1k = path.join(dir, 'tone-1000hz-8k.wav');
    // A name with non-ASCII characters: the daemon must open the same file.
    wav16k = path.join(dir, 'tonalité-500hz-16k.wav');
    writeWav(wav1k, 8000, 1000, 1000);
    writeWav(wav16k, 16000, 500, 600);
    fs.writeFileSync(path.join(dir, 'garbage.wav'), 'this is not audio\n');
    d = await startDaemon({ args: ['--player-cache'] });
  });

  after(async () => {
    await d?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plays a WAV file to the caller in PCMA in place of the forwarded stream, continuing its RTP stream', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(300);
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: wav1k });
      assert.deepEqual(r, { duration: 1000, result: 'ok' });
      await sleep(1500);
      const all = c.a.got.map((g) => g.p);
      assertContinuous(c.a.got);
      const tone = played(all);
      // 1000 ms in 20 ms packets: 50, give or take the one where it started.
      assert.ok(Math.abs(tone.length - 50) <= 1, `${tone.length} packets of the file`);
      assert.equal(tone[0].marker, true, 'the playback starts with the marker bit');
      assert.equal(all.filter((p) => p.marker).length, 1, 'one marker bit');
      assert.equal(all[0].ssrc, B_SSRC, "the callee's SSRC");
      for (let i = 1; i < tone.length; i++) assert.equal((tone[i].ts - tone[i - 1].ts) >>> 0, 160);
      // Forwarded media is replaced while playing: nothing of the callee in between.
      const first = all.indexOf(tone[0]);
      const last = all.indexOf(tone[tone.length - 1]);
      assert.equal(last - first + 1, tone.length, 'no forwarded packet during the playback');
      assert.ok(all.length > last + 5, 'forwarded media resumes after the playback');
      // Timing: the playback lasts its duration.
      const span = c.a.got[last].at - c.a.got[first].at;
      assert.ok(span >= 900 && span <= 1200, `played over ${span} ms`);
      const pcm = decode(spec('PCMA', 8), tone.map(rebuild));
      assertTone(pcm, 8000, { freq: 1000, from: 0.1, seconds: 0.8, tolDb: 1 });
    } finally {
      c.stop();
    }
  });

  it('resamples a 16 kHz file and honours start-pos and repeat-times', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(200);
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: wav16k, 'start-pos': 200, 'repeat-times': 2 });
      assert.deepEqual(r, { duration: 600, result: 'ok' });
      await sleep(1300);
      const tone = played(c.a.got.map((g) => g.p));
      // (600 - 200) ms twice.
      assert.ok(Math.abs(tone.length - 40) <= 1, `${tone.length} packets played`);
      assertTone(decode(spec('PCMA', 8), tone.map(rebuild)), 8000, { freq: 500, from: 0.05, seconds: 0.7, tolDb: 1.5 });
    } finally {
      c.stop();
    }
  });

  for (const format of ['flac', 'ogg']) {
    it(`plays a ${format} file (converted by sox from the 16 kHz WAV)`, async function () {
      const file = path.join(dir, `tone-500hz-16k.${format}`);
      try {
        execFileSync('sox', [wav16k, file], { stdio: 'pipe' });
      } catch (err) {
        console.log(`      (skipped: sox cannot write ${format}: ${(err as Error).message.split('\n')[0]})`);
        this.skip();
      }
      const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
      try {
        await sleep(200);
        const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file });
        assert.equal(r.result, 'ok');
        // Vorbis decoders drop a few ms of encoder priming (libavcodec: 16 ms here).
        const duration = Number(r.duration);
        assert.ok(Math.abs(duration - 600) <= (format === 'ogg' ? 40 : 0), `duration ${duration} ms`);
        await sleep(900);
        const tone = played(c.a.got.map((g) => g.p));
        assert.ok(Math.abs(tone.length - Math.ceil(duration / 20)) <= 1, `${tone.length} packets played`);
        assertTone(decode(spec('PCMA', 8), tone.map(rebuild)), 8000, { freq: 500, from: 0.05, seconds: 0.5, tolDb: 1.5 });
      } finally {
        c.stop();
      }
    });
  }

  it('stop media ends the playback; the callee\'s stream continues the numbering', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(200);
      const blob = fs.readFileSync(wav1k);
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', blob, 'repeat-times': 5 });
      assert.equal(r.result, 'ok');
      await sleep(400);
      assert.deepEqual(await d.ng.request({ command: 'stop media', 'call-id': c.callId, 'from-tag': 'caller' }), { result: 'ok' });
      await sleep(400);
      const all = c.a.got.map((g) => g.p);
      assertContinuous(c.a.got);
      const tone = played(all);
      assert.ok(tone.length >= 15 && tone.length <= 25, `${tone.length} packets before the stop`);
      const after = all.slice(all.indexOf(tone[tone.length - 1]) + 1);
      assert.ok(after.length >= 10, `${after.length} forwarded packets after the stop`);
      assert.ok(after.every((p) => p.payload.equals(SILENCE)), 'only forwarded media after the stop');
    } finally {
      c.stop();
    }
  });

  it('a call deleted during a playback ends it; the daemon stays up', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(100);
      assert.equal((await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: wav1k, 'repeat-times': 10 })).result, 'ok');
      await sleep(200);
      assert.equal((await d.ng.request({ command: 'delete', 'call-id': c.callId, 'delete-delay': 0 })).result, 'ok');
      await sleep(100);
      const before = c.a.got.length;
      await sleep(300);
      assert.equal(c.a.got.length, before, 'nothing arrives once the call is gone');
      assert.ok(played(c.a.got.map((g) => g.p)).length >= 5, 'it was playing');
      assert.deepEqual(await d.ng.request({ command: 'stop media', 'call-id': c.callId, 'from-tag': 'caller' }), { result: 'error', 'error-reason': 'Unknown call-ID' });
      assert.deepEqual(await d.ng.request({ command: 'ping' }), { result: 'pong' });
    } finally {
      c.stop();
    }
  });

  it('play DTMF sends RFC 4733 events to a party that negotiated telephone-event', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(200);
      const r = await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller', code: '5', duration: 300, volume: 10 });
      assert.deepEqual(r, { result: 'ok' });
      await sleep(700);
      const all = c.a.got.map((g) => g.p);
      assertContinuous(c.a.got, 8000, (p) => p.pt === 101);
      const ev = all.filter((p) => p.pt === 101);
      assert.ok(ev.length >= 15, `${ev.length} event packets`);
      assert.equal(ev[0].marker, true, 'the event starts with the marker bit');
      assert.ok(ev.every((p) => p.ts === ev[0].ts), 'one timestamp for the whole event');
      assert.ok(ev.every((p) => p.payload[0] === 5 && (p.payload[1] & 0x3f) === 10), 'event 5 at -10 dBm0');
      const ends = ev.filter((p) => p.payload[1] & 0x80);
      assert.equal(ends.length, 3, 'three end packets');
      assert.deepEqual(ends.map((p) => p.payload.readUInt16BE(2)), [2400, 2400, 2400], '300 ms at 8 kHz');
      const durs = ev.filter((p) => !(p.payload[1] & 0x80)).map((p) => p.payload.readUInt16BE(2));
      for (let i = 1; i < durs.length; i++) assert.equal(durs[i] - durs[i - 1], 160, 'the duration grows by one packet');
    } finally {
      c.stop();
    }
  });

  it('play DTMF takes its keys from the parsed request: digit is read as code', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(200);
      const r = await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller', digit: '7', duration: 200 });
      assert.deepEqual(r, { result: 'ok' });
      await sleep(500);
      const ev = c.a.got.map((g) => g.p).filter((p) => p.pt === 101);
      assert.ok(ev.length > 0 && ev.every((p) => p.payload[0] === 7), `event 7 sent (${ev.map((p) => p.payload[0]).join(',')})`);
      const ends = ev.filter((p) => p.payload[1] & 0x80);
      assert.deepEqual(ends.map((p) => p.payload.readUInt16BE(2)), [1600, 1600, 1600], '200 ms at 8 kHz');
    } finally {
      c.stop();
    }
  });

  it('a second play DTMF while the first digit plays follows it after the pause', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      await sleep(200);
      const play = (code: string | number): Promise<unknown> => d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller', code, duration: 200, pause: 150 });
      assert.deepEqual(await play('1'), { result: 'ok' });
      // 35 is the character code of '#', which the reference accepts too.
      assert.deepEqual(await play(35), { result: 'ok' });
      await sleep(900);
      assertContinuous(c.a.got, 8000, (p) => p.pt === 101);
      const ev = c.a.got.map((g) => g.p).filter((p) => p.pt === 101);
      const digits = [...new Set(ev.map((p) => p.payload[0]))];
      assert.deepEqual(digits, [1, 11], 'digit 1, then # (event 11)');
      const t1 = ev.find((p) => p.payload[0] === 1)!.ts;
      const t2 = ev.find((p) => p.payload[0] === 11)!.ts;
      assert.equal((t2 - t1) >>> 0, (200 + 150) * 8, 'the second event starts after the first and its pause');
      assert.equal(ev.filter((p) => p.marker).length, 2, 'each event starts with the marker bit');
      assert.equal(ev.filter((p) => p.payload[1] & 0x80).length, 6, 'three end packets each');
    } finally {
      c.stop();
    }
  });

  it('play DTMF sends an in-band tone in the codec of a party without telephone-event', async () => {
    const c = await liveCall(d, PCMA_ONLY, PCMA_ONLY);
    try {
      await sleep(200);
      const r = await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller', code: 9, duration: 400 });
      assert.deepEqual(r, { result: 'ok' });
      await sleep(900);
      const all = c.a.got.map((g) => g.p);
      assertContinuous(c.a.got);
      const tone = played(all);
      assert.ok(tone.length >= 20, `${tone.length} tone packets`);
      const pcm = decode(spec('PCMA', 8), tone.map(rebuild)).subarray(400, 400 + 2400);
      // '9': 852 Hz and 1477 Hz; the other rows and columns absent.
      const level = (f: number): number => toneAmplitude(pcm, 8000, f);
      const total = rms(pcm) * Math.SQRT2;
      for (const f of [852, 1477]) assert.ok(level(f) > total * 0.4, `${f} Hz present (${level(f).toFixed(0)} of ${total.toFixed(0)})`);
      for (const f of [697, 770, 941, 1209, 1336, 1633]) assert.ok(level(f) < total * 0.1, `${f} Hz absent (${level(f).toFixed(0)})`);
    } finally {
      c.stop();
    }
  });

  it('plays in place of transcoded media: the transcoded stream continues after the playback', async () => {
    const c = await liveCall(d, PCMA_ONLY, { formats: [0], rtpmaps: [] }, { bPt: 0, offerExtra: { codec: { transcode: ['PCMU'] } } });
    try {
      await sleep(300);
      assert.ok(c.a.got.length >= 5 && c.a.got.every((g) => g.p.pt === 8), 'the callee\'s mu-law arrives as A-law');
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: wav1k });
      assert.equal(r.result, 'ok');
      await sleep(1400);
      const all = c.a.got.map((g) => g.p);
      assertContinuous(c.a.got);
      const tone = played(all);
      assert.ok(Math.abs(tone.length - 50) <= 1, `${tone.length} packets of the file`);
      assert.ok(all.length > all.indexOf(tone[tone.length - 1]) + 5, 'transcoded media resumes');
      assertTone(decode(spec('PCMA', 8), tone.map(rebuild)), 8000, { freq: 1000, from: 0.1, seconds: 0.8, tolDb: 1 });
    } finally {
      c.stop();
    }
  });

  it('plays to an opus party in opus, as a new RTP stream when nothing was forwarded yet', async () => {
    const opus = { formats: [96], rtpmaps: ['rtpmap:96 opus/48000/2'] };
    const c = await liveCall(d, opus, opus, { bPt: null });
    try {
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: wav1k });
      assert.deepEqual(r, { duration: 1000, result: 'ok' });
      await sleep(1400);
      const all = c.a.got.map((g) => g.p);
      assert.ok(all.every((p) => p.pt === 96), 'opus');
      assert.ok(Math.abs(all.length - 50) <= 1, `${all.length} packets`);
      assert.equal(all[0].marker, true);
      assertContinuous(c.a.got, 48000);
      for (let i = 1; i < all.length; i++) assert.equal((all[i].ts - all[i - 1].ts) >>> 0, 960, '20 ms at 48 kHz');
      // The codec's own delay shifts the tone a little: look at its middle.
      assertTone(decode(spec('opus', 96), all.map(rebuild)), 48000, { freq: 1000, from: 0.2, seconds: 0.6, tolDb: 1.5 });
    } finally {
      c.stop();
    }
  });

  it('prepares a long file off the control thread (ng answers meanwhile), then serves it from --player-cache', async () => {
    // 40 s of 44.1 kHz stereo float: about 1.5 s of opus encoding.
    const long = path.join(dir, 'long-44k1-stereo-float.wav');
    writeWav(long, 44100, 1000, 40000, { channels: 2, float: true });
    const opus = { formats: [96], rtpmaps: ['rtpmap:96 opus/48000/2'] };
    const c = await liveCall(d, opus, opus, { bPt: null });
    try {
      let answered = false;
      const playing = d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: long }).then((r) => {
        answered = true;
        return r;
      });
      assert.deepEqual(await d.ng.request({ command: 'ping' }), { result: 'pong' });
      assert.equal(answered, false, 'ping was answered while the file was being prepared');
      assert.deepEqual(await playing, { duration: 40000, result: 'ok' });
      await sleep(600);
      assertTone(decode(spec('opus', 96), c.a.got.map((g) => rebuild(g.p))), 48000, { freq: 1000, from: 0.1, seconds: 0.4, tolDb: 1.5 });
      assert.deepEqual(await d.ng.request({ command: 'stop media', 'call-id': c.callId, 'from-tag': 'caller' }), { result: 'ok' });
      const cached = `Playback of '${long}' in opus from the player cache`;
      assert.ok(!d.logLines().some((l) => l.includes(cached)), 'prepared the first time');
      assert.deepEqual(await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller', file: long }), { duration: 40000, result: 'ok' });
      // The log arrives through a pipe, after the reply.
      for (let i = 0; i < 40 && !d.logLines().some((l) => l.includes(cached)); i++) await sleep(50);
      assert.ok(d.logLines().some((l) => l.includes(cached)), 'served from the cache the second time');
    } finally {
      c.stop();
    }
  });

  /** Requests whose replies must be those of the reference, on a call between 'caller' and 'callee'. */
  const referenceCases = (callId: string): Array<Record<string, unknown>> => [
    { command: 'play media', 'call-id': 'no-such-call', 'from-tag': 'caller', file: wav1k },
    { command: 'play media', 'call-id': callId, 'from-tag': 'nobody', file: wav1k },
    { command: 'play media', 'call-id': callId, file: wav1k },
    { command: 'play media', 'call-id': callId, 'to-tag': 'callee', file: wav1k },
    { command: 'play media', 'call-id': callId, label: 'nolabel', file: wav1k },
    { command: 'play media', 'call-id': callId, address: '192.0.2.1', file: wav1k },
    { command: 'play media', 'call-id': callId, 'from-tag': 'caller' },
    { command: 'play media', 'call-id': callId, 'from-tag': 'caller', file: path.join(dir, 'missing.wav') },
    { command: 'play media', 'call-id': callId, 'from-tag': 'caller', file: path.join(dir, 'garbage.wav') },
    { command: 'play media', 'call-id': callId, 'from-tag': 'caller', blob: Buffer.from('xxxx') },
    { command: 'stop media', 'call-id': callId, 'from-tag': 'callee' },
    ...['x', 'a', 'E', 16, -1, '99', 100, '5x', ''].map((code) => ({ command: 'play DTMF', 'call-id': callId, 'from-tag': 'caller', code })),
    { command: 'play DTMF', 'call-id': callId, 'from-tag': 'caller' },
    { command: 'play DTMF', 'call-id': callId, code: '1' },
    { command: 'play media', 'call-id': callId, 'from-tag': 'caller', file: wav1k },
    { command: 'play media', 'call-id': callId, 'from-tag': 'callee', file: wav16k, 'repeat-times': 2 },
    { command: 'play media', 'call-id': callId, address: HOST, blob: fs.readFileSync(wav16k) },
    { command: 'stop media', 'call-id': callId, 'from-tag': 'caller' },
    { command: 'stop media', 'call-id': callId, 'from-tag': 'caller' },
  ];

  it('answers errors as the reference and leaves the call as it was', async () => {
    const c = await liveCall(d, PCMA_8, ANSWER_PCMA_TE);
    try {
      const err = (reason: string) => ({ result: 'error', 'error-reason': reason });
      const expected = [
        err('Unknown call-ID'), err('From-tag given, but no such tag exists'), err('No participant party specified'),
        err('No participant party specified'), err('No monologue matching the given label'), err('Failed to match address to any tag'),
        err('No media file specified'), err('Failed to start media playback from file'), err('Failed to start media playback from file'),
        err('Failed to start media playback from blob'), err('Not currently playing media'),
        ...Array(10).fill(err("Out of range 'code' specified")), err('No participant party specified'),
      ];
      const cases = referenceCases(c.callId).slice(0, expected.length);
      for (let i = 0; i < cases.length; i++) assert.deepEqual(await d.ng.request(cases[i]), expected[i], JSON.stringify(cases[i]));
      await sleep(300);
      // Nothing was played: the caller got only the callee's stream.
      const all = c.a.got.map((g) => g.p);
      assert.ok(all.length >= 8, `${all.length} forwarded packets`);
      assert.ok(all.every((p) => p.payload.equals(SILENCE) && p.ssrc === B_SSRC), 'only forwarded media');
      assertContinuous(c.a.got);
    } finally {
      c.stop();
    }
  });

  it('replies to the same requests as rtpengine 10.5 (differential)', async function () {
    skipUnlessReference(this);
    const ref = await startDaemon({ bin: 'reference', args: ['--delete-delay=0'] });
    try {
      const run = async (dd: DaemonHandle): Promise<unknown[]> => {
        const c = await liveCall(dd, PCMA_8, ANSWER_PCMA_TE, { bPt: null });
        try {
          const out: unknown[] = [];
          for (const r of referenceCases(c.callId)) out.push(await dd.ng.request(r));
          return out;
        } finally {
          c.stop();
          await dd.ng.request({ command: 'delete', 'call-id': c.callId });
        }
      };
      const [ours, theirs] = await Promise.all([run(d), run(ref)]);
      referenceCases('call').forEach((r, i) => assert.deepEqual(ours[i], theirs[i], `${JSON.stringify(r)}: ours ${JSON.stringify(ours[i])}, reference ${JSON.stringify(theirs[i])}`));
    } finally {
      await ref.stop();
    }
  });
});
