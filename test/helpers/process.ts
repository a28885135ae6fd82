// Child processes for tests: each runs in its own process group, keeps the
// last lines of its output, and is stopped with SIGTERM, then SIGKILL.
// Every process started here is also killed if the test runner itself exits.

import { spawn, ChildProcess, SpawnOptions } from 'child_process';

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL to each group.
  process.on('exit', () => {
    for (const p of live) p.killGroupNow('SIGKILL');
  });
}

/** Keeps the last `max` lines written to it. */
export class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly max = 300) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }

  tail(n = this.max): string[] {
    const all = this.partial ? [...this.lines, this.partial] : this.lines.slice();
    return all.slice(-n);
  }
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Lines of stdout+stderr kept for failure reports. */
  keepLines?: number;
  /** Called with every line of output (stdout and stderr), e.g. to wait for a log line. */
  onLine?: (line: string) => void;
  /** Gives the child a stdin pipe (child.stdin) instead of none. */
  stdin?: boolean;
}

/** A child process in its own process group. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly output: LineRing;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private done = false;

  constructor(readonly command: string, readonly args: string[], opts: StartOptions = {}) {
    installExitHook();
    this.output = new LineRing(opts.keepLines ?? 300);
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true, // own process group, so that stop() reaches grandchildren too
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    };
    this.child = spawn(command, args, spawnOpts);
    live.add(this);
    let lineBuf = '';
    const onData = (b: Buffer): void => {
      const s = b.toString('utf8');
      this.output.push(s);
      if (opts.onLine) {
        const parts = (lineBuf + s).split('\n');
        lineBuf = parts.pop() ?? '';
        for (const l of parts) opts.onLine(l);
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.done) return;
        this.done = true;
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve({ code, signal });
      };
      // 'close' comes after the output pipes are drained, so the last lines
      // (often the reason for an early exit) are in `output` by then. A
      // grandchild holding the pipes open must not delay it forever, though.
      this.child.on('close', finish);
      this.child.on('exit', (code, signal) => {
        setTimeout(() => finish(code, signal), 500).unref();
      });
      this.child.on('error', (err) => {
        this.output.push(`[spawn error] ${err.message}\n`);
        finish(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Sends a signal to the whole process group, ignoring a group that is gone. */
  killGroupNow(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }

  /**
   * SIGTERM to the group, SIGKILL after `graceMs`. Resolves once the process has
   * exited; a second call returns the same outcome. Never rejects.
   */
  async stop(graceMs = 3000): Promise<void> {
    if (this.done) return;
    this.killGroupNow('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.killGroupNow('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited.then(() => undefined), killed]);
    if (timer) clearTimeout(timer);
    await this.exited;
    // Children the leader left behind in its group (Kamailio's workers) go too.
    this.killGroupNow('SIGKILL');
  }

  /** Waits for exit, killing the group after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exited.then(() => undefined), t]);
    if (timer) clearTimeout(timer);
    if (timedOut) await this.stop(1000);
    const r = await this.exited;
    return { ...r, timedOut };
  }

  /** The last `n` output lines, for error messages. */
  tail(n = 40): string {
    return this.output.tail(n).join('\n');
  }
}

/** Stops every process started through this module that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
