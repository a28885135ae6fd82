// The call registry: every call by Call-ID, their teardown by delete, delete delay
// and timeouts, the limits on new calls, and the counters `statistics` reports. One
// coarse timer (once a second) drives every timeout; there is no timer per call.
//
// Media timeouts follow the reference (daemon/call.c, call_timer_iterator): a call
// lives while any one of its streams is "good". A stream is good while fewer whole
// seconds than its limit have passed since it last received a packet, was last
// filled by signalling from its side, or was created. Its limit is --silent-timeout
// when its media does not receive (hold, inactive) or has no ports (rejected),
// --offer-timeout while its side has not signalled an endpoint (callee before the
// answer), and --timeout otherwise. The reason counted is that of the last stream
// looked at, the caller's. A call torn down this way gets the --b2b-url callback.

import { getLogger, LOG_INFO } from '../log';
import { NgError } from '../control/errors';
import type { LoadMonitor, LoadLimit } from '../stats/load';
import { LOAD_LIMIT_REASONS } from '../stats/load';
import { Call, type Monologue, type PacketStream } from './model';
import { teardownRequests, type XmlrpcCallbacks } from './xmlrpc-callback';
import type { MediaWiring } from './wiring';

const log = getLogger('call');

export interface Timeouts {
  /** Seconds without media before a call is torn down (--timeout). */
  timeout: number;
  /** The same for calls whose streams are all on hold or inactive (--silent-timeout). */
  silentTimeout: number;
  /** Seconds after creation at which a call is torn down; 0 disables (--final-timeout). */
  finalTimeout: number;
  /** Seconds an offer may wait for its answer (--offer-timeout). */
  offerTimeout: number;
  /** Seconds a deleted call stays queryable (--delete-delay). */
  deleteDelay: number;
}

export type TeardownReason = 'regular' | 'timeout' | 'silent' | 'final' | 'offer' | 'forced';

/** The reference's wording when --max-sessions is reached (also the legacy wording of every limit). */
export const SESSION_LIMIT_REASON = 'Parallel session limit reached';

/**
 * A new call refused by a limit. `ngReason` is what a client gets that did not say it
 * `supports` "load limit"; one that did gets `result: load limit` with `limitReason` as its `message`.
 */
export class LoadLimitError extends NgError {
  constructor(readonly limit: 'sessions' | LoadLimit, readonly limitReason: string) {
    super(SESSION_LIMIT_REASON, 'ERR_LOAD_LIMIT');
    this.name = 'LoadLimitError';
  }
}

export interface RegistryOptions {
  /** --max-load, --max-cpu, --max-bandwidth. */
  load?: LoadMonitor;
  /** --b2b-url and --xmlrpc-format: the callback made for calls torn down by a media timeout. */
  b2b?: { url: string; format: number; callbacks: XmlrpcCallbacks };
  /** Called once a call is torn down (its streams closed), e.g. to finish its recording. */
  onDestroy?: (call: Call) => void;
}

export interface RegistryTotals {
  managedSessions: number;
  rejectedSessions: number;
  timeoutSessions: number;
  silentTimeoutSessions: number;
  finalTimeoutSessions: number;
  offerTimeoutSessions: number;
  regularTerminatedSessions: number;
  forcedTerminatedSessions: number;
  totalCallsDuration: number;
  totalCallsDuration2: number;
  /** Packets, bytes and errors of calls already gone, so totals survive them. */
  relayedPackets: number;
  relayedBytes: number;
  relayedErrors: number;
}

export class CallRegistry {
  private readonly calls = new Map<string, Call>();
  private timer: NodeJS.Timeout | null = null;
  private nextGroup = 0;
  readonly totals: RegistryTotals = {
    managedSessions: 0, rejectedSessions: 0, timeoutSessions: 0, silentTimeoutSessions: 0,
    finalTimeoutSessions: 0, offerTimeoutSessions: 0, regularTerminatedSessions: 0,
    forcedTerminatedSessions: 0, totalCallsDuration: 0, totalCallsDuration2: 0,
    relayedPackets: 0, relayedBytes: 0, relayedErrors: 0,
  };

  constructor(
    private readonly wiring: MediaWiring,
    private readonly timeouts: Timeouts,
    /** --max-sessions; -1 means no limit. */
    private readonly maxSessions: number,
    private readonly opts: RegistryOptions = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(Date.now()), 1000);
    this.timer.unref();
  }

  get size(): number {
    return this.calls.size;
  }

  get(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** Call-IDs in creation order. */
  ids(): string[] {
    return [...this.calls.keys()];
  }

  /** Finds a call for an offer, creating it if the limit allows. */
  getOrCreate(callId: string): Call {
    const existing = this.calls.get(callId);
    if (existing && existing.deleteAt === null) return existing;
    if (existing) this.destroy(existing, 'regular');
    if (this.maxSessions >= 0 && this.calls.size >= this.maxSessions) {
      this.totals.rejectedSessions++;
      log.error(`Parallel session limit reached (${this.maxSessions})`);
      throw new LoadLimitError('sessions', SESSION_LIMIT_REASON);
    }
    const limit = this.opts.load?.exceeded() ?? null;
    if (limit) {
      log.warn(LOAD_LIMIT_REASONS[limit]);
      throw new LoadLimitError(limit, LOAD_LIMIT_REASONS[limit]);
    }
    const call = new Call(callId, this.nextGroup++);
    this.calls.set(callId, call);
    this.totals.managedSessions++;
    if (log.isEnabled(LOG_INFO)) log.child(callId).info('Creating new call');
    return call;
  }

  /**
   * Forgets a call that the failing request itself created, releasing whatever ports
   * it got, as if the request had never arrived.
   */
  abandon(call: Call): void {
    if (this.calls.get(call.callId) !== call) return;
    this.calls.delete(call.callId);
    this.totals.managedSessions--;
    call.close();
  }

  /**
   * Deletes a call, or only the branch or tag named. Returns false if nothing
   * matched. With a delay, the call stays queryable until it has passed.
   */
  delete(callId: string, opts: { fromTag?: string; toTag?: string; viaBranch?: string; delay?: number }): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    if (opts.fromTag !== undefined && opts.fromTag !== '' && !call.monologue(opts.fromTag)) {
      // The reference also accepts the tags swapped.
      if (!(opts.toTag && call.monologue(opts.toTag))) return false;
    }
    if (opts.viaBranch && !opts.toTag) {
      // The branch keeps its via-branch once the answer has given it a tag.
      const branch = [...call.monologues.values()].find((ml) => ml.viaBranch === opts.viaBranch);
      const rest = [...call.monologues.values()].filter((ml) => ml !== branch);
      // Like the reference, the whole call goes once no offer/answer pair would be left.
      if (branch && rest.some((ml) => ml.peer !== null && ml.peer !== branch && rest.includes(ml.peer))) {
        this.removeBranch(call, branch, rest);
        return true;
      }
    }
    const delay = opts.delay ?? this.timeouts.deleteDelay;
    if (delay > 0) {
      if (call.deleteAt === null) call.deleteAt = Date.now() + delay * 1000;
    } else {
      this.destroy(call, 'regular');
    }
    return true;
  }

  private removeBranch(call: Call, branch: Monologue, rest: Monologue[]): void {
    const peer = branch.peer;
    for (const m of branch.medias) this.addTotals([m.rtp, m.rtcp]);
    call.removeMonologue(branch);
    // The other side falls back to a branch still offered to it, if any.
    if (peer && peer.peer === branch) peer.peer = rest.find((ml) => ml !== peer && ml.peer === peer) ?? null;
  }

  /** Keeps the counters of streams about to close in the daemon totals. */
  private addTotals(streams: Iterable<PacketStream>): void {
    for (const ps of streams) {
      const st = this.wiring.stats(ps);
      if (!st) continue;
      this.totals.relayedPackets += st.packets;
      this.totals.relayedBytes += st.bytes;
      this.totals.relayedErrors += st.errors;
    }
  }

  /**
   * Notes a signalling request: the streams of the side that sent the SDP count as
   * active from now (the reference refreshes them when it fills in their endpoints),
   * and streams not seen before start their clock now. `origin` is where a new call's
   * first offer came from, `callback` the `xmlrpc-callback` address if given.
   */
  signalled(call: Call, senderTag: string | undefined, opts: { origin?: string; callback?: string } = {}, now = Date.now()): void {
    const sender = senderTag !== undefined ? call.monologue(senderTag) : undefined;
    for (const ml of call.monologues.values()) {
      for (const m of ml.medias) {
        for (const ps of [m.rtp, m.rtcp]) {
          if (ml === sender || ps.signalledAt === 0) ps.signalledAt = now;
        }
      }
    }
    if (opts.callback) call.callbackAddress = opts.callback;
    else if (opts.origin && call.callbackAddress === null) call.callbackAddress = opts.origin;
  }

  /** Tears a call down now, releasing every port. */
  destroy(call: Call, reason: TeardownReason): void {
    if (this.calls.get(call.callId) !== call) return;
    this.calls.delete(call.callId);
    this.addTotals(call.streams());
    call.close();
    const duration = (Date.now() - call.created) / 1000;
    this.totals.totalCallsDuration += duration;
    this.totals.totalCallsDuration2 += duration * duration;
    switch (reason) {
      case 'regular': this.totals.regularTerminatedSessions++; break;
      case 'timeout': this.totals.timeoutSessions++; break;
      case 'silent': this.totals.silentTimeoutSessions++; break;
      case 'final': this.totals.finalTimeoutSessions++; break;
      case 'offer': this.totals.offerTimeoutSessions++; break;
      case 'forced': this.totals.forcedTerminatedSessions++; break;
    }
    if (log.isEnabled(LOG_INFO)) log.child(call.callId).info(`Call deleted (${reason})`);
    this.opts.onDestroy?.(call);
    const b2b = this.opts.b2b;
    if (b2b && (reason === 'timeout' || reason === 'silent' || reason === 'offer')) {
      b2b.callbacks.send(teardownRequests(call, b2b.format, b2b.url, call.callbackAddress));
    }
  }

  /** Destroys every call (daemon shutdown). */
  destroyAll(): void {
    for (const call of [...this.calls.values()]) this.destroy(call, 'forced');
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Why the call's media has timed out, or null while any of its streams is good (see
   * the file comment). Times are compared in whole seconds, as the reference does.
   */
  mediaTimeout(call: Call, now: number): 'timeout' | 'silent' | 'offer' | null {
    const t = this.timeouts;
    const nowSec = Math.floor(now / 1000);
    let any = false;
    let reason: 'timeout' | 'silent' | 'offer' = 'timeout';
    // The reference lists the callee's streams before the caller's.
    const monologues = [...call.monologues.values()].reverse();
    for (const ml of monologues) {
      for (const m of ml.medias) {
        for (const ps of [m.rtp, m.rtcp]) {
          any = true;
          let limit = t.timeout;
          reason = 'timeout';
          if (!m.recvFlag || !m.hasPorts) {
            limit = t.silentTimeout;
            reason = 'silent';
          } else if (!ps.advertised) {
            limit = t.offerTimeout;
            reason = 'offer';
          }
          let last = ps.signalledAt > 0 ? ps.signalledAt : call.created;
          // lastPacket(), not stats(): this runs for every call every second.
          const lastPacket = this.wiring.lastPacket(ps);
          if (lastPacket > last) last = lastPacket;
          if (nowSec - Math.floor(last / 1000) < limit) return null;
        }
      }
    }
    // A call without streams has nothing to time out.
    return any ? reason : null;
  }

  /** Runs once a second on the control thread. */
  tick(now: number): void {
    const t = this.timeouts;
    for (const call of [...this.calls.values()]) {
      if (t.finalTimeout > 0 && now - call.created >= t.finalTimeout * 1000) {
        this.destroy(call, 'final');
        continue;
      }
      if (call.deleteAt !== null) {
        if (now >= call.deleteAt) this.destroy(call, 'regular');
        continue;
      }
      const reason = this.mediaTimeout(call, now);
      // As in the reference, a call ended by the offer timeout is counted as a timeout.
      if (reason) this.destroy(call, reason === 'offer' ? 'timeout' : reason);
    }
  }
}
