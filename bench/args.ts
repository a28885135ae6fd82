// Command-line arguments of the benches: `--key=value` with typed readers that
// say what they expected.

export interface Arg {
  key: string;
  value: string;
  /** The value as a number in (0, max]. */
  num(max: number): number;
  /** The value as a CPU list (`1`, `0,1`, `0-3`). */
  cpuList(): string;
}

export function parseArg(a: string): Arg {
  const eq = a.indexOf('=');
  const key = eq < 0 ? a : a.slice(0, eq);
  const value = eq < 0 ? '' : a.slice(eq + 1);
  return {
    key,
    value,
    num(max: number): number {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${key} needs a number in (0, ${max}], got '${value}'`);
      return n;
    },
    cpuList(): string {
      if (!/^\d+([-,]\d+)*$/.test(value)) throw new Error(`${key} needs a CPU list like 1 or 0,1, got '${value}'`);
      return value;
    },
  };
}

/**
 * Reads a bench's arguments: `handle` takes the ones it knows (returning true);
 * `--help` prints `usage` and exits; anything else is an error.
 */
export function readArgs(argv: string[], usage: string, handle: (a: Arg) => boolean): void {
  for (const a of argv) {
    const arg = parseArg(a);
    if (arg.key === '--help' || arg.key === '-h') {
      console.log(usage);
      process.exit(0);
    }
    if (!handle(arg)) throw new Error(`unknown argument '${a}' (try --help)`);
  }
}
