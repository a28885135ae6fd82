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

// Below this length a string is copied by a loop, which costs less than a call
// into the buffer's native latin1 writer.
const SHORT_STRING = 32;

/**
 * Writes values into a chunk of memory shared by consecutive messages: each
 * message is handed out as a slice of the chunk, without a copy, and the chunk
 * is replaced once full (the slices keep the old one alive). This costs one
 * allocation per many replies instead of a string per value and a buffer per
 * reply. encode() is synchronous, so one writer serves every call.
 */
class Writer {
  private static readonly CHUNK = 64 * 1024;
  private buf = Buffer.allocUnsafe(Writer.CHUNK);
  // Where the message being written starts, and the write position.
  private start = 0;
  private pos = 0;

  /** The message written since the last take() or reset(). */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  /** Drops the message being written. */
  reset(): void {
    this.pos = this.start;
  }

  // Makes room for n more bytes: a message that does not fit in what is left
  // of the chunk moves to a new one.
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(Writer.CHUNK, 2 * (used + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Writes a string of characters up to U+00FF, one byte each. */
  private latin1(s: string): void {
    const n = s.length;
    this.room(n);
    if (n < SHORT_STRING) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
    } else {
      this.pos += this.buf.write(s, this.pos, n, 'latin1');
    }
  }

  /**
   * Writes a bencoded string: "<length>:<bytes>". This and integer() run for
   * every value of every reply, hence the hand-inlined digits.
   */
  string(s: string): void {
    const n = s.length;
    if (n >= SHORT_STRING) {
      if (NON_LATIN1.test(s)) return this.utf8String(s);
      this.latin1(String(n));
      this.byte(C_COLON);
      this.latin1(s);
      return;
    }
    // Short strings are copied while being checked; a character beyond
    // U+00FF (rare: text, not bytes) starts the string over as UTF-8. The
    // room is made first, so that the start stays in the same chunk.
    this.room(n + 3);
    const b = this.buf;
    const start = this.pos;
    let p = start;
    if (n >= 10) b[p++] = C_0 + ((n / 10) | 0);
    b[p++] = C_0 + (n % 10);
    b[p++] = C_COLON;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        this.pos = start;
        return this.utf8String(s);
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  private utf8String(s: string): void {
    const utf8 = Buffer.from(s, 'utf8');
    this.latin1(String(utf8.length));
    this.byte(C_COLON);
    this.room(utf8.length);
    utf8.copy(this.buf, this.pos);
    this.pos += utf8.length;
  }

  /** Writes an integer: "i<digits>e". */
  integer(v: number): void {
    if (v < 0 || v >= 2147483648) {
      this.byte(C_I);
      this.latin1(Math.abs(v) < 1e21 ? String(v === 0 ? 0 : v) : BigInt(v).toString());
      this.byte(C_E);
      return;
    }
    // At most ten digits: written backwards from the last one.
    let digits = 1;
    for (let x = v; x >= 10; x = (x / 10) | 0) digits++;
    this.room(digits + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = C_I;
    let q = p + digits;
    for (let x = v; q > p; x = (x / 10) | 0) b[--q] = C_0 + (x % 10);
    p += digits;
    b[p++] = C_E;
    this.pos = p;
  }

  bytes(b: Buffer): void {
    this.latin1(String(b.length));
    this.byte(C_COLON);
    this.room(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

const writer = new Writer();

function encodeInto(w: Writer, v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      w.string(v);
      return;
    case 'number': {
      if (!Number.isInteger(v)) throw new BencodeError('ERR_BENCODE_TYPE', 0, `cannot encode non-integer number ${v}`);
      w.integer(v);
      return;
    }
    case 'object': {
      if (v === null) break;
      if (depth >= MAX_DEPTH) throw new BencodeError('ERR_BENCODE_DEPTH', 0, 'nesting too deep to encode');
      if (Buffer.isBuffer(v)) {
        w.bytes(v);
        return;
      }
      if (Array.isArray(v)) {
        w.byte(C_L);
        for (const item of v) if (item !== undefined) encodeInto(w, item, depth + 1);
        w.byte(C_E);
        return;
      }
      w.byte(C_D);
      const dict = v as Record<string, unknown>;
      for (const k in dict) {
        const item = dict[k];
        if (item === undefined) continue;
        w.string(k);
        encodeInto(w, item, depth + 1);
      }
      w.byte(C_E);
      return;
    }
    default:
      break;
  }
  throw new BencodeError('ERR_BENCODE_TYPE', 0, `cannot encode value of type ${v === null ? 'null' : typeof v}`);
}

/**
 * Encodes a value to bytes. Dictionary entries whose value is `undefined` are
 * left out; strings holding characters beyond U+00FF are written as their
 * UTF-8 bytes; Buffers are written as byte strings.
 */
export function encode(value: BValue): Buffer {
  try {
    encodeInto(writer, value, 0);
  } catch (e) {
    writer.reset();
    throw e;
  }
  return writer.take();
}

/** Encodes a value as a binary string (one char per byte); see encode for the mapping. */
export function encodeToString(value: BValue): string {
  return encode(value).toString('latin1');
}
