// --iptables-chain: keeps one ACCEPT rule per open media port (RTP and RTCP,
// every local address of the pair) in a chain the administrator created, with
// the call id as the rule's comment, so that a firewall can drop the rest of
// the media port range.
//
// Opening and closing ports only records what is wanted; the changes of one
// event-loop turn are sent as one transaction (one iptables-restore per address
// family, or one nft) once the previous one has finished, so signalling never
// waits for the firewall. An open and a close of the same port in between
// cancel out. A failed transaction changes nothing; it is logged once per run
// of failures, and the next one rewrites the whole chain (flush and add every
// wanted rule), which also repairs rules changed behind the daemon's back.
//
// Runs on the JavaScript thread. open()/close() never block; start() and
// stop() do (start-up and exit).

import { getLogger } from '../src/log';
import { selectBackend, type AppliedRule, type FirewallBackend } from './backend';
import { ruleKey, type Family, type PortRule } from './rules';

const log = getLogger('iptables');

/** A local address the media ports are bound on. */
export interface RuleAddress {
  family: Family;
  address: string;
}

export interface FirewallCounters {
  /** Transactions that succeeded / failed. */
  batches: number;
  failedBatches: number;
  /** Rules believed to be in the chain now. */
  rules: number;
}

export class PortFirewall {
  private readonly wanted = new Map<string, PortRule>();
  private readonly applied = new Map<string, AppliedRule>();
  private readonly dirty = new Set<string>();
  /** True once applied may differ from the chain: the next transaction rewrites it. */
  private resync = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  private failuresInRow = 0;
  private readonly counters: FirewallCounters = { batches: 0, failedBatches: 0, rules: 0 };

  constructor(readonly backend: FirewallBackend) {}

  /**
   * Picks the tool for chain and empties the chain. A chain that cannot be
   * flushed (missing, no permission) is logged as an error and the daemon
   * carries on, as the reference does; rule changes then fail (logged) until
   * the chain is usable. Throws only when no tool is installed or the name is
   * invalid, which start-up reports.
   */
  static start(chain: string): PortFirewall {
    const fw = new PortFirewall(selectBackend(chain));
    fw.backend.prepare();
    try {
      fw.backend.flushSync();
      log.info(`Managing media port rules in ${fw.backend.where} (flushed)`);
    } catch (e) {
      log.error(`Failed to flush ${fw.backend.where}: ${(e as Error).message}; media port rules will fail until the chain exists`);
    }
    return fw;
  }

  /** A pair of ports (port, port+1) was bound on addrs for the call callId. */
  openPair(addrs: readonly RuleAddress[], port: number, callId: string): void {
    if (this.stopped) return;
    for (const a of addrs) {
      for (const p of [port, port + 1]) {
        const key = ruleKey(a.family, a.address, p);
        this.wanted.set(key, { family: a.family, address: a.address, port: p, comment: callId });
        this.dirty.add(key);
      }
    }
    this.schedule();
  }

  /** The pair bound by openPair was closed. */
  closePair(addrs: readonly RuleAddress[], port: number): void {
    if (this.stopped) return;
    for (const a of addrs) {
      for (const p of [port, port + 1]) {
        const key = ruleKey(a.family, a.address, p);
        if (this.wanted.delete(key)) this.dirty.add(key);
      }
    }
    this.schedule();
  }

  stats(): FirewallCounters {
    return { ...this.counters, rules: this.applied.size };
  }

  /** Resolves when every change made so far has been tried, or waits for a retry after a failure. For tests. */
  async settled(): Promise<void> {
    while (this.inFlight || (this.scheduled && !this.retryTimer)) {
      if (this.inFlight) await this.inFlight;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Stops taking changes, lets the running transaction end, and empties the chain. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.dirty.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.inFlight) await this.inFlight;
    try {
      this.backend.flushSync();
    } catch (e) {
      log.error(`Failed to flush ${this.backend.where} at exit: ${(e as Error).message}`);
    }
    this.backend.close();
    this.applied.clear();
    this.wanted.clear();
  }

  private pending(): boolean {
    return !this.stopped && (this.resync || this.dirty.size > 0);
  }

  // After a failure the next try waits (1 s, doubling up to 30 s; changes made
  // meanwhile go with it), so a missing chain does not keep a tool running in a loop.
  private schedule(): void {
    if (this.scheduled || this.inFlight || !this.pending()) return;
    this.scheduled = true;
    const go = (): void => {
      this.scheduled = false;
      this.retryTimer = null;
      this.inFlight = this.runBatch().finally(() => {
        this.inFlight = null;
        this.schedule();
      });
    };
    if (this.failuresInRow === 0) {
      setImmediate(go);
    } else {
      this.retryTimer = setTimeout(go, Math.min(30000, 1000 * 2 ** (this.failuresInRow - 1)));
      this.retryTimer.unref();
    }
  }

  private async runBatch(): Promise<void> {
    if (!this.pending()) return;
    const flush = this.resync;
    const dels: AppliedRule[] = [];
    const adds: PortRule[] = [];
    if (flush) {
      adds.push(...this.wanted.values());
    } else {
      for (const key of this.dirty) {
        const have = this.applied.get(key);
        const want = this.wanted.get(key);
        if (have && want && have.rule.comment === want.comment) continue;
        if (have) dels.push(have);
        if (want) adds.push(want);
      }
    }
    const keys = [...this.dirty];
    this.dirty.clear();
    if (!flush && dels.length === 0 && adds.length === 0) return;
    try {
      const added = await this.backend.apply(flush, dels, adds);
      if (flush) this.applied.clear();
      for (const d of dels) this.applied.delete(ruleKey(d.rule.family, d.rule.address, d.rule.port));
      for (const a of added) this.applied.set(ruleKey(a.rule.family, a.rule.address, a.rule.port), a);
      this.counters.batches++;
      this.resync = false;
      if (this.failuresInRow > 0) {
        log.notice(`Media port rules in ${this.backend.where} are up to date again after ${this.failuresInRow} failed update(s)`);
        this.failuresInRow = 0;
      }
    } catch (e) {
      this.counters.failedBatches++;
      if (this.failuresInRow++ === 0) {
        log.error(`Failed to update media port rules in ${this.backend.where} (${adds.length} to add, ${dels.length} to remove): ${(e as Error).message}`);
      }
      // Nothing of the transaction took effect; the next one rewrites the chain.
      this.resync = true;
      for (const k of keys) this.dirty.add(k);
    }
  }
}
