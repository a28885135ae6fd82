// Reader for rtpengine's ini-style config file. rtpengine reads it with GLib's
// GKeyFile, whose rules differ from the common ini parsers: only `#` starts a
// comment (and only at the start of a line), `;` separates list items, values
// keep their inner and trailing spaces, and a few backslash escapes exist.
// This module reproduces those rules; it knows nothing about rtpengine options.

export type KeyFileErrorCode =
  | 'ERR_KEYFILE_PARSE'    // a line is neither comment, group nor key = value
  | 'ERR_KEYFILE_GROUP'    // the requested group (section) does not exist
  | 'ERR_KEYFILE_VALUE';   // a value cannot be read as the requested type

export class KeyFileError extends Error {
  readonly code: KeyFileErrorCode;
  /** 1-based line number, for errors tied to a line. */
  readonly line: number | undefined;

  constructor(code: KeyFileErrorCode, message: string, line?: number) {
    super(message);
    this.name = 'KeyFileError';
    this.code = code;
    this.line = line;
  }
}

interface Entry {
  value: string;
  line: number;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

function trimStartSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  return s.slice(i);
}

function trimEndSpace(s: string): string {
  let i = s.length;
  while (i > 0 && isSpace(s[i - 1])) i--;
  return s.slice(0, i);
}

/** A parsed key file: groups of key/value strings, in file order; a repeated key keeps its last value. */
export class KeyFile {
  private readonly groupMap = new Map<string, Map<string, Entry>>();

  private constructor(readonly source: string) {}

  static parse(text: string, source = 'config file'): KeyFile {
    const kf = new KeyFile(source);
    let current: Map<string, Entry> | null = null;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      let raw = lines[i];
      if (raw.endsWith('\r')) raw = raw.slice(0, -1);
      const line = trimStartSpace(raw);
      if (line === '' || line.startsWith('#')) continue;
      const group = parseGroupLine(line);
      if (group !== undefined) {
        if (group === '' || /[[\]\x00-\x1f\x7f]/.test(group)) {
          throw new KeyFileError('ERR_KEYFILE_PARSE', `${source} line ${lineNo}: invalid section name '${group}'`, lineNo);
        }
        current = kf.groupMap.get(group) ?? new Map<string, Entry>();
        kf.groupMap.set(group, current);
        continue;
      }
      const eq = line.indexOf('=');
      if (eq <= 0) {
        throw new KeyFileError('ERR_KEYFILE_PARSE',
          `${source} line ${lineNo}: '${line}' is neither a comment, a [section] nor key = value`, lineNo);
      }
      const key = trimEndSpace(line.slice(0, eq));
      const value = trimStartSpace(line.slice(eq + 1));
      if (current === null) {
        throw new KeyFileError('ERR_KEYFILE_PARSE', `${source} line ${lineNo}: key '${key}' comes before any [section]`, lineNo);
      }
      const locale = /^([^[\]]+)\[[^[\]]+\]$/.exec(key);
      if (locale) continue; // localised variant (key[xx]): never an rtpengine option
      if (/[[\]]/.test(key) || key.startsWith(' ')) {
        throw new KeyFileError('ERR_KEYFILE_PARSE', `${source} line ${lineNo}: invalid key name '${key}'`, lineNo);
      }
      current.set(key, { value, line: lineNo });
    }
    return kf;
  }

  groups(): string[] {
    return [...this.groupMap.keys()];
  }

  hasGroup(group: string): boolean {
    return this.groupMap.has(group);
  }

  keys(group: string): string[] {
    return [...this.group(group).keys()];
  }

  hasKey(group: string, key: string): boolean {
    return this.group(group).has(key);
  }

  /** Line where a key was (last) set. */
  lineOf(group: string, key: string): number | undefined {
    return this.group(group).get(key)?.line;
  }

  /** The value exactly as written after `=` (leading space removed). */
  getRaw(group: string, key: string): string | undefined {
    return this.group(group).get(key)?.value;
  }

  /** A string with escapes resolved; `\;` is not an escape here. */
  getString(group: string, key: string): string | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    return unescape(v, false, (why) => this.valueError(group, key, why))[0];
  }

  /** A `;`-separated list; `\;` is a literal semicolon; a trailing `;` adds no empty item. */
  getStringList(group: string, key: string): string[] | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    const items = unescape(v, true, (why) => this.valueError(group, key, why));
    if (items[items.length - 1] === '') items.pop();
    return items;
  }

  /** A 32-bit decimal integer; anything after the digits must follow a space (GKeyFile reads `60 # s` as 60). */
  getInteger(group: string, key: string): number | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    const m = /^[ \t\n\r\f\v]*([+-]?\d+)(?:[ \t\n\r\f\v].*)?$/s.exec(v);
    if (!m) throw this.valueError(group, key, `'${v}' is not an integer`);
    const n = Number(m[1]);
    if (n < -2147483648 || n > 2147483647) throw this.valueError(group, key, `'${v}' is out of range`);
    return n;
  }

  /** A 64-bit decimal integer (as a JS number; exact up to 2^53). */
  getInt64(group: string, key: string): number | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    if (!/^[+-]?\d+$/.test(v)) throw this.valueError(group, key, `'${v}' is not an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw this.valueError(group, key, `'${v}' is out of range`);
    return n;
  }

  /** `true`/`1` or `false`/`0` (case matters; trailing space is ignored). */
  getBoolean(group: string, key: string): boolean | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    const t = trimEndSpace(v);
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    throw this.valueError(group, key, `'${v}' is not true or false`);
  }

  getDouble(group: string, key: string): number | undefined {
    const v = this.getRaw(group, key);
    if (v === undefined) return undefined;
    const n = parseCDouble(v);
    if (n === undefined) throw this.valueError(group, key, `'${v}' is not a number`);
    return n;
  }

  private group(group: string): Map<string, Entry> {
    const g = this.groupMap.get(group);
    if (!g) throw new KeyFileError('ERR_KEYFILE_GROUP', `${this.source} has no section [${group}]`);
    return g;
  }

  private valueError(group: string, key: string, why: string): KeyFileError {
    const line = this.lineOf(group, key);
    return new KeyFileError('ERR_KEYFILE_VALUE', `${this.source} line ${line}: ${key}: ${why}`, line);
  }
}

/** `[name]`, optionally followed by spaces or tabs; returns the name, or undefined for other lines. */
function parseGroupLine(line: string): string | undefined {
  if (!line.startsWith('[')) return undefined;
  const close = line.indexOf(']');
  if (close < 0) return undefined;
  if (!/^[ \t]*$/.test(line.slice(close + 1))) return undefined;
  return line.slice(1, close);
}

/**
 * Resolves GKeyFile escapes. For lists, unescaped `;` splits items and `\;`
 * is a literal semicolon; for plain strings `\;` is an invalid escape.
 */
function unescape(v: string, list: boolean, fail: (why: string) => Error): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '\\') {
      i++;
      if (i >= v.length) throw fail('value ends with a lone backslash');
      const e = v[i];
      switch (e) {
        case 's': cur += ' '; break;
        case 'n': cur += '\n'; break;
        case 't': cur += '\t'; break;
        case 'r': cur += '\r'; break;
        case '\\': cur += '\\'; break;
        case ';':
          if (!list) throw fail('invalid escape \\; outside a list');
          cur += ';';
          break;
        default:
          throw fail(`invalid escape \\${e}`);
      }
    } else if (c === ';' && list) {
      items.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  items.push(cur);
  return items;
}

/**
 * Reads a whole string as a C double (strtod syntax): decimal with optional
 * exponent, hexadecimal, `inf`/`infinity`, `nan`; leading space allowed.
 */
export function parseCDouble(s: string): number | undefined {
  const t = trimStartSpace(s);
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(t);
  if (hex && (hex[2] || hex[3])) {
    const frac = hex[3] ?? '';
    const mant = parseInt((hex[2] || '0') + frac || '0', 16) / Math.pow(16, frac.length);
    const n = mant * Math.pow(2, hex[4] ? Number(hex[4]) : 0);
    return hex[1] === '-' ? -n : n;
  }
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) {
    if (special[2].toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  return undefined;
}

/**
 * Reads a whole string as a C long with base detection (strtol base 0, as
 * GLib's command-line parser does): `0x1f` is hexadecimal, `017` octal.
 */
export function parseCInteger(s: string): number | undefined {
  const t = trimStartSpace(s);
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(t);
  if (!m) return undefined;
  const body = m[2];
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (body.length > 1 && body.startsWith('0')) n = parseInt(body, 8);
  else n = parseInt(body, 10);
  return m[1] === '-' ? -n : n;
}
