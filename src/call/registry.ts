// The call registry: every call by Call-ID, their teardown by delete, delete delay
// and timeouts, and the counters `statistics` reports. One coarse timer (once a
// second) drives every timeout; there is no timer per call.

import { getLogger } from '../log';
import { NgError } from '../control/errors';
import { Call, type Monologue } from './model';
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
      throw new NgError('Parallel session limit reached');
    }
    const call = new Call(callId, this.nextGroup++);
    this.calls.set(callId, call);
    this.totals.managedSessions++;
    log.child(callId).info('Creating new call');
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
    if (opts.viaBranch) {
      const branch = call.monologue(`\u0000${opts.viaBranch}`);
      if (branch && !opts.toTag) {
        this.removeBranch(call, branch);
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

  private removeBranch(call: Call, branch: Monologue): void {
    const peer = branch.peer;
    call.removeMonologue(branch);
    if (peer && peer.peer === branch) peer.peer = null;
  }

  /** Tears a call down now, releasing every port. */
  destroy(call: Call, reason: TeardownReason): void {
    if (this.calls.get(call.callId) !== call) return;
    this.calls.delete(call.callId);
    for (const ps of call.streams()) {
      const st = this.wiring.stats(ps);
      if (!st) continue;
      this.totals.relayedPackets += st.packets;
      this.totals.relayedBytes += st.bytes;
      this.totals.relayedErrors += st.errors;
    }
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
    log.child(call.callId).info(`Call deleted (${reason})`);
  }

  /** Destroys every call (daemon shutdown). */
  destroyAll(): void {
    for (const call of [...this.calls.values()]) this.destroy(call, 'forced');
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The newest packet time of a call, or its last signalling when it has none. */
  lastActivity(call: Call): number {
    let last = call.lastSignal;
    for (const ps of call.streams()) {
      const st = this.wiring.stats(ps);
      if (st && st.lastPacket > last) last = st.lastPacket;
    }
    return last;
  }

  /** True when every live media of the call is on hold or inactive. */
  private isSilent(call: Call): boolean {
    let any = false;
    for (const ml of call.monologues.values()) {
      for (const m of ml.medias) {
        if (!m.hasPorts) continue;
        any = true;
        const dir = m.desc?.direction ?? 'sendrecv';
        if (dir === 'sendrecv') return false;
      }
    }
    return any;
  }

  /** Runs once a second on the control thread. */
  tick(now: number): void {
    const t = this.timeouts;
    for (const call of [...this.calls.values()]) {
      if (call.deleteAt !== null) {
        if (now >= call.deleteAt) this.destroy(call, 'regular');
        continue;
      }
      if (t.finalTimeout > 0 && now - call.created >= t.finalTimeout * 1000) {
        this.destroy(call, 'final');
        continue;
      }
      if (!call.answered) {
        if (t.offerTimeout > 0 && now - call.lastSignal >= t.offerTimeout * 1000) this.destroy(call, 'offer');
        continue;
      }
      const silent = this.isSilent(call);
      const limit = silent ? t.silentTimeout : t.timeout;
      if (limit > 0 && now - this.lastActivity(call) >= limit * 1000) this.destroy(call, silent ? 'silent' : 'timeout');
    }
  }
}
