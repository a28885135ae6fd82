// A minimal ICE agent's STUN codec for tests (RFC 5389, RFC 8445): builds binding
// requests with USERNAME, MESSAGE-INTEGRITY and FINGERPRINT computed here, and
// reads the answers back, checking their integrity and fingerprint. Written
// independently of native/stun.cc so the tests do not trust the code they test.

import { createHmac, randomBytes } from 'crypto';

export const STUN_COOKIE = 0x2112a442;

export const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const;

export const BINDING_REQUEST = 0x0001;
export const BINDING_INDICATION = 0x0011;
export const BINDING_SUCCESS = 0x0101;
export const BINDING_ERROR = 0x0111;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** RFC 5389 FINGERPRINT value of the bytes before the attribute. */
export function fingerprintOf(b: Buffer): number {
  return (crc32(b) ^ 0x5354554e) >>> 0;
}

function attr(type: number, value: Buffer): Buffer {
  const padded = Math.ceil(value.length / 4) * 4;
  const out = Buffer.alloc(4 + padded);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function withLength(header: Buffer, bodyLen: number): Buffer {
  const h = Buffer.from(header);
  h.writeUInt16BE(bodyLen, 2);
  return h;
}

export interface BindingRequestOptions {
  /** "<their ufrag>:<our ufrag>"; omitted when undefined. */
  username?: string;
  /** Key of MESSAGE-INTEGRITY; no MESSAGE-INTEGRITY when null. */
  password: string | null;
  useCandidate?: boolean;
  priority?: number;
  /** Adds ICE-CONTROLLING (true) or ICE-CONTROLLED (false) with a random tie-breaker. */
  controlling?: boolean;
  /** false leaves FINGERPRINT out; 'bad' sends a wrong one. */
  fingerprint?: boolean | 'bad';
  /** Attributes put before MESSAGE-INTEGRITY. */
  extra?: Array<{ type: number; value: Buffer }>;
  type?: number;
  transactionId?: Buffer;
}

/** A STUN binding request (or another message type) built the way an ICE agent builds it. */
export function buildBindingRequest(o: BindingRequestOptions): { packet: Buffer; transactionId: Buffer } {
  const transactionId = o.transactionId ?? randomBytes(12);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(o.type ?? BINDING_REQUEST, 0);
  header.writeUInt32BE(STUN_COOKIE, 4);
  transactionId.copy(header, 8);
  const attrs: Buffer[] = [];
  if (o.username !== undefined) attrs.push(attr(ATTR.USERNAME, Buffer.from(o.username, 'utf8')));
  if (o.priority !== undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32BE(o.priority >>> 0, 0);
    attrs.push(attr(ATTR.PRIORITY, v));
  }
  if (o.controlling !== undefined) attrs.push(attr(o.controlling ? ATTR.ICE_CONTROLLING : ATTR.ICE_CONTROLLED, randomBytes(8)));
  if (o.useCandidate) attrs.push(attr(ATTR.USE_CANDIDATE, Buffer.alloc(0)));
  for (const a of o.extra ?? []) attrs.push(attr(a.type, a.value));
  let body = Buffer.concat(attrs);
  if (o.password !== null) {
    const covered = Buffer.concat([withLength(header, body.length + 24), body]);
    const mac = createHmac('sha1', o.password).update(covered).digest();
    body = Buffer.concat([body, attr(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  const fp = o.fingerprint ?? true;
  if (fp !== false) {
    const covered = Buffer.concat([withLength(header, body.length + 8), body]);
    const v = Buffer.alloc(4);
    v.writeUInt32BE((fingerprintOf(covered) ^ (fp === 'bad' ? 1 : 0)) >>> 0, 0);
    body = Buffer.concat([body, attr(ATTR.FINGERPRINT, v)]);
  }
  return { packet: Buffer.concat([withLength(header, body.length), body]), transactionId };
}

export interface StunMessage {
  type: number;
  transactionId: Buffer;
  attrs: Array<{ type: number; value: Buffer; offset: number }>;
  raw: Buffer;
}

/** Parses a STUN message; null when the datagram is not one. */
export function parseStun(b: Buffer): StunMessage | null {
  if (b.length < 20 || (b[0] & 0xc0) !== 0 || b.readUInt32BE(4) !== STUN_COOKIE) return null;
  const len = b.readUInt16BE(2);
  if (20 + len > b.length) return null;
  const attrs: StunMessage['attrs'] = [];
  let off = 20;
  while (off + 4 <= 20 + len) {
    const type = b.readUInt16BE(off);
    const alen = b.readUInt16BE(off + 2);
    attrs.push({ type, value: Buffer.from(b.subarray(off + 4, off + 4 + alen)), offset: off });
    off += 4 + Math.ceil(alen / 4) * 4;
  }
  return { type: b.readUInt16BE(0), transactionId: Buffer.from(b.subarray(8, 20)), attrs, raw: b };
}

export function getAttr(m: StunMessage, type: number): Buffer | undefined {
  return m.attrs.find((a) => a.type === type)?.value;
}

/** True when the message's FINGERPRINT is present and right. */
export function fingerprintOk(m: StunMessage): boolean {
  const a = m.attrs.find((x) => x.type === ATTR.FINGERPRINT);
  if (!a) return false;
  const covered = withLength(m.raw.subarray(0, a.offset), a.offset - 20 + 8);
  return fingerprintOf(covered) === a.value.readUInt32BE(0);
}

/** True when the message's MESSAGE-INTEGRITY is present and right under `password`. */
export function integrityOk(m: StunMessage, password: string): boolean {
  const a = m.attrs.find((x) => x.type === ATTR.MESSAGE_INTEGRITY);
  if (!a) return false;
  const header = withLength(m.raw.subarray(0, 20), a.offset - 20 + 24);
  const covered = Buffer.concat([header, m.raw.subarray(20, a.offset)]);
  return createHmac('sha1', password).update(covered).digest().equals(a.value);
}

/** The ERROR-CODE of an error response (e.g. 401), or null. */
export function errorCode(m: StunMessage): number | null {
  const v = getAttr(m, ATTR.ERROR_CODE);
  if (!v || v.length < 4) return null;
  return (v[2] & 0x07) * 100 + v[3];
}

/** The address XOR-MAPPED-ADDRESS names, or null. */
export function xorMappedAddress(m: StunMessage): { family: 4 | 6; address: string; port: number } | null {
  const v = getAttr(m, ATTR.XOR_MAPPED_ADDRESS);
  if (!v || v.length < 8) return null;
  const port = v.readUInt16BE(2) ^ (STUN_COOKIE >>> 16);
  if (v[1] === 0x01) {
    const ip = (v.readUInt32BE(4) ^ STUN_COOKIE) >>> 0;
    return { family: 4, address: [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.'), port };
  }
  if (v[1] === 0x02 && v.length >= 20) {
    const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), m.transactionId]);
    const ip = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) ip[i] = v[4 + i] ^ mask[i];
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(ip.readUInt16BE(i).toString(16));
    return { family: 6, address: compressIPv6(groups), port };
  }
  return null;
}

function compressIPv6(groups: string[]): string {
  // Longest run of zero groups becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The ICE credentials and candidate ports an SDP body gives for its first m= line. */
export function iceFromSdp(sdp: string): { ufrag: string; pwd: string; rtpPort: number; rtcpPort: number | null } {
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(sdp)?.[1];
  const port = /m=\S+ (\d+) /.exec(sdp)?.[1];
  if (!ufrag || !pwd || !port) throw new Error(`no ICE credentials in SDP:\n${sdp}`);
  const rtcp = /a=candidate:\S+ 2 UDP \d+ \S+ (\d+) /.exec(sdp)?.[1];
  return { ufrag, pwd, rtpPort: Number(port), rtcpPort: rtcp ? Number(rtcp) : null };
}
