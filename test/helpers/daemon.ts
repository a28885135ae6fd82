// Starts a media proxy daemon for a test: ours (node bin/rtpengine-ts.js) or the
// reference (/usr/bin/rtpengine), with the same options, on free ports.
//
//   const d = await startDaemon({ bin: 'reference' });
//   const reply = await d.ng.request({ command: 'ping' });
//   await d.stop();
//
// The default binary is 'ours', or whatever env RTPE_TEST_DAEMON says
// ('ours' | 'reference'), so a whole suite can be pointed at the reference.

import * as fs from 'fs';
import * as path from 'path';
import { ManagedProcess, sleep } from './process';
import { allocatePortRange, freeUdpTcpPort, PortRange } from './ports';
import { NgClient } from './ng-client';
import type { TestNetns } from './netns';

export type DaemonKind = 'ours' | 'reference';

export const REFERENCE_BIN = '/usr/bin/rtpengine';
/** The repository root (this file is compiled to dist/test/helpers/). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const OURS_BIN = path.join(REPO_ROOT, 'bin', 'rtpengine-ts.js');

export interface DaemonOptions {
  bin?: DaemonKind;
  /**
   * Extra rtpengine options. An option given here replaces the default of the
   * same name (e.g. `--interface=::1` replaces `--interface=127.0.0.1`;
   * repeat it to get several).
   */
  args?: string[];
  /** Number of media ports to reserve (default 100). */
  mediaPorts?: number;
  /** How long to wait for the first ng pong (default 15 s). */
  startTimeoutMs?: number;
  /** Lines of output kept for failure reports (default 400). */
  keepLines?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * Runs the daemon inside this namespace (test/helpers/netns.ts). Its ng
   * socket then listens on the namespace end of link 0 (port 2223), where this
   * process reaches it, and its default interface is that address; the media
   * ports need no probing, the namespace being fresh.
   */
  netns?: TestNetns;
  /**
   * A command the daemon is started through (inside the namespace, if any), e.g.
   * capsh with capabilities dropped; it must exec the daemon's argv given after it.
   */
  prefix?: string[];
}

export interface DaemonHandle {
  kind: DaemonKind;
  /** The argv the daemon was started with (after the executable). */
  argv: string[];
  pid: number | undefined;
  /** ng listens here on UDP and on TCP (same port number). */
  ngHost: string;
  ngPort: number;
  /** The media port range given with --port-min/--port-max. */
  portMin: number;
  portMax: number;
  /** A client bound to this daemon's ng port, closed by stop(). */
  ng: NgClient;
  /** The daemon's output (stderr and stdout), last `n` lines. */
  logTail(n?: number): string;
  /** All output lines kept so far. */
  logLines(): string[];
  /** True while the process runs. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3 s). Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Whether the reference daemon is installed. */
export function referenceAvailable(): boolean {
  try {
    fs.accessSync(REFERENCE_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * For a differential test: skips it (with a printed reason) when the reference
 * is not installed. Call as `skipUnlessReference(this)` from a mocha
 * function (not an arrow function).
 */
export function skipUnlessReference(ctx: Mocha.Context): void {
  if (!referenceAvailable()) {
    console.log(`      (skipped: reference daemon ${REFERENCE_BIN} is not installed; apt-get install rtpengine-daemon)`);
    ctx.skip();
  }
}

/** The daemon kinds to run a parameterised suite against: 'ours', plus 'reference' when installed. */
export function daemonKinds(): DaemonKind[] {
  return referenceAvailable() ? ['ours', 'reference'] : ['ours'];
}

export function defaultKind(): DaemonKind {
  const env = process.env.RTPE_TEST_DAEMON;
  if (env === 'reference' || env === 'ours') return env;
  return 'ours';
}

function optionName(arg: string): string | null {
  if (!arg.startsWith('--')) return null;
  const eq = arg.indexOf('=');
  return eq < 0 ? arg : arg.slice(0, eq);
}

/** Merges defaults and overrides: an override named like a default drops that default. */
function mergeArgs(defaults: string[], overrides: string[]): string[] {
  const overridden = new Set(overrides.map(optionName).filter((n): n is string => n !== null));
  return [...defaults.filter((a) => !overridden.has(optionName(a) ?? '')), ...overrides];
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<DaemonHandle> {
  const kind = opts.bin ?? defaultKind();
  if (kind === 'reference' && !referenceAvailable()) {
    throw new Error(`reference daemon ${REFERENCE_BIN} is not installed`);
  }
  const netns = opts.netns;
  const ngHost = netns ? netns.links[0].nsAddr4 : '127.0.0.1';
  const ngPort = netns ? 2223 : await freeUdpTcpPort(ngHost);
  const extra = opts.args ?? [];
  const ifaceHosts = extra
    .filter((a) => a.startsWith('--interface='))
    .map((a) => a.slice('--interface='.length).replace(/^[^/]*\//, '').replace(/!.*$/, '').replace(/^\[|\]$/g, ''))
    .filter((h) => /^[0-9.]+$|:/.test(h));
  const mediaPorts = opts.mediaPorts ?? 100;
  const range: PortRange = netns
    ? { min: 30000, max: 30000 + mediaPorts - 1, release: () => undefined }
    : await allocatePortRange(mediaPorts, { hosts: ifaceHosts.length ? ifaceHosts : ['127.0.0.1'] });

  const defaults = [
    '--config-file=none',
    `--interface=${netns ? ngHost : '127.0.0.1'}`,
    `--listen-ng=${ngHost}:${ngPort}`,
    `--listen-tcp-ng=${ngHost}:${ngPort}`,
    '--table=-1',
    '--foreground',
    '--log-stderr',
    `--port-min=${range.min}`,
    `--port-max=${range.max}`,
  ];
  const argv = mergeArgs(defaults, extra);
  const daemonCommand = kind === 'reference' ? REFERENCE_BIN : process.execPath;
  const daemonArgv = kind === 'reference' ? argv : [OURS_BIN, ...argv];
  // `ip netns exec` execs the daemon in place: the pid and the signals stay its own.
  const wrapped = [...(opts.prefix ?? []), daemonCommand, ...daemonArgv];
  const outer = netns ? ['ip', 'netns', 'exec', netns.name, ...wrapped] : wrapped;
  const command = outer[0];
  const fullArgv = outer.slice(1);

  const proc = new ManagedProcess(command, fullArgv, {
    cwd: REPO_ROOT,
    env: opts.env ?? process.env,
    keepLines: opts.keepLines ?? 400,
  });
  const ng = new NgClient({ host: ngHost, port: ngPort, defaultTimeoutMs: 3000 });

  let stopped = false;
  const handle: DaemonHandle = {
    kind,
    argv,
    pid: proc.pid,
    ngHost,
    ngPort,
    portMin: range.min,
    portMax: range.max,
    ng,
    logTail: (n = 40) => proc.tail(n),
    logLines: () => proc.output.tail(),
    running: () => proc.running,
    stop: async (graceMs = 3000) => {
      if (stopped) {
        await proc.exited;
        return;
      }
      stopped = true;
      ng.close();
      await proc.stop(graceMs);
      range.release();
    },
  };

  try {
    await waitForPong(proc, ngHost, ngPort, opts.startTimeoutMs ?? 15000);
  } catch (e) {
    await handle.stop(1000);
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `${kind} daemon did not start: ${msg}\n` +
        `command: ${command} ${fullArgv.join(' ')}\n` +
        `--- last daemon output ---\n${proc.tail(40)}`,
    );
  }
  return handle;
}

async function waitForPong(proc: ManagedProcess, host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const probe = new NgClient({ host, port, defaultTimeoutMs: 250 });
  try {
    while (Date.now() < deadline) {
      if (!proc.running) {
        throw new Error(`process exited (code ${proc.exitCode}, signal ${proc.exitSignal}) before answering ping`);
      }
      try {
        if (await probe.ping({ timeoutMs: 250 })) return;
      } catch {
        /* not up yet: ECONNREFUSED shows as a timeout on UDP */
      }
      await sleep(50);
    }
    throw new Error(`no pong on ${host}:${port} within ${timeoutMs} ms`);
  } finally {
    probe.close();
  }
}

/**
 * Mocha glue: after each failed test in the enclosing suite, appends the last
 * daemon output lines to the failure message. Call inside describe(); the
 * getter returns the daemon(s) of the moment (may be undefined).
 */
export function attachDaemonLogs(
  get: () => DaemonHandle | undefined | Array<DaemonHandle | undefined>,
  lines = 30,
): void {
  afterEach(function () {
    const t = this.currentTest;
    if (!t || t.state !== 'failed' || !t.err) return;
    const got = get();
    const list = (Array.isArray(got) ? got : [got]).filter((d): d is DaemonHandle => d !== undefined);
    for (const d of list) {
      t.err.message += `\n--- last ${lines} lines of the ${d.kind} daemon (pid ${d.pid}) ---\n${d.logTail(lines)}`;
    }
  });
}
