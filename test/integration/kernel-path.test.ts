// In-kernel forwarding (kernel-module/, native/kernel*.cc) as a user of the
// media engine sees it: streams wired to each other, allowed in the kernel,
// carry RTP that never reaches the engine's sockets; the figures still count
// it; anything user space must see (another source, block media, a closed
// stream) goes back to user space without losing a packet.
//
// Each test runs a bare engine (the addon, no daemon) in a network namespace
// it creates, through test/helpers/netns-engine.ts: the forwarder attaches to
// the interfaces of that namespace only. Needs root, `ip`, `tc`, and a kernel
// with BPF; without them the suite is skipped and says why.

import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import type { StreamConfig, StreamStats } from '../../src/media/engine';
import { Arrival, arrival, ingressFilters, NetnsEngine, testRtp } from '../helpers/netns-engine';
import { createNetns, type TestNetns } from '../helpers/netns';
import { ManagedProcess, sleep } from '../helpers/process';

// bpffs is shared by all namespaces: a table per test run keeps the pins apart.
const TABLE = 1000 + (process.pid % 20000);
const PIN_DIR = `/sys/fs/bpf/rtpengine-ts/table-${TABLE}`;

function cfg(family: 4 | 6, address: string, port: number, sink: number, over: Partial<StreamConfig> = {}): StreamConfig {
  return {
    endpoint: { family, address, port },
    sink,
    rtcpSink: null,
    learning: 'immediate',
    strictSource: true,
    mediaHandover: false,
    tos: null,
    ...over,
  };
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(20);
  }
}

/** Why this machine cannot run the suite, or null. */
function unsupported(): string | null {
  if (process.platform !== 'linux') return 'in-kernel forwarding is Linux only';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, BPF)';
  for (const tool of ['ip', 'tc', 'capsh', 'nsenter', 'python3']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  if (!fs.existsSync('build/Release/rtpengine_fwd.bpf.o')) return 'build/Release/rtpengine_fwd.bpf.o not built (no clang?)';
  return null;
}

/** Namespaces with engines in them; every one made here is stopped and deleted after each test. */
class Lab {
  private readonly namespaces: TestNetns[] = [];
  private readonly engines: NetnsEngine[] = [];

  /** A namespace with lo up, `links` veth pairs towards this process and IP forwarding on or off. */
  netns(forwarding = false, links = 0): TestNetns {
    const ns = createNetns({ links });
    this.namespaces.push(ns);
    const on = forwarding ? 1 : 0;
    ns.exec('sysctl', ['-qw', `net.ipv4.conf.all.forwarding=${on}`, `net.ipv6.conf.all.forwarding=${on}`]);
    return ns;
  }

  engine(ns: TestNetns, prefix: string[] = []): NetnsEngine {
    const e = new NetnsEngine(ns.name, prefix);
    this.engines.push(e);
    return e;
  }

  async cleanUp(): Promise<void> {
    await Promise.all(this.engines.splice(0).map((e) => e.stop()));
    for (const ns of this.namespaces.splice(0)) ns.remove();
  }
}

/** Two streams a and b wired to each other, with one peer each, all inside the engine's namespace. */
interface LocalCall {
  e: NetnsEngine;
  host: string;
  a: number;
  b: number;
  aPort: number;
  bPort: number;
  peerA: number; // peer indexes in the child
  peerB: number;
  peerAPort: number;
  peerBPort: number;
}

async function localCall(lab: Lab, family: 4 | 6, over: Partial<StreamConfig> = {}): Promise<LocalCall> {
  const host = family === 6 ? '::1' : '127.0.0.1';
  const ns = lab.netns();
  const e = lab.engine(ns);
  assert.equal(await e.call('kernelOpen', TABLE, ['lo']), null);
  // A fresh namespace: every port is free.
  const aPort = 30000, bPort = 30002;
  const a = await e.call<number>('open', family, host, aPort);
  const b = await e.call<number>('open', family, host, bPort);
  const peerAPort = await e.call<number>('peer', host);
  const peerBPort = await e.call<number>('peer', host);
  await e.call('configure', a, cfg(family, host, peerAPort, b, over));
  await e.call('configure', b, cfg(family, host, peerBPort, a, over));
  const c: LocalCall = { e, host, a, b, aPort, bPort, peerA: 0, peerB: 1, peerAPort, peerBPort };
  // One packet each way confirms both endpoints (immediate learning).
  await e.call('send', c.peerA, host, aPort, 1, 1);
  await e.call('send', c.peerB, host, bPort, 1, 1);
  await until('both endpoints confirmed', () => Promise.all([stats(c, a), stats(c, b)]), (s) => s.every((x) => x.confirmed));
  return c;
}

function stats(c: { e: NetnsEngine }, id: number): Promise<StreamStats> {
  return c.e.call<StreamStats>('stats', id);
}

async function kernelized(c: { e: NetnsEngine }, id: number, want: boolean): Promise<StreamStats> {
  return until(`kernelized=${want}`, () => stats(c, id), (s) => s.kernelized === want);
}

/** Waits until peer has n arrivals with seq in [from, from+n) and nothing more comes for 150 ms. */
async function arrivals(c: LocalCall, peer: number, from: number, n: number): Promise<Arrival[]> {
  const sel = (all: Arrival[]): Arrival[] => all.filter((x) => x.seq >= from && x.seq < from + n);
  await until(`${n} packets at peer ${peer}`, () => c.e.call<Arrival[]>('received', peer), (all) => sel(all).length >= n, 5000).catch(() => undefined);
  let last = -1;
  for (;;) {
    const got = sel(await c.e.call<Arrival[]>('received', peer));
    if (got.length === last) return got;
    last = got.length;
    await sleep(150);
  }
}

function assertAllFromProxy(got: Arrival[], from: number, n: number, host: string, port: number): void {
  const seqs = new Set(got.map((x) => x.seq));
  const missing: number[] = [];
  for (let s = from; s < from + n; s++) if (!seqs.has(s)) missing.push(s);
  assert.deepEqual(missing, [], `lost packets: ${missing.slice(0, 20).join(',')}`);
  assert.equal(got.length, n, 'no duplicates');
  for (const x of got) {
    assert.equal(x.port, port, `seq ${x.seq} came from port ${x.port}, not the proxy's ${port}`);
    assert.equal(x.address, host);
    assert.ok(x.intact, `seq ${x.seq}: payload changed`);
  }
}

describe('in-kernel forwarding (eBPF, tc ingress)', function () {
  this.timeout(60000);
  const lab = new Lab();

  before(function () {
    const why = unsupported();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
  });

  afterEach(async () => {
    await lab.cleanUp();
  });

  for (const family of [4, 6] as const) {
    it(`RTP between two confirmed IPv${family} streams is forwarded by the kernel, from the proxy's port, and still counted`, async () => {
      const c = await localCall(lab, family);
      await c.e.call('setKernel', c.a, true);
      await c.e.call('setKernel', c.b, true);
      await kernelized(c, c.a, true);
      await kernelized(c, c.b, true);

      await c.e.call('send', c.peerA, c.host, c.aPort, 100, 200);
      const got = await arrivals(c, c.peerB, 100, 200);
      assertAllFromProxy(got, 100, 200, c.host, c.bPort);

      const a = await stats(c, c.a);
      const b = await stats(c, c.b);
      // The engine's own sockets saw only the first packet; the kernel the rest.
      assert.equal(a.kernelPackets, 200);
      assert.equal(a.packets - a.kernelPackets, 1, 'user space saw only the learning packet');
      assert.equal(a.packets, 201);
      assert.equal(a.bytes, 201 * 172);
      assert.equal(b.packetsOut, 201, "the sink's packets out include the kernel's");
      assert.equal(b.bytesOut, 201 * 172);
      assert.ok(Date.now() - a.lastPacket < 5000, 'last packet time comes from the kernel');
      const t = await c.e.call<{ packets: number }>('totals');
      assert.equal(t.packets, 202);
    });
  }

  it('setKernel(false) moves a stream back to user space in mid-stream without losing a packet', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const sending = c.e.call('send', c.peerA, c.host, c.aPort, 1000, 400);
    await until('some packets in the kernel', () => stats(c, c.a), (s) => s.kernelPackets >= 50);
    await c.e.call('setKernel', c.a, false);
    await sending;
    const got = await arrivals(c, c.peerB, 1000, 400);
    assertAllFromProxy(got, 1000, 400, c.host, c.bPort);
    const a = await kernelized(c, c.a, false);
    assert.ok(a.kernelPackets >= 50 && a.kernelPackets < 400, `kernel forwarded ${a.kernelPackets} of 400`);
    assert.equal(a.packets, 401);
    // And back into the kernel: what follows is the kernel's again.
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const before = a.kernelPackets;
    await c.e.call('send', c.peerA, c.host, c.aPort, 2000, 50);
    assertAllFromProxy(await arrivals(c, c.peerB, 2000, 50), 2000, 50, c.host, c.bPort);
    assert.equal((await stats(c, c.a)).kernelPackets, before + 50);
  });

  it('RTP from another source goes to user space: strict source drops and counts it, the flow stays', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const intruder = await c.e.call<number>('peer', c.host);
    assert.ok(intruder > 0);
    await c.e.call('send', 2, c.host, c.aPort, 500, 10);
    await c.e.call('send', c.peerA, c.host, c.aPort, 600, 10);
    assertAllFromProxy(await arrivals(c, c.peerB, 600, 10), 600, 10, c.host, c.bPort);
    const atB = await c.e.call<Arrival[]>('received', c.peerB);
    assert.equal(atB.filter((x) => x.seq >= 500 && x.seq < 510).length, 0, "the intruder's packets were not forwarded");
    const a = await stats(c, c.a);
    assert.equal(a.dropped, 10);
    assert.equal(a.errors, 10);
    assert.equal(a.kernelPackets, 10);
    assert.equal(a.kernelized, true);
  });

  it('RTCP on the RTP port (rtcp-mux), STUN and garbage are left to user space', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const before = await stats(c, c.a);
    // From peer A's own socket: a sender report (second byte 200, long
    // enough to pass for RTP) and a DTLS-looking datagram (an error to user
    // space, which has no DTLS yet).
    await c.e.call('sendRaw', c.peerA, c.host, c.aPort, '80c800064b45524e' + '00'.repeat(20));
    await c.e.call('sendRaw', c.peerA, c.host, c.aPort, '16fefd' + '00'.repeat(20));
    const after = await until('user space saw both', () => stats(c, c.a), (s) => s.packets - s.kernelPackets >= before.packets - before.kernelPackets + 1 && s.errors >= before.errors + 1);
    assert.equal(after.kernelPackets, before.kernelPackets, 'the kernel took neither');
  });

  it('block media takes the stream out of the kernel (the blocked packets are dropped), unblocking puts it back', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const control = { blockMedia: true, silenceMedia: false, blockDtmf: false, silence: [], recording: 0, record: 'ingress' };
    await c.e.call('setControl', c.a, control);
    await kernelized(c, c.a, false);
    await c.e.call('send', c.peerA, c.host, c.aPort, 3000, 20);
    await sleep(300);
    const atB = await c.e.call<Arrival[]>('received', c.peerB);
    assert.equal(atB.filter((x) => x.seq >= 3000 && x.seq < 3020).length, 0, 'blocked in user space');
    assert.equal((await stats(c, c.a)).dropped, 20);
    await c.e.call('setControl', c.a, { ...control, blockMedia: false });
    await kernelized(c, c.a, true);
    await c.e.call('send', c.peerA, c.host, c.aPort, 3100, 20);
    assertAllFromProxy(await arrivals(c, c.peerB, 3100, 20), 3100, 20, c.host, c.bPort);
    assert.equal((await stats(c, c.a)).kernelPackets, 20);
  });

  it('a playback (DTMF) takes the stream out of the kernel while it plays; afterwards the kernel forwards again', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    await c.e.call('playDtmf', c.a, 5, 200);
    await kernelized(c, c.a, false);
    // The event's packets reach B from the proxy's port.
    const events = await until('DTMF packets at B', () => c.e.call<Arrival[]>('received', c.peerB), (g) => g.some((x) => x.pt === 101));
    assert.ok(events.filter((x) => x.pt === 101).every((x) => x.port === c.bPort));
    // Once it is over (the engine thread notices within its 1 s tick), the kernel takes over again.
    await until('kernelized again', () => stats(c, c.a), (s) => s.kernelized, 4000);
    const before = (await stats(c, c.a)).kernelPackets;
    await c.e.call('send', c.peerA, c.host, c.aPort, 5000, 20);
    const got = await arrivals(c, c.peerB, 5000, 20);
    assert.equal(got.length, 20);
    assert.ok(got.every((x) => x.intact && x.port === c.bPort));
    assert.equal((await stats(c, c.a)).kernelPackets, before + 20);
  });

  it("a re-configured sink endpoint (re-INVITE) rewrites the flows that send to it: RTP goes to the new peer", async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    const peerC = await c.e.call<number>('peer', c.host);
    await c.e.call('configure', c.b, cfg(4, c.host, peerC, c.a));
    await c.e.call('send', c.peerA, c.host, c.aPort, 6000, 40);
    const atC = await arrivals(c, 2, 6000, 40);
    assertAllFromProxy(atC, 6000, 40, c.host, c.bPort);
    const atB = await c.e.call<Arrival[]>('received', c.peerB);
    assert.equal(atB.filter((x) => x.seq >= 6000).length, 0, 'nothing to the old peer');
    const a = await stats(c, c.a);
    assert.equal(a.kernelized, true);
    assert.ok(a.kernelPackets >= 35, `the kernel forwarded ${a.kernelPackets} of 40`);
  });

  it('closing the streams removes their flows: nothing is forwarded any more and the totals keep the count', async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    await c.e.call('send', c.peerA, c.host, c.aPort, 4000, 30);
    await arrivals(c, c.peerB, 4000, 30);
    await c.e.call('closeStreams', [c.a, c.b]);
    await sleep(50);
    await c.e.call('send', c.peerA, c.host, c.aPort, 4100, 10);
    await sleep(300);
    const atB = await c.e.call<Arrival[]>('received', c.peerB);
    assert.equal(atB.filter((x) => x.seq >= 4100).length, 0);
    const t = await c.e.call<{ packets: number }>('totals');
    assert.equal(t.packets, 32, 'two learning packets and the 30 the kernel forwarded');
  });

  it("closing only the sink takes the flows that send from its port out of the kernel at once", async () => {
    const c = await localCall(lab, 4);
    await c.e.call('setKernel', c.a, true);
    await kernelized(c, c.a, true);
    await c.e.call('closeStreams', [c.b]);
    // No wait: the flows went with the close itself.
    assert.equal((await stats(c, c.a)).kernelized, false);
    await c.e.call('send', c.peerA, c.host, c.aPort, 7000, 10);
    await until('dropped in user space', () => stats(c, c.a), (s) => s.dropped >= 10);
    const atB = await c.e.call<Arrival[]>('received', c.peerB);
    assert.equal(atB.filter((x) => x.seq >= 7000).length, 0);
  });

  for (const family of [4, 6] as const) {
    it(`the sink's TOS is written into kernel-forwarded IPv${family} packets`, async () => {
      const host = family === 6 ? '::1' : '127.0.0.1';
      const ns = lab.netns();
      const e = lab.engine(ns);
      assert.equal(await e.call('kernelOpen', TABLE, ['lo']), null);
      // Node cannot read the TOS byte of a datagram: a small Python receiver can.
      const tosPort = 31000;
      const rx = new ManagedProcess('nsenter', [`--net=/run/netns/${ns.name}`, 'python3', '-c', tosReceiver(family, host, tosPort, 20)]);
      try {
        const a = await e.call<number>('open', family, host, 30000);
        const b = await e.call<number>('open', family, host, 30002);
        const pa = await e.call<number>('peer', host);
        await e.call('configure', a, cfg(family, host, pa, b, { learning: 'off' }));
        await e.call('configure', b, cfg(family, host, tosPort, a, { learning: 'off', tos: 0xb8 }));
        await e.call('setKernel', a, true);
        await kernelized({ e }, a, true);
        await sleep(300); // the receiver is bound by now
        await e.call('send', 0, host, 30000, 1, 20);
        await rx.exited;
        assert.match(rx.output.tail().join('\n'), /^tos 0xb8 x20$/m);
        assert.equal((await stats({ e }, a)).kernelPackets, 20);
      } finally {
        await rx.stop();
      }
    });
  }

  it('a change of address family stays in user space: an IPv4 stream whose sink speaks IPv6 is never kernelized', async () => {
    const ns = lab.netns();
    const e = lab.engine(ns);
    assert.equal(await e.call('kernelOpen', TABLE, ['lo']), null);
    const a = await e.call<number>('open', 4, '127.0.0.1', 30000);
    const b = await e.call<number>('open', 6, '::1', 30002);
    const pa = await e.call<number>('peer', '127.0.0.1');
    const pb = await e.call<number>('peer', '::1');
    await e.call('configure', a, cfg(4, '127.0.0.1', pa, b));
    await e.call('configure', b, cfg(6, '::1', pb, a));
    await e.call('send', 0, '127.0.0.1', 30000, 1, 1);
    await e.call('send', 1, '::1', 30002, 1, 1);
    await e.call('setKernel', a, true);
    await e.call('send', 0, '127.0.0.1', 30000, 10, 20);
    const c = { e } as LocalCall;
    await until('20 packets relayed', () => e.call<Arrival[]>('received', 1), (g) => g.length >= 21);
    const s = await stats(c, a);
    assert.equal(s.kernelized, false);
    assert.equal(s.kernelPackets, 0);
    assert.equal(s.packets, 21);
  });

  for (const forwarding of [false, true]) {
    it(`between hosts, IP forwarding ${forwarding ? 'on (routing table)' : 'off (the rule\'s egress)'}: packets come in on one veth and leave through another with valid checksums`, async () => {
      // Test process (peers A and B) --veth-- namespace (engine) --veth-- test process.
      const ns = lab.netns(forwarding, 2);
      const nets = ns.links.map((l) => ({ outer: l.hostIf, inner: l.nsIf, peer: l.hostAddr4, proxy: l.nsAddr4 }));
      // No checksum offload on the path: A's packets carry a full checksum, the
      // forwarder must update it, and B's kernel verifies it (a bad one is dropped).
      setChecksumOffload(null, nets[0].outer, 'tx', false);
      setChecksumOffload(ns, nets[0].inner, 'rx', false);
      setChecksumOffload(null, nets[1].outer, 'rx', false);
      const csumErrorsBefore = udpInCsumErrors();

      const e = lab.engine(ns);
      assert.equal(await e.call('kernelOpen', TABLE, [nets[0].inner, nets[1].inner]), null);
      const a = await e.call<number>('open', 4, nets[0].proxy, 30000);
      const b = await e.call<number>('open', 4, nets[1].proxy, 30002);
      const A = await udpPeer(nets[0].peer);
      const B = await udpPeer(nets[1].peer);
      try {
        await e.call('configure', a, cfg(4, nets[0].peer, A.port, b));
        await e.call('configure', b, cfg(4, nets[1].peer, B.port, a));
        await A.send(1, 1, nets[0].proxy, 30000);
        await B.send(1, 1, nets[1].proxy, 30002);
        const c = { e } as LocalCall;
        await until('confirmed', () => Promise.all([stats(c, a), stats(c, b)]), (s) => s.every((x) => x.confirmed));
        await e.call('setKernel', a, true);
        await e.call('setKernel', b, true);
        await kernelized(c, a, true);
        await kernelized(c, b, true);
        await A.send(100, 200, nets[0].proxy, 30000);
        await B.send(100, 200, nets[1].proxy, 30002);
        const atB = await B.collect(100, 200);
        const atA = await A.collect(100, 200);
        assertAllFromProxy(atB, 100, 200, nets[1].proxy, 30002);
        assertAllFromProxy(atA, 100, 200, nets[0].proxy, 30000);
        assert.equal((await stats(c, a)).kernelPackets, 200);
        assert.equal((await stats(c, b)).kernelPackets, 200);
        assert.equal(udpInCsumErrors(), csumErrorsBefore, 'no checksum errors at the receivers');
      } finally {
        A.close();
        B.close();
      }
    });
  }

  it('kernelOpen without CAP_BPF/CAP_NET_ADMIN says why and attaches nothing', async () => {
    const ns = lab.netns();
    const e = lab.engine(ns, ['capsh', '--drop=cap_bpf,cap_sys_admin,cap_net_admin,cap_perfmon', '--', '-c', 'exec "$0" "$@"']);
    const why = await e.call<string | null>('kernelOpen', TABLE, ['lo']);
    assert.ok(typeof why === 'string', 'a reason, not null');
    assert.match(why, /^kernel forwarding unavailable: .*(not permitted|Permission denied)/);
    assert.doesNotMatch(ingressFilters(ns, 'lo'), /bpf/);
    assert.equal(fs.existsSync(PIN_DIR), false);
  });

  it('kernelOpen names an unknown interface, and one without an Ethernet header (tun)', async () => {
    const ns = lab.netns();
    const e = lab.engine(ns);
    const why = await e.call<string | null>('kernelOpen', TABLE, ['lo', 'nosuch0']);
    assert.match(String(why), /kernel forwarding unavailable: interface 'nosuch0'/);
    assert.doesNotMatch(ingressFilters(ns, 'lo'), /bpf/);
    ns.exec('ip', ['tuntap', 'add', 'dev', 'ktun0', 'mode', 'tun']);
    const why2 = await e.call<string | null>('kernelOpen', TABLE, ['lo', 'ktun0']);
    assert.match(String(why2), /kernel forwarding unavailable: interface 'ktun0' has no Ethernet header/);
    assert.doesNotMatch(ingressFilters(ns, 'lo'), /bpf/);
  });

  it('two tables share an interface; each close detaches only its own filter; a crashed run is cleaned up', async () => {
    const ns = lab.netns();
    const one = lab.engine(ns);
    const two = lab.engine(ns);
    assert.equal(await one.call('kernelOpen', TABLE, ['lo']), null);
    assert.equal(await two.call('kernelOpen', TABLE + 1, ['lo']), null);
    assert.equal((ingressFilters(ns, 'lo').match(/direct-action/g) ?? []).length, 2);
    assert.ok(fs.existsSync(`${PIN_DIR}/rtpe_flows`));
    // The first one crashes: its filter and pins stay behind...
    one.proc.killGroupNow('SIGKILL');
    await one.proc.exited;
    assert.equal((ingressFilters(ns, 'lo').match(/direct-action/g) ?? []).length, 2);
    // ...until the next run of the same table replaces them.
    const three = lab.engine(ns);
    assert.equal(await three.call('kernelOpen', TABLE, ['lo']), null);
    assert.equal((ingressFilters(ns, 'lo').match(/direct-action/g) ?? []).length, 2);
    await three.stop();
    const left = ingressFilters(ns, 'lo');
    assert.equal((left.match(/direct-action/g) ?? []).length, 1, left);
    assert.equal(fs.existsSync(PIN_DIR), false);
    assert.ok(fs.existsSync(`/sys/fs/bpf/rtpengine-ts/table-${TABLE + 1}`));
    await two.stop();
    assert.doesNotMatch(ingressFilters(ns, 'lo'), /direct-action/);
  });
});

// ------------------------------------------------------------ veth helpers

/** A UDP peer in the test process's own namespace. */
async function udpPeer(address: string): Promise<{
  port: number;
  send(from: number, count: number, host: string, port: number): Promise<void>;
  collect(from: number, n: number): Promise<Arrival[]>;
  close(): void;
}> {
  const sock = dgram.createSocket('udp4');
  const got: Arrival[] = [];
  sock.on('message', (m, r) => got.push(arrival(m, r)));
  await new Promise<void>((resolve) => sock.bind(0, address, resolve));
  return {
    port: sock.address().port,
    async send(from, count, host, port) {
      for (let i = 0; i < count; i++) {
        await new Promise<void>((resolve, reject) => sock.send(testRtp(from + i), port, host, (err) => (err ? reject(err) : resolve())));
        if (i % 4 === 3) await sleep(1);
      }
    },
    async collect(from, n) {
      const sel = (): Arrival[] => got.filter((x) => x.seq >= from && x.seq < from + n);
      const end = Date.now() + 5000;
      while (sel().length < n && Date.now() < end) await sleep(20);
      await sleep(150);
      return sel();
    },
    close: () => sock.close(),
  };
}

/** A Python receiver printing the TOS / traffic class of n datagrams ("tos 0xb8 x20"). */
function tosReceiver(family: 4 | 6, host: string, port: number, n: number): string {
  return [
    'import socket',
    family === 6
      ? 's = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, 66, 1)'
      : 's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IP, 13, 1)',
    `s.bind(("${host}", ${port})); s.settimeout(10)`,
    'seen = {}',
    `for i in range(${n}):`,
    '    data, anc, flags, addr = s.recvmsg(2048, 64)',
    '    for lvl, typ, d in anc:',
    '        v = d[0] if len(d) == 1 else int.from_bytes(d[:4], "little")',
    '        seen[v] = seen.get(v, 0) + 1',
    'for k, v in seen.items(): print("tos %#x x%d" % (k, v), flush=True)',
  ].join('\n');
}

const ETHTOOL_SRXCSUM = 0x15;
const ETHTOOL_STXCSUM = 0x17;

/**
 * Turns rx or tx checksum offload of a device (in ns, or in this process's
 * namespace) on or off, with the ETHTOOL ioctl: ethtool itself may be absent.
 */
function setChecksumOffload(ns: TestNetns | null, dev: string, dir: 'rx' | 'tx', on: boolean): void {
  const script = ethtoolScript(dev, dir === 'rx' ? ETHTOOL_SRXCSUM : ETHTOOL_STXCSUM, on);
  if (ns) ns.exec('python3', ['-c', script]);
  else execFileSync('python3', ['-c', script]);
}

function ethtoolScript(dev: string, cmd: number, on: boolean): string {
  return [
    'import array, fcntl, socket, struct',
    `v = array.array("B", struct.pack("II", ${cmd}, ${on ? 1 : 0}))`,
    `ifr = struct.pack("16sP", b"${dev}", v.buffer_info()[0])`,
    "s = socket.socket()",
    "fcntl.ioctl(s.fileno(), 0x8946, ifr)",
  ].join('\n');
}

/** UDP datagrams dropped for a bad checksum in the test process's namespace. */
function udpInCsumErrors(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('InCsumErrors')]);
}
