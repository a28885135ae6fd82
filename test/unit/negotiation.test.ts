// Codec negotiation (src/codec/negotiation.ts) and graph planning
// (src/codec/graph.ts) without a daemon: the rules of the reference's `codec`
// dictionary, checked on the payload type lists each side gets. The same rules
// are compared against rtpengine 10.5 itself in differential.test.ts.

import * as assert from 'assert';
import { parseSdp } from '../../src/sdp/sdp';
import type { CodecOps } from '../../src/control/ng-request';
import { MediaCodecs, negotiateAnswer, negotiateOffer, storeFromSection, withParams } from '../../src/codec/negotiation';
import { DEFAULT_GRAPH_OPTIONS, planRoute } from '../../src/codec/graph';

function ops(o: Partial<CodecOps> = {}): CodecOps {
  return { strip: [], offer: [], transcode: [], mask: [], except: [], set: [], consume: [], accept: [], ignore: [], ...o };
}

function section(m: string, ptime = 0): ReturnType<typeof storeFromSection> {
  const sdp = `v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n${m}`;
  return storeFromSection(parseSdp(sdp).media[0], ptime);
}

const G711_DTMF = 'm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n';
const OPUS_ANSWER = 'm=audio 5000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n';

function list(side: MediaCodecs): string {
  return side.codecs.list.map((p) => `${p.pt} ${withParams(p)}`).join(', ');
}

function offer(m: string, o: Partial<CodecOps> = {}, ptime = 0): { a: MediaCodecs; b: MediaCodecs } {
  const a = new MediaCodecs();
  const b = new MediaCodecs();
  if (ptime) {
    b.ptime = ptime;
    a.ptimeOverride = b.ptimeOverride = true;
  }
  negotiateOffer(a, b, section(m), { ops: ops(o), reuse: false, singleCodec: false });
  return { a, b };
}

describe('codec negotiation', function () {
  it('passes the offer through unchanged without codec flags', function () {
    const { b } = offer(G711_DTMF);
    assert.strictEqual(list(b), '8 PCMA/8000, 0 PCMU/8000, 101 telephone-event/8000');
    assert.strictEqual(b.transcoding, false);
  });

  it('transcode adds a codec before telephone-event, with telephone-event for its clock rate', function () {
    const { b } = offer(G711_DTMF, { transcode: ['opus'] });
    assert.strictEqual(list(b),
      '8 PCMA/8000, 0 PCMU/8000, 96 opus/48000/2, 97 telephone-event/48000, 101 telephone-event/8000');
    assert.strictEqual(b.codecs.byPt(97)?.fmtp, '0-15');
    // Early media from the callee in opus is transcoded into the caller's PCMA.
    assert.strictEqual(b.transcoding, true);
    assert.strictEqual(b.handlers.get(96)?.dest.pt, 8);
  });

  it('transcode uses the static payload type where the codec has one', function () {
    assert.strictEqual(list(offer(G711_DTMF, { transcode: ['G722'] }).b),
      '8 PCMA/8000, 0 PCMU/8000, 9 G722/8000, 101 telephone-event/8000');
    assert.strictEqual(offer(G711_DTMF, { transcode: ['G729'] }).b.codecs.byPt(18)?.fmtp, 'annexb=no');
  });

  it('transcode with a bitrate keeps it for the encoder', function () {
    const { b } = offer(G711_DTMF, { transcode: ['opus/48000/2/32000'] });
    assert.strictEqual(b.codecs.byPt(96)?.bitrate, 32000);
  });

  it('transcode ignores codecs this daemon cannot encode (iLBC)', function () {
    assert.strictEqual(list(offer(G711_DTMF, { transcode: ['iLBC'] }).b), '8 PCMA/8000, 0 PCMU/8000, 101 telephone-event/8000');
  });

  it('mask hides a codec from the callee but keeps it for the caller', function () {
    const { a, b } = offer(G711_DTMF, { mask: ['PCMA'], transcode: ['G729'] });
    assert.strictEqual(list(b), '0 PCMU/8000, 18 G729/8000, 101 telephone-event/8000');
    assert.ok(a.codecs.byPt(8), 'the caller keeps PCMA');
  });

  it('strip all with offer keeps only the codecs named', function () {
    assert.strictEqual(list(offer(G711_DTMF, { strip: ['all'], offer: ['PCMU'] }).b), '0 PCMU/8000');
  });

  it('strip all with transcode of an offered codec restores it instead of transcoding', function () {
    const { b } = offer(G711_DTMF, { strip: ['all'], transcode: ['PCMU'] });
    assert.strictEqual(list(b), '0 PCMU/8000');
    assert.strictEqual(b.transcoding, false);
  });

  it('stripping every codec leaves the original list', function () {
    assert.strictEqual(list(offer(G711_DTMF, { strip: ['all'] }).b), '8 PCMA/8000, 0 PCMU/8000, 101 telephone-event/8000');
  });

  it('strip with format parameters matches only that variant', function () {
    const m = 'm=audio 4000 RTP/AVP 96 97 8\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 opus/48000\r\n';
    assert.strictEqual(list(offer(m, { strip: ['opus/48000/2'] }).b), '97 opus/48000, 8 PCMA/8000');
    assert.strictEqual(list(offer(m, { strip: ['opus'] }).b), '8 PCMA/8000');
  });

  it('a codec stripped by name is also stripped from what the caller may send', function () {
    const { a } = offer(G711_DTMF, { strip: ['PCMU'] });
    assert.strictEqual(list(a), '8 PCMA/8000, 101 telephone-event/8000');
  });

  it('consume removes the codec towards the callee and makes it the caller\'s transcoding target', function () {
    const { a, b } = offer(G711_DTMF, { consume: ['PCMU'] });
    assert.strictEqual(list(b), '8 PCMA/8000, 101 telephone-event/8000');
    assert.strictEqual(a.codecs.byPt(0)?.accepted, true);
  });

  it('answers the caller in its own codec when the callee picked the transcoded one', function () {
    const { a, b } = offer(G711_DTMF, { transcode: ['opus'] });
    negotiateAnswer(b, a, section(OPUS_ANSWER), { ops: ops(), reuse: false, singleCodec: false });
    assert.strictEqual(list(a), '8 PCMA/8000, 101 telephone-event/8000');
    // Both directions transcode: opus -> PCMA and PCMA -> opus.
    assert.strictEqual(b.handlers.get(96)?.dest.pt, 8);
    assert.strictEqual(a.handlers.get(8)?.dest.pt, 96);
    assert.strictEqual(a.transcoding && b.transcoding, true);
  });

  it('passes a shared codec through untouched when the callee picks it', function () {
    const { a, b } = offer(G711_DTMF, { transcode: ['opus'] });
    negotiateAnswer(b, a, section(G711_DTMF), { ops: ops(), reuse: false, singleCodec: false });
    assert.strictEqual(list(a), '8 PCMA/8000, 0 PCMU/8000, 101 telephone-event/8000');
    assert.strictEqual(a.handlers.get(8)?.passthrough, true);
    assert.strictEqual(planRoute(a), null, 'no codec route: plain relay, kernel-eligible');
  });

  it('transcodes an answer that shares no codec with the offer into the caller\'s first codec', function () {
    const { a, b } = offer(G711_DTMF);
    negotiateAnswer(b, a, section('m=audio 5000 RTP/AVP 9\r\n'), { ops: ops(), reuse: false, singleCodec: false });
    assert.strictEqual(list(a), '8 PCMA/8000');
    assert.strictEqual(b.handlers.get(9)?.dest.pt, 8);
  });

  it('single-codec answers with one codec only', function () {
    const { a, b } = offer(G711_DTMF);
    negotiateAnswer(b, a, section(G711_DTMF), { ops: ops(), reuse: false, singleCodec: true });
    assert.strictEqual(list(a), '8 PCMA/8000, 101 telephone-event/8000');
  });

  it('a ptime override engages repacketization of the same codec', function () {
    const { b } = offer(G711_DTMF, {}, 30);
    const h = b.handlers.get(8);
    assert.ok(h && !h.passthrough, 'PCMA is repacketized');
    assert.strictEqual(h?.dest.pt, 8);
    assert.strictEqual(h?.src.ptime, 30);
    assert.strictEqual(h?.dest.ptime, 20);
  });
});

describe('codec answers (rtpengine 10.5 rules)', function () {
  const answer = (a: MediaCodecs, b: MediaCodecs, m: string): void =>
    negotiateAnswer(b, a, section(m), { ops: ops(), reuse: false, singleCodec: false, answerOnly: true });

  const cases = [
    { name: 'ignores an answered payload type the offer did not contain',
      answer: 'm=audio 5000 RTP/AVP 3 8 101\r\na=rtpmap:3 GSM/8000\r\na=rtpmap:101 telephone-event/8000\r\n',
      callee: '8 PCMA/8000, 101 telephone-event/8000', caller: '8 PCMA/8000, 101 telephone-event/8000', transcoding: false },
    { name: "falls back to the answer's own list when none of its payload types was offered",
      answer: 'm=audio 5000 RTP/AVP 3\r\na=rtpmap:3 GSM/8000\r\n',
      callee: '3 GSM/8000', caller: '8 PCMA/8000', transcoding: true },
  ];
  for (const c of cases) {
    it(c.name, function () {
      const { a, b } = offer(G711_DTMF);
      answer(a, b, c.answer);
      assert.strictEqual(list(b), c.callee);
      assert.strictEqual(list(a), c.caller);
      assert.strictEqual(b.transcoding, c.transcoding);
    });
  }

  it('telephone-event answered at another clock rate marks the side transcoding, its route stays a plain relay', function () {
    const { a, b } = offer(G711_DTMF);
    answer(a, b, 'm=audio 5000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/16000\r\n');
    assert.strictEqual(b.handlers.get(8)?.passthrough, true);
    assert.strictEqual(b.handlers.get(101)?.passthrough, false);
    assert.strictEqual(b.transcoding, true);
    assert.strictEqual(list(a), '8 PCMA/8000');
    // No audio codec to play the events into: PCMA stays relayed as it is.
    assert.strictEqual(planRoute(b), null);
  });
});

describe('graph planning', function () {
  it('builds one route per transcoding direction: decoders into the one output codec, events passed', function () {
    const { a, b } = offer(G711_DTMF, { transcode: ['opus'] });
    negotiateAnswer(b, a, section(OPUS_ANSWER), { ops: ops(), reuse: false, singleCodec: false });
    const fromCallee = planRoute(b);
    assert.ok(fromCallee);
    assert.strictEqual(fromCallee.out?.name, 'PCMA');
    assert.strictEqual(fromCallee.out?.payloadType, 8);
    assert.deepStrictEqual(fromCallee.transcode.map((t) => `${t.in.name}/${t.in.payloadType}`), ['opus/96']);
    const fromCaller = planRoute(a);
    assert.ok(fromCaller);
    assert.strictEqual(fromCaller.out?.name, 'opus');
    assert.strictEqual(fromCaller.out?.payloadType, 96);
    assert.deepStrictEqual(fromCaller.transcode.map((t) => t.in.name), ['PCMA']);
  });

  it('telephone-event between clock rates is translated with both clocks; no tone work when both sides have it', function () {
    const { a, b } = offer(G711_DTMF, { transcode: ['opus'] });
    negotiateAnswer(b, a, section(OPUS_ANSWER), { ops: ops(), reuse: false, singleCodec: false });
    const fromCaller = planRoute(a);
    const fromCallee = planRoute(b);
    assert.deepStrictEqual(fromCaller?.events, [{ pt: 101, outPt: 97, clockRate: 8000, outClockRate: 48000 }]);
    assert.deepStrictEqual(fromCallee?.events, [{ pt: 97, outPt: 101, clockRate: 48000, outClockRate: 8000 }]);
    assert.strictEqual(fromCaller?.outEventPt, -1);
    assert.strictEqual(fromCallee?.outEventPt, -1);
    assert.strictEqual(fromCaller?.suppressDtmf, true);
    assert.strictEqual(planRoute(a, { ...DEFAULT_GRAPH_OPTIONS, suppressDtmf: false })?.suppressDtmf, false);
  });

  it('telephone-event offered to the callee for transcoding: its events become tones, the caller\'s tones are detected', function () {
    const { a, b } = offer('m=audio 4000 RTP/AVP 8\r\n', { transcode: ['telephone-event'] });
    const te = b.codecs.list.find((p) => p.encoding === 'telephone-event');
    assert.ok(te, list(b));
    negotiateAnswer(b, a, section(`m=audio 5000 RTP/AVP 8 ${te.pt}\r\na=rtpmap:${te.pt} telephone-event/8000\r\n`),
      { ops: ops(), reuse: false, singleCodec: false });
    assert.strictEqual(list(a), '8 PCMA/8000', 'the caller is not given telephone-event');
    const fromCallee = planRoute(b);
    assert.deepStrictEqual(fromCallee?.transcode.map((t) => t.in.name), ['PCMA'], 'the same codec is transcoded to carry the tones');
    assert.deepStrictEqual(fromCallee?.events, [{ pt: te.pt, outPt: -1, clockRate: 8000, outClockRate: 8000 }]);
    const fromCaller = planRoute(a);
    assert.strictEqual(fromCaller?.outEventPt, te.pt);
    assert.strictEqual(fromCaller?.outEventClock, 8000);
  });
});
