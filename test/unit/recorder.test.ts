// The media engine's call recorder: packets of a recorded stream go from the
// engine thread through a small ring (4 KiB here, so that it wraps and
// overflows) to the recorder thread and into a pcap file. Whatever did not fit
// is counted, and what was written is intact and in order.

import { strict as assert } from 'assert';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MediaEngine, type StreamConfig, type StreamControl } from '../../src/media/engine';
import { buildRtp } from '../helpers/rtp';
import { readPcap } from '../helpers/pcap';

const HOST = '127.0.0.1';
import { sleep } from '../helpers/process';

function config(port: number, sink: number): StreamConfig {
  return {
    endpoint: { family: 4, address: HOST, port }, sink, rtcpSink: null, learning: 'off',
    strictSource: false, mediaHandover: false, tos: null,
  };
}

const RECORD: StreamControl = {
  blockMedia: false, silenceMedia: false, blockDtmf: false, silence: [], recording: 1, record: 'ingress',
};

describe('call recorder (native)', function () {
  this.timeout(20000);
  let engine: MediaEngine;
  let dir: string;
  const socks: dgram.Socket[] = [];

  beforeEach(function () {
    engine = new MediaEngine({ threads: 1, onEvents: () => undefined, recordRingBytes: 4096 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-recorder-'));
  });

  afterEach(function () {
    engine.close();
    for (const s of socks.splice(0)) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function udp(host = HOST): Promise<dgram.Socket> {
    const s = dgram.createSocket({ type: host === HOST ? 'udp4' : 'udp6', ipv6Only: host !== HOST });
    socks.push(s);
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    return s;
  }

  it('IPv6 packets are written with an IPv6 header (eth: ethertype 0x86dd), sender and local address and ports', async function () {
    const a = await udp('::1');
    const b = await udp('::1');
    const target = await freePort('::1');
    const sa = engine.openStream([{ family: 6, address: '::1', port: target }]);
    const sb = engine.openStream([{ family: 6, address: '::1', port: await freePort('::1') }]);
    const cfg6 = (port: number, sink: number): StreamConfig => ({ ...config(port, sink), endpoint: { family: 6, address: '::1', port } });
    engine.configure(sa, cfg6(a.address().port, sb));
    engine.configure(sb, cfg6(b.address().port, sa));
    const file = path.join(dir, 'v6.pcap');
    engine.openRecording(1, file, 'eth');
    engine.setControl(sa, RECORD);
    const sent: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const pkt = buildRtp({ pt: 0, seq: i, ts: i * 160, ssrc: 0x66, payload: Buffer.alloc(160, 0xff) });
      sent.push(pkt);
      a.send(pkt, target, '::1');
      await sleep(5);
    }
    await sleep(100);
    engine.closeRecording(1);
    const pcap = readPcap(file);
    assert.equal(pcap.linkType, 1);
    assert.equal(pcap.packets.length, 5);
    pcap.packets.forEach((p, i) => {
      assert.equal(p.frame.readUInt16BE(12), 0x86dd);
      assert.deepEqual([p.ipVersion, p.src, p.srcPort, p.dst, p.dstPort], [6, '0:0:0:0:0:0:0:1', a.address().port, '0:0:0:0:0:0:0:1', target]);
      assert.ok(p.payload.equals(sent[i]));
    });
  });

  it('a ring much smaller than the traffic wraps around, drops and counts what does not fit, and keeps the rest intact and in order', async function () {
    const a = await udp();
    const b = await udp();
    const target = await freePort();
    const sa = engine.openStream([{ family: 4, address: HOST, port: target }]);
    const sb = engine.openStream([{ family: 4, address: HOST, port: await freePort() }]);
    engine.configure(sa, config(a.address().port, sb));
    engine.configure(sb, config(b.address().port, sa));
    const file = path.join(dir, 'call.pcap');
    engine.openRecording(1, file, 'raw');
    engine.setControl(sa, RECORD);
    const sent: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      // Sizes from 12 to ~1000 bytes: records of many lengths, and padding at the wrap.
      const payload = Buffer.alloc((i * 37) % 1000, i & 0xff);
      const pkt = buildRtp({ pt: 8, seq: i, ts: i * 160, ssrc: 0x77, payload });
      sent.push(pkt);
      a.send(pkt, target, HOST);
      if (i % 20 === 19) await sleep(3);
    }
    await sleep(300);
    const received = engine.stats(sa).packets;
    engine.closeRecording(1);
    const pcap = readPcap(file);
    const drops = engine.recordingDrops();
    assert.ok(received >= 300, `${received} of 400 packets reached the engine`);
    assert.equal(pcap.packets.length + drops, received, `${pcap.packets.length} written + ${drops} dropped = ${received} received`);
    assert.ok(drops > 0, 'the 4 KiB ring overflowed');
    assert.ok(pcap.packets.length > 40, `${pcap.packets.length} packets written: the ring wrapped many times`);
    let last = -1;
    for (const p of pcap.packets) {
      const seq = p.payload.readUInt16BE(2);
      assert.ok(seq > last, `in order (${seq} after ${last})`);
      last = seq;
      assert.ok(p.payload.equals(sent[seq]), `packet ${seq} intact`);
      assert.equal(p.dstPort, target);
    }
  });
});

/** A UDP port on 127.0.0.1 (or host) that was free a moment ago. */
async function freePort(host = HOST): Promise<number> {
  const s = dgram.createSocket(host === HOST ? 'udp4' : 'udp6');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
