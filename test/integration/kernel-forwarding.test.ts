// The in-kernel path seen from outside: a daemon with --table=0 in a network
// namespace with two veth links (host A — proxy — host B, test/helpers/netns.ts),
// both sides of a call on their own link. Once both endpoints are learned, RTP is
// forwarded by the eBPF program on the namespace's interfaces: the peers get every
// packet from the daemon's advertised ports, and the namespace's UDP stack (its
// own /proc/net/snmp counters) sees none of them. Commands that need user space
// move the stream back without losing a packet; delete removes the flow.
//
// Needs root (namespaces, BPF); skipped with a printed reason elsewhere. The daemon
// runs with --no-fallback, so a kernel path that cannot load fails here loudly.

import { strict as assert } from 'assert';
import { startDaemon, attachDaemonLogs, type DaemonHandle } from '../helpers/daemon';
import { bridgeInterfaces, createNetns, skipUnlessNetns, type TestNetns } from '../helpers/netns';
import { startLiveCall, closeLiveCalls, type LiveCall } from '../helpers/live-call';
import { RtpPeer, type Received } from '../helpers/rtp';
import { wavTone } from '../helpers/audio';
import { cryptoLines, newInlineKey } from '../helpers/srtp';
import { mediaEndpoint } from '../helpers/sdp';
import { sleep } from '../helpers/process';

type Family = 4 | 6;

/** UDP datagrams the namespace's stack delivered to sockets, and those it found no socket for. */
function udpCounters(ns: TestNetns, family: Family): { inDatagrams: number; noPorts: number } {
  if (family === 4) {
    const lines = ns.exec('cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/).map(Number);
    return { inDatagrams: values[names.indexOf('InDatagrams')], noPorts: values[names.indexOf('NoPorts')] };
  }
  const fields = new Map(ns.exec('cat', ['/proc/net/snmp6']).split('\n').map((l) => l.split(/\s+/) as [string, string]));
  return { inDatagrams: Number(fields.get('Udp6InDatagrams')), noPorts: Number(fields.get('Udp6NoPorts')) };
}

/** The query entry of a side's RTP stream. */
async function rtpStream(d: DaemonHandle, callId: string, tag: string): Promise<{ flags: string[]; packets: number }> {
  const q = await d.ng.request({ command: 'query', 'call-id': callId });
  assert.equal(q.result, 'ok', JSON.stringify(q));
  const tags = q.tags as Record<string, { medias: Array<{ streams: Array<{ flags: string[]; stats: { packets: number } }> }> }>;
  const s = tags[tag].medias[0].streams[0];
  return { flags: s.flags, packets: s.stats.packets };
}

/** Waits until the query flags of both sides' RTP say `kernelized` (or not). */
async function waitKernelized(d: DaemonHandle, c: LiveCall, want: boolean, tags = ['caller-tag', 'callee-tag']): Promise<void> {
  const deadline = Date.now() + 3000;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = [];
    for (const tag of tags) last.push(`${tag}: ${(await rtpStream(d, c.callId, tag)).flags.join(',')}`);
    if (last.every((l) => l.includes('kernelized') === want)) return;
    await sleep(50);
  }
  assert.fail(`streams did not become ${want ? '' : 'un'}kernelized: ${last.join('; ')}`);
}

function seqs(got: Received[]): number[] {
  return got.filter((r) => r.rtp).map((r) => r.rtp!.seq);
}

describe('in-kernel forwarding (eBPF in a network namespace)', function () {
  this.timeout(60000);
  let ns: TestNetns | undefined;
  let d: DaemonHandle | undefined;
  const calls: LiveCall[] = [];
  attachDaemonLogs(() => d, 40);

  before(async function () {
    skipUnlessNetns(this);
    ns = createNetns({ links: 2 });
    d = await startDaemon({ netns: ns, args: ['--table=0', '--no-fallback', '--endpoint-learning=immediate', '--delete-delay=0', ...bridgeInterfaces(ns)] });
  });

  afterEach(() => closeLiveCalls(calls));
  after(async () => {
    await d?.stop();
    ns?.remove();
  });

  /** A call from link 0 to link 1 whose endpoints are learned from one packet each way. */
  async function learnedCall(family: Family, name: string, offer: Record<string, unknown> = {}): Promise<LiveCall> {
    const [a, b] = ns!.links;
    const c = await startLiveCall(d!, {
      name, codecs: [[8, 'PCMA/8000']],
      callerHost: family === 4 ? a.hostAddr4 : a.hostAddr6,
      calleeHost: family === 4 ? b.hostAddr4 : b.hostAddr6,
      offer: { direction: ['left', 'right'], ...offer },
    });
    calls.push(c);
    await c.caller.sendRtp(c.fromCaller, { pt: 8, seq: 1, ts: 0, ssrc: 0x1111, payload: Buffer.alloc(160, 0x55) });
    await c.callee.sendRtp(c.fromCallee, { pt: 8, seq: 1, ts: 0, ssrc: 0x2222, payload: Buffer.alloc(160, 0x55) });
    await c.callee.waitFor(1, 2000, (r) => r.rtp !== null);
    await c.caller.waitFor(1, 2000, (r) => r.rtp !== null);
    return c;
  }

  for (const family of [4, 6] as const) {
    it(`IPv${family}: forwards RTP in the kernel once learned; the namespace's UDP stack sees none of it, query counts it`, async () => {
      const c = await learnedCall(family, `kern${family}`);
      await waitKernelized(d!, c, true);
      const before = udpCounters(ns!, family);
      const there = c.caller.startStream(c.fromCaller, { count: 200, intervalMs: 2, ssrc: 0x1111, seq: 2, payload: (n) => Buffer.alloc(160, n & 0xff) });
      const back = c.callee.startStream(c.fromCallee, { count: 200, intervalMs: 2, ssrc: 0x2222, seq: 2, payload: Buffer.alloc(160, 0x55) });
      await Promise.all([there.done, back.done]);
      const atCallee = await c.callee.waitFor(201, 3000, (r) => r.rtp !== null);
      await c.caller.waitFor(201, 3000, (r) => r.rtp !== null);
      const after = udpCounters(ns!, family);
      // No ng request in between: the namespace's sockets received nothing at all.
      assert.equal(after.inDatagrams - before.inDatagrams, 0, 'datagrams delivered to sockets in the namespace');
      // From the daemon's port on the callee's network, payload and header intact.
      assert.deepEqual([...new Set(atCallee.map((r) => `${r.from.address} ${r.from.port}`))], [`${c.fromCallee.address} ${c.fromCallee.port}`]);
      for (let i = 1; i <= 200; i++) {
        const p = atCallee[i].rtp!;
        assert.equal(p.seq, i + 1);
        assert.equal(p.ssrc, 0x1111);
        assert.ok(p.payload.equals(Buffer.alloc(160, (i - 1) & 0xff)), `payload of packet ${i}`);
      }
      const s = await rtpStream(d!, c.callId, 'caller-tag');
      assert.ok(s.flags.includes('kernelized'), s.flags.join(','));
      assert.equal(s.packets, 201, 'query counts the packets the kernel forwarded');
    });
  }

  it('silence media takes the stream back to user space and unsilence returns it, without losing a packet', async () => {
    const c = await learnedCall(4, 'kernsil');
    await waitKernelized(d!, c, true);
    const stream = c.caller.startStream(c.fromCaller, { count: 300, intervalMs: 5, ssrc: 0x1111, seq: 2, payload: Buffer.alloc(160, 0x55) });
    await sleep(400);
    assert.equal((await d!.ng.request({ command: 'silence media', 'call-id': c.callId, 'from-tag': 'caller-tag' })).result, 'ok');
    await waitKernelized(d!, c, false, ['caller-tag']);
    await sleep(300);
    assert.equal((await d!.ng.request({ command: 'unsilence media', 'call-id': c.callId, 'from-tag': 'caller-tag' })).result, 'ok');
    await waitKernelized(d!, c, true, ['caller-tag']);
    await stream.done;
    const got = await c.callee.waitFor(301, 3000, (r) => r.rtp !== null);
    assert.deepEqual(seqs(got), Array.from({ length: 301 }, (_, i) => i + 1), 'every packet, in order');
    // User space silenced some in the middle (PCMA silence is 0xd5); the kernel forwarded the rest as sent.
    const silenced = got.filter((r) => r.rtp!.payload[0] === 0xd5).length;
    assert.ok(silenced > 20 && silenced < 280, `${silenced} silenced packets`);
    assert.equal(got[got.length - 1].rtp!.payload[0], 0x55, 'forwarded unchanged again after unsilence');
  });

  it('a re-INVITE moves the stream through user space and back without losing a packet', async () => {
    const c = await learnedCall(4, 'kernreinv');
    await waitKernelized(d!, c, true);
    const stream = c.caller.startStream(c.fromCaller, { count: 300, intervalMs: 5, ssrc: 0x1111, seq: 2, payload: Buffer.alloc(160, 0x55) });
    await sleep(500);
    const sdp = (host: string, port: number): string =>
      `v=0\r\no=- 1 2 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n`;
    const offer = await d!.ng.request({ command: 'offer', 'call-id': c.callId, 'from-tag': 'caller-tag', sdp: sdp(c.caller.address, c.caller.port), direction: ['left', 'right'] });
    assert.equal(offer.result, 'ok', JSON.stringify(offer));
    const answer = await d!.ng.request({ command: 'answer', 'call-id': c.callId, 'from-tag': 'caller-tag', 'to-tag': 'callee-tag', sdp: sdp(c.callee.address, c.callee.port) });
    assert.equal(answer.result, 'ok', JSON.stringify(answer));
    await stream.done;
    const got = await c.callee.waitFor(301, 3000, (r) => r.rtp !== null);
    assert.deepEqual(seqs(got), Array.from({ length: 301 }, (_, i) => i + 1), 'every packet, in order');
    await waitKernelized(d!, c, true, ['caller-tag']);
  });

  it('play media leaves the kernel while it plays and returns afterwards', async () => {
    const c = await learnedCall(4, 'kernplay');
    await waitKernelized(d!, c, true);
    // Played to the caller: the callee's stream towards the caller carries it.
    const r = await d!.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', blob: wavTone(8000, 1000, 300) });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    await waitKernelized(d!, c, false, ['callee-tag']);
    // The playback continues the callee's RTP stream (same SSRC); its payload is the tone, not the callee's 0x55.
    const fill = Buffer.alloc(160, 0x55);
    const played = await c.caller.waitFor(15, 3000, (p) => p.rtp !== null && !p.rtp.payload.equals(fill));
    assert.ok(played.length >= 15, `${played.length} packets played`);
    await waitKernelized(d!, c, true, ['callee-tag']);
    const before = c.caller.packets((p) => p.rtp !== null && p.rtp.payload.equals(fill)).length;
    await c.callee.sendRtp(c.fromCallee, { pt: 8, seq: 100, ts: 16000, ssrc: 0x2222, payload: fill });
    await c.caller.waitFor(before + 1, 2000, (p) => p.rtp !== null && p.rtp.payload.equals(fill));
  });

  it('a packet from another source goes to user space, where strict source drops and counts it', async () => {
    const c = await learnedCall(4, 'kernstrict', { flags: ['strict source'] });
    await waitKernelized(d!, c, true);
    const stranger = await RtpPeer.open(ns!.links[0].hostAddr4);
    try {
      const before = udpCounters(ns!, 4);
      await stranger.sendRtp(c.fromCaller, { pt: 8, seq: 50, ts: 0, ssrc: 0x3333, payload: Buffer.alloc(160, 0x55) });
      await sleep(300);
      assert.equal(udpCounters(ns!, 4).inDatagrams - before.inDatagrams, 1, 'the stranger\'s packet reached the daemon\'s socket');
      assert.equal(c.callee.packets((p) => p.rtp !== null && p.rtp.ssrc === 0x3333).length, 0, 'not forwarded');
      const q = await d!.ng.request({ command: 'query', 'call-id': c.callId });
      const st = (q.tags as Record<string, { medias: Array<{ streams: Array<{ stats: { errors: number } }> }> }>)['caller-tag'].medias[0].streams[0];
      assert.equal(st.stats.errors, 1, 'counted');
    } finally {
      await stranger.close();
    }
  });

  it('a call with SRTP on one side stays in user space and its media is encrypted towards that side', async () => {
    const [a, b] = ns!.links;
    const caller = await RtpPeer.open(a.hostAddr4);
    const callee = await RtpPeer.open(b.hostAddr4);
    try {
      const callId = `kernsrtp-${process.pid}`;
      const sdp = (host: string, port: number, proto: string, extra: string[] = []): string =>
        [`v=0`, `o=- 1 1 IN IP4 ${host}`, `s=-`, `c=IN IP4 ${host}`, `t=0 0`, `m=audio ${port} ${proto} 8`,
          `a=rtpmap:8 PCMA/8000`, ...extra, `a=sendrecv`, ``].join('\r\n');
      const offer = await d!.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller-tag',
        sdp: sdp(a.hostAddr4, caller.port, 'RTP/AVP'), direction: ['left', 'right'], 'transport-protocol': 'RTP/SAVP' });
      assert.equal(offer.result, 'ok', JSON.stringify(offer));
      const line = cryptoLines(String(offer.sdp)).find((c) => c.suite === 'AES_CM_128_HMAC_SHA1_80');
      assert.ok(line, String(offer.sdp));
      const answer = await d!.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller-tag', 'to-tag': 'callee-tag',
        sdp: sdp(b.hostAddr4, callee.port, 'RTP/SAVP', [`a=crypto:${line.tag} AES_CM_128_HMAC_SHA1_80 inline:${newInlineKey('AES_CM_128_HMAC_SHA1_80')}`]) });
      assert.equal(answer.result, 'ok', JSON.stringify(answer));
      const toCaller = mediaEndpoint(String(answer.sdp));
      const stream = caller.startStream(toCaller, { count: 50, intervalMs: 5, payload: Buffer.alloc(160, 0x55) });
      await stream.done;
      const got = await callee.waitFor(50, 3000);
      // Encrypted: the 10-byte authentication tag of AES_CM_128_HMAC_SHA1_80 follows the payload.
      assert.deepEqual([...new Set(got.map((r) => r.data.length))], [12 + 160 + 10]);
      assert.ok(got.every((r) => !r.data.subarray(12, 172).equals(Buffer.alloc(160, 0x55))), 'payload encrypted');
      const s = await rtpStream(d!, callId, 'caller-tag');
      assert.ok(!s.flags.includes('kernelized'), s.flags.join(','));
      assert.equal((await d!.ng.request({ command: 'delete', 'call-id': callId })).result, 'ok');
    } finally {
      await caller.close();
      await callee.close();
    }
  });

  it('delete removes the flows: packets to a closed port are no longer forwarded', async () => {
    const c = await learnedCall(4, 'kerndel');
    await waitKernelized(d!, c, true);
    assert.equal((await d!.ng.request({ command: 'delete', 'call-id': c.callId })).result, 'ok');
    const before = udpCounters(ns!, 4);
    const already = c.callee.packets((p) => p.rtp !== null).length;
    await c.caller.sendRtp(c.fromCaller, { pt: 8, seq: 9, ts: 0, ssrc: 0x1111, payload: Buffer.alloc(160, 0x55) });
    await sleep(300);
    assert.equal(c.callee.packets((p) => p.rtp !== null).length, already, 'nothing forwarded after delete');
    assert.equal(udpCounters(ns!, 4).noPorts - before.noPorts, 1, 'the packet met a closed port');
  });
});

describe('in-kernel forwarding unavailable (no CAP_BPF/CAP_NET_ADMIN)', function () {
  this.timeout(60000);
  let ns: TestNetns | undefined;
  let d: DaemonHandle | undefined;
  const calls: LiveCall[] = [];
  attachDaemonLogs(() => d, 40);
  // capsh drops the capabilities from the bounding set; the daemon is exec'd by the shell it starts.
  const withoutCaps = ['capsh', '--drop=cap_bpf,cap_net_admin,cap_sys_admin,cap_perfmon', '--', '-c', 'exec "$0" "$@"'];

  before(function () {
    skipUnlessNetns(this);
    ns = createNetns({ links: 1 });
  });
  afterEach(async () => {
    await closeLiveCalls(calls);
    await d?.stop();
    d = undefined;
  });
  after(() => ns?.remove());

  it('says so once and relays in user space', async () => {
    d = await startDaemon({ netns: ns, prefix: withoutCaps, args: ['--table=0', '--endpoint-learning=immediate'] });
    const lines = d.logLines().filter((l) => l.includes('FAILED TO CREATE KERNEL TABLE 0'));
    assert.equal(lines.length, 1, d.logTail(20));
    const host = ns!.links[0].hostAddr4;
    const c = await startLiveCall(d, { name: 'nokern', codecs: [[8, 'PCMA/8000']], callerHost: host });
    calls.push(c);
    const s = c.caller.startStream(c.fromCaller, { count: 20, payload: Buffer.alloc(160, 0x55) });
    await c.callee.sendRtp(c.fromCallee, { pt: 8, seq: 1, ts: 0, ssrc: 0x2222, payload: Buffer.alloc(160, 0x55) });
    await s.done;
    await c.callee.waitFor(20, 3000, (r) => r.rtp !== null);
    const q = await rtpStream(d, c.callId, 'caller-tag');
    assert.ok(!q.flags.includes('kernelized'), q.flags.join(','));
  });

  it('with --no-fallback refuses to start, exit code 1', async () => {
    await assert.rejects(
      startDaemon({ netns: ns, prefix: withoutCaps, args: ['--table=0', '--no-fallback'], startTimeoutMs: 5000 }),
      (e: Error) => /exited \(code 1,/.test(e.message) && /Userspace fallback disallowed/.test(e.message),
    );
  });
});
