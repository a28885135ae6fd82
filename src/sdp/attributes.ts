// Typed views of SDP lines: generic a= attribute access plus one parser and
// one formatter per line kind the media proxy reads or rewrites.
//
// Every parser takes the text after "name:" (for c= and o= the whole value)
// and returns null when the text is malformed; none of them throws. Every
// formatter returns that same text, so `attributeLine(name, formatX(x))` makes
// the line back. A malformed attribute is thereby ignored rather than fatal,
// which is what the reference does (it logs and skips it).

import type { SdpLine } from './sdp';

// ---------------------------------------------------------------------------
// Generic attribute access
// ---------------------------------------------------------------------------

export interface Attribute {
  name: string;
  /** Text after the first ':'; null for a property attribute such as a=rtcp-mux. */
  value: string | null;
}

/** Splits the value of an a= line at its first ':'. */
export function splitAttribute(lineValue: string): Attribute {
  const i = lineValue.indexOf(':');
  if (i < 0) return { name: lineValue, value: null };
  return { name: lineValue.slice(0, i), value: lineValue.slice(i + 1) };
}

/** Builds an a= line; without a value it is a property attribute. */
export function attributeLine(name: string, value?: string | null): SdpLine {
  return { type: 'a', value: value === undefined || value === null ? name : `${name}:${value}` };
}

function attributeNameIs(line: SdpLine, name: string): boolean {
  if (line.type !== 'a') return false;
  const v = line.value;
  return v.startsWith(name) && (v.length === name.length || v[name.length] === ':');
}

/** Values of every a=name line, in order ('' for a property attribute). Names are case-sensitive. */
export function getAttributes(lines: readonly SdpLine[], name: string): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (attributeNameIs(l, name)) out.push(l.value.length > name.length ? l.value.slice(name.length + 1) : '');
  }
  return out;
}

/** Value of the first a=name line ('' for a property attribute), or undefined. */
export function getAttribute(lines: readonly SdpLine[], name: string): string | undefined {
  for (const l of lines) {
    if (attributeNameIs(l, name)) return l.value.length > name.length ? l.value.slice(name.length + 1) : '';
  }
  return undefined;
}

export function hasAttribute(lines: readonly SdpLine[], name: string): boolean {
  return lines.some((l) => attributeNameIs(l, name));
}

export type AttributePredicate = (attr: Attribute, line: SdpLine) => boolean;

/**
 * Removes, in place, the a= lines that match: either every line of one
 * attribute name, or those a predicate selects. Returns the removed lines.
 */
export function removeAttributes(lines: SdpLine[], match: string | AttributePredicate): SdpLine[] {
  const removed: SdpLine[] = [];
  let w = 0;
  for (let r = 0; r < lines.length; r++) {
    const l = lines[r];
    const hit =
      l.type === 'a' &&
      (typeof match === 'string' ? attributeNameIs(l, match) : match(splitAttribute(l.value), l));
    if (hit) removed.push(l);
    else lines[w++] = l;
  }
  lines.length = w;
  return removed;
}

/** Parses every a=name line with `parse`, skipping the malformed ones. */
export function getParsedAttributes<T>(
  lines: readonly SdpLine[],
  name: string,
  parse: (value: string) => T | null,
): T[] {
  const out: T[] = [];
  for (const v of getAttributes(lines, name)) {
    const p = parse(v);
    if (p !== null) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Small lexical helpers
// ---------------------------------------------------------------------------

/** A plain decimal integer (digits only, at most 16) no larger than `max`, else null. */
export function parseUint(s: string, max: number): number | null {
  const len = s.length;
  if (len === 0 || len > 16) return null;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  // Past 2^53 the running sum may be off by one; let the number parser round it.
  if (n > Number.MAX_SAFE_INTEGER) n = Number(s);
  return n <= max ? n : null;
}

function tokens(s: string): string[] {
  return s.split(' ').filter((t) => t.length > 0);
}

const IPV4 = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function isIPv6(s: string): boolean {
  if (s.length > 2 && s[0] === '[' && s[s.length - 1] === ']') s = s.slice(1, -1);
  if (s.length < 2 || s.length > 45) return false;
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return false;
  const left = gap >= 0 ? s.slice(0, gap) : s;
  const right = gap >= 0 ? s.slice(gap + 2) : '';
  const groups = [...(left ? left.split(':') : []), ...(right ? right.split(':') : [])];
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (HEX_GROUP.test(g)) count += 1;
    else if (i === groups.length - 1 && IPV4.test(g)) count += 2;
    else return false;
  }
  return gap >= 0 ? count <= 7 : count === 8;
}

/**
 * Whether a string is a literal address of the family, with the reference's
 * strictness: dotted quads without leading zeros; IPv6 optionally in
 * brackets, with no zone index.
 */
export function isIpAddress(address: string, family: 4 | 6): boolean {
  return family === 4 ? IPV4.test(address) : isIPv6(address);
}

// ---------------------------------------------------------------------------
// c= and o=
// ---------------------------------------------------------------------------

export type AddrType = 'IP4' | 'IP6';

export interface Connection {
  netType: string;
  addrType: AddrType;
  address: string;
  /** IPv4 multicast time-to-live ("224.2.1.1/127"). */
  ttl?: number;
  /** Number of multicast addresses ("224.2.1.1/127/3", "ff15::101/3"). */
  count?: number;
}

/**
 * Parses a c= value. The address may be a hostname (RFC 4566 allows it); use
 * isIpAddress() where a literal is required. Multicast suffixes are read into
 * ttl and count.
 */
export function parseConnection(value: string): Connection | null {
  const t = tokens(value);
  if (t.length < 3) return null;
  const [netType, addrType, spec] = t;
  if (addrType !== 'IP4' && addrType !== 'IP6') return null;
  const parts = spec.split('/');
  if (parts[0].length === 0) return null;
  const c: Connection = { netType, addrType, address: parts[0] };
  if (addrType === 'IP4') {
    if (parts.length > 3) return null;
    if (parts.length >= 2) {
      const ttl = parseUint(parts[1], 255);
      if (ttl === null) return null;
      c.ttl = ttl;
    }
    if (parts.length === 3) {
      const count = parseUint(parts[2], 0xffff);
      if (count === null || count === 0) return null;
      c.count = count;
    }
  } else {
    if (parts.length > 2) return null;
    if (parts.length === 2) {
      const count = parseUint(parts[1], 0xffff);
      if (count === null || count === 0) return null;
      c.count = count;
    }
  }
  return c;
}

export function formatConnection(c: Connection): string {
  let spec = c.address;
  if (c.addrType === 'IP4' && c.ttl !== undefined) spec += `/${c.ttl}`;
  if (c.count !== undefined && (c.addrType === 'IP6' || c.ttl !== undefined)) spec += `/${c.count}`;
  return `${c.netType} ${c.addrType} ${spec}`;
}

export interface Origin {
  username: string;
  /** Kept as text: session ids and versions often exceed 2^53. */
  sessId: string;
  sessVersion: string;
  netType: string;
  /** Kept as text: the reference accepts an o= line whatever its address. */
  addrType: string;
  address: string;
}

export function parseOrigin(value: string): Origin | null {
  const t = tokens(value);
  if (t.length < 6) return null;
  const [username, sessId, sessVersion, netType, addrType, address] = t;
  return { username, sessId, sessVersion, netType, addrType, address };
}

export function formatOrigin(o: Origin): string {
  return `${o.username} ${o.sessId} ${o.sessVersion} ${o.netType} ${o.addrType} ${o.address}`;
}

export interface Bandwidth {
  /** CT, AS, TIAS, RR, RS or an X- extension. */
  bwtype: string;
  bandwidth: number;
}

/** Parses a b= value such as "AS:64". */
export function parseBandwidth(value: string): Bandwidth | null {
  const i = value.indexOf(':');
  if (i <= 0) return null;
  const bandwidth = parseUint(value.slice(i + 1), Number.MAX_SAFE_INTEGER);
  if (bandwidth === null) return null;
  return { bwtype: value.slice(0, i), bandwidth };
}

export function formatBandwidth(b: Bandwidth): string {
  return `${b.bwtype}:${b.bandwidth}`;
}

// ---------------------------------------------------------------------------
// Codecs: a=rtpmap, a=fmtp, static payload types
// ---------------------------------------------------------------------------

export interface Rtpmap {
  pt: number;
  encoding: string;
  clockRate: number;
  /** Encoding parameters (audio channels); absent means the default of one. */
  channels?: number;
}

/** Parses "96 opus/48000/2". RTP payload types are seven bits, so pt is 0..127. */
export function parseRtpmap(value: string): Rtpmap | null {
  const sp = value.indexOf(' ');
  if (sp < 0) return null;
  const pt = parseUint(value.slice(0, sp), 127);
  if (pt === null) return null;
  // "encoding/rate" or "encoding/rate/channels", split by hand: this runs for
  // every rtpmap line of every offer and answer.
  const enc = value.slice(sp + 1).trim();
  const s1 = enc.indexOf('/');
  if (s1 <= 0) return null;
  const s2 = enc.indexOf('/', s1 + 1);
  if (s2 >= 0 && enc.indexOf('/', s2 + 1) >= 0) return null;
  const clockRate = parseUint(enc.slice(s1 + 1, s2 < 0 ? enc.length : s2), 0xffffffff);
  if (clockRate === null || clockRate === 0) return null;
  const r: Rtpmap = { pt, encoding: enc.slice(0, s1), clockRate };
  if (s2 >= 0) {
    const channels = parseUint(enc.slice(s2 + 1), 255);
    if (channels === null || channels === 0) return null;
    r.channels = channels;
  }
  return r;
}

export function formatRtpmap(r: Rtpmap): string {
  return `${r.pt} ${r.encoding}/${r.clockRate}${r.channels !== undefined ? `/${r.channels}` : ''}`;
}

export interface Fmtp {
  pt: number;
  /** The format parameters verbatim, e.g. "minptime=10;useinbandfec=1". */
  params: string;
}

export function parseFmtp(value: string): Fmtp | null {
  const sp = value.indexOf(' ');
  const pt = parseUint(sp < 0 ? value : value.slice(0, sp), 127);
  if (pt === null) return null;
  return { pt, params: sp < 0 ? '' : value.slice(sp + 1) };
}

export function formatFmtp(f: Fmtp): string {
  return `${f.pt} ${f.params}`;
}

export interface FmtpParameter {
  name: string;
  /** Null for a parameter without '=', such as telephone-event's "0-16". */
  value: string | null;
}

/** Splits a format parameter string at ';' and each part at its first '='. */
export function parseFmtpParameters(params: string): FmtpParameter[] {
  const out: FmtpParameter[] = [];
  for (const raw of params.split(';')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) out.push({ name: part, value: null });
    else out.push({ name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() });
  }
  return out;
}

export function formatFmtpParameters(params: readonly FmtpParameter[]): string {
  return params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`)).join(';');
}

export interface StaticPayloadType {
  pt: number;
  encoding: string;
  clockRate: number;
  channels?: number;
  media: 'audio' | 'video' | 'audio/video';
}

/** The statically assigned payload types of RFC 3551 (tables 4 and 5). */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, StaticPayloadType> = new Map(
  (
    [
      [0, 'PCMU', 8000, 1, 'audio'],
      [3, 'GSM', 8000, 1, 'audio'],
      [4, 'G723', 8000, 1, 'audio'],
      [5, 'DVI4', 8000, 1, 'audio'],
      [6, 'DVI4', 16000, 1, 'audio'],
      [7, 'LPC', 8000, 1, 'audio'],
      [8, 'PCMA', 8000, 1, 'audio'],
      [9, 'G722', 8000, 1, 'audio'],
      [10, 'L16', 44100, 2, 'audio'],
      [11, 'L16', 44100, 1, 'audio'],
      [12, 'QCELP', 8000, 1, 'audio'],
      [13, 'CN', 8000, 1, 'audio'],
      [14, 'MPA', 90000, undefined, 'audio'],
      [15, 'G728', 8000, 1, 'audio'],
      [16, 'DVI4', 11025, 1, 'audio'],
      [17, 'DVI4', 22050, 1, 'audio'],
      [18, 'G729', 8000, 1, 'audio'],
      [25, 'CelB', 90000, undefined, 'video'],
      [26, 'JPEG', 90000, undefined, 'video'],
      [28, 'nv', 90000, undefined, 'video'],
      [31, 'H261', 90000, undefined, 'video'],
      [32, 'MPV', 90000, undefined, 'video'],
      [33, 'MP2T', 90000, undefined, 'audio/video'],
      [34, 'H263', 90000, undefined, 'video'],
    ] as const
  ).map(([pt, encoding, clockRate, channels, media]) => {
    const e: StaticPayloadType = { pt, encoding, clockRate, media };
    if (channels !== undefined) e.channels = channels;
    return [pt, e] as [number, StaticPayloadType];
  }),
);

export function staticPayloadType(pt: number): StaticPayloadType | undefined {
  return STATIC_PAYLOAD_TYPES.get(pt);
}

/** The well-formed a=rtpmap lines of a media section by payload type; the first line of a type wins. */
export function rtpmapsByPayloadType(lines: readonly SdpLine[]): Map<number, Rtpmap> {
  const out = new Map<number, Rtpmap>();
  for (const r of getParsedAttributes(lines, 'rtpmap', parseRtpmap)) if (!out.has(r.pt)) out.set(r.pt, r);
  return out;
}

/**
 * What a payload type of a media section means: its a=rtpmap if it has one,
 * else the RFC 3551 static assignment, else undefined.
 */
export function resolvePayloadType(lines: readonly SdpLine[], pt: number): Rtpmap | undefined {
  return payloadTypeFrom(rtpmapsByPayloadType(lines), pt);
}

/** As resolvePayloadType, with the section's a=rtpmap lines already read (rtpmapsByPayloadType). */
export function payloadTypeFrom(rtpmaps: ReadonlyMap<number, Rtpmap>, pt: number): Rtpmap | undefined {
  const mapped = rtpmaps.get(pt);
  if (mapped) return mapped;
  const s = STATIC_PAYLOAD_TYPES.get(pt);
  if (!s) return undefined;
  const r: Rtpmap = { pt, encoding: s.encoding, clockRate: s.clockRate };
  if (s.channels !== undefined) r.channels = s.channels;
  return r;
}

// ---------------------------------------------------------------------------
// Transport: a=rtcp, a=rtcp-mux, a=candidate, ICE credentials
// ---------------------------------------------------------------------------

export interface Rtcp {
  port: number;
  /** Present when the attribute names an address (RFC 3605). */
  connection?: Connection;
}

export function parseRtcp(value: string): Rtcp | null {
  const t = tokens(value);
  if (t.length === 0) return null;
  const port = parseUint(t[0], 0xffff);
  if (port === null || port === 0) return null;
  if (t.length === 1) return { port };
  // Like the reference, an address that is not an IP literal voids the attribute.
  const connection = t.length >= 4 ? parseConnection(t.slice(1, 4).join(' ')) : null;
  if (!connection || !isIpAddress(connection.address, connection.addrType === 'IP4' ? 4 : 6)) return null;
  return { port, connection };
}

export function formatRtcp(r: Rtcp): string {
  return r.connection ? `${r.port} ${formatConnection(r.connection)}` : `${r.port}`;
}

export interface CandidateExtension {
  name: string;
  value: string;
}

export interface Candidate {
  foundation: string;
  component: number;
  /** As written: "UDP", "udp", "TCP"… */
  transport: string;
  priority: number;
  /** An IP literal, or a hostname (e.g. an mDNS ".local" name). */
  address: string;
  port: number;
  /** host, srflx, prflx, relay (other values are kept as written). */
  type: string;
  relAddr?: string;
  relPort?: number;
  /** Extension attributes after the type, in order (generation, tcptype, network-id…). */
  extensions: CandidateExtension[];
}

/** Parses the RFC 5245 (section 15.1) candidate syntax. */
export function parseCandidate(value: string): Candidate | null {
  const t = tokens(value);
  if (t.length < 8 || t[6] !== 'typ') return null;
  const [foundation, componentStr, transport, priorityStr, address, portStr, , type] = t;
  const component = parseUint(componentStr, 256);
  const priority = parseUint(priorityStr, 0xffffffff);
  const port = parseUint(portStr, 0xffff);
  if (component === null || component === 0 || priority === null || port === null) return null;
  const c: Candidate = { foundation, component, transport, priority, address, port, type, extensions: [] };
  const rest = t.slice(8);
  if (rest.length % 2 !== 0) return null;
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i];
    const v = rest[i + 1];
    if (name === 'raddr' && c.relAddr === undefined) c.relAddr = v;
    else if (name === 'rport' && c.relPort === undefined) {
      const rp = parseUint(v, 0xffff);
      if (rp === null) return null;
      c.relPort = rp;
    } else c.extensions.push({ name, value: v });
  }
  return c;
}

export function formatCandidate(c: Candidate): string {
  let s = `${c.foundation} ${c.component} ${c.transport} ${c.priority} ${c.address} ${c.port} typ ${c.type}`;
  if (c.relAddr !== undefined) s += ` raddr ${c.relAddr}`;
  if (c.relPort !== undefined) s += ` rport ${c.relPort}`;
  for (const e of c.extensions) s += ` ${e.name} ${e.value}`;
  return s;
}

/** Splits a=ice-options ("trickle renomination") into its tokens. */
export function parseIceOptions(value: string): string[] {
  return tokens(value);
}

export function formatIceOptions(options: readonly string[]): string {
  return options.join(' ');
}

/** ICE credentials of a section, falling back to the session level as RFC 8839 allows. */
export function getIceCredentials(
  mediaLines: readonly SdpLine[],
  sessionLines: readonly SdpLine[] = [],
): { ufrag: string; pwd: string } | null {
  const ufrag = getAttribute(mediaLines, 'ice-ufrag') ?? getAttribute(sessionLines, 'ice-ufrag');
  const pwd = getAttribute(mediaLines, 'ice-pwd') ?? getAttribute(sessionLines, 'ice-pwd');
  if (!ufrag || !pwd) return null;
  return { ufrag, pwd };
}

// ---------------------------------------------------------------------------
// Security: a=crypto (SDES), a=fingerprint and a=setup (DTLS)
// ---------------------------------------------------------------------------

export interface CryptoKeyParam {
  /** Key method, "inline" in practice. */
  method: string;
  /** Base64 of master key and salt concatenated. */
  keySalt: string;
  /** As written: "2^31" or a decimal number. */
  lifetime?: string;
  /** As written: "<value>:<length>". */
  mki?: string;
}

export interface Crypto {
  tag: number;
  suite: string;
  keyParams: CryptoKeyParam[];
  /** Session parameters such as UNENCRYPTED_SRTCP or KDR=1, in order. */
  sessionParams: string[];
}

function parseCryptoKeyParam(s: string): CryptoKeyParam | null {
  const colon = s.indexOf(':');
  if (colon <= 0) return null;
  const parts = s.slice(colon + 1).split('|');
  if (parts[0].length === 0 || parts.length > 3) return null;
  const k: CryptoKeyParam = { method: s.slice(0, colon), keySalt: parts[0] };
  if (parts.length === 3) {
    k.lifetime = parts[1];
    k.mki = parts[2];
  } else if (parts.length === 2) {
    if (parts[1].includes(':')) k.mki = parts[1];
    else k.lifetime = parts[1];
  }
  if (k.lifetime !== undefined && !/^(?:2\^)?[0-9]{1,20}$/.test(k.lifetime)) return null;
  if (k.mki !== undefined && !/^[0-9]{1,10}:[0-9]{1,3}$/.test(k.mki)) return null;
  return k;
}

/** Parses RFC 4568 "1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^31|1:4 UNENCRYPTED_SRTCP". */
export function parseCrypto(value: string): Crypto | null {
  const t = tokens(value);
  if (t.length < 3) return null;
  const tag = parseUint(t[0], 999999999);
  if (tag === null || t[1].length === 0) return null;
  const keyParams: CryptoKeyParam[] = [];
  for (const kp of t[2].split(';')) {
    const k = parseCryptoKeyParam(kp);
    if (!k) return null;
    keyParams.push(k);
  }
  return { tag, suite: t[1], keyParams, sessionParams: t.slice(3) };
}

export function formatCrypto(c: Crypto): string {
  const keys = c.keyParams
    .map((k) => {
      let s = `${k.method}:${k.keySalt}`;
      if (k.lifetime !== undefined) s += `|${k.lifetime}`;
      if (k.mki !== undefined) s += `|${k.mki}`;
      return s;
    })
    .join(';');
  return [String(c.tag), c.suite, keys, ...c.sessionParams].join(' ');
}

/** Digest lengths in bytes of the hash functions DTLS fingerprints use (RFC 8122). */
export const FINGERPRINT_HASH_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['md2', 16],
  ['md5', 16],
  ['sha-1', 20],
  ['sha-224', 28],
  ['sha-256', 32],
  ['sha-384', 48],
  ['sha-512', 64],
]);

export interface Fingerprint {
  /** As written, e.g. "sha-256" or "SHA-256". */
  hashFunc: string;
  /** Colon-separated hex bytes as written. */
  fingerprint: string;
}

/** Parses "sha-256 AB:CD:…"; the hash function must be known and the digest its length. */
export function parseFingerprint(value: string): Fingerprint | null {
  const t = tokens(value);
  if (t.length !== 2) return null;
  const len = FINGERPRINT_HASH_LENGTHS.get(t[0].toLowerCase());
  if (len === undefined) return null;
  if (t[1].length !== len * 3 - 1 || !/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$/.test(t[1])) return null;
  return { hashFunc: t[0], fingerprint: t[1] };
}

export function formatFingerprint(f: Fingerprint): string {
  return `${f.hashFunc} ${f.fingerprint}`;
}

/** The digest bytes of a parsed fingerprint. */
export function fingerprintBytes(f: Fingerprint): Uint8Array {
  const hex = f.fingerprint.split(':');
  const out = new Uint8Array(hex.length);
  hex.forEach((h, i) => {
    out[i] = parseInt(h, 16);
  });
  return out;
}

export type SetupRole = 'actpass' | 'active' | 'passive' | 'holdconn';
const SETUP_ROLES: ReadonlySet<string> = new Set(['actpass', 'active', 'passive', 'holdconn']);

export function parseSetup(value: string): SetupRole | null {
  return SETUP_ROLES.has(value) ? (value as SetupRole) : null;
}

// ---------------------------------------------------------------------------
// Session structure: a=mid, a=group, direction, ptime
// ---------------------------------------------------------------------------

export interface Group {
  /** BUNDLE, LS, FID… */
  semantics: string;
  mids: string[];
}

export function parseGroup(value: string): Group | null {
  const t = tokens(value);
  if (t.length === 0) return null;
  return { semantics: t[0], mids: t.slice(1) };
}

export function formatGroup(g: Group): string {
  return [g.semantics, ...g.mids].join(' ');
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export function isDirection(name: string): name is Direction {
  return (DIRECTIONS as readonly string[]).includes(name);
}

/** The first direction attribute among the lines, or undefined (meaning sendrecv by default). */
export function getDirection(lines: readonly SdpLine[]): Direction | undefined {
  for (const l of lines) if (l.type === 'a' && isDirection(l.value)) return l.value;
  return undefined;
}

/**
 * Sets the direction attribute in place: the first existing one is replaced
 * (keeping its position), any others are removed, and if there was none the
 * attribute is appended.
 */
export function setDirection(lines: SdpLine[], direction: Direction): void {
  let done = false;
  removeAttributes(lines, (a, line) => {
    if (a.value !== null || !isDirection(a.name)) return false;
    if (done) return true;
    line.value = direction;
    done = true;
    return false;
  });
  if (!done) lines.push(attributeLine(direction));
}

/** Parses a=ptime or a=maxptime: milliseconds, fractions allowed ("0.125"). */
export function parsePtime(value: string): number | null {
  const v = value.trim();
  if (!/^[0-9]{1,9}(?:\.[0-9]{1,9})?$/.test(v)) return null;
  const n = Number(v);
  return n > 0 ? n : null;
}

// ---------------------------------------------------------------------------
// RTP details: a=ssrc, a=ssrc-group, a=extmap, a=rtcp-fb
// ---------------------------------------------------------------------------

export interface Ssrc {
  id: number;
  /** cname, msid, label, mslabel… */
  attribute: string;
  /** Text after the attribute's ':' (may contain spaces); absent when there is none. */
  value?: string;
}

/** Parses RFC 5576 "3735928559 cname:user@host". */
export function parseSsrc(value: string): Ssrc | null {
  const sp = value.indexOf(' ');
  if (sp < 0) return null;
  const id = parseUint(value.slice(0, sp), 0xffffffff);
  if (id === null) return null;
  const rest = value.slice(sp + 1);
  const colon = rest.indexOf(':');
  const attribute = colon < 0 ? rest : rest.slice(0, colon);
  if (attribute.length === 0 || attribute.includes(' ')) return null;
  const s: Ssrc = { id, attribute };
  if (colon >= 0) s.value = rest.slice(colon + 1);
  return s;
}

export function formatSsrc(s: Ssrc): string {
  return `${s.id} ${s.attribute}${s.value !== undefined ? `:${s.value}` : ''}`;
}

export interface SsrcGroup {
  /** FID, SIM, FEC-FR… */
  semantics: string;
  ssrcs: number[];
}

export function parseSsrcGroup(value: string): SsrcGroup | null {
  const t = tokens(value);
  if (t.length < 1) return null;
  const ssrcs: number[] = [];
  for (const s of t.slice(1)) {
    const n = parseUint(s, 0xffffffff);
    if (n === null) return null;
    ssrcs.push(n);
  }
  return { semantics: t[0], ssrcs };
}

export function formatSsrcGroup(g: SsrcGroup): string {
  return [g.semantics, ...g.ssrcs.map(String)].join(' ');
}

export interface Extmap {
  id: number;
  direction?: Direction;
  uri: string;
  /** Extension attributes after the URI, verbatim. */
  attributes?: string;
}

/** Parses RFC 8285 "1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on". */
export function parseExtmap(value: string): Extmap | null {
  const t = tokens(value);
  if (t.length < 2) return null;
  const [idPart, dirPart] = t[0].split('/', 2) as [string, string | undefined];
  const id = parseUint(idPart, 0xffff);
  if (id === null || id === 0) return null;
  const e: Extmap = { id, uri: t[1] };
  if (dirPart !== undefined) {
    if (!isDirection(dirPart) || t[0].split('/').length !== 2) return null;
    e.direction = dirPart;
  }
  if (t.length > 2) e.attributes = t.slice(2).join(' ');
  return e;
}

export function formatExtmap(e: Extmap): string {
  const id = e.direction ? `${e.id}/${e.direction}` : `${e.id}`;
  return `${id} ${e.uri}${e.attributes !== undefined ? ` ${e.attributes}` : ''}`;
}

export interface RtcpFb {
  /** A payload type, or '*' for all of them. */
  pt: number | '*';
  /** ack, nack, trr-int, ccm, goog-remb, transport-cc… */
  type: string;
  /** The rest, e.g. "pli" for "nack pli"; absent when there is none. */
  param?: string;
}

/** Parses RFC 4585 "96 nack pli" or "* trr-int 100". */
export function parseRtcpFb(value: string): RtcpFb | null {
  const t = tokens(value);
  if (t.length < 2) return null;
  let pt: number | '*';
  if (t[0] === '*') pt = '*';
  else {
    const n = parseUint(t[0], 127);
    if (n === null) return null;
    pt = n;
  }
  const fb: RtcpFb = { pt, type: t[1] };
  if (t.length > 2) fb.param = t.slice(2).join(' ');
  return fb;
}

export function formatRtcpFb(fb: RtcpFb): string {
  return `${fb.pt} ${fb.type}${fb.param !== undefined ? ` ${fb.param}` : ''}`;
}
