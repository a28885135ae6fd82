// Bencode codec for the ng control protocol.
//
// Byte strings map to JavaScript strings with one character per byte ('latin1'),
// so any byte sequence survives a decode/encode round trip unchanged. Integers
// map to numbers. Dictionary keys keep their wire order; encoding writes keys
// in insertion order, as the reference daemon does (it never sorts).
//
// All functions here are synchronous and allocation-light; they run on the
// event loop once per control message, never per media packet.

import { BencodeError } from './errors';

export { BencodeError } from './errors';

export type BValue = string | number | BValue[] | BDict;
export interface BDict { [k: string]: BValue }

/** Deepest list/dictionary nesting accepted by the decoder. */
export const MAX_DEPTH = 64;

// Longest digit run accepted for an integer or a string length.
const MAX_DIGITS = 20;

const C_D = 0x64; // 'd'
const C_L = 0x6c; // 'l'
const C_I = 0x69; // 'i'
const C_E = 0x65; // 'e'
const C_COLON = 0x3a;
const C_MINUS = 0x2d;
const C_PLUS = 0x2b;
const C_0 = 0x30;
const C_9 = 0x39;

/** Converts a binary (one char per byte) string to bytes. */
export function toBuffer(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Converts bytes to a binary (one char per byte) string. */
export function fromBuffer(b: Buffer): string {
  return b.toString('latin1');
}

/** Decodes exactly one value that must fill the whole buffer. */
export function decode(buf: Buffer): BValue {
  const { value, end } = decodePrefix(buf, 0);
  if (end !== buf.length) throw new BencodeError('ERR_BENCODE_TRAILING', end, 'trailing data after value');
  return value;
}

/** Decodes one value starting at `offset`; returns it and the offset just past it. */
export function decodePrefix(buf: Buffer, offset = 0): { value: BValue; end: number } {
  const st = { pos: offset };
  const value = readValue(buf, st, 0);
  return { value, end: st.pos };
}

/**
 * Checks for one complete value at `offset` without building it: returns the
 * offset just past the value, or -1 when the buffer ends before the value does.
 * Throws BencodeError when the bytes can never become valid bencode.
 */
export function scanPrefix(buf: Buffer, offset = 0): number {
  try {
    const st = { pos: offset };
    skipValue(buf, st, 0);
    return st.pos;
  } catch (e) {
    if (e instanceof BencodeError && e.truncated) return -1;
    throw e;
  }
}

function truncated(pos: number): BencodeError {
  return new BencodeError('ERR_BENCODE_TRUNCATED', pos, 'unexpected end of input');
}

// Reads the digits of an integer or string length up to `term`; leaves the
// terminator's index in st.pos and returns the value.
function readDigits(buf: Buffer, st: { pos: number }, start: number, term: number, what: string): number {
  const len = buf.length;
  let p = start;
  let v = 0;
  while (p < len) {
    const c = buf[p];
    if (c === term) break;
    if (c < C_0 || c > C_9) throw new BencodeError('ERR_BENCODE_SYNTAX', p, `invalid character in ${what}`);
    v = v * 10 + (c - C_0);
    p++;
  }
  const n = p - start;
  if (n > MAX_DIGITS) throw new BencodeError('ERR_BENCODE_SYNTAX', start, `${what} too long`);
  if (p >= len) throw truncated(p);
  if (n === 0) throw new BencodeError('ERR_BENCODE_SYNTAX', start, `empty ${what}`);
  if (n > 1 && buf[start] === C_0) throw new BencodeError('ERR_BENCODE_SYNTAX', start, `leading zero in ${what}`);
  st.pos = p;
  // Past 2^53 the running sum loses precision; let the number parser round it once instead.
  return n > 15 ? Number(buf.toString('latin1', start, p)) : v;
}

function readStringBounds(buf: Buffer, st: { pos: number }): [number, number] {
  const n = readDigits(buf, st, st.pos, C_COLON, 'string length');
  const start = st.pos + 1;
  const end = start + n;
  if (end > buf.length) throw truncated(buf.length);
  st.pos = end;
  return [start, end];
}

function readInteger(buf: Buffer, st: { pos: number }): number {
  let p = st.pos + 1;
  if (p >= buf.length) throw truncated(p);
  let neg = false;
  if (buf[p] === C_MINUS || buf[p] === C_PLUS) {
    neg = buf[p] === C_MINUS;
    p++;
  }
  const v = readDigits(buf, st, p, C_E, 'integer');
  st.pos++;
  return neg && v !== 0 ? -v : v;
}

function readValue(buf: Buffer, st: { pos: number }, depth: number): BValue {
  const p = st.pos;
  if (p >= buf.length) throw truncated(p);
  const c = buf[p];
  if (c >= C_0 && c <= C_9) {
    const [s, e] = readStringBounds(buf, st);
    return buf.toString('latin1', s, e);
  }
  if (c === C_I) return readInteger(buf, st);
  if (c === C_L || c === C_D) {
    if (depth >= MAX_DEPTH) throw new BencodeError('ERR_BENCODE_DEPTH', p, 'nesting too deep');
    st.pos = p + 1;
    if (c === C_L) {
      const list: BValue[] = [];
      for (;;) {
        if (st.pos >= buf.length) throw truncated(st.pos);
        if (buf[st.pos] === C_E) break;
        list.push(readValue(buf, st, depth + 1));
      }
      st.pos++;
      return list;
    }
    const dict: BDict = {};
    for (;;) {
      if (st.pos >= buf.length) throw truncated(st.pos);
      const k = buf[st.pos];
      if (k === C_E) break;
      if (k < C_0 || k > C_9) throw new BencodeError('ERR_BENCODE_SYNTAX', st.pos, 'dictionary key is not a string');
      const [ks, ke] = readStringBounds(buf, st);
      const key = buf.toString('latin1', ks, ke);
      const value = readValue(buf, st, depth + 1);
      // The first occurrence of a key wins, as with the reference daemon's lookups.
      if (Object.prototype.hasOwnProperty.call(dict, key)) continue;
      if (key === '__proto__') {
        Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        dict[key] = value;
      }
    }
    st.pos++;
    return dict;
  }
  throw new BencodeError('ERR_BENCODE_SYNTAX', p, 'invalid value type');
}

function skipValue(buf: Buffer, st: { pos: number }, depth: number): void {
  const p = st.pos;
  if (p >= buf.length) throw truncated(p);
  const c = buf[p];
  if (c >= C_0 && c <= C_9) {
    readStringBounds(buf, st);
  } else if (c === C_I) {
    readInteger(buf, st);
  } else if (c === C_L || c === C_D) {
    if (depth >= MAX_DEPTH) throw new BencodeError('ERR_BENCODE_DEPTH', p, 'nesting too deep');
    st.pos = p + 1;
    for (;;) {
      if (st.pos >= buf.length) throw truncated(st.pos);
      const k = buf[st.pos];
      if (k === C_E) break;
      if (c === C_D) {
        if (k < C_0 || k > C_9) throw new BencodeError('ERR_BENCODE_SYNTAX', st.pos, 'dictionary key is not a string');
        readStringBounds(buf, st);
      }
      skipValue(buf, st, depth + 1);
    }
    st.pos++;
  } else {
    throw new BencodeError('ERR_BENCODE_SYNTAX', p, 'invalid value type');
  }
}

// Characters outside latin1 mean the string is text, not bytes: it is written as UTF-8.
const NON_LATIN1 = /[^\x00-\xff]/;

function encodeString(s: string): string {
  if (NON_LATIN1.test(s)) s = Buffer.from(s, 'utf8').toString('latin1');
  return s.length + ':' + s;
}

function encodeInto(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      return encodeString(v);
    case 'number': {
      if (!Number.isInteger(v)) throw new BencodeError('ERR_BENCODE_TYPE', 0, `cannot encode non-integer number ${v}`);
      const digits = Math.abs(v) < 1e21 ? String(v === 0 ? 0 : v) : BigInt(v).toString();
      return 'i' + digits + 'e';
    }
    case 'object': {
      if (v === null) break;
      if (depth >= MAX_DEPTH) throw new BencodeError('ERR_BENCODE_DEPTH', 0, 'nesting too deep to encode');
      if (Buffer.isBuffer(v)) return encodeString(v.toString('latin1'));
      if (Array.isArray(v)) {
        let out = 'l';
        for (const item of v) if (item !== undefined) out += encodeInto(item, depth + 1);
        return out + 'e';
      }
      let out = 'd';
      const dict = v as Record<string, unknown>;
      for (const k of Object.keys(dict)) {
        const item = dict[k];
        if (item === undefined) continue;
        out += encodeString(k) + encodeInto(item, depth + 1);
      }
      return out + 'e';
    }
    default:
      break;
  }
  throw new BencodeError('ERR_BENCODE_TYPE', 0, `cannot encode value of type ${v === null ? 'null' : typeof v}`);
}

/**
 * Encodes a value as a binary string (one char per byte). Dictionary entries
 * whose value is `undefined` are left out; strings holding characters beyond
 * U+00FF are written as their UTF-8 bytes; Buffers are written as byte strings.
 */
export function encodeToString(value: BValue): string {
  return encodeInto(value, 0);
}

/** Encodes a value to bytes; see encodeToString for the mapping. */
export function encode(value: BValue): Buffer {
  return Buffer.from(encodeInto(value, 0), 'latin1');
}
