// Process-level duties of the daemon: detaching from the terminal, the PID
// file and signal handling.
//
// Node cannot fork, so detaching re-runs the same program as a new session
// leader with --foreground added. The parent relays the child's stderr until
// the child reports that start-up is complete (then exits 0) or until the
// child dies first (then exits 1), so start-up errors still reach the caller,
// as with the reference daemon.

import { spawn } from 'child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'fs';

/** Set in the environment of the detached child so it knows to report readiness. */
export const DETACHED_ENV = 'RTPENGINE_TS_DETACHED';

/** True in the re-spawned, detached daemon process. */
export function isDetachedChild(): boolean {
  return process.env[DETACHED_ENV] === '1' && typeof process.send === 'function';
}

/**
 * Parent side of detaching: starts this program again with --foreground in its
 * own session and waits for it. Resolves to the exit code for the parent.
 */
export function detach(argv: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const script = process.argv[1];
    // --foreground goes first: after a `--` it would be a plain argument.
    const child = spawn(process.execPath, [...process.execArgv, script, '--foreground', ...argv], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, [DETACHED_ENV]: '1' },
    });
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      child.stderr?.removeAllListeners('data');
      child.stderr?.destroy();
      if (child.connected) child.disconnect();
      child.unref();
      resolve(code);
    };
    child.stderr?.on('data', (b: Buffer) => {
      if (!settled) process.stderr.write(b);
    });
    child.on('message', (m: unknown) => {
      if (m && typeof m === 'object' && (m as { type?: string }).type === 'ready') finish(0);
    });
    child.on('error', (e) => {
      process.stderr.write(`Cannot start the daemon process: ${e.message}\n`);
      finish(1);
    });
    child.on('exit', (code) => {
      // Let the last stderr bytes arrive before reporting the failure.
      setImmediate(() => finish(code === 0 ? 1 : code ?? 1));
    });
  });
}

/**
 * Child side: tells the waiting parent that start-up is complete and cuts the
 * channel. After this the parent is gone and stderr leads nowhere.
 */
export function notifyReady(): void {
  if (!isDetachedChild()) return;
  process.stderr.on('error', () => undefined);
  process.send?.({ type: 'ready' }, () => {
    process.disconnect?.();
  });
}

/** Writes the PID file; throws with the reason when it cannot. */
export function writePidFile(path: string): void {
  writeFileSync(path, `${process.pid}\n`);
}

/** Removes the PID file if it still holds our PID; errors are ignored. */
export function removePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // Already gone or unreadable: nothing to do at exit.
  }
}

export interface SignalHandlers {
  /** SIGTERM or SIGINT. */
  shutdown(signal: NodeJS.Signals): void;
  /** SIGUSR1 (-1, quieter) or SIGUSR2 (+1, more verbose). */
  logLevel(delta: -1 | 1): void;
}

/**
 * Installs the daemon's signal handlers; SIGHUP is ignored as by the
 * reference. Returns a function that removes them again.
 */
export function installSignalHandlers(h: SignalHandlers): () => void {
  const table: [NodeJS.Signals, () => void][] = [
    ['SIGTERM', () => h.shutdown('SIGTERM')],
    ['SIGINT', () => h.shutdown('SIGINT')],
    ['SIGUSR1', () => h.logLevel(-1)],
    ['SIGUSR2', () => h.logLevel(1)],
    ['SIGHUP', () => undefined],
  ];
  for (const [sig, fn] of table) process.on(sig, fn);
  return () => {
    for (const [sig, fn] of table) process.off(sig, fn);
  };
}
