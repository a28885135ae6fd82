// Logging with syslog levels, as rtpengine's --log-level (0 emerg .. 7 debug).
// One logger per module; call-specific lines carry a "[call-id]" prefix via child().
//
// Lines go to stderr (`[seconds.micros] LEVEL: [module] message`, like the
// reference) or to syslog. Node cannot open the /dev/log datagram socket
// without a native module, so syslog lines are handed to the system `logger`
// tool (util-linux), started once, with the priority prefixed to each line.

import { ChildProcess, spawn } from 'child_process';
import { statSync } from 'fs';

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
/** The info level, for isEnabled() checks around messages costly to build. */
export const LOG_INFO = LOG_LEVELS.indexOf('info');

/** Syslog facility codes by name. */
export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21,
  local6: 22, local7: 23,
};

let level = 6;
let timestamps = true;
let splitLines = false;
/** 0 or less: no limit. */
let maxLineLength = 0;

/** Receives each finished line, formatted for stderr, and its level. */
type Sink = (line: string, level: number) => void;

const stderrSink: Sink = (line) => {
  process.stderr.write(line + '\n');
};
let sink: Sink = stderrSink;
let syslog: SyslogWriter | null = null;

export function setLogLevel(n: number): void {
  level = Math.max(0, Math.min(7, Math.trunc(n)));
}

export function getLogLevel(): number {
  return level;
}

/** Replaces where log lines go (stderr by default). The sink gets the line as stderr would show it. */
export function setLogSink(fn: (line: string, level: number) => void): void {
  closeSyslog();
  sink = fn;
}

function timestamp(): string {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

function emit(lvl: number, head: string, msg: string): void {
  const pieces = splitLines ? msg.split('\n') : [msg];
  for (const piece of pieces) {
    const text = head + piece;
    const limit = maxLineLength > 0 ? maxLineLength : syslog ? 500 : 0;
    const chunks = limit > 0 && text.length > limit ? chunk(text, limit) : [text];
    for (const c of chunks) {
      if (syslog) {
        syslog.write(lvl, c);
      } else {
        const prefix = `${timestamps ? `[${timestamp()}] ` : ''}${LOG_LEVELS[lvl].toUpperCase()}: `;
        sink(prefix + c, lvl);
      }
    }
  }
}

function chunk(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

export class Logger {
  constructor(private readonly module: string, private readonly prefix = '') {}

  child(prefix: string): Logger {
    return new Logger(this.module, `${this.prefix}[${prefix}] `);
  }

  isEnabled(lvl: number): boolean {
    return lvl <= level;
  }

  log(lvl: number, msg: string): void {
    if (lvl > level) return;
    emit(Math.max(0, Math.min(7, lvl)), `[${this.module}] ${this.prefix}`, msg);
  }

  crit(msg: string): void { this.log(2, msg); }
  error(msg: string): void { this.log(3, msg); }
  warn(msg: string): void { this.log(4, msg); }
  notice(msg: string): void { this.log(5, msg); }
  info(msg: string): void { this.log(6, msg); }
  debug(msg: string): void { this.log(7, msg); }
}

export function getLogger(module: string): Logger {
  return new Logger(module);
}

export interface LogOutputOptions {
  /** Log to stderr instead of syslog. */
  stderr: boolean;
  /** Prefix stderr lines with a timestamp (default true). */
  timestamps?: boolean;
  /** Log each line of a multi-line message separately (default false). */
  splitLines?: boolean;
  /** Break longer lines; 0: default (none on stderr, 500 for syslog); negative: never. */
  maxLineLength?: number;
  /** Syslog facility name (default daemon). */
  facility?: string;
  /** Program name in syslog (default rtpengine). */
  name?: string;
  /** Syslog socket (default /dev/log). */
  syslogSocket?: string;
}

/**
 * Sets where log lines go. Returns 'syslog' or 'stderr', and a reason when
 * syslog was asked for but is not available (lines then go to stderr).
 */
export function configureLogging(opts: LogOutputOptions): { target: 'stderr' | 'syslog'; problem?: string } {
  timestamps = opts.timestamps ?? true;
  splitLines = opts.splitLines ?? false;
  const max = opts.maxLineLength ?? 0;
  maxLineLength = max < 0 ? 0 : max;
  const noLimit = max < 0;
  closeSyslog();
  sink = stderrSink;
  if (opts.stderr) return { target: 'stderr' };
  const socket = opts.syslogSocket ?? '/dev/log';
  const facility = SYSLOG_FACILITIES[opts.facility ?? 'daemon'] ?? SYSLOG_FACILITIES.daemon;
  const w = SyslogWriter.open(socket, facility, opts.name ?? 'rtpengine');
  if (typeof w === 'string') return { target: 'stderr', problem: w };
  syslog = w;
  // A negative length disables the 500-character default of syslog too.
  if (noLimit) maxLineLength = Number.MAX_SAFE_INTEGER;
  return { target: 'syslog' };
}

/**
 * Writes one line at info level under another syslog facility (--log-facility-dtmf):
 * to syslog with that facility when logging goes to syslog, otherwise where the
 * other lines go, tagged with `module`. Unknown facility names fall back to the
 * main one.
 */
export function logToFacility(facility: string, module: string, line: string): void {
  const lvl = LOG_INFO;
  if (lvl > level) return;
  if (syslog) syslog.write(lvl, line, SYSLOG_FACILITIES[facility]);
  else emit(lvl, `[${module}] `, line);
}

/** Drops all further output (a detached daemon that was told to log to stderr, as the reference does). */
export function discardLogs(): void {
  closeSyslog();
  sink = () => undefined;
}

/** Waits (briefly) until pending syslog lines have been handed over. */
export async function flushLogs(timeoutMs = 1000): Promise<void> {
  const w = syslog;
  if (!w) return;
  syslog = null;
  sink = stderrSink;
  await w.close(timeoutMs);
}

function closeSyslog(): void {
  if (syslog) {
    void syslog.close(0);
    syslog = null;
  }
}

/** Feeds lines to a long-running `logger --prio-prefix` process. */
class SyslogWriter {
  private failed = false;

  private constructor(private readonly child: ChildProcess, private readonly facility: number) {}

  static open(socket: string, facility: number, name: string): SyslogWriter | string {
    try {
      if (!statSync(socket).isSocket()) return `${socket} is not a socket`;
    } catch {
      return `syslog socket ${socket} does not exist`;
    }
    let child: ChildProcess;
    try {
      child = spawn('logger', ['--prio-prefix', '-t', name, `--id=${process.pid}`, '-u', socket], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch (e) {
      return `cannot run logger: ${(e as Error).message}`;
    }
    const w = new SyslogWriter(child, facility);
    child.on('error', () => w.fallBack());
    child.on('exit', () => w.fallBack());
    child.stdin?.on('error', () => w.fallBack());
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return w;
  }

  write(lvl: number, text: string, facility = this.facility): void {
    if (this.failed) {
      stderrSink(`${LOG_LEVELS[lvl].toUpperCase()}: ${text}`, lvl);
      return;
    }
    this.child.stdin?.write(`<${facility * 8 + lvl}>${text.replace(/\n/g, ' ')}\n`);
  }

  /** Syslog went away: later lines go to stderr. */
  private fallBack(): void {
    if (this.failed) return;
    this.failed = true;
    if (syslog === this) {
      syslog = null;
      sink = stderrSink;
    }
  }

  close(timeoutMs: number): Promise<void> {
    this.failed = true;
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || !this.child.stdin) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.child.kill();
        resolve();
      }, timeoutMs);
      timer.unref();
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}
