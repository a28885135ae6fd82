// RTP and RTCP peers for tests: a UDP socket on loopback that sends packets it
// builds and records what it receives, with the sender's address.

import * as dgram from 'dgram';
import * as net from 'net';

// ---------------------------------------------------------------- RTP packets

export interface RtpFields {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  payload?: Buffer;
  csrcs?: number[];
  /** Header extension: profile-defined 16-bit id and data (padded to 32-bit words). */
  extension?: { profile: number; data: Buffer };
  /** Number of padding bytes to append (RFC 3550 padding, last byte is the count). */
  padding?: number;
}

export interface RtpPacket {
  version: number;
  padding: boolean;
  extension: boolean;
  marker: boolean;
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  csrcs: number[];
  payload: Buffer;
}

/** Builds an RTP packet (version 2). */
export function buildRtp(f: RtpFields): Buffer {
  const csrcs = f.csrcs ?? [];
  const payload = f.payload ?? Buffer.alloc(160, 0xd5); // 20 ms of PCMA silence
  let ext = Buffer.alloc(0);
  if (f.extension) {
    const words = Math.ceil(f.extension.data.length / 4);
    ext = Buffer.alloc(4 + words * 4);
    ext.writeUInt16BE(f.extension.profile & 0xffff, 0);
    ext.writeUInt16BE(words, 2);
    f.extension.data.copy(ext, 4);
  }
  const padLen = f.padding ?? 0;
  const hdr = Buffer.alloc(12 + 4 * csrcs.length);
  hdr[0] = 0x80 | (padLen > 0 ? 0x20 : 0) | (f.extension ? 0x10 : 0) | (csrcs.length & 0x0f);
  hdr[1] = ((f.marker ? 1 : 0) << 7) | (f.pt & 0x7f);
  hdr.writeUInt16BE(f.seq & 0xffff, 2);
  hdr.writeUInt32BE(f.ts >>> 0, 4);
  hdr.writeUInt32BE(f.ssrc >>> 0, 8);
  csrcs.forEach((c, i) => hdr.writeUInt32BE(c >>> 0, 12 + 4 * i));
  const pad = Buffer.alloc(padLen);
  if (padLen > 0) pad[padLen - 1] = padLen;
  return Buffer.concat([hdr, ext, payload, pad]);
}

/** Parses an RTP packet; null when it is not RTP version 2 or is truncated. */
export function parseRtp(b: Buffer): RtpPacket | null {
  if (b.length < 12 || b[0] >> 6 !== 2) return null;
  const cc = b[0] & 0x0f;
  let off = 12 + 4 * cc;
  if (b.length < off) return null;
  const hasExt = (b[0] & 0x10) !== 0;
  if (hasExt) {
    if (b.length < off + 4) return null;
    off += 4 + 4 * b.readUInt16BE(off + 2);
    if (b.length < off) return null;
  }
  let end = b.length;
  const hasPad = (b[0] & 0x20) !== 0;
  if (hasPad) {
    const n = b[b.length - 1];
    if (n === 0 || n > end - off) return null;
    end -= n;
  }
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(b.readUInt32BE(12 + 4 * i));
  return {
    version: 2,
    padding: hasPad,
    extension: hasExt,
    marker: (b[1] & 0x80) !== 0,
    pt: b[1] & 0x7f,
    seq: b.readUInt16BE(2),
    ts: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    csrcs,
    payload: Buffer.from(b.subarray(off, end)),
  };
}

/** RFC 5761 demultiplexing: a second byte of 192..223 means RTCP, anything else RTP. */
export function isRtcp(b: Buffer): boolean {
  return b.length >= 8 && b[0] >> 6 === 2 && b[1] >= 192 && b[1] <= 223;
}

// ---------------------------------------------------------------- RTCP packets

export interface ReportBlock {
  ssrc: number;
  fractionLost?: number; // 0..255
  cumulativeLost?: number; // 24-bit signed
  highestSeq?: number;
  jitter?: number;
  lsr?: number;
  dlsr?: number;
}

export interface SenderInfo {
  /** NTP timestamp; defaults to now. */
  ntpSec?: number;
  ntpFrac?: number;
  rtpTs?: number;
  packets?: number;
  octets?: number;
}

function reportBlocks(blocks: ReportBlock[]): Buffer {
  const out = Buffer.alloc(24 * blocks.length);
  blocks.forEach((r, i) => {
    const o = 24 * i;
    out.writeUInt32BE(r.ssrc >>> 0, o);
    out[o + 4] = (r.fractionLost ?? 0) & 0xff;
    const lost = (r.cumulativeLost ?? 0) & 0xffffff;
    out[o + 5] = (lost >> 16) & 0xff;
    out[o + 6] = (lost >> 8) & 0xff;
    out[o + 7] = lost & 0xff;
    out.writeUInt32BE((r.highestSeq ?? 0) >>> 0, o + 8);
    out.writeUInt32BE((r.jitter ?? 0) >>> 0, o + 12);
    out.writeUInt32BE((r.lsr ?? 0) >>> 0, o + 16);
    out.writeUInt32BE((r.dlsr ?? 0) >>> 0, o + 20);
  });
  return out;
}

function rtcpHeader(count: number, pt: number, bodyLen: number): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0x80 | (count & 0x1f);
  h[1] = pt;
  h.writeUInt16BE((4 + bodyLen) / 4 - 1, 2);
  return h;
}

/** The NTP time of `ms` (Unix epoch milliseconds) as seconds and fraction. */
export function ntpTime(ms = Date.now()): { sec: number; frac: number } {
  const sec = Math.floor(ms / 1000) + 2208988800;
  const frac = Math.floor(((ms % 1000) / 1000) * 0x100000000);
  return { sec: sec >>> 0, frac: frac >>> 0 };
}

/** An RTCP sender report (PT 200). */
export function buildRtcpSr(ssrc: number, info: SenderInfo = {}, blocks: ReportBlock[] = []): Buffer {
  const now = ntpTime();
  const body = Buffer.alloc(24);
  body.writeUInt32BE(ssrc >>> 0, 0);
  body.writeUInt32BE((info.ntpSec ?? now.sec) >>> 0, 4);
  body.writeUInt32BE((info.ntpFrac ?? now.frac) >>> 0, 8);
  body.writeUInt32BE((info.rtpTs ?? 0) >>> 0, 12);
  body.writeUInt32BE((info.packets ?? 0) >>> 0, 16);
  body.writeUInt32BE((info.octets ?? 0) >>> 0, 20);
  const rb = reportBlocks(blocks);
  return Buffer.concat([rtcpHeader(blocks.length, 200, body.length + rb.length), body, rb]);
}

/** An RTCP receiver report (PT 201). */
export function buildRtcpRr(ssrc: number, blocks: ReportBlock[] = []): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(ssrc >>> 0, 0);
  const rb = reportBlocks(blocks);
  return Buffer.concat([rtcpHeader(blocks.length, 201, body.length + rb.length), body, rb]);
}

/** An RTCP SDES (PT 202) with one CNAME chunk. Append to an SR/RR for a compound packet. */
export function buildRtcpSdes(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname, 'utf8');
  const itemLen = 2 + text.length;
  // chunk: ssrc, items, a null item, padded to 32 bits
  const raw = 4 + itemLen + 1;
  const chunk = Buffer.alloc(Math.ceil(raw / 4) * 4);
  chunk.writeUInt32BE(ssrc >>> 0, 0);
  chunk[4] = 1; // CNAME
  chunk[5] = text.length;
  text.copy(chunk, 6);
  return Buffer.concat([rtcpHeader(1, 202, chunk.length), chunk]);
}

/** An RTCP BYE (PT 203). */
export function buildRtcpBye(ssrcs: number[]): Buffer {
  const body = Buffer.alloc(4 * ssrcs.length);
  ssrcs.forEach((s, i) => body.writeUInt32BE(s >>> 0, 4 * i));
  return Buffer.concat([rtcpHeader(ssrcs.length, 203, body.length), body]);
}

export interface RtcpPacket {
  pt: number;
  count: number;
  ssrc: number;
  /** The whole packet, header included. */
  data: Buffer;
}

/** Splits a compound RTCP packet; null when malformed. */
export function parseRtcp(b: Buffer): RtcpPacket[] | null {
  const out: RtcpPacket[] = [];
  let off = 0;
  while (off < b.length) {
    if (b.length - off < 4 || b[off] >> 6 !== 2) return null;
    const len = (b.readUInt16BE(off + 2) + 1) * 4;
    if (off + len > b.length) return null;
    out.push({
      pt: b[off + 1],
      count: b[off] & 0x1f,
      ssrc: len >= 8 ? b.readUInt32BE(off + 4) : 0,
      data: Buffer.from(b.subarray(off, off + len)),
    });
    off += len;
  }
  return out;
}

// ---------------------------------------------------------------- the peer

export interface Endpoint {
  address: string;
  port: number;
}

export interface Received {
  data: Buffer;
  from: Endpoint;
  /** Date.now() at arrival. */
  at: number;
  /** Parsed RTP when the datagram is RTP (and not RTCP). */
  rtp: RtpPacket | null;
}

export interface StreamOptions {
  pt?: number;
  ssrc?: number;
  /** First sequence number (random by default). */
  seq?: number;
  /** First timestamp (random by default). */
  ts?: number;
  /** Timestamp increment per packet (default 160: 20 ms at 8 kHz). */
  tsStep?: number;
  intervalMs?: number;
  /** Stop after this many packets (default: until stop()). */
  count?: number;
  payload?: Buffer | ((i: number) => Buffer);
}

export interface RunningStream {
  ssrc: number;
  sent(): number;
  stop(): void;
  /** Resolves when `count` packets are sent or stop() is called. */
  done: Promise<number>;
}

/** A UDP socket bound on loopback (127.0.0.1 or ::1) that sends and records packets. */
export class RtpPeer {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  private readonly streams = new Set<RunningStream>();
  private closed = false;

  private constructor(
    readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    private readonly maxKept: number,
  ) {
    socket.on('message', (data, rinfo) => {
      const isRtcpPkt = isRtcp(data);
      this.received.push({
        data,
        from: { address: rinfo.address, port: rinfo.port },
        at: Date.now(),
        rtp: isRtcpPkt ? null : parseRtp(data),
      });
      if (this.received.length > this.maxKept) this.received.shift();
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  /**
   * Opens a peer on `host` (default 127.0.0.1; '::1' for IPv6) and `port`
   * (default: any free one).
   */
  static open(host = '127.0.0.1', port = 0, opts: { maxKept?: number } = {}): Promise<RtpPeer> {
    const type = net.isIPv6(host) ? 'udp6' : 'udp4';
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    return new Promise((resolve, reject) => {
      s.once('error', (err) => {
        s.close();
        reject(err);
      });
      s.bind(port, host, () => {
        s.removeAllListeners('error');
        s.on('error', () => {
          /* ICMP port unreachable etc. must not crash a test */
        });
        resolve(new RtpPeer(s, host, s.address().port, opts.maxKept ?? 100000));
      });
    });
  }

  /** This peer as an endpoint. */
  get endpoint(): Endpoint {
    return { address: this.address, port: this.port };
  }

  send(to: Endpoint, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, to.port, to.address, (err) => (err ? reject(err) : resolve())),
    );
  }

  sendRtp(to: Endpoint, f: RtpFields): Promise<void> {
    return this.send(to, buildRtp(f));
  }

  /**
   * Sends an RTP stream at a fixed pace. The stream stops at `count` packets,
   * on stop(), or when the peer is closed.
   */
  startStream(to: Endpoint, o: StreamOptions = {}): RunningStream {
    const ssrc = o.ssrc ?? randomU32();
    let seq = o.seq ?? Math.floor(Math.random() * 0x10000);
    let ts = o.ts ?? randomU32();
    const step = o.tsStep ?? 160;
    const pt = o.pt ?? 8;
    let n = 0;
    let timer: NodeJS.Timeout | undefined;
    let finish: (k: number) => void = () => undefined;
    const done = new Promise<number>((resolve) => (finish = resolve));
    const stream: RunningStream = {
      ssrc,
      sent: () => n,
      stop: () => {
        if (timer) clearInterval(timer);
        timer = undefined;
        this.streams.delete(stream);
        finish(n);
      },
      done,
    };
    const tick = (): void => {
      if (this.closed || (o.count !== undefined && n >= o.count)) {
        stream.stop();
        return;
      }
      const payload = typeof o.payload === 'function' ? o.payload(n) : o.payload;
      this.socket.send(buildRtp({ pt, seq, ts, ssrc, payload, marker: n === 0 }), to.port, to.address);
      n++;
      seq = (seq + 1) & 0xffff;
      ts = (ts + step) >>> 0;
    };
    this.streams.add(stream);
    tick();
    timer = setInterval(tick, o.intervalMs ?? 20);
    return stream;
  }

  /** Received datagrams matching `filter` (all by default). */
  packets(filter?: (r: Received) => boolean): Received[] {
    return filter ? this.received.filter(filter) : this.received.slice();
  }

  /**
   * Resolves with the first `n` received datagrams matching `filter` once there
   * are that many; rejects after `timeoutMs` saying how many arrived.
   */
  async waitFor(n: number, timeoutMs: number, filter?: (r: Received) => boolean): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const got = this.packets(filter);
      if (got.length >= n) return got.slice(0, n);
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        throw new Error(
          `RTP peer ${this.address}:${this.port}: expected ${n} packets, got ${got.length} within ${timeoutMs} ms` +
            (this.received.length !== got.length ? ` (${this.received.length} received in all)` : ''),
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits `ms` and resolves with how many matching datagrams arrived meanwhile (for "nothing arrives" checks). */
  async countDuring(ms: number, filter?: (r: Received) => boolean): Promise<number> {
    const before = this.packets(filter).length;
    await new Promise((r) => setTimeout(r, ms));
    return this.packets(filter).length - before;
  }

  clear(): void {
    this.received.length = 0;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const s of [...this.streams]) s.stop();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function randomU32(): number {
  return Math.floor(Math.random() * 0x100000000) >>> 0;
}

/** "address:port" for messages and comparisons. */
export function fmtEndpoint(e: Endpoint): string {
  return net.isIPv6(e.address) ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * The simplest peer: keeps every RTP packet it receives and sends prepared packets
 * a little faster than real time (a transcoder follows RTP timestamps, not arrival).
 */
export class PacketPeer {
  readonly sock = dgram.createSocket('udp4');
  readonly got: RtpPacket[] = [];

  async open(host = '127.0.0.1'): Promise<number> {
    this.sock.on('message', (m) => {
      const p = parseRtp(m);
      if (p) this.got.push(p);
    });
    await new Promise<void>((r) => this.sock.bind(0, host, () => r()));
    return this.sock.address().port;
  }

  async send(packets: Buffer[], to: { address: string; port: number }, gapMs = 4): Promise<void> {
    for (const p of packets) {
      await new Promise<void>((r) => this.sock.send(p, to.port, to.address, () => r()));
      await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  close(): void {
    this.sock.close();
  }
}
