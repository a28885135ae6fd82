// The tools that change the firewall: iptables-restore/ip6tables-restore, or
// nft where iptables is not installed. Each batch is one tool run (per address
// family for iptables) and one atomic transaction; the caller runs one batch
// at a time.
//
// apply() does not block: the tools are started by a helper process (see
// runner.ts). flushSync() blocks and is for start-up and exit only.

import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  iptablesBatch, nftAddRule, nftChainName, nftChains, nftDeleteRule, nftEchoedHandles, parseNftChain,
  type NftTargets, type PortRule,
} from './rules';

/** A rule that is in the chain, with what the backend needs to remove it again. */
export interface AppliedRule {
  rule: PortRule;
  /** nft's rule handle; unused by iptables. */
  handle: number;
}

export interface FirewallBackend {
  /** 'iptables' or 'nft', for log lines. */
  readonly tool: string;
  /** How the chain is named in log lines ("iptables chain RTPE", "nft chain inet fw media"). */
  readonly where: string;
  /** Empties the chain(s); throws with the tool's message. Blocks: start-up and exit only. */
  flushSync(): void;
  /**
   * One transaction: optionally empty the chain(s) first, then remove dels and
   * add adds. Resolves with the added rules (in order) or rejects with the
   * tool's message, in which case nothing changed.
   */
  apply(flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]>;
  /** Starts the helper process, so that the daemon forks while starting and not during a call. */
  prepare(): void;
  /** Ends the helper process once its work is done. */
  close(): void;
}

/** The first executable called name in the directories of PATH, or null. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(':')) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs tools through the helper process (runner.ts), started on first use and
 * again after it dies. run() never rejects: a failure is a result with its
 * message.
 */
export class ToolRunner {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, (r: RunResult) => void>();
  private nextId = 1;
  private buf = '';

  run(bin: string, args: string[], input: string): Promise<RunResult> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.stdin!.write(JSON.stringify({ id, bin, args, input }) + '\n');
    });
  }

  /** Starts the helper now unless it runs. */
  prepare(): void {
    if (!this.child) this.start();
  }

  /** Lets the helper exit once its running tools are done. */
  close(): void {
    this.child?.stdin?.end();
    this.child = null;
  }

  private start(): ChildProcess {
    const child = spawn(process.execPath, [path.join(__dirname, 'runner.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    this.buf = '';
    child.stdin!.on('error', () => undefined); // its exit fails the pending runs
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const r = JSON.parse(line) as RunResult & { id: number };
        this.pending.get(r.id)?.({ code: r.code, stdout: r.stdout, stderr: r.stderr });
        this.pending.delete(r.id);
      }
    });
    const gone = (why: string): void => {
      if (this.child === child) this.child = null;
      for (const resolve of this.pending.values()) resolve({ code: null, stdout: '', stderr: why });
      this.pending.clear();
    };
    child.on('error', (e) => gone(`firewall helper process failed: ${e.message}`));
    child.on('exit', (code, signal) => gone(`firewall helper process exited (${signal ?? `code ${code}`})`));
    // The helper never keeps the daemon alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    return child;
  }
}

function runSync(bin: string, args: string[], input?: string): RunResult {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr || (r.error?.message ?? '') };
}

/** The tool's complaint, one line. */
function failure(what: string, r: RunResult): Error {
  const msg = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('# Warning')).join('; ');
  return new Error(`${what} failed (${r.code === null ? 'not run' : `exit code ${r.code}`}): ${msg || 'no message'}`);
}

/** iptables (legacy or nft flavour, whichever the system's alternatives select) and ip6tables. */
export class IptablesBackend implements FirewallBackend {
  readonly tool = 'iptables';
  readonly where: string;

  constructor(
    private readonly chain: string,
    private readonly bins: { ip4: string; ip6: string; restore4: string; restore6: string },
    private readonly runner = new ToolRunner(),
  ) {
    this.where = `iptables chain ${chain}`;
  }

  prepare(): void {
    this.runner.prepare();
  }

  close(): void {
    this.runner.close();
  }

  flushSync(): void {
    const errors: string[] = [];
    for (const bin of [this.bins.ip4, this.bins.ip6]) {
      const r = runSync(bin, ['-w', '-F', this.chain]);
      if (r.code !== 0) errors.push(failure(`${path.basename(bin)} -F ${this.chain}`, r).message);
    }
    if (errors.length) throw new Error(errors.join('; '));
  }

  async apply(flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]> {
    // One transaction per family: iptables and ip6tables keep separate tables.
    const jobs: Promise<void>[] = [];
    for (const family of [4, 6] as const) {
      const d = dels.filter((a) => a.rule.family === family).map((a) => a.rule);
      const a = adds.filter((r) => r.family === family);
      if (!flush && d.length === 0 && a.length === 0) continue;
      const bin = family === 4 ? this.bins.restore4 : this.bins.restore6;
      jobs.push(this.runner.run(bin, ['-w', '--noflush'], iptablesBatch(this.chain, flush, d, a)).then((r) => {
        if (r.code !== 0) throw failure(path.basename(bin), r);
      }));
    }
    // Both settle before the outcome is known, so no child outlives the batch.
    const results = await Promise.allSettled(jobs);
    const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) throw bad.reason;
    return adds.map((rule) => ({ rule, handle: 0 }));
  }
}

/** nft, for systems without iptables. */
export class NftBackend implements FirewallBackend {
  readonly tool = 'nft';
  readonly where: string;
  private readonly targets: NftTargets;

  constructor(spec: string, private readonly bin: string, private readonly runner = new ToolRunner()) {
    this.targets = parseNftChain(spec);
    this.where = `nft chain ${nftChains(this.targets).map(nftChainName).join(' and ')}`;
  }

  prepare(): void {
    this.runner.prepare();
  }

  close(): void {
    this.runner.close();
  }

  private flushLines(): string[] {
    return nftChains(this.targets).map((c) => `flush chain ${nftChainName(c)}`);
  }

  flushSync(): void {
    const r = runSync(this.bin, ['-f', '-'], this.flushLines().join('\n') + '\n');
    if (r.code !== 0) throw failure('nft flush chain', r);
  }

  async apply(flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]> {
    const lines = flush ? this.flushLines() : [];
    for (const a of dels) lines.push(nftDeleteRule(this.targets, a.rule.family, a.handle));
    for (const r of adds) lines.push(nftAddRule(this.targets, r));
    const r = await this.runner.run(this.bin, ['--echo', '--handle', '-f', '-'], lines.join('\n') + '\n');
    if (r.code !== 0) throw failure('nft', r);
    const handles = nftEchoedHandles(r.stdout);
    if (handles.length !== adds.length) {
      throw new Error(`nft echoed ${handles.length} rule handles for ${adds.length} added rules`);
    }
    return adds.map((rule, i) => ({ rule, handle: handles[i] }));
  }
}

/**
 * The backend for --iptables-chain: a name with '/' is an nft chain; a plain
 * name is an iptables chain when iptables and ip6tables (with their -restore
 * tools) are on PATH, and otherwise the nft chain of that name in the ip and
 * ip6 `filter` tables. Throws when neither tool is there or the name is invalid.
 */
export function selectBackend(chain: string, envPath = process.env.PATH ?? ''): FirewallBackend {
  if (!chain || /[\s"'\\]/.test(chain)) throw new Error(`invalid firewall chain name '${chain}'`);
  const nft = findOnPath('nft', envPath);
  if (!chain.includes('/')) {
    const bins = {
      ip4: findOnPath('iptables', envPath),
      ip6: findOnPath('ip6tables', envPath),
      restore4: findOnPath('iptables-restore', envPath),
      restore6: findOnPath('ip6tables-restore', envPath),
    };
    if (bins.ip4 && bins.ip6 && bins.restore4 && bins.restore6) {
      return new IptablesBackend(chain, bins as { ip4: string; ip6: string; restore4: string; restore6: string });
    }
  }
  if (nft) return new NftBackend(chain, nft);
  throw new Error(chain.includes('/')
    ? `nft chain '${chain}' given but nft is not installed (not on PATH)`
    : 'neither iptables (with ip6tables and their -restore tools) nor nft is installed (not on PATH)');
}
