// Local media port allocation within --port-min/--port-max.
//
// Like the reference, every media gets a consecutive pair: RTP on an even port,
// RTCP on the next odd one, even when RTCP is muxed (the reference always
// allocates num_ports = 2 per media). Both ports are bound on every local
// address given, with the same port numbers, as one engine stream each.
//
// The search mirrors rtpengine's __get_consecutive_ports: start a small random
// step (6..19) past the port after the last allocation; if that lands on a port
// this allocator holds, restart from the oldest released port instead; then walk
// up in steps of two, skipping ports this allocator holds and ports the kernel
// refuses (EADDRINUSE, EACCES: held by another process); past the top wrap
// around to port-min once, and give up ("Ran out of ports") on the second wrap.
//
// A released pair is free for this allocator at once, though its sockets close
// on the engine thread a few milliseconds later (MediaEngine.closeStreams): a
// bind that meets such a socket waits for it inside the engine instead of
// failing, so a released port is never mistaken for one held elsewhere and a
// small range does not run out spuriously. Walking on from the last pair, as
// the reference does, makes that wait rare.
//
// Runs on the JavaScript thread; each attempt is one or two bind calls.

import { EngineError, Family, MediaEngine, OpenStreamOptions } from './engine';

export const DEFAULT_PORT_MIN = 30000;
export const DEFAULT_PORT_MAX = 40000;

// The reference's random step past the last allocated port.
const PORT_RANDOM_MIN = 6;
const PORT_RANDOM_MAX = 20;

/** A local address to bind media ports on. */
export interface LocalAddressSpec {
  family: Family;
  address: string;
}

/** An allocated pair: the engine stream ids of the RTP and RTCP ports, and the RTP port number. */
export interface PortPair {
  rtp: number;
  rtcp: number;
  port: number;
}

/** No free consecutive pair left in the range; the message is the reference's ng error reason. */
export class PortsExhaustedError extends Error {
  readonly code = 'ENOPORTS';

  constructor(readonly detail: string) {
    super('Ran out of ports');
    this.name = 'PortsExhaustedError';
  }
}

export interface PortAllocatorOptions {
  min?: number;
  max?: number;
  /** Source of randomness in [0, 1); Math.random by default. For tests. */
  random?: () => number;
}

interface Held {
  pair: PortPair;
  keys: string[];
  addrs: LocalAddressSpec[];
}

/** Told of every pair bound and released (the --iptables-chain rules). Must not block. */
export interface PortPairListener {
  openPair(addrs: readonly LocalAddressSpec[], port: number, label: string): void;
  closePair(addrs: readonly LocalAddressSpec[], port: number): void;
}

/** The engine calls the allocator needs. */
export type StreamOpener = Pick<MediaEngine, 'openStream' | 'closeStream' | 'closeStreams'>;

export class PortAllocator {
  readonly min: number;
  readonly max: number;
  private readonly random: () => number;
  // Ports held by this allocator, per local address ("4/127.0.0.1").
  private readonly used = new Map<string, Uint8Array>();
  private readonly held = new Map<number, Held>();  // by RTP stream id
  // Released RTP ports, oldest first, each at most once.
  private readonly freeList: number[] = [];
  private readonly inFreeList = new Set<number>();
  private cursor = 0;
  /** Sees each pair's addresses and RTP port on binding and release. */
  listener: PortPairListener | null = null;

  constructor(engine: StreamOpener, opts?: PortAllocatorOptions);
  constructor(engine: StreamOpener, min: number, max: number);
  constructor(private readonly engine: StreamOpener, optsOrMin: PortAllocatorOptions | number = {}, maxArg?: number) {
    const opts: PortAllocatorOptions = typeof optsOrMin === 'number' ? { min: optsOrMin, max: maxArg } : optsOrMin;
    const min = opts.min ?? DEFAULT_PORT_MIN;
    const max = opts.max ?? DEFAULT_PORT_MAX;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535) {
      throw new RangeError(`invalid port range ${min}-${max}`);
    }
    // The first even port and its odd neighbour must both fit.
    if (min + (min & 1) + 1 > max) throw new RangeError(`port range ${min}-${max} holds no RTP/RTCP pair`);
    this.min = min;
    this.max = max;
    this.random = opts.random ?? Math.random;
  }

  /**
   * Binds an RTP/RTCP pair on every address in addrs and returns the two
   * stream ids. Throws PortsExhaustedError when no pair is free, and rethrows
   * other bind errors (an address that is not local, ...). Leaves nothing bound
   * on failure. label (the call id) is passed on to the listener.
   */
  allocatePair(addrs: LocalAddressSpec[], opts: OpenStreamOptions = {}, label = ''): PortPair {
    if (addrs.length === 0) throw new EngineError('EINVAL', 'no local address to allocate media ports on');
    const keys = addrs.map((a) => `${a.family}/${a.address}`);
    const maps = keys.map((k) => this.bitmap(k));
    const taken = (port: number): boolean => maps.some((m) => m[port] !== 0);

    const span = PORT_RANDOM_MAX - PORT_RANDOM_MIN;
    let port = this.cursor + PORT_RANDOM_MIN + Math.min(span - 1, Math.floor(this.random() * span));
    if (port <= 65535 && taken(port) && this.freeList.length > 0) {
      port = this.freeList.shift()!;
      this.inFreeList.delete(port);
    }

    let wraps = 0;
    // Two passes over the range at most; the bound is only a guard.
    const guard = 2 * (this.max - this.min + 4);
    for (let step = 0; step < guard; step++) {
      if (port < this.min) port = this.min;
      if (port & 1) port++;
      if (port + 1 > this.max) {
        if (++wraps >= 2) break;
        port = this.min;
        continue;
      }
      if (!taken(port) && !taken(port + 1)) {
        const pair = this.tryBind(addrs, port, opts);
        if (pair) {
          for (const m of maps) {
            m[port] = 1;
            m[port + 1] = 1;
          }
          this.held.set(pair.rtp, { pair, keys, addrs });
          this.cursor = port + 2;
          this.listener?.openPair(addrs, port, label);
          return pair;
        }
      }
      port += 2;
    }
    throw new PortsExhaustedError(
      `no free RTP/RTCP port pair in ${this.min}-${this.max} on ${addrs.map((a) => a.address).join(', ')}`,
    );
  }

  /** Closes both streams of the pair (one engine request) and makes its ports available again. Idempotent. */
  releasePair(pair: PortPair): void {
    const h = this.held.get(pair.rtp);
    if (!h || h.pair.rtcp !== pair.rtcp) return;
    this.held.delete(pair.rtp);
    this.engine.closeStreams([h.pair.rtp, h.pair.rtcp]);
    this.listener?.closePair(h.addrs, h.pair.port);
    for (const k of h.keys) {
      const m = this.bitmap(k);
      m[h.pair.port] = 0;
      m[h.pair.port + 1] = 0;
    }
    if (!this.inFreeList.has(h.pair.port)) {
      this.freeList.push(h.pair.port);
      this.inFreeList.add(h.pair.port);
    }
  }

  /** Number of pairs currently allocated (each is two ports). */
  inUse(): number {
    return this.held.size;
  }

  /** Where the next search starts: the port after the last allocated pair, 0 before the first (the reference's last_used). */
  last(): number {
    return this.cursor;
  }

  private bitmap(key: string): Uint8Array {
    let m = this.used.get(key);
    if (!m) {
      m = new Uint8Array(65536);
      this.used.set(key, m);
    }
    return m;
  }

  // Binds port and port+1 on all addresses; null if either is held elsewhere.
  private tryBind(addrs: LocalAddressSpec[], port: number, opts: OpenStreamOptions): PortPair | null {
    let rtp: number | undefined;
    try {
      rtp = this.engine.openStream(addrs.map((a) => ({ family: a.family, address: a.address, port })), opts);
      const rtcp = this.engine.openStream(
        addrs.map((a) => ({ family: a.family, address: a.address, port: port + 1 })),
        opts,
      );
      return { rtp, rtcp, port };
    } catch (err) {
      if (rtp !== undefined) this.engine.closeStream(rtp);
      if (err instanceof EngineError && (err.code === 'EADDRINUSE' || err.code === 'EACCES')) return null;
      throw err;
    }
  }
}
