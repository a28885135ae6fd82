// Two-party calls on a bare media engine for the engine-level transcoding
// tests: peer A sends to stream a, whose codec route transcodes towards stream
// b and peer B (real UDP on 127.0.0.1). One EngineCalls per test file, each
// with its own port range; setUp() and tearDown() go in beforeEach/afterEach
// (the engine and every peer are closed after each test).

import { CodecRoute, EngineError, MediaEngine, StreamConfig } from '../../src/media/engine';
import type { NativeCodecSpec } from '../../src/codec/table';
import { Received, RtpPeer } from './rtp';
import { HOST, sleep } from './codec-audio';

/** A codec route transcoding inSpecs into out, with the defaults a daemon uses and `over` on top. */
export function route(inSpecs: NativeCodecSpec[], out: NativeCodecSpec | null, over: Partial<CodecRoute> = {}): CodecRoute {
  return {
    transcode: inSpecs.map((s) => ({ in: s })),
    out,
    passthrough: [],
    inCnPt: -1,
    outCnPt: -1,
    silenceDbov: -1,
    dtxDelayMs: 60,
    maxDtxMs: 30000,
    ...over,
  };
}

export function streamConfig(over: Partial<StreamConfig>): StreamConfig {
  return { endpoint: null, sink: null, rtcpSink: null, learning: 'off', strictSource: false, mediaHandover: false, tos: null, ...over };
}

export interface EngineCall {
  A: RtpPeer;
  B: RtpPeer;
  a: { id: number; port: number };
  b: { id: number; port: number };
  aCfg: StreamConfig;
}

export class EngineCalls {
  engine!: MediaEngine;
  private readonly peers: RtpPeer[] = [];
  private nextPort: number;

  constructor(private readonly portMin: number, private readonly portMax: number) {
    this.nextPort = portMin;
  }

  setUp(): void {
    this.engine = new MediaEngine({ threads: 1, learningDelayMs: 300, onEvents: () => undefined });
  }

  async tearDown(): Promise<void> {
    this.engine.close();
    await Promise.all(this.peers.splice(0).map((p) => p.close()));
  }

  /** Opens a stream on the next free port of the range. */
  openStream(): { id: number; port: number } {
    for (let tries = 0; tries <= this.portMax - this.portMin; tries++) {
      const port = this.nextPort;
      this.nextPort = this.nextPort >= this.portMax ? this.portMin : this.nextPort + 1;
      try {
        return { id: this.engine.openStream([{ family: 4, address: HOST, port }]), port };
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error('no free test port');
  }

  /** Peer A sends to stream a, whose codec route transcodes towards stream b and peer B. */
  async call(codecs: CodecRoute | null): Promise<EngineCall> {
    const A = await RtpPeer.open(HOST);
    const B = await RtpPeer.open(HOST);
    this.peers.push(A, B);
    const a = this.openStream();
    const b = this.openStream();
    const aCfg = streamConfig({ endpoint: { family: 4, address: HOST, port: A.port }, sink: b.id, codecs });
    this.engine.configure(a.id, aCfg);
    this.engine.configure(b.id, streamConfig({ endpoint: { family: 4, address: HOST, port: B.port }, sink: a.id }));
    return { A, B, a, b, aCfg };
  }
}

/** Sends packets in order, a few at a time (faster than real time). */
export async function sendAll(from: RtpPeer, port: number, packets: Buffer[]): Promise<void> {
  for (let i = 0; i < packets.length; i++) {
    await from.send({ address: HOST, port }, packets[i]);
    if (i % 4 === 3) await sleep(1);
  }
}

/** Waits for at least n packets, then until nothing more arrives for 150 ms; returns them all. */
export async function collect(peer: RtpPeer, n: number): Promise<Received[]> {
  await peer.waitFor(n, 5000);
  while ((await peer.countDuring(150)) > 0);
  return peer.packets();
}
