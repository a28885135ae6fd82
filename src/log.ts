// Logging with syslog levels, as rtpengine's --log-level (0 emerg .. 7 debug).
// One logger per module; call-specific lines carry a "[call-id]" prefix via child().

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

let level = 6;
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(n: number): void {
  level = Math.max(0, Math.min(7, Math.trunc(n)));
}

export function getLogLevel(): number {
  return level;
}

/** Replaces where log lines go (stderr by default). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export class Logger {
  constructor(private readonly module: string, private readonly prefix = '') {}

  child(prefix: string): Logger {
    return new Logger(this.module, `${this.prefix}[${prefix}] `);
  }

  log(lvl: number, msg: string): void {
    if (lvl > level) return;
    const ts = new Date().toISOString();
    sink(`${ts} ${LOG_LEVELS[lvl].toUpperCase()}: [${this.module}] ${this.prefix}${msg}`);
  }

  error(msg: string): void { this.log(3, msg); }
  warn(msg: string): void { this.log(4, msg); }
  notice(msg: string): void { this.log(5, msg); }
  info(msg: string): void { this.log(6, msg); }
  debug(msg: string): void { this.log(7, msg); }
}

export function getLogger(module: string): Logger {
  return new Logger(module);
}
