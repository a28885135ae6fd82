// The port allocator binds RTP/RTCP pairs through a real engine, on small
// ranges inside 44500-44999.

import { strict as assert } from 'assert';
import * as dgram from 'dgram';
import { EngineError, MediaEngine } from '../../src/media/engine';
import { DEFAULT_PORT_MAX, DEFAULT_PORT_MIN, PortAllocator, PortPair, PortsExhaustedError } from '../../src/media/ports';

const V4 = { family: 4 as const, address: '127.0.0.1' };
const V6 = { family: 6 as const, address: '::1' };

function bindUdp(port: number, host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind(port, host, () => resolve(s));
  });
}

function closeUdp(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

/** True if nothing holds port on host. */
async function isFree(port: number, host: string): Promise<boolean> {
  try {
    await closeUdp(await bindUdp(port, host));
    return true;
  } catch {
    return false;
  }
}

/**
 * True if port on host is free, or becomes free within a second: a closed
 * stream's socket is closed by its engine thread a moment after closeStream().
 */
async function freedSoon(port: number, host: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await isFree(port, host)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('port allocator', function () {
  let engine: MediaEngine;

  beforeEach(function () {
    engine = new MediaEngine({ threads: 1, onEvents: () => {} });
  });

  afterEach(function () {
    engine.close();
  });

  it('defaults to the range 30000-40000', function () {
    const ports = new PortAllocator(engine);
    assert.equal(ports.min, DEFAULT_PORT_MIN);
    assert.equal(ports.max, DEFAULT_PORT_MAX);
    assert.equal(DEFAULT_PORT_MIN, 30000);
    assert.equal(DEFAULT_PORT_MAX, 40000);
    const legacy = new PortAllocator(engine, 44500, 44519);
    assert.equal(legacy.min, 44500);
    assert.equal(legacy.max, 44519);
  });

  it('allocates RTP on an even port and RTCP on the next, both bound on every address', async function () {
    const ports = new PortAllocator(engine, { min: 44501, max: 44539 });
    const pairs: PortPair[] = [];
    for (let i = 0; i < 5; i++) pairs.push(ports.allocatePair([V4, V6]));
    for (const p of pairs) {
      assert.equal(p.port % 2, 0);
      assert.ok(p.port >= 44502 && p.port + 1 <= 44539);
      assert.notEqual(p.rtp, p.rtcp);
      for (const host of ['127.0.0.1', '::1']) {
        assert.equal(await isFree(p.port, host), false);
        assert.equal(await isFree(p.port + 1, host), false);
      }
    }
    assert.equal(new Set(pairs.map((p) => p.port)).size, 5);
    assert.equal(ports.inUse(), 5);
    // The first allocation starts at the bottom; the next ones step 6..19 ports past the last one.
    assert.equal(pairs[0].port, 44502);
    assert.equal(ports.last(), pairs[4].port + 2);
    for (const p of pairs) ports.releasePair(p);
    assert.equal(ports.inUse(), 0);
    for (const p of pairs) assert.equal(await freedSoon(p.port, '127.0.0.1'), true);
  });

  it("fails with 'Ran out of ports' when the range is exhausted, leaking nothing", async function () {
    const ports = new PortAllocator(engine, { min: 44540, max: 44545 });
    const pairs = [ports.allocatePair([V4]), ports.allocatePair([V4]), ports.allocatePair([V4])];
    assert.deepEqual(
      pairs.map((p) => p.port).sort(),
      [44540, 44542, 44544],
    );
    assert.throws(
      () => ports.allocatePair([V4]),
      (e: unknown) => e instanceof PortsExhaustedError && e.message === 'Ran out of ports' && e.code === 'ENOPORTS',
    );
    assert.equal(ports.inUse(), 3);
    for (const p of pairs) ports.releasePair(p);
    for (let port = 44540; port <= 44545; port++) assert.equal(await freedSoon(port, '127.0.0.1'), true, `port ${port}`);
  });

  it('reuses released pairs', function () {
    const ports = new PortAllocator(engine, { min: 44550, max: 44553 });
    const a = ports.allocatePair([V4]);
    const b = ports.allocatePair([V4]);
    assert.throws(() => ports.allocatePair([V4]), PortsExhaustedError);
    ports.releasePair(a);
    ports.releasePair(a); // idempotent
    const c = ports.allocatePair([V4]);
    assert.equal(c.port, a.port);
    ports.releasePair(b);
    ports.releasePair(c);
    assert.equal(ports.inUse(), 0);
    for (let i = 0; i < 20; i++) ports.releasePair(ports.allocatePair([V4]));
    assert.equal(ports.inUse(), 0);
  });

  it('skips ports held by another process, including a pair whose RTCP port alone is taken', async function () {
    const rtpTaken = await bindUdp(44560, '127.0.0.1');
    const rtcpTaken = await bindUdp(44563, '127.0.0.1');
    try {
      const ports = new PortAllocator(engine, { min: 44560, max: 44567 });
      const a = ports.allocatePair([V4]);
      const b = ports.allocatePair([V4]);
      assert.deepEqual([a.port, b.port].sort(), [44564, 44566]);
      assert.throws(() => ports.allocatePair([V4]), PortsExhaustedError);
      // The RTP socket bound on 44562 before 44563 failed was closed again.
      assert.equal(await freedSoon(44562, '127.0.0.1'), true);
      ports.releasePair(a);
      ports.releasePair(b);
    } finally {
      await closeUdp(rtpTaken);
      await closeUdp(rtcpTaken);
    }
  });

  it('a port taken on one of the addresses makes the pair unusable on all of them', async function () {
    const taken = await bindUdp(44571, '::1');
    try {
      const ports = new PortAllocator(engine, { min: 44570, max: 44573 });
      const p = ports.allocatePair([V4, V6]);
      assert.equal(p.port, 44572);
      assert.equal(await freedSoon(44570, '127.0.0.1'), true);
      ports.releasePair(p);
    } finally {
      await closeUdp(taken);
    }
  });

  it('keeps ports per address: the same port may be held on two different addresses', function () {
    const ports = new PortAllocator(engine, { min: 44580, max: 44581, random: () => 0 });
    const a = ports.allocatePair([V4]);
    const b = ports.allocatePair([V6]);
    assert.equal(a.port, 44580);
    assert.equal(b.port, 44580);
    assert.throws(() => ports.allocatePair([V4]), PortsExhaustedError);
    ports.releasePair(a);
    ports.releasePair(b);
  });

  it('rethrows bind errors that are not about a busy port', function () {
    const ports = new PortAllocator(engine, { min: 44590, max: 44599 });
    assert.throws(
      () => ports.allocatePair([{ family: 4, address: '192.0.2.1' }]),
      (e: unknown) => e instanceof EngineError && e.code === 'EADDRNOTAVAIL',
    );
    assert.equal(ports.inUse(), 0);
  });

  it('rejects a range without room for a pair', function () {
    assert.throws(() => new PortAllocator(engine, { min: 44601, max: 44602 }), RangeError);
    assert.throws(() => new PortAllocator(engine, { min: 0, max: 10 }), RangeError);
  });
});
