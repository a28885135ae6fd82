// The tools that change the firewall: iptables-restore/ip6tables-restore, or
// nft where iptables is not installed. Each batch is one tool run and one
// atomic transaction on one chain; the caller runs one batch per chain at a
// time.
//
// apply() does not block: the tools are started by a helper process (see
// runner.ts). flushSync() blocks and is for start-up and exit only.

import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  iptablesBatch, nftAddRule, nftChainName, nftDeleteRule, nftEchoedHandles, parseNftChain,
  type Family, type NftChain, type NftTargets, type PortRule,
} from './rules';

/** A rule that is in the chain, with what the backend needs to remove it again. */
export interface AppliedRule {
  rule: PortRule;
  /** nft's rule handle; unused by iptables. */
  handle: number;
}

/**
 * One chain the rules go to. The rules of the two address families go to two
 * chains (iptables and ip6tables; nft's ip and ip6 tables) or share one (an
 * nft inet table).
 */
export interface ChainRef {
  readonly id: string;
  /** How log lines name it ("iptables chain RTPE", "nft chain inet fw media"). */
  readonly where: string;
}

export interface FirewallBackend {
  /** 'iptables' or 'nft'. */
  readonly tool: string;
  /** The chain the rules of this address family go to. */
  chainFor(family: Family): ChainRef;
  /** Starts the helper process, so that the daemon forks while starting and not during a call. */
  prepare(): void;
  /** Empties the chain; throws with the tool's message. Blocks: start-up and exit only. */
  flushSync(chain: ChainRef): void;
  /**
   * One transaction on the chain: optionally empty it first, then remove dels
   * and add adds. Resolves with the added rules (in order) or rejects with
   * the tool's message, in which case nothing changed.
   */
  apply(chain: ChainRef, flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]>;
  /** Ends the helper process once its work is done; resolves when it has exited. */
  close(): Promise<void>;
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

/** The helper process and the runs it has not answered yet. */
interface Helper {
  child: ChildProcess;
  pending: Map<number, (r: RunResult) => void>;
}

/**
 * Runs tools through the helper process (runner.ts), started on first use and
 * again after it dies. run() never rejects: a failure is a result with its
 * message.
 */
export class ToolRunner {
  private helper: Helper | null = null;
  private nextId = 1;
  private closed = false;

  run(bin: string, args: string[], input: string): Promise<RunResult> {
    if (this.closed) return Promise.resolve({ code: null, stdout: '', stderr: 'firewall helper closed' });
    const h = this.helper ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      h.pending.set(id, resolve);
      h.child.stdin!.write(JSON.stringify({ id, bin, args, input }) + '\n');
    });
  }

  /** Starts the helper now unless it runs. */
  prepare(): void {
    if (!this.helper) this.start();
  }

  /**
   * Lets the helper exit once its running tools are done and resolves when it
   * has; no helper is started any more.
   */
  close(): Promise<void> {
    this.closed = true;
    const h = this.helper;
    this.helper = null;
    if (!h || h.child.exitCode !== null || h.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      h.child.once('exit', () => resolve());
      h.child.stdin?.end();
    });
  }

  private start(): Helper {
    const child = spawn(process.execPath, [path.join(__dirname, 'runner.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const h: Helper = { child, pending: new Map() };
    this.helper = h;
    let buf = '';
    child.stdin!.on('error', () => undefined); // its exit fails the pending runs
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let r: RunResult & { id: number };
        try {
          r = JSON.parse(line) as RunResult & { id: number };
        } catch {
          continue; // not an answer; its request fails when the helper goes
        }
        h.pending.get(r.id)?.({ code: r.code, stdout: r.stdout, stderr: r.stderr });
        h.pending.delete(r.id);
      }
    });
    const gone = (why: string): void => {
      if (this.helper === h) this.helper = null;
      for (const resolve of h.pending.values()) resolve({ code: null, stdout: '', stderr: why });
      h.pending.clear();
    };
    child.on('error', (e) => gone(`firewall helper process failed: ${e.message}`));
    child.on('exit', (code, signal) => gone(`firewall helper process exited (${signal ?? `code ${code}`})`));
    // The helper never keeps the daemon alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    return h;
  }
}

function runSync(bin: string, args: string[], input?: string): RunResult {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr || (r.error?.message ?? '') };
}

/** The tool's complaint, one line. */
function failure(what: string, r: RunResult): Error {
  const msg = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('# Warning')).join('; ');
  return new Error(`${what} failed (${r.code === null ? 'did not run to the end' : `exit code ${r.code}`}): ${msg || 'no message'}`);
}

/** iptables (legacy or nft flavour, whichever the system's alternatives select) and ip6tables. */
export class IptablesBackend implements FirewallBackend {
  readonly tool = 'iptables';
  private readonly chains: Record<Family, ChainRef & { bin: string; restore: string }>;

  constructor(
    private readonly chain: string,
    bins: { ip4: string; ip6: string; restore4: string; restore6: string },
    private readonly runner = new ToolRunner(),
  ) {
    this.chains = {
      4: { id: 'iptables', where: `iptables chain ${chain}`, bin: bins.ip4, restore: bins.restore4 },
      6: { id: 'ip6tables', where: `ip6tables chain ${chain}`, bin: bins.ip6, restore: bins.restore6 },
    };
  }

  chainFor(family: Family): ChainRef {
    return this.chains[family];
  }

  prepare(): void {
    this.runner.prepare();
  }

  close(): Promise<void> {
    return this.runner.close();
  }

  private tools(chain: ChainRef): { bin: string; restore: string } {
    return chain.id === 'iptables' ? this.chains[4] : this.chains[6];
  }

  flushSync(chain: ChainRef): void {
    const { bin } = this.tools(chain);
    const r = runSync(bin, ['-w', '-F', this.chain]);
    if (r.code !== 0) throw failure(`${path.basename(bin)} -F ${this.chain}`, r);
  }

  async apply(chain: ChainRef, flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]> {
    const { restore } = this.tools(chain);
    const r = await this.runner.run(restore, ['-w', '--noflush'], iptablesBatch(this.chain, flush, dels.map((d) => d.rule), adds));
    if (r.code !== 0) throw failure(path.basename(restore), r);
    return adds.map((rule) => ({ rule, handle: 0 }));
  }
}

/** nft, for systems without iptables. */
export class NftBackend implements FirewallBackend {
  readonly tool = 'nft';
  private readonly targets: NftTargets;
  private readonly chains: Record<Family, ChainRef>;

  constructor(spec: string, private readonly bin: string, private readonly runner = new ToolRunner()) {
    this.targets = parseNftChain(spec);
    const ref = (c: NftChain): ChainRef => ({ id: nftChainName(c), where: `nft chain ${nftChainName(c)}` });
    const v4 = ref(this.targets.v4);
    const v6 = ref(this.targets.v6);
    // An inet chain takes both families: one ChainRef, so one sequence of transactions.
    this.chains = { 4: v4, 6: v6.id === v4.id ? v4 : v6 };
  }

  chainFor(family: Family): ChainRef {
    return this.chains[family];
  }

  prepare(): void {
    this.runner.prepare();
  }

  close(): Promise<void> {
    return this.runner.close();
  }

  flushSync(chain: ChainRef): void {
    const r = runSync(this.bin, ['-f', '-'], `flush chain ${chain.id}\n`);
    if (r.code !== 0) throw failure(`nft flush chain ${chain.id}`, r);
  }

  async apply(chain: ChainRef, flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]> {
    const lines = flush ? [`flush chain ${chain.id}`] : [];
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

/** Neither iptables nor nft (whichever the chain name needs) is installed. */
export class FirewallToolMissingError extends Error {
  readonly code = 'ENOTOOL';

  constructor(message: string) {
    super(message);
    this.name = 'FirewallToolMissingError';
  }
}

/**
 * The backend for --iptables-chain: a name with '/' is an nft chain; a plain
 * name is an iptables chain when iptables and ip6tables (with their -restore
 * tools) are on PATH, and otherwise the nft chain of that name in the ip and
 * ip6 `filter` tables. Throws FirewallToolMissingError when the tool is not
 * there, and an Error when the name is invalid.
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
  throw new FirewallToolMissingError(chain.includes('/')
    ? `nft chain '${chain}' given but nft is not installed (not on PATH)`
    : 'neither iptables (with ip6tables and their -restore tools) nor nft is installed (not on PATH)');
}
