// What `query` says about codecs, with real RTP flowing between two UDP peers on
// 127.0.0.1: per media the codec that side sends (`codec`, the reference's key,
// once packets have arrived), whether what it sends is transcoded (the
// `transcoding` flag) and the codec this daemon sends to it (`egress codec`,
// rtpengine-ts's own key). The reference's keys are checked against rtpengine
// 10.5 running the same calls when it is installed; `egress codec` against what
// the peers actually receive.

import { strict as assert } from 'assert';
import { DaemonHandle, daemonKinds, startDaemon, type DaemonKind } from '../helpers/daemon';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';
import { PacketPeer as Peer, RtpPacket } from '../helpers/rtp';
import { encodeTone, requireCodec, spec } from '../helpers/codec-audio';
import type { BDict } from '../helpers/ng-client';
import type { NativeCodecSpec } from '../../src/codec/table';

const HOST = '127.0.0.1';
import { sleep } from '../helpers/process';

interface Side {
  formats: number[];
  rtpmaps: string[];
}

interface CallCase {
  name: string;
  offer: Side;
  answer: Side;
  flags: Record<string, unknown>;
  /** What each peer sends. */
  callerSends: NativeCodecSpec;
  calleeSends: NativeCodecSpec;
  /** Expected per side: the reference's `codec` and `transcoding`, and our `egress codec`. */
  caller: { codec: string; egress: string; transcoding: boolean };
  callee: { codec: string; egress: string; transcoding: boolean };
}

const CASES: CallCase[] = [
  {
    name: 'a passthrough call (PCMU and PCMA offered, PCMA answered)',
    offer: { formats: [0, 8], rtpmaps: ['rtpmap:0 PCMU/8000', 'rtpmap:8 PCMA/8000'] },
    answer: { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
    flags: {},
    callerSends: spec('PCMA', 8),
    calleeSends: spec('PCMA', 8),
    caller: { codec: 'PCMA/8000', egress: 'PCMA/8000', transcoding: false },
    callee: { codec: 'PCMA/8000', egress: 'PCMA/8000', transcoding: false },
  },
  {
    name: 'a transcoded call (PCMA caller, transcode=opus, opus callee)',
    offer: { formats: [8], rtpmaps: ['rtpmap:8 PCMA/8000'] },
    answer: { formats: [96], rtpmaps: ['rtpmap:96 opus/48000/2'] },
    flags: { codec: { transcode: ['opus'] } },
    callerSends: spec('PCMA', 8),
    calleeSends: spec('opus', 96),
    caller: { codec: 'PCMA/8000', egress: 'PCMA/8000', transcoding: true },
    callee: { codec: 'opus/48000/2', egress: 'opus/48000/2', transcoding: true },
  },
];

interface Running {
  a: Peer;
  b: Peer;
  callId: string;
  before: BDict;
  after: BDict;
}

let seq = 0;

/** Offer, answer, `query`, a second of RTP both ways, `query` again. */
async function run(d: DaemonHandle, c: CallCase): Promise<Running> {
  const a = new Peer();
  const b = new Peer();
  const pa = await a.open();
  const pb = await b.open();
  const callId = `query-codecs-${process.pid}-${++seq}`;
  try {
    const sdp = (port: number, s: Side): string =>
      buildSdp({ address: HOST, media: [{ port, formats: s.formats, attributes: s.rtpmaps, extraAttributes: ['sendrecv'] }] });
    const offer = await d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(pa, c.offer), ...c.flags });
    assert.equal(offer.result, 'ok', JSON.stringify(offer));
    const answer = await d.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(pb, c.answer) });
    assert.equal(answer.result, 'ok', JSON.stringify(answer));
    const before = await d.ng.request({ command: 'query', 'call-id': callId });
    await Promise.all([
      a.send(encodeTone(c.callerSends, { count: 50 }), mediaEndpoint(String(answer.sdp))),
      b.send(encodeTone(c.calleeSends, { count: 50 }), mediaEndpoint(String(offer.sdp))),
    ]);
    await sleep(300);
    const after = await d.ng.request({ command: 'query', 'call-id': callId });
    await d.ng.request({ command: 'delete', 'call-id': callId });
    return { a, b, callId, before, after };
  } finally {
    a.close();
    b.close();
  }
}

function media(q: BDict, tag: string): BDict {
  const tags = q.tags as Record<string, BDict>;
  assert.ok(tags && tags[tag], `query has tag ${tag}: ${JSON.stringify(q)}`);
  return (tags[tag].medias as BDict[])[0];
}

/** The name a peer's received packets carry, from the payload type and the SDP that peer signalled. */
function receivedCodec(got: RtpPacket[], side: Side): string | null {
  if (got.length === 0) return null;
  const counts = new Map<number, number>();
  for (const p of got) counts.set(p.pt, (counts.get(p.pt) ?? 0) + 1);
  const pt = [...counts].sort((x, y) => y[1] - x[1])[0][0];
  const map = side.rtpmaps.find((r) => r.startsWith(`rtpmap:${pt} `));
  return map ? map.split(' ')[1] : null;
}

describe('query: codecs per side', function () {
  this.timeout(60000);
  const daemons = new Map<DaemonKind, DaemonHandle>();
  const results = new Map<string, Running>();

  before(async function () {
    for (const c of ['PCMA', 'PCMU', 'opus']) requireCodec(c);
    for (const kind of daemonKinds()) daemons.set(kind, await startDaemon({ bin: kind }));
    if (!daemons.has('reference')) console.log('      (reference daemon not installed: the reference comparison is skipped)');
  });

  after(async function () {
    await Promise.all([...daemons.values()].map((d) => d.stop()));
  });

  for (const c of CASES) {
    it(`${c.name}: codec, transcoding and egress codec per side`, async function () {
      const d = daemons.get('ours');
      assert.ok(d, 'our daemon started');
      const r = await run(d, c);
      results.set(c.name, r);
      for (const [tag, want] of [['caller', c.caller], ['callee', c.callee]] as const) {
        const m = media(r.after, tag);
        assert.equal(m.codec, want.codec, `${tag}: the codec it sends`);
        assert.equal(m['egress codec'], want.egress, `${tag}: the codec sent to it`);
        assert.equal((m.flags as string[]).includes('transcoding'), want.transcoding, `${tag}: transcoding flag in ${JSON.stringify(m.flags)}`);
        // Before any packet: no `codec` yet (as the reference), but the negotiated egress codec.
        const m0 = media(r.before, tag);
        assert.equal(m0.codec, undefined, `${tag}: no codec before packets`);
        assert.equal(m0['egress codec'], want.egress, `${tag}: egress codec from negotiation`);
      }
      // What the peers received is what `egress codec` announced.
      assert.equal(receivedCodec(r.a.got, c.offer), c.caller.egress, 'the caller received the announced codec');
      assert.equal(receivedCodec(r.b.got, c.answer), c.callee.egress, 'the callee received the announced codec');
    });

    it(`${c.name}: codec and transcoding as rtpengine 10.5 reports them`, async function () {
      const ref = daemons.get('reference');
      if (!ref) {
        console.log('      (skipped: reference daemon not installed)');
        this.skip();
      }
      const ours = results.get(c.name) ?? (await run(daemons.get('ours') as DaemonHandle, c));
      const theirs = await run(ref as DaemonHandle, c);
      for (const tag of ['caller', 'callee']) {
        for (const [label, q] of [['before packets', 'before'], ['after packets', 'after']] as const) {
          const o = media(ours[q], tag);
          const t = media(theirs[q], tag);
          assert.equal(o.codec, t.codec, `${tag} ${label}: codec`);
          assert.deepEqual(o.flags, t.flags, `${tag} ${label}: flags`);
          assert.equal(t['egress codec'], undefined, 'the reference has no egress codec key');
        }
      }
    });
  }
});
