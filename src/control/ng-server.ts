// The ng control listeners: UDP (--listen-ng) and TCP (--listen-tcp-ng).
//
// Wire format: "<cookie> <body>", where the cookie is any run of non-space bytes
// and the body is a bencoded dictionary or, if it starts with '{', a JSON object
// (answered in JSON). The reply is "<same cookie bytes> <body>". A request whose
// cookie was seen recently from the same address is a retransmission: it gets
// the stored reply and the handler does not run again, even when the first copy
// is still being processed.
//
// Everything here runs on the event loop, once per control message. A malformed
// message gets an error reply (or, without a cookie, is dropped) and never
// affects the listeners or other connections.

import * as dgram from 'dgram';
import * as net from 'net';
import { lookup } from 'dns/promises';
import { randomBytes } from 'crypto';
import { TextDecoder } from 'util';
import { BDict, BValue, decodePrefix, encode, scanPrefix } from './bencode';
import { NG_REASONS, NgError } from './errors';
import { getLogger, LOG_INFO } from '../log';

const log = getLogger('control');

export interface NgEndpoint {
  /** IPv4 or IPv6 address, host name, or '' for all addresses. */
  address: string;
  port: number;
}

export interface NgContext {
  transport: 'udp' | 'tcp';
  remote: { address: string; port: number; family: 4 | 6 };
  /** True when the request came as JSON; the reply is then JSON too. */
  json: boolean;
  /** The request's cookie as a binary string. */
  cookie: string;
}

/**
 * Runs a command. The returned dictionary is the reply; when it has no `result`
 * key, `result: ok` is appended (after the handler's keys, as the reference
 * orders them). A thrown error becomes `result: error` with the error's
 * `ngReason` (or its message) as `error-reason`.
 */
export type NgHandler = (req: BDict, ctx: NgContext) => Promise<BDict> | BDict;

export interface NgServerOptions {
  udp?: NgEndpoint | NgEndpoint[] | null;
  tcp?: NgEndpoint | NgEndpoint[] | null;
  handler: NgHandler;
  /** A reply is kept for retransmissions for at least this long, at most twice it. Default 30 s. */
  cacheTtlMs?: number;
  /** Replies kept per cache generation before it is rotated early. Default 100000. */
  cacheMaxEntries?: number;
  /** A TCP connection buffering more than this without a complete message is closed. Default 1 MiB. */
  maxTcpBuffer?: number;
  /** --control-tos: Node offers no way to set IP_TOS, so a value here is only reported once. */
  tos?: number;
}

export interface NgServerStats {
  requests: number;
  duplicates: number;
  errors: number;
  dropped: number;
}

const SP = Buffer.from(' ');
const C_SPACE = 0x20;
const C_D = 0x64;
const C_BRACE = 0x7b;
const MAX_JSON_DEPTH = 64;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Retransmission cache: two generations rotated every `ttl`, so entries live between ttl and 2*ttl. */
class ReplyCache {
  private current = new Map<string, Buffer>();
  private old = new Map<string, Buffer>();
  private rotatedAt = Date.now();

  constructor(private readonly ttlMs: number, private readonly maxEntries: number) {}

  private maybeRotate(): void {
    const now = Date.now();
    if (now - this.rotatedAt >= 2 * this.ttlMs) {
      this.current.clear();
      this.old.clear();
      this.rotatedAt = now;
    } else if (now - this.rotatedAt >= this.ttlMs || this.current.size >= this.maxEntries) {
      this.old = this.current;
      this.current = new Map();
      this.rotatedAt = now;
    }
  }

  get(key: string): Buffer | undefined {
    this.maybeRotate();
    return this.current.get(key) ?? this.old.get(key);
  }

  set(key: string, reply: Buffer): void {
    this.maybeRotate();
    this.current.set(key, reply);
    this.old.delete(key);
  }

  clear(): void {
    this.current.clear();
    this.old.clear();
  }
}

class NgRequestError extends NgError {}

function toList<T>(v: T | T[] | null | undefined): T[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** The peer of a message; `family` is what the socket reports ('IPv4', 'IPv6'), which spares a regex per message. */
function remoteOf(address: string, port: number, family: string | undefined): NgContext['remote'] {
  // Dual-stack listeners see IPv4 peers as IPv4-mapped IPv6 addresses.
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return { address: address.slice(7), port, family: 4 };
  return { address, port, family: family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : net.isIPv6(address) ? 6 : 4 };
}

/**
 * The name lookup of the UDP listeners. They bind resolved addresses and reply
 * to the address a request came from, always literals: Node's default lookup
 * would test each one with regexes and defer every reply by a tick.
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // dgram passes the socket's family (4 or 6) where dns.lookup takes options.
  callback(null, address, typeof family === 'number' ? family : 0);
}

function describe(r: NgContext['remote']): string {
  return r.family === 6 ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
}

// JSON values become bencode values: strings turn into their UTF-8 bytes, booleans into 1/0.
// Like the reference, null and fractional numbers cannot be represented.
function jsonToBValue(v: unknown, depth: number): BValue {
  if (depth > MAX_JSON_DEPTH) throw new NgRequestError(NG_REASONS.badBencode);
  switch (typeof v) {
    case 'string': return Buffer.from(v, 'utf8').toString('latin1');
    case 'boolean': return v ? 1 : 0;
    case 'number':
      if (!Number.isInteger(v)) throw new NgRequestError(NG_REASONS.badBencode);
      return v;
    case 'object': {
      if (v === null) break;
      if (Array.isArray(v)) return v.map((x) => jsonToBValue(x, depth + 1));
      const out: BDict = {};
      for (const [k, x] of Object.entries(v)) {
        const key = Buffer.from(k, 'utf8').toString('latin1');
        const value = jsonToBValue(x, depth + 1);
        if (key === '__proto__') {
          Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        } else {
          out[key] = value;
        }
      }
      return out;
    }
  }
  throw new NgRequestError(NG_REASONS.badBencode);
}

function bvalueToJson(v: BValue): unknown {
  if (typeof v === 'string') return Buffer.from(v, 'latin1').toString('utf8');
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(bvalueToJson);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    if (v[k] === undefined) continue;
    const key = Buffer.from(k, 'latin1').toString('utf8');
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: bvalueToJson(v[k]), enumerable: true, writable: true, configurable: true });
    } else {
      out[key] = bvalueToJson(v[k]);
    }
  }
  return out;
}

function parseJsonBody(body: Buffer): BDict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch {
    throw new NgRequestError(NG_REASONS.badJson);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NgRequestError(NG_REASONS.badBencode);
  }
  return jsonToBValue(parsed, 0) as BDict;
}

/**
 * Finds the end of a JSON object starting at `start` (which holds '{'): returns
 * the offset just past its closing brace, or -1 if the buffer ends first.
 */
function scanJsonObject(buf: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let p = start; p < buf.length; p++) {
    const c = buf[p];
    if (inString) {
      if (c === 0x5c) p++; // Backslash: skip the escaped byte.
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return p + 1;
    }
  }
  return -1;
}

function encodeReply(reply: BDict, json: boolean): Buffer {
  return json ? Buffer.from(JSON.stringify(bvalueToJson(reply)), 'utf8') : encode(reply);
}

function errorReply(reason: string, json: boolean): Buffer {
  return encodeReply({ result: 'error', 'error-reason': reason }, json);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0d || c === 0x0a || c === 0x09;
}

/** One TCP control connection: reassembles "<cookie> <body>" messages from the byte stream. */
class NgTcpConnection {
  private buf: Buffer = Buffer.alloc(0);
  private dead = false;
  readonly remote: NgContext['remote'];

  constructor(private readonly server: NgServer, readonly socket: net.Socket, private readonly maxBuffer: number) {
    this.remote = remoteOf(socket.remoteAddress ?? '', socket.remotePort ?? 0, socket.remoteFamily);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => log.info(`TCP control connection from ${describe(this.remote)}: ${e.message}`));
  }

  write(cookie: Buffer, body: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(Buffer.concat([cookie, SP, body]));
  }

  // The stream cannot be resynchronised after a body of unknown extent: reply and close.
  private fail(cookie: Buffer, reason: string, json: boolean): void {
    log.warn(`Protocol error on TCP control connection from ${describe(this.remote)}: ${reason}`);
    this.server.stats.errors++;
    this.write(cookie, errorReply(reason, json));
    this.buf = Buffer.alloc(0);
    this.dead = true;
    this.socket.end(() => this.socket.destroy());
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    let buf = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      while (pos < buf.length && isSpace(buf[pos])) pos++;
      if (pos >= buf.length) break;
      const sp = buf.indexOf(C_SPACE, pos);
      if (sp < 0 || sp + 1 >= buf.length) break;
      const cookie = Buffer.from(buf.subarray(pos, sp));
      const first = buf[sp + 1];
      let end: number;
      if (first === C_D) {
        try {
          end = scanPrefix(buf, sp + 1);
        } catch {
          return this.fail(cookie, NG_REASONS.badBencode, false);
        }
      } else if (first === C_BRACE) {
        end = scanJsonObject(buf, sp + 1);
      } else {
        return this.fail(cookie, NG_REASONS.badFormat, false);
      }
      if (end < 0) break;
      const body = Buffer.from(buf.subarray(sp + 1, end));
      this.server.respond(cookie, body, this.remote, 'tcp', (reply) => this.write(cookie, reply));
      pos = end;
    }
    buf = pos >= buf.length ? Buffer.alloc(0) : buf.subarray(pos);
    if (buf.length > this.maxBuffer) {
      log.warn(`Buffer length exceeded in control connection from ${describe(this.remote)}`);
      this.server.stats.dropped++;
      this.socket.destroy();
      buf = Buffer.alloc(0);
    }
    this.buf = buf;
  }
}

/**
 * The ng listeners. Construct, then `start()`; `close()` stops listening,
 * drops TCP connections and forgets pending replies. Owns its sockets.
 */
export class NgServer {
  readonly stats: NgServerStats = { requests: 0, duplicates: 0, errors: 0, dropped: 0 };
  private readonly handler: NgHandler;
  private readonly cache: ReplyCache;
  private readonly pending = new Map<string, Promise<Buffer>>();
  private readonly udpSockets: dgram.Socket[] = [];
  private readonly tcpServers: net.Server[] = [];
  private readonly connections = new Set<NgTcpConnection>();
  private readonly maxTcpBuffer: number;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: NgServerOptions) {
    this.handler = opts.handler;
    this.cache = new ReplyCache(opts.cacheTtlMs ?? 30_000, opts.cacheMaxEntries ?? 100_000);
    this.maxTcpBuffer = opts.maxTcpBuffer ?? 1 << 20;
  }

  /** Opens every configured listener; rejects (and closes what was opened) if one cannot bind. */
  async start(): Promise<void> {
    if (this.opts.tos !== undefined && this.opts.tos !== 0) {
      log.warn('Setting the TOS of control sockets is not supported on this platform: ignoring control-tos');
    }
    try {
      for (const ep of toList(this.opts.udp)) await this.openUdp(ep);
      for (const ep of toList(this.opts.tcp)) await this.openTcp(ep);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** The bound addresses (useful with port 0). */
  addresses(): { udp: net.AddressInfo[]; tcp: net.AddressInfo[] } {
    return {
      udp: this.udpSockets.map((s) => s.address()),
      tcp: this.tcpServers.map((s) => s.address() as net.AddressInfo),
    };
  }

  /**
   * Pushes a message to every connected TCP client as "<random cookie> <bencoded dict>",
   * the form the reference uses for --dtmf-log-ng-tcp. Returns how many clients got it.
   */
  notify(dict: BDict): number {
    const body = encode(dict);
    let n = 0;
    for (const c of this.connections) {
      c.write(Buffer.from(randomBytes(8).toString('hex')), body);
      n++;
    }
    return n;
  }

  /** Number of open TCP control connections. */
  get tcpConnections(): number {
    return this.connections.size;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const s of this.udpSockets) waits.push(new Promise((res) => s.close(() => res())));
    for (const srv of this.tcpServers) waits.push(new Promise((res) => srv.close(() => res())));
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    this.udpSockets.length = 0;
    this.tcpServers.length = 0;
    this.pending.clear();
    this.cache.clear();
    this.closing = Promise.all(waits).then(() => undefined);
    return this.closing;
  }

  private async resolve(ep: NgEndpoint): Promise<string> {
    if (ep.address === '' || net.isIP(ep.address)) return ep.address;
    return (await lookup(ep.address)).address;
  }

  private async openUdp(ep: NgEndpoint): Promise<void> {
    const address = await this.resolve(ep);
    // An explicit "::" is IPv6 only, so that 0.0.0.0 on the same port (what a bare
    // port means, as in the reference) can be bound beside it.
    const bind = (type: 'udp4' | 'udp6', host: string, ipv6Only = false): Promise<dgram.Socket> =>
      new Promise((resolve, reject) => {
        const sock = dgram.createSocket({ type, ipv6Only, lookup: literalLookup });
        const onError = (e: Error): void => {
          sock.close();
          reject(e);
        };
        sock.once('error', onError);
        sock.bind({ address: host, port: ep.port }, () => {
          sock.off('error', onError);
          resolve(sock);
        });
      });
    let sock: dgram.Socket;
    if (address === '') {
      try {
        sock = await bind('udp6', '::');
      } catch {
        sock = await bind('udp4', '0.0.0.0');
      }
    } else {
      sock = await bind(net.isIPv6(address) ? 'udp6' : 'udp4', address, address === '::');
    }
    sock.on('error', (e) => log.error(`Control UDP socket error: ${e.message}`));
    sock.on('message', (msg, rinfo) => this.onDatagram(sock, msg, rinfo));
    this.udpSockets.push(sock);
    const a = sock.address();
    log.info(`Listening for ng commands on UDP ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
  }

  private async openTcp(ep: NgEndpoint): Promise<void> {
    const address = await this.resolve(ep);
    const srv = net.createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: address === '' ? undefined : address, port: ep.port, ipv6Only: address === '::' }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (e) => log.error(`Control TCP listener error: ${e.message}`));
    this.tcpServers.push(srv);
    const a = srv.address() as net.AddressInfo;
    log.info(`Listening for ng commands on TCP ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn = new NgTcpConnection(this, socket, this.maxTcpBuffer);
    this.connections.add(conn);
    log.info(`New TCP control ng connection from ${describe(conn.remote)}`);
    socket.on('close', () => {
      this.connections.delete(conn);
      log.info(`TCP control ng connection from ${describe(conn.remote)} is closing`);
    });
  }

  private onDatagram(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const remote = remoteOf(rinfo.address, rinfo.port, rinfo.family);
    const sp = msg.indexOf(C_SPACE);
    if (sp <= 0) {
      log.warn(`Received invalid NG data (no cookie) from ${describe(remote)}`);
      this.stats.dropped++;
      return;
    }
    const cookie = msg.subarray(0, sp);
    const body = msg.subarray(sp + 1);
    this.respond(cookie, body, remote, 'udp', (reply) => {
      if (this.closed) return;
      sock.send([cookie, SP, reply], rinfo.port, rinfo.address, (e) => {
        if (e) log.warn(`Failed to send ng reply to ${describe(remote)}: ${e.message}`);
      });
    });
  }

  /**
   * Answers one message: from the retransmission cache, by waiting for the
   * identical request still in progress, or by running the handler.
   */
  respond(cookie: Buffer, body: Buffer, remote: NgContext['remote'], transport: 'udp' | 'tcp',
    send: (reply: Buffer) => void): void {
    const cookieStr = cookie.toString('latin1');
    const key = `${remote.address} ${cookieStr}`;
    const deliver = (reply: Buffer): void => {
      if (this.closed) return;
      try {
        send(reply);
      } catch (e) {
        log.warn(`Failed to send ng reply to ${describe(remote)}: ${(e as Error).message}`);
      }
    };
    const cached = this.cache.get(key);
    if (cached) {
      log.info(`Detected command from ${describe(remote)} as a duplicate`);
      this.stats.duplicates++;
      deliver(cached);
      return;
    }
    const inFlight = this.pending.get(key);
    if (inFlight) {
      log.info(`Detected command from ${describe(remote)} as a duplicate`);
      this.stats.duplicates++;
      void inFlight.then(deliver);
      return;
    }
    this.stats.requests++;
    const out = this.process(body, { transport, remote, json: false, cookie: cookieStr });
    if (!(out instanceof Promise)) {
      // Answered at once (the daemon's handler is synchronous): nothing was in flight.
      if (!this.closed) this.cache.set(key, out);
      deliver(out);
      return;
    }
    const work = out.then((reply) => {
      if (this.pending.get(key) === work) this.pending.delete(key);
      if (!this.closed) this.cache.set(key, reply);
      return reply;
    });
    this.pending.set(key, work);
    void work.then(deliver);
  }

  /**
   * Decodes a message, runs the handler and encodes its reply. Never throws or
   * rejects: every failure becomes an error reply. Returns the reply itself
   * when the handler answers synchronously, sparing the promise round trips.
   */
  private process(body: Buffer, ctx: NgContext): Buffer | Promise<Buffer> {
    let dict: BDict;
    try {
      if (body.length === 0) throw new NgRequestError(NG_REASONS.noPayload);
      if (body[0] === C_D) {
        try {
          dict = decodePrefix(body, 0).value as BDict;
        } catch {
          throw new NgRequestError(NG_REASONS.badBencode);
        }
      } else if (body[0] === C_BRACE) {
        ctx.json = true;
        dict = parseJsonBody(body);
      } else {
        throw new NgRequestError(NG_REASONS.badFormat);
      }
      if (typeof dict.command !== 'string') throw new NgRequestError(NG_REASONS.noCommand);
    } catch (e) {
      const reason = e instanceof NgError ? e.ngReason : NG_REASONS.internal;
      log.warn(`Protocol error in packet from ${describe(ctx.remote)}: ${reason}`);
      this.stats.errors++;
      return errorReply(reason, ctx.json);
    }

    const command = dict.command as string;
    // These two lines are built only when they will be written: under load
    // their formatting costs more than many a command.
    const verbose = log.isEnabled(LOG_INFO);
    if (verbose) log.info(`Received command '${command}' from ${describe(ctx.remote)}`);
    const started = verbose ? process.hrtime.bigint() : 0n;
    let result: Promise<BDict> | BDict;
    try {
      result = this.handler(dict, ctx);
    } catch (e) {
      return this.handlerFailed(e, command, ctx);
    }
    const finish = (reply: BDict): Buffer => this.finish(reply, command, ctx, started);
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      return Promise.resolve(result).then(finish, (e: unknown) => this.handlerFailed(e, command, ctx));
    }
    return finish(result as BDict);
  }

  // Checks and encodes a handler's reply; `started` is 0 when info lines are off.
  private finish(reply: BDict, command: string, ctx: NgContext, started: bigint): Buffer {
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
      return this.handlerFailed(new Error(`handler returned ${Array.isArray(reply) ? 'a list' : typeof reply}`), command, ctx);
    }
    if (reply.result === undefined) reply = { ...reply, result: 'ok' };
    if (reply.result === 'error') this.stats.errors++;
    if (started !== 0n) {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      log.info(`Replying to '${command}' from ${describe(ctx.remote)} (elapsed time ${elapsed.toFixed(6)} sec)`);
    }
    try {
      return encodeReply(reply, ctx.json);
    } catch (e) {
      log.error(`Cannot encode the reply to '${command}': ${(e as Error).message}`);
      this.stats.errors++;
      return errorReply(NG_REASONS.internal, ctx.json);
    }
  }

  private handlerFailed(e: unknown, command: string, ctx: NgContext): Buffer {
    const reason = (e as { ngReason?: unknown } | null)?.ngReason;
    const text = typeof reason === 'string' ? reason : (e as Error)?.message ?? String(e);
    log.warn(`Protocol error in packet from ${describe(ctx.remote)}: ${text}`);
    if (typeof reason !== 'string') log.debug(`Handler failure for '${command}': ${(e as Error)?.stack ?? text}`);
    this.stats.errors++;
    return errorReply(text, ctx.json);
  }
}
