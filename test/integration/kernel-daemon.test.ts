// In-kernel forwarding through the daemon (--table=0), as a SIP proxy sees it:
// a call bridged between two networks of a namespace (test/helpers/netns.ts),
// its RTP handed to the kernel once the endpoints are learned, `query` flagging
// the streams kernelized and counting every packet, a re-INVITE in mid-stream
// losing nothing, and delete stopping the forwarding. The engine-level cases
// (fallback rules, checksums, tables, capabilities) are in kernel-path.test.ts.

import { strict as assert } from 'assert';
import { attachDaemonLogs, startDaemon, type DaemonHandle } from '../helpers/daemon';
import { closeLiveCalls, startLiveCall, type LiveCall } from '../helpers/live-call';
import { createNetns, skipUnlessNetns, type TestNetns } from '../helpers/netns';
import type { BDict } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { parseRtp, type Received } from '../helpers/rtp';
import { buildSdp } from '../helpers/sdp';

/** The RTP streams of a query, per label: their flags and packet counts. */
function rtpStreams(q: BDict): Array<{ label: string; flags: string[]; packets: number }> {
  const out: Array<{ label: string; flags: string[]; packets: number }> = [];
  const tags = q.tags as Record<string, BDict>;
  for (const t of Object.values(tags)) {
    for (const m of t.medias as BDict[]) {
      for (const s of m.streams as BDict[]) {
        const flags = (s.flags as unknown[]).map(String);
        if (!flags.includes('RTP')) continue;
        out.push({ label: String(t.label), flags, packets: Number((s.stats as BDict).packets) });
      }
    }
  }
  return out;
}

function seqs(got: Received[]): number[] {
  return got.map((r) => parseRtp(r.data)?.seq ?? -1);
}

describe('in-kernel forwarding through the daemon (--table=0)', function () {
  this.timeout(60000);
  let ns: TestNetns | undefined;
  let d: DaemonHandle | undefined;
  const calls: LiveCall[] = [];
  attachDaemonLogs(() => d);

  before(async function () {
    skipUnlessNetns(this);
    ns = createNetns({ links: 2 });
    const [a, b] = ns.links;
    d = await startDaemon({
      netns: ns,
      args: [
        `--interface=left/${a.nsAddr4}`, `--interface=right/${b.nsAddr4}`,
        `--listen-ng=${a.nsAddr4}:2223`, '--table=0', '--no-fallback', '--endpoint-learning=immediate', '--delete-delay=0',
      ],
    });
  });

  afterEach(() => closeLiveCalls(calls));
  after(async () => {
    await d?.stop();
    ns?.remove();
  });

  async function call(name: string): Promise<LiveCall> {
    const [a, b] = ns!.links;
    const c = await startLiveCall(d!, {
      name, codecs: [[8, 'PCMA/8000']], callerHost: a.hostAddr4, calleeHost: b.hostAddr4, offer: { direction: ['left', 'right'] },
    });
    calls.push(c);
    // One packet each way: the endpoints are learned and confirmed (immediate learning).
    await c.caller.startStream(c.fromCaller, { count: 1, seq: 1 }).done;
    await c.callee.startStream(c.fromCallee, { count: 1, seq: 1 }).done;
    await until(c, (s) => s.length === 2 && s.every((x) => x.flags.includes('kernelized')));
    return c;
  }

  async function query(c: LiveCall): Promise<BDict> {
    const q = await d!.ng.request({ command: 'query', 'call-id': c.callId });
    assert.equal(q.result, 'ok', JSON.stringify(q));
    return q;
  }

  async function until(c: LiveCall, ok: (s: ReturnType<typeof rtpStreams>) => boolean, ms = 5000): Promise<ReturnType<typeof rtpStreams>> {
    const end = Date.now() + ms;
    for (;;) {
      const s = rtpStreams(await query(c));
      if (ok(s)) return s;
      if (Date.now() > end) throw new Error(`query did not get there: ${JSON.stringify(s)}`);
      await sleep(50);
    }
  }

  it('after learning, both RTP streams are kernelized, the media arrives from the daemon and query counts every packet', async () => {
    const c = await call('kd-basic');
    const payload = Buffer.alloc(160, 0xd5);
    await c.caller.startStream(c.fromCaller, { count: 100, seq: 100, payload, intervalMs: 5 }).done;
    const got = await c.callee.waitFor(101, 5000, (r) => parseRtp(r.data) !== null);
    assert.deepEqual([...new Set(got.map((r) => `${r.from.address} ${r.from.port}`))], [`${c.fromCallee.address} ${c.fromCallee.port}`]);
    const s = await until(c, (x) => x.find((y) => y.label === 'caller')?.packets === 101);
    assert.ok(s.every((x) => x.flags.includes('kernelized')));
  });

  it('a re-INVITE in mid-stream loses no packet, and the stream goes back to the kernel', async () => {
    const c = await call('kd-reinvite');
    const stream = c.caller.startStream(c.fromCaller, { count: 150, seq: 1000, intervalMs: 10 });
    await sleep(400);
    // The same offer and answer again (a session refresh).
    const re = await d!.ng.request({ command: 'offer', 'call-id': c.callId, 'from-tag': 'caller-tag', label: 'caller', sdp: sdpOf(c, 'offer'), direction: ['left', 'right'] });
    assert.equal(re.result, 'ok');
    const ans = await d!.ng.request({ command: 'answer', 'call-id': c.callId, 'from-tag': 'caller-tag', 'to-tag': 'callee-tag', label: 'callee', sdp: sdpOf(c, 'answer') });
    assert.equal(ans.result, 'ok');
    await stream.done;
    const got = await c.callee.waitFor(151, 5000, (r) => parseRtp(r.data) !== null);
    const s = new Set(seqs(got));
    const missing = [];
    for (let i = 1000; i < 1150; i++) if (!s.has(i)) missing.push(i);
    assert.deepEqual(missing, []);
    await until(c, (x) => x.every((y) => y.flags.includes('kernelized')));
  });

  it('delete removes the flows: nothing is forwarded afterwards', async () => {
    const c = await call('kd-delete');
    await c.caller.startStream(c.fromCaller, { count: 10, seq: 10, intervalMs: 5 }).done;
    await c.callee.waitFor(11, 5000, (r) => parseRtp(r.data) !== null);
    const del = await d!.ng.request({ command: 'delete', 'call-id': c.callId, 'from-tag': 'caller-tag' });
    assert.equal(del.result, 'ok');
    await sleep(100);
    await c.caller.startStream(c.fromCaller, { count: 20, seq: 500, intervalMs: 5 }).done;
    await sleep(300);
    assert.equal(c.callee.packets((r) => (parseRtp(r.data)?.seq ?? 0) >= 500).length, 0);
  });
});

/** The SDP a peer of the call sent (its own address and port), for a re-INVITE. */
function sdpOf(c: LiveCall, which: 'offer' | 'answer'): string {
  const peer = which === 'offer' ? c.caller : c.callee;
  return buildSdp({
    address: peer.address,
    media: [{ port: peer.port, formats: [8], attributes: ['rtpmap:8 PCMA/8000'], extraAttributes: ['sendrecv'] }],
  });
}
