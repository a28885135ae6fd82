// An ng protocol client for tests and benchmarks, over UDP and TCP.
//
// It carries its own bencode codec on purpose: the client must not share code
// with the daemon under test, or a bug in one would hide the same bug in the other.
//
// Wire format: "<cookie> <bencoded dictionary>" (or "<cookie> <JSON object>" in
// JSON mode), one per datagram over UDP. Over TCP the same messages follow each
// other on the stream with no framing: a message ends where its dictionary ends
// (the reference cuts its input the same way, and only understands bencode there).

import * as dgram from 'dgram';
import * as net from 'net';
import { randomBytes } from 'crypto';

// ---------------------------------------------------------------- bencode

export type BValue = string | number | Buffer | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

/**
 * Encodes a value. Strings are UTF-8; numbers must be integers; object keys are
 * written in insertion order (as SIP proxies do), or sorted with `sortKeys`.
 * Keys whose value is undefined are left out.
 */
export function bencode(value: unknown, opts: { sortKeys?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  const put = (v: unknown): void => {
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      out.push(Buffer.from(`${b.length}:`), b);
    } else if (Buffer.isBuffer(v)) {
      out.push(Buffer.from(`${v.length}:`), v);
    } else if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isInteger(v)) throw new TypeError(`bencode: not an integer: ${v}`);
      out.push(Buffer.from(`i${v}e`));
    } else if (typeof v === 'boolean') {
      // Not a bencode type; ng has no booleans either. Refuse rather than guess.
      throw new TypeError('bencode: booleans have no encoding');
    } else if (Array.isArray(v)) {
      out.push(Buffer.from('l'));
      for (const x of v) put(x);
      out.push(Buffer.from('e'));
    } else if (v !== null && typeof v === 'object') {
      out.push(Buffer.from('d'));
      let keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      if (opts.sortKeys) keys = keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const k of keys) {
        put(k);
        put((v as Record<string, unknown>)[k]);
      }
      out.push(Buffer.from('e'));
    } else {
      throw new TypeError(`bencode: cannot encode ${String(v)}`);
    }
  };
  put(value);
  return Buffer.concat(out);
}

export class BencodeError extends Error {
  /** True when the input simply stopped early (more bytes could complete it). */
  readonly truncated: boolean;
  constructor(message: string, readonly offset: number, truncated = false) {
    super(`bencode: ${message} at offset ${offset}`);
    this.truncated = truncated;
  }
}

/**
 * Decodes exactly one value from `buf` (trailing bytes are an error unless
 * `allowTrailing`). Strings come back as JS strings (UTF-8) unless `binary`,
 * in which case they are Buffers.
 */
export function bdecode(buf: Buffer, opts: { binary?: boolean; allowTrailing?: boolean } = {}): BValue {
  const { value, end } = bdecodeAt(buf, 0, opts.binary ?? false, 0);
  if (end !== buf.length && !opts.allowTrailing) throw new BencodeError('trailing data', end);
  return value;
}

/**
 * Where the bencoded value starting at `start` ends (exclusive); null when the
 * buffer holds only part of it. Throws on malformed input.
 */
export function bencodeEnd(buf: Buffer, start: number): number | null {
  try {
    return bdecodeAt(buf, start, true, 0).end;
  } catch (e) {
    if (e instanceof BencodeError && e.truncated) return null;
    throw e;
  }
}

const MAX_DEPTH = 64;

function bdecodeAt(buf: Buffer, pos: number, binary: boolean, depth: number): { value: BValue; end: number } {
  if (depth > MAX_DEPTH) throw new BencodeError('nesting too deep', pos);
  if (pos >= buf.length) throw new BencodeError('unexpected end', pos, true);
  const c = buf[pos];
  if (c === 0x69 /* i */) {
    const e = buf.indexOf(0x65 /* e */, pos + 1);
    if (e < 0) throw new BencodeError('unterminated integer', pos, true);
    const txt = buf.toString('latin1', pos + 1, e);
    if (!/^-?\d+$/.test(txt)) throw new BencodeError(`bad integer '${txt}'`, pos);
    return { value: Number(txt), end: e + 1 };
  }
  if (c === 0x6c /* l */) {
    const list: BValue[] = [];
    let p = pos + 1;
    while (true) {
      if (p >= buf.length) throw new BencodeError('unterminated list', pos, true);
      if (buf[p] === 0x65) return { value: list, end: p + 1 };
      const r = bdecodeAt(buf, p, binary, depth + 1);
      list.push(r.value);
      p = r.end;
    }
  }
  if (c === 0x64 /* d */) {
    const dict: BDict = {};
    let p = pos + 1;
    while (true) {
      if (p >= buf.length) throw new BencodeError('unterminated dictionary', pos, true);
      if (buf[p] === 0x65) return { value: dict, end: p + 1 };
      const k = bdecodeAt(buf, p, false, depth + 1);
      if (typeof k.value !== 'string') throw new BencodeError('dictionary key is not a string', p);
      const v = bdecodeAt(buf, k.end, binary, depth + 1);
      dict[k.value] = v.value;
      p = v.end;
    }
  }
  if (c >= 0x30 && c <= 0x39) {
    const colon = buf.indexOf(0x3a /* : */, pos);
    if (colon < 0) {
      const rest = buf.toString('latin1', pos);
      throw new BencodeError('string without length separator', pos, /^\d{1,12}$/.test(rest));
    }
    const lenTxt = buf.toString('latin1', pos, colon);
    if (!/^\d+$/.test(lenTxt)) throw new BencodeError(`bad string length '${lenTxt}'`, pos);
    const len = Number(lenTxt);
    const start = colon + 1;
    if (start + len > buf.length) throw new BencodeError('string runs past the end', pos, true);
    const slice = buf.subarray(start, start + len);
    return { value: binary ? Buffer.from(slice) : slice.toString('utf8'), end: start + len };
  }
  throw new BencodeError(`unexpected byte 0x${c.toString(16)}`, pos);
}

/**
 * Where the JSON object starting at `start` ends (exclusive), by brace counting
 * outside strings; null when incomplete.
 */
export function jsonObjectEnd(buf: Buffer, start: number): number | null {
  let depth = 0;
  let inStr = false;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (inStr) {
      if (c === 0x5c /* \\ */) i++;
      else if (c === 0x22 /* " */) inStr = false;
      continue;
    }
    if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return null;
}

// ---------------------------------------------------------------- client

export type Transport = 'udp' | 'tcp';

export interface RequestOptions {
  transport?: Transport;
  /** Cookie to send; a fresh random one by default. Reusing one tests the retransmit cache. */
  cookie?: string;
  timeoutMs?: number;
  /** Send the dictionary as JSON instead of bencode (the reply is parsed as JSON too). */
  json?: boolean;
  /** UDP only: resend the same datagram this many times on timeout (default 0). */
  retries?: number;
}

export interface RawReply {
  cookie: string;
  /** Everything after "<cookie> ". */
  body: Buffer;
  /** The whole reply as received (unframed). */
  raw: Buffer;
}

export class NgTimeoutError extends Error {
  readonly code = 'NG_TIMEOUT';
  constructor(what: string, ms: number) {
    super(`no ng reply to ${what} within ${ms} ms`);
  }
}

interface Pending {
  resolve: (r: RawReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

let cookieSeq = 0;
const cookiePrefix = randomBytes(3).toString('hex');

/** A new cookie, unique within this process and unlikely to collide across processes. */
export function newCookie(): string {
  cookieSeq = (cookieSeq + 1) % 1e9;
  return `${cookiePrefix}_${cookieSeq}`;
}

/** Splits "<cookie> <body>" into its two parts. */
export function splitReply(raw: Buffer): RawReply {
  const sp = raw.indexOf(0x20);
  if (sp < 0) return { cookie: '', body: raw, raw };
  return { cookie: raw.toString('latin1', 0, sp), body: raw.subarray(sp + 1), raw };
}

export interface NgClientOptions {
  host?: string;
  /** Port of the UDP listener. */
  port: number;
  /** Port of the TCP listener (defaults to `port`). */
  tcpPort?: number;
  defaultTimeoutMs?: number;
}

export class NgClient {
  readonly host: string;
  readonly port: number;
  readonly tcpPort: number;
  private readonly defaultTimeoutMs: number;
  private udp: dgram.Socket | null = null;
  private tcp: net.Socket | null = null;
  private tcpConnecting: Promise<net.Socket> | null = null;
  private tcpBuf: Buffer = Buffer.alloc(0);
  private readonly udpPending = new Map<string, Pending>();
  private readonly tcpPending = new Map<string, Pending>();
  private readonly unsolicited: RawReply[] = [];
  private closed = false;

  constructor(opts: NgClientOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port;
    this.tcpPort = opts.tcpPort ?? opts.port;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 3000;
  }

  /** Sends a request dictionary and resolves with the reply dictionary. */
  async request(dict: Record<string, unknown>, opts: RequestOptions = {}): Promise<BDict> {
    const cookie = opts.cookie ?? newCookie();
    const payload = opts.json ? Buffer.from(JSON.stringify(dict), 'utf8') : bencode(dict);
    const msg = Buffer.concat([Buffer.from(cookie + ' ', 'latin1'), payload]);
    const what = `'${String(dict.command)}' (cookie ${cookie})`;
    const reply = await this.exchange(msg, cookie, what, opts);
    if (opts.json) {
      const parsed: unknown = JSON.parse(reply.body.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new Error(`ng JSON reply is not an object: ${reply.body.toString('utf8').slice(0, 200)}`);
      }
      return parsed as BDict;
    }
    const v = bdecode(reply.body);
    if (typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) {
      throw new Error(`ng reply is not a dictionary: ${reply.body.toString('latin1').slice(0, 200)}`);
    }
    return v;
  }

  /**
   * Sends bytes as they are (no cookie added, no framing over UDP) and waits for
   * the reply carrying `expectCookie`, or for any reply when it is not given.
   * Use for malformed input. Resolves null on timeout when `allowNoReply`.
   */
  async sendRaw(
    data: Buffer | string,
    opts: { transport?: Transport; timeoutMs?: number; expectCookie?: string; allowNoReply?: boolean } = {},
  ): Promise<RawReply | null> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const cookie = opts.expectCookie ?? splitReply(buf).cookie;
    try {
      return await this.exchange(buf, cookie, `raw message (cookie '${cookie}')`, {
        transport: opts.transport,
        timeoutMs: opts.timeoutMs,
      });
    } catch (e) {
      if (opts.allowNoReply && e instanceof NgTimeoutError) return null;
      throw e;
    }
  }

  /** Sends bytes without waiting for anything (UDP datagram or TCP write). */
  async fire(data: Buffer | string, transport: Transport = 'udp'): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (transport === 'udp') {
      const s = this.udpSocket();
      await new Promise<void>((resolve, reject) =>
        s.send(buf, this.port, this.host, (err) => (err ? reject(err) : resolve())),
      );
    } else {
      const s = await this.tcpSocket();
      s.write(buf);
    }
  }

  /** Replies that matched no pending request (e.g. late retransmit answers). */
  takeUnsolicited(): RawReply[] {
    return this.unsolicited.splice(0);
  }

  /** Shorthand: ping over the given transport; resolves true on "pong". */
  async ping(opts: RequestOptions = {}): Promise<boolean> {
    const r = await this.request({ command: 'ping' }, opts);
    return r.result === 'pong';
  }

  close(): void {
    this.closed = true;
    const err = new Error('ng client closed');
    for (const m of [this.udpPending, this.tcpPending]) {
      for (const p of m.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      m.clear();
    }
    this.udp?.close();
    this.udp = null;
    this.tcp?.destroy();
    this.tcp = null;
    this.tcpConnecting = null;
  }

  // ---------------------------------------------------------------- internals

  private exchange(msg: Buffer, cookie: string, what: string, opts: RequestOptions): Promise<RawReply> {
    if (this.closed) return Promise.reject(new Error('ng client closed'));
    const transport = opts.transport ?? 'udp';
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const pending = transport === 'udp' ? this.udpPending : this.tcpPending;
    if (pending.has(cookie)) return Promise.reject(new Error(`a request with cookie ${cookie} is already pending`));
    return new Promise<RawReply>((resolve, reject) => {
      let retriesLeft = transport === 'udp' ? (opts.retries ?? 0) : 0;
      const sendNow = (): void => {
        if (transport === 'udp') {
          this.udpSocket().send(msg, this.port, this.host, (err) => {
            if (err) settle(err);
          });
        } else {
          this.tcpSocket().then(
            (s) => s.write(msg),
            (err: Error) => settle(err),
          );
        }
      };
      const onTimeout = (): void => {
        if (retriesLeft > 0) {
          retriesLeft--;
          entry.timer = setTimeout(onTimeout, timeoutMs);
          sendNow();
          return;
        }
        settle(new NgTimeoutError(what, timeoutMs));
      };
      const entry: Pending = {
        resolve: (r) => {
          clearTimeout(entry.timer);
          pending.delete(cookie);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(entry.timer);
          pending.delete(cookie);
          reject(e);
        },
        timer: setTimeout(onTimeout, timeoutMs),
      };
      const settle = (err: Error): void => entry.reject(err);
      pending.set(cookie, entry);
      sendNow();
    });
  }

  private dispatch(raw: Buffer, pending: Map<string, Pending>): void {
    const r = splitReply(raw);
    const p = pending.get(r.cookie);
    if (p) p.resolve(r);
    else if (this.unsolicited.length < 1000) this.unsolicited.push(r);
  }

  private udpSocket(): dgram.Socket {
    if (this.udp) return this.udp;
    const s = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
    s.on('message', (m) => this.dispatch(m, this.udpPending));
    s.on('error', (err) => {
      for (const p of this.udpPending.values()) p.reject(err);
    });
    // A forgotten close() must not keep mocha alive; pending requests hold their timers.
    s.unref();
    this.udp = s;
    return s;
  }

  private tcpSocket(): Promise<net.Socket> {
    if (this.tcp && !this.tcp.destroyed) return Promise.resolve(this.tcp);
    if (this.tcpConnecting) return this.tcpConnecting;
    this.tcpBuf = Buffer.alloc(0);
    this.tcpConnecting = new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.tcpPort });
      s.setNoDelay(true);
      s.unref();
      s.once('connect', () => {
        this.tcp = s;
        this.tcpConnecting = null;
        resolve(s);
      });
      s.on('data', (d) => this.onTcpData(d));
      s.on('error', (err) => {
        this.tcpConnecting = null;
        reject(err);
        for (const p of this.tcpPending.values()) p.reject(err);
      });
      s.on('close', () => {
        if (this.tcp === s) this.tcp = null;
        const err = new Error('ng TCP connection closed by the daemon');
        for (const p of this.tcpPending.values()) p.reject(err);
      });
    });
    return this.tcpConnecting;
  }

  private onTcpData(d: Buffer): void {
    this.tcpBuf = this.tcpBuf.length ? Buffer.concat([this.tcpBuf, d]) : d;
    while (this.tcpBuf.length > 0) {
      const sp = this.tcpBuf.indexOf(0x20);
      if (sp < 0) {
        if (this.tcpBuf.length > 256) this.failTcp(`no cookie in '${this.tcpBuf.toString('latin1', 0, 40)}'`);
        return;
      }
      if (sp + 1 >= this.tcpBuf.length) return;
      let end: number | null;
      try {
        end =
          this.tcpBuf[sp + 1] === 0x7b /* { */ ? jsonObjectEnd(this.tcpBuf, sp + 1) : bencodeEnd(this.tcpBuf, sp + 1);
      } catch (e) {
        this.failTcp(`malformed reply: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (end === null) return;
      const msg = Buffer.from(this.tcpBuf.subarray(0, end));
      this.tcpBuf = this.tcpBuf.subarray(end);
      this.dispatch(msg, this.tcpPending);
    }
  }

  private failTcp(reason: string): void {
    const err = new Error(`ng TCP: ${reason}`);
    for (const p of this.tcpPending.values()) p.reject(err);
    this.tcp?.destroy();
    this.tcp = null;
    this.tcpBuf = Buffer.alloc(0);
  }
}
