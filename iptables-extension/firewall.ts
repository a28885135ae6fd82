// --iptables-chain: keeps one ACCEPT rule per open media port (RTP and RTCP,
// every local address of the pair) in a chain the administrator created, with
// the call id as the rule's comment, so that a firewall can drop the rest of
// the media port range.
//
// Opening and closing ports only records what is wanted; the changes of one
// event-loop turn are sent as one transaction per chain (iptables and
// ip6tables, or nft's chains) once that chain's previous one has finished, so
// signalling never waits for the firewall. An open and a close of the same
// port in between cancel out. A failed transaction changes nothing; it is
// logged once per run of failures, and the next one rewrites the whole chain
// (flush and add every wanted rule), which also repairs rules changed behind
// the daemon's back. The chains are independent: an IPv6 chain that does not
// exist does not hold up the IPv4 rules.
//
// Runs on the JavaScript thread. openPair()/closePair() never block; start()
// and stop() do (start-up and exit).

import { getLogger } from '../src/log';
import { FirewallToolMissingError, selectBackend, type AppliedRule, type ChainRef, type FirewallBackend } from './backend';
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
  /** Rules believed to be in the chains now. */
  rules: number;
}

/** The wanted and the applied rules of one chain, and its sequence of transactions. */
class ChainSync {
  readonly wanted = new Map<string, PortRule>();
  readonly applied = new Map<string, AppliedRule>();
  readonly dirty = new Set<string>();
  /** True once applied may differ from the chain: the next transaction rewrites it. */
  private resync = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  inFlight: Promise<void> | null = null;
  stopped = false;
  private failuresInRow = 0;

  constructor(
    private readonly backend: FirewallBackend,
    readonly chain: ChainRef,
    private readonly counters: FirewallCounters,
  ) {}

  open(rule: PortRule): void {
    const key = ruleKey(rule.family, rule.address, rule.port);
    this.wanted.set(key, rule);
    this.dirty.add(key);
  }

  close(family: Family, address: string, port: number): void {
    const key = ruleKey(family, address, port);
    if (this.wanted.delete(key)) this.dirty.add(key);
  }

  /** Whether a transaction is running or due now (not one waiting to retry). */
  busy(): boolean {
    return this.inFlight !== null || (this.scheduled && this.retryTimer === null);
  }

  halt(): void {
    this.stopped = true;
    this.dirty.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private pending(): boolean {
    return !this.stopped && (this.resync || this.dirty.size > 0);
  }

  // After a failure the next try waits (1 s, doubling up to 30 s; changes made
  // meanwhile go with it), so a missing chain does not keep a tool running in a loop.
  schedule(): void {
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
      const added = await this.backend.apply(this.chain, flush, dels, adds);
      if (flush) this.applied.clear();
      for (const d of dels) this.applied.delete(ruleKey(d.rule.family, d.rule.address, d.rule.port));
      for (const a of added) this.applied.set(ruleKey(a.rule.family, a.rule.address, a.rule.port), a);
      this.counters.batches++;
      this.resync = false;
      if (this.failuresInRow > 0) {
        log.notice(`Media port rules in ${this.chain.where} are up to date again after ${this.failuresInRow} failed update(s)`);
        this.failuresInRow = 0;
      }
    } catch (e) {
      this.counters.failedBatches++;
      if (this.failuresInRow++ === 0) {
        log.error(`Failed to update media port rules in ${this.chain.where} (${adds.length} to add, ${dels.length} to remove): ${(e as Error).message}`);
      }
      // Nothing of the transaction took effect; the next one rewrites the chain.
      this.resync = true;
      for (const k of keys) this.dirty.add(k);
    }
  }
}

export class PortFirewall {
  private readonly counters: FirewallCounters = { batches: 0, failedBatches: 0, rules: 0 };
  private readonly byFamily: Record<Family, ChainSync>;
  /** Each chain once. */
  private readonly chains: ChainSync[];
  private stopped = false;

  constructor(readonly backend: FirewallBackend) {
    const v4 = new ChainSync(backend, backend.chainFor(4), this.counters);
    const c6 = backend.chainFor(6);
    const v6 = c6.id === v4.chain.id ? v4 : new ChainSync(backend, c6, this.counters);
    this.byFamily = { 4: v4, 6: v6 };
    this.chains = v6 === v4 ? [v4] : [v4, v6];
  }

  /**
   * Picks the tool for chain and empties its chains. A chain that cannot be
   * flushed (missing, no permission) is logged as an error and the daemon
   * carries on, as the reference does; its rule changes then fail (logged)
   * until the chain is usable. Without the tool it logs that and returns
   * null: there is no firewall to manage. Throws when the name is invalid.
   */
  static start(chain: string): PortFirewall | null {
    let backend: FirewallBackend;
    try {
      backend = selectBackend(chain);
    } catch (e) {
      if (!(e instanceof FirewallToolMissingError)) throw e;
      log.error(`--iptables-chain=${chain}: ${e.message}; no media port rules are managed`);
      return null;
    }
    const fw = new PortFirewall(backend);
    fw.backend.prepare();
    for (const c of fw.chains) {
      try {
        fw.backend.flushSync(c.chain);
        log.info(`Managing media port rules in ${c.chain.where} (flushed)`);
      } catch (e) {
        log.error(`Failed to flush ${c.chain.where}: ${(e as Error).message}; its media port rules will fail until the chain exists`);
      }
    }
    return fw;
  }

  /** A pair of ports (port, port+1) was bound on addrs for the call callId. */
  openPair(addrs: readonly RuleAddress[], port: number, callId: string): void {
    if (this.stopped) return;
    for (const a of addrs) {
      const c = this.byFamily[a.family];
      c.open({ family: a.family, address: a.address, port, comment: callId });
      c.open({ family: a.family, address: a.address, port: port + 1, comment: callId });
      c.schedule();
    }
  }

  /** The pair bound by openPair was closed. */
  closePair(addrs: readonly RuleAddress[], port: number): void {
    if (this.stopped) return;
    for (const a of addrs) {
      const c = this.byFamily[a.family];
      c.close(a.family, a.address, port);
      c.close(a.family, a.address, port + 1);
      c.schedule();
    }
  }

  stats(): FirewallCounters {
    return { ...this.counters, rules: this.chains.reduce((n, c) => n + c.applied.size, 0) };
  }

  /** Resolves when every change made so far has been tried, or waits for a retry after a failure. For tests. */
  async settled(): Promise<void> {
    for (;;) {
      const busy = this.chains.find((c) => c.busy());
      if (!busy) return;
      if (busy.inFlight) await busy.inFlight;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Stops taking changes, lets the running transactions and the helper process
   * end, then empties the chains: nothing can add a rule after the flush.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // The helper process never keeps the daemon alive, and at exit nothing else
    // may: without this the process would end while waiting for the helper,
    // before the flush. The wait is bounded by the tools' own 20 s timeout.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      for (const c of this.chains) c.halt();
      for (const c of this.chains) if (c.inFlight) await c.inFlight;
      await this.backend.close();
    } finally {
      clearInterval(keepAlive);
    }
    for (const c of this.chains) {
      try {
        this.backend.flushSync(c.chain);
      } catch (e) {
        log.error(`Failed to flush ${c.chain.where} at exit: ${(e as Error).message}`);
      }
      c.applied.clear();
      c.wanted.clear();
    }
  }

}
