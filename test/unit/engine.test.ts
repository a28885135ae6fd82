// The native media engine relays real UDP on loopback: peers are dgram sockets,
// streams are engine sockets on ports 44000-44499 (skipping any in use).

import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as dgram from 'dgram';
import * as path from 'path';
import {
  EngineError,
  EngineEvent,
  Endpoint,
  Family,
  MediaEngine,
  StreamConfig,
} from '../../src/media/engine';
import { setLogSink } from '../../src/log';
import { sleep } from '../helpers/process';

const LO: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

interface Received {
  msg: Buffer;
  from: { address: string; port: number };
}

/** A UDP peer on loopback that records what it receives. */
class Peer {
  readonly received: Received[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly sock: dgram.Socket, readonly family: Family) {
    sock.on('message', (msg, rinfo) => {
      this.received.push({ msg, from: { address: rinfo.address, port: rinfo.port } });
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    });
  }

  static open(family: Family): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
      s.once('error', reject);
      s.bind(0, LO[family], () => resolve(new Peer(s, family)));
    });
  }

  get port(): number {
    return this.sock.address().port;
  }

  get endpoint(): Endpoint {
    return { family: this.family, address: LO[this.family], port: this.port };
  }

  send(msg: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(msg, port, LO[this.family], (e) => (e ? reject(e) : resolve())));
  }

  /** Waits until n packets have arrived in total (bounded by timeoutMs). */
  async waitFor(n: number, timeoutMs = 2000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} packets, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

function rtp(seq: number, payload = 'hello media'): Buffer {
  const hdr = Buffer.alloc(12);
  hdr[0] = 0x80;
  hdr[1] = 8; // PCMA
  hdr.writeUInt16BE(seq, 2);
  hdr.writeUInt32BE(seq * 160, 4);
  hdr.writeUInt32BE(0x11223344, 8);
  return Buffer.concat([hdr, Buffer.from(payload)]);
}

/** An RTCP receiver report without report blocks: 8 bytes, second byte 201. */
function rtcpRr(): Buffer {
  return Buffer.from([0x80, 201, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
}


async function eventually(check: () => void | Promise<void>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(10);
    }
  }
}

let nextPort = 44000;

/** Opens a stream on the next free port of 44000-44499 on the given addresses. */
function openStream(engine: MediaEngine, families: Family[] = [4], group = 0): { id: number; port: number } {
  for (let tries = 0; tries < 500; tries++) {
    const port = nextPort;
    nextPort = nextPort >= 44499 ? 44000 : nextPort + 1;
    try {
      const id = engine.openStream(
        families.map((f) => ({ family: f, address: LO[f], port })),
        { group },
      );
      return { id, port };
    } catch (err) {
      if (!(err instanceof EngineError) || err.code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error('no free test port');
}

function cfg(over: Partial<StreamConfig>): StreamConfig {
  return {
    endpoint: null,
    sink: null,
    rtcpSink: null,
    learning: 'off',
    strictSource: false,
    mediaHandover: false,
    tos: null,
    ...over,
  };
}

describe('media engine', function () {
  let engine: MediaEngine;
  let events: EngineEvent[];
  const peers: Peer[] = [];

  async function peer(family: Family = 4): Promise<Peer> {
    const p = await Peer.open(family);
    peers.push(p);
    return p;
  }

  /** Two peers A and B, streams a (facing A) and b (facing B) forwarding to each other. */
  async function call(
    family: Family,
    over: { a?: Partial<StreamConfig>; b?: Partial<StreamConfig> } = {},
  ): Promise<{ A: Peer; B: Peer; a: { id: number; port: number }; b: { id: number; port: number } }> {
    const A = await peer(family);
    const B = await peer(family);
    const a = openStream(engine, [family]);
    const b = openStream(engine, [family]);
    engine.configure(a.id, cfg({ endpoint: A.endpoint, sink: b.id, ...over.a }));
    engine.configure(b.id, cfg({ endpoint: B.endpoint, sink: a.id, ...over.b }));
    return { A, B, a, b };
  }

  beforeEach(function () {
    events = [];
    engine = new MediaEngine({ threads: 1, learningDelayMs: 300, onEvents: (e) => events.push(...e) });
  });

  afterEach(async function () {
    engine.close();
    await Promise.all(peers.splice(0).map((p) => p.close()));
  });

  for (const family of [4, 6] as Family[]) {
    it(`relays RTP both ways over ${LO[family]} with the payload intact, from the streams' local ports`, async function () {
      const { A, B, a, b } = await call(family);
      const p1 = rtp(1, 'from A');
      await A.send(p1, a.port);
      const [got] = await B.waitFor(1);
      assert.deepEqual(got.msg, p1);
      assert.equal(got.from.port, b.port);
      assert.equal(got.from.address, LO[family]);

      const p2 = rtp(2, 'from B');
      await B.send(p2, b.port);
      const [back] = await A.waitFor(1);
      assert.deepEqual(back.msg, p2);
      assert.equal(back.from.port, a.port);
    });
  }

  it('counts packets and bytes exactly in both directions', async function () {
    const { A, B, a, b } = await call(4);
    const sizes = [10, 20, 30, 40, 50];
    for (let i = 0; i < sizes.length; i++) await A.send(rtp(i, 'x'.repeat(sizes[i])), a.port);
    await B.send(rtp(100, 'y'), b.port);
    await B.waitFor(5);
    await A.waitFor(1);
    const inBytes = sizes.reduce((s, n) => s + 12 + n, 0);
    await eventually(() => {
      const [sa, sb] = engine.statsMany([a.id, b.id]);
      assert.equal(sa.packets, 5);
      assert.equal(sa.bytes, inBytes);
      assert.equal(sa.errors, 0);
      assert.equal(sa.dropped, 0);
      assert.equal(sb.packetsOut, 5);
      assert.equal(sb.bytesOut, inBytes);
      assert.equal(sb.packets, 1);
      assert.equal(sb.bytes, 13);
      assert.equal(sa.packetsOut, 1);
      assert.equal(sa.bytesOut, 13);
    });
    const sa = engine.stats(a.id);
    assert.ok(Math.abs(sa.lastPacket - Date.now()) < 5000, 'lastPacket is recent unix ms');
    assert.equal(engine.stats(b.id).lastPacket > 0, true);
  });

  it("learning 'immediate' takes the first packet's source even when the signalled port differs", async function () {
    const signalled: Endpoint = { family: 4, address: '127.0.0.1', port: 9 };
    const { A, B, a, b } = await call(4, { a: { learning: 'immediate', endpoint: signalled } });
    assert.deepEqual(engine.stats(a.id).endpoint, signalled);
    assert.equal(engine.stats(a.id).learned, false);
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await eventually(() => assert.ok(events.some((e) => e.type === 'learned' && e.id === a.id)));
    const ev = events.find((e) => e.type === 'learned' && e.id === a.id);
    assert.deepEqual(ev, { type: 'learned', id: a.id, endpoint: A.endpoint, confirmed: true });
    const st = engine.stats(a.id);
    assert.deepEqual(st.endpoint, A.endpoint);
    assert.equal(st.learned, true);
    assert.equal(st.confirmed, true);
    // B's answer reaches A at the learned address.
    await B.send(rtp(2), b.port);
    const [got] = await A.waitFor(1);
    assert.deepEqual(got.msg, rtp(2));
  });

  it("learning 'off' keeps sending to the signalled endpoint", async function () {
    const C = await peer();
    const { A, B, a, b } = await call(4, { a: { learning: 'off' } });
    // A signalled C's address but sends from its own.
    engine.configure(a.id, cfg({ endpoint: C.endpoint, sink: b.id, learning: 'off' }));
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await B.send(rtp(2), b.port);
    await C.waitFor(1);
    assert.equal(C.received[0].from.port, a.port);
    await sleep(100);
    assert.equal(A.received.length, 0);
    const st = engine.stats(a.id);
    assert.deepEqual(st.endpoint, C.endpoint);
    assert.equal(st.learned, false);
    assert.equal(st.confirmed, true);
    assert.equal(events.filter((e) => e.type === 'learned').length, 0);
  });

  it("learning 'delayed' follows the source during the window, then fixes the first source after it", async function () {
    const A2 = await peer();
    const A3 = await peer();
    const { A, B, a, b } = await call(4, { a: { learning: 'delayed' } });
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await A2.send(rtp(2), a.port);
    await B.waitFor(2);
    await eventually(() => assert.deepEqual(engine.stats(a.id).endpoint, A2.endpoint));
    assert.equal(engine.stats(a.id).confirmed, false);
    await sleep(350); // past the 300 ms window of this test engine
    await A3.send(rtp(3), a.port);
    await B.waitFor(3);
    await eventually(() => {
      const st = engine.stats(a.id);
      assert.deepEqual(st.endpoint, A3.endpoint);
      assert.equal(st.confirmed, true);
    });
    // Fixed now: another source does not move it.
    await A.send(rtp(4), a.port);
    await B.waitFor(4);
    assert.deepEqual(engine.stats(a.id).endpoint, A3.endpoint);
    await B.send(rtp(5), b.port);
    await A3.waitFor(1);
    const learned = events.filter((e) => e.type === 'learned' && e.id === a.id);
    assert.deepEqual(
      learned.map((e) => (e.type === 'learned' ? [e.endpoint.port, e.confirmed] : null)),
      [
        [A.port, false],
        [A2.port, false],
        [A3.port, true],
      ],
    );
  });

  it("learning 'heuristic' prefers the signalled address and fixes an exact match at once", async function () {
    const other = await Peer.open(4);
    peers.push(other);
    const { A, B, a } = await call(4, { a: { learning: 'heuristic' } });
    // A source unrelated to the signalled endpoint is used until something better shows up.
    await other.send(rtp(1), a.port);
    await B.waitFor(1);
    await eventually(() => assert.deepEqual(engine.stats(a.id).endpoint, other.endpoint));
    assert.equal(engine.stats(a.id).confirmed, false);
    // The signalled endpoint itself wins and is fixed.
    await A.send(rtp(2), a.port);
    await B.waitFor(2);
    await eventually(() => {
      const st = engine.stats(a.id);
      assert.deepEqual(st.endpoint, A.endpoint);
      assert.equal(st.confirmed, true);
    });
  });

  it('strict source drops and counts packets from other sources once the endpoint is fixed', async function () {
    const intruder = await peer();
    const { A, B, a } = await call(4, { a: { learning: 'immediate', strictSource: true } });
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await intruder.send(rtp(2, 'intruder'), a.port);
    await A.send(rtp(3), a.port);
    await B.waitFor(2);
    await sleep(50);
    assert.equal(B.received.length, 2);
    assert.deepEqual(B.received[1].msg, rtp(3));
    const st = engine.stats(a.id);
    assert.equal(st.packets, 3);
    assert.equal(st.dropped, 1);
    assert.deepEqual(st.endpoint, A.endpoint);
  });

  it('without strict source a fixed endpoint ignores other sources but forwards their packets', async function () {
    const other = await peer();
    const { A, B, a } = await call(4, { a: { learning: 'immediate' } });
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await other.send(rtp(2), a.port);
    await B.waitFor(2);
    const st = engine.stats(a.id);
    assert.equal(st.dropped, 0);
    assert.deepEqual(st.endpoint, A.endpoint);
  });

  it('media handover moves the endpoint to the newest source', async function () {
    const A2 = await peer();
    const { A, B, a, b } = await call(4, { a: { learning: 'immediate', mediaHandover: true } });
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    await A2.send(rtp(2), a.port);
    await B.waitFor(2);
    await eventually(() => assert.deepEqual(engine.stats(a.id).endpoint, A2.endpoint));
    await B.send(rtp(3), b.port);
    await A2.waitFor(1);
    assert.equal(A.received.length, 0);
    const learned = events.filter((e) => e.type === 'learned' && e.id === a.id);
    assert.equal(learned.length, 2);
  });

  it('muxed RTCP goes to the rtcpSink and RTP to the sink', async function () {
    const R = await peer();
    const { A, B, a, b } = await call(4);
    const r = openStream(engine);
    engine.configure(r.id, cfg({ endpoint: R.endpoint }));
    engine.configure(a.id, cfg({ endpoint: A.endpoint, sink: b.id, rtcpSink: r.id }));
    await A.send(rtcpRr(), a.port);
    await A.send(rtp(1), a.port);
    await R.waitFor(1);
    await B.waitFor(1);
    assert.deepEqual(R.received[0].msg, rtcpRr());
    assert.equal(R.received[0].from.port, r.port);
    assert.deepEqual(B.received[0].msg, rtp(1));
    await sleep(50);
    assert.equal(B.received.length, 1);
    assert.equal(R.received.length, 1);
    // Without an rtcpSink, RTCP follows the sink like any packet.
    await B.send(rtcpRr(), b.port);
    await A.waitFor(1);
    assert.deepEqual(A.received[0].msg, rtcpRr());
  });

  it('packets that are neither RTP nor RTCP are counted in errors and dropped', async function () {
    const { A, B, a } = await call(4);
    await A.send(Buffer.from('hello world, not rtp'), a.port); // version bits 01
    await A.send(Buffer.from([0x80, 0x08, 0x00, 0x01, 0x00]), a.port); // RTP, too short
    await A.send(Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), a.port); // STUN-like
    await A.send(rtp(7), a.port);
    await B.waitFor(1);
    await sleep(50);
    assert.equal(B.received.length, 1);
    assert.deepEqual(B.received[0].msg, rtp(7));
    await eventually(() => {
      const st = engine.stats(a.id);
      assert.equal(st.errors, 3);
      assert.equal(st.packets, 1);
    });
  });

  it('drops and counts packets when there is no sink or the sink has no endpoint', async function () {
    const A = await peer();
    const a = openStream(engine);
    const b = openStream(engine);
    engine.configure(a.id, cfg({ endpoint: A.endpoint }));
    await A.send(rtp(1), a.port);
    await eventually(() => assert.equal(engine.stats(a.id).dropped, 1));
    engine.configure(a.id, cfg({ endpoint: A.endpoint, sink: b.id }));
    engine.configure(b.id, cfg({ endpoint: null, learning: 'immediate' }));
    await A.send(rtp(2), a.port);
    await eventually(() => assert.equal(engine.stats(a.id).dropped, 2));
    assert.equal(engine.stats(a.id).packets, 2);
  });

  it('closeStream stops forwarding, frees the port and is idempotent', async function () {
    const { A, B, a, b } = await call(4);
    await A.send(rtp(1), a.port);
    await B.waitFor(1);
    engine.closeStream(b.id);
    engine.closeStream(b.id);
    // The engine thread closes the socket a moment later.
    await eventually(async () => {
      const probe = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          probe.once('error', reject);
          probe.bind(b.port, '127.0.0.1', () => resolve());
        });
      } finally {
        await new Promise<void>((resolve) => probe.close(() => resolve()));
      }
    });
    await A.send(rtp(2), a.port);
    await eventually(() => assert.equal(engine.stats(a.id).dropped, 1));
    assert.equal(B.received.length, 1);
    assert.throws(() => engine.stats(b.id), (e: unknown) => e instanceof EngineError && e.code === 'ENOENT');
    assert.throws(
      () => engine.configure(a.id, cfg({ sink: b.id })),
      (e: unknown) => e instanceof EngineError && e.code === 'ENOENT',
    );
    engine.closeStream(a.id);
    await A.send(rtp(3), a.port);
    await sleep(50);
    assert.equal(B.received.length, 1);
  });

  it('closeStreams closes several streams in one request, and their ports can be opened again at once', function () {
    const a = openStream(engine);
    const b = openStream(engine);
    engine.closeStreams([a.id, b.id, a.id, 987654]);
    for (const s of [a, b]) {
      assert.throws(() => engine.stats(s.id), (e: unknown) => e instanceof EngineError && e.code === 'ENOENT');
      // Still closing on the engine thread or not: the engine waits for it rather than fail.
      engine.closeStream(engine.openStream([{ family: 4, address: '127.0.0.1', port: s.port }]));
    }
    engine.closeStreams([]);
  });

  it('opening a port in use throws EADDRINUSE and binds nothing', async function () {
    const s = openStream(engine);
    assert.throws(
      () => engine.openStream([{ family: 4, address: '127.0.0.1', port: s.port }]),
      (e: unknown) => e instanceof EngineError && e.code === 'EADDRINUSE' && /127\.0\.0\.1/.test(e.message),
    );
    // Taken on ::1 only: the IPv4 socket bound first must be released again.
    // Pick a port free on 127.0.0.1 (held until ::1 is taken) so that nothing else on
    // the machine makes the IPv4 bind below fail by coincidence.
    let busy: dgram.Socket | null = null;
    let port = 0;
    for (let attempt = 0; attempt < 20 && !busy; attempt++) {
      const v4 = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => v4.bind(0, '127.0.0.1', () => resolve()));
      port = v4.address().port;
      const v6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      const ok = await new Promise<boolean>((resolve) => {
        v6.once('error', () => resolve(false));
        v6.bind(port, '::1', () => resolve(true));
      });
      if (ok) busy = v6;
      else v6.close();
      await new Promise<void>((resolve) => v4.close(() => resolve()));
    }
    assert.ok(busy, 'no port free on both 127.0.0.1 and ::1');
    try {
      assert.throws(
        () =>
          engine.openStream([
            { family: 4, address: '127.0.0.1', port },
            { family: 6, address: '::1', port },
          ]),
        (e: unknown) => e instanceof EngineError && e.code === 'EADDRINUSE',
      );
      const id = engine.openStream([{ family: 4, address: '127.0.0.1', port }]);
      engine.closeStream(id);
    } finally {
      await new Promise<void>((resolve) => (busy as dgram.Socket).close(() => resolve()));
    }
  });

  it('one stream binds the same port on IPv4 and IPv6 and answers from the socket its peer was heard on', async function () {
    const A6 = await peer(6);
    const B4 = await peer(4);
    const a = openStream(engine, [4, 6]);
    const b = openStream(engine, [4]);
    engine.configure(a.id, cfg({ endpoint: null, sink: b.id, learning: 'immediate' }));
    engine.configure(b.id, cfg({ endpoint: B4.endpoint, sink: a.id }));
    await A6.send(rtp(1), a.port);
    await B4.waitFor(1);
    await eventually(() => assert.deepEqual(engine.stats(a.id).endpoint, A6.endpoint));
    await B4.send(rtp(2), b.port);
    const [got] = await A6.waitFor(1);
    assert.equal(got.from.address, '::1');
    assert.equal(got.from.port, a.port);
  });

  it('rejects bad requests with stable codes', function () {
    const s = openStream(engine);
    const code = (c: string) => (e: unknown) => e instanceof EngineError && e.code === c;
    assert.throws(() => engine.stats(987654), code('ENOENT'));
    assert.throws(() => engine.configure(987654, cfg({})), code('ENOENT'));
    assert.throws(() => engine.configure(s.id, cfg({ sink: 987654 })), code('ENOENT'));
    assert.throws(() => engine.openStream([{ family: 4, address: 'not-an-ip', port: 0 }]), code('EINVAL'));
    assert.throws(() => engine.openStream([]), code('EINVAL'));
    assert.throws(
      () => engine.configure(s.id, cfg({ learning: 'sometimes' as unknown as StreamConfig['learning'] })),
      code('EINVAL'),
    );
    assert.throws(() => engine.configure(s.id, cfg({ tos: 300 })), code('EINVAL'));
    engine.configure(s.id, cfg({ tos: 0xb8 }));
    engine.configure(s.id, cfg({ tos: null }));
    engine.closeStream(987654);
    engine.close();
    engine.close();
    assert.throws(() => engine.openStream([{ family: 4, address: '127.0.0.1', port: 0 }]), code('EENGINE'));
  });

  it('a throwing event handler is logged and does not stop the relay', async function () {
    engine.close();
    let calls = 0;
    engine = new MediaEngine({
      threads: 1,
      onEvents: () => {
        calls++;
        throw new Error('handler bug');
      },
    });
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    try {
      const { A, B, a } = await call(4, { a: { learning: 'immediate', endpoint: null } });
      await A.send(rtp(1), a.port);
      await A.send(rtp(2), a.port);
      await B.waitFor(2);
      await eventually(() => assert.equal(calls, 1));
    } finally {
      setLogSink((line) => process.stderr.write(line + '\n'));
    }
    assert.ok(lines.some((l) => l.includes('handler bug')));
  });

  it('streams run on the thread of their group; a sink on another thread is refused', async function () {
    engine.close();
    engine = new MediaEngine({ threads: 2, onEvents: () => {} });
    const A = await peer();
    const B = await peer();
    const ids = [0, 1].map((group) => engine.openStream([{ family: 4, address: '127.0.0.1', port: 0 }], { group }));
    assert.throws(
      () => engine.configure(ids[0], cfg({ sink: ids[1] })),
      (e: unknown) => e instanceof EngineError && e.code === 'EINVAL',
    );
    // Both threads relay: one call per group.
    for (const group of [0, 1]) {
      const a = openStream(engine, [4], group);
      const b = openStream(engine, [4], group);
      engine.configure(a.id, cfg({ endpoint: A.endpoint, sink: b.id }));
      engine.configure(b.id, cfg({ endpoint: B.endpoint, sink: a.id }));
      await A.send(rtp(group), a.port);
      await B.waitFor(group + 1);
    }

  });

  for (const withClose of [true, false]) {
    it(`the process exits ${withClose ? 'after engine.close()' : 'even without engine.close()'}`, function () {
      const enginePath = path.resolve(__dirname, '../../src/media/engine.js');
      const script = `
        const { MediaEngine } = require(${JSON.stringify(enginePath)});
        const e = new MediaEngine({ threads: 2, onEvents: () => {} });
        const a = e.openStream([{ family: 4, address: '127.0.0.1', port: 0 }]);
        const b = e.openStream([{ family: 4, address: '127.0.0.1', port: 0 }], { group: 1 });
        e.configure(a, { endpoint: null, sink: null, rtcpSink: null, learning: 'immediate', strictSource: false, mediaHandover: false, tos: null });
        ${withClose ? 'e.close();' : ''}
        console.log('done');
      `;
      const r = spawnSync(process.execPath, ['-e', script], { timeout: 10000, encoding: 'utf8' });
      assert.equal(r.signal, null, 'the child was killed: it did not exit by itself');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'done');
    });
  }
});
