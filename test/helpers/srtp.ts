// An SRTP/SRTCP implementation for tests (RFC 3711), written from the RFC with
// node's crypto and independent of libsrtp, which the daemon uses: AES counter
// mode (AES-128 or AES-256) or the null cipher, HMAC-SHA1 tags of 80 or 32
// bits, the AES-CM key derivation of section 4.3 (key derivation rate 0) and
// the rollover counter of section 3.3.1; and AES-GCM (RFC 7714). Checked
// against the RFC 3711 appendix B vectors in test/unit/srtp.test.ts.

import * as crypto from 'crypto';

export interface SrtpSuiteSpec {
  name: string;
  /** Master key bytes (the master salt is 14 bytes). */
  keyBytes: number;
  /** SRTP authentication tag bytes; SRTCP always uses 10. */
  tagBytes: number;
  /** False for the NULL cipher. */
  encrypts: boolean;
  /** AES-GCM (RFC 7714): 12-byte salt, 16-byte tag, no HMAC. */
  aead?: boolean;
}

export const TEST_SUITES: Record<string, SrtpSuiteSpec> = {
  AES_CM_128_HMAC_SHA1_80: { name: 'AES_CM_128_HMAC_SHA1_80', keyBytes: 16, tagBytes: 10, encrypts: true },
  AES_CM_128_HMAC_SHA1_32: { name: 'AES_CM_128_HMAC_SHA1_32', keyBytes: 16, tagBytes: 4, encrypts: true },
  AES_256_CM_HMAC_SHA1_80: { name: 'AES_256_CM_HMAC_SHA1_80', keyBytes: 32, tagBytes: 10, encrypts: true },
  AES_256_CM_HMAC_SHA1_32: { name: 'AES_256_CM_HMAC_SHA1_32', keyBytes: 32, tagBytes: 4, encrypts: true },
  NULL_HMAC_SHA1_80: { name: 'NULL_HMAC_SHA1_80', keyBytes: 16, tagBytes: 10, encrypts: false },
  AEAD_AES_128_GCM: { name: 'AEAD_AES_128_GCM', keyBytes: 16, tagBytes: 16, encrypts: true, aead: true },
  AEAD_AES_256_GCM: { name: 'AEAD_AES_256_GCM', keyBytes: 32, tagBytes: 16, encrypts: true, aead: true },
};

function saltBytes(s: SrtpSuiteSpec): number {
  return s.aead ? 12 : 14;
}

const SALT_BYTES = 14;

function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = crypto.createCipheriv(key.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** The AES-CM PRF of RFC 3711 section 4.3.3: `length` bytes for `label` (kdr 0, so r = 0). */
export function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, SALT_BYTES);
  // key_id = label || r (48 bits of r, zero) is XORed into the low 56 bits of the salt.
  iv[7] ^= label;
  return aesCtr(masterKey, iv, Buffer.alloc(length));
}

/** The 128-bit AES-CM IV of RFC 3711 section 4.1.1: (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16). */
export function cmIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, SALT_BYTES);
  const s = Buffer.alloc(4);
  s.writeUInt32BE(ssrc >>> 0);
  for (let i = 0; i < 4; i++) iv[4 + i] ^= s[i];
  for (let i = 0; i < 6; i++) iv[13 - i] ^= Number((index >> BigInt(8 * i)) & 0xffn);
  return iv;
}

interface SessionKeys {
  enc: Buffer;
  auth: Buffer;
  salt: Buffer;
}

function sessionKeys(suite: SrtpSuiteSpec, master: Buffer, rtcp: boolean): SessionKeys {
  const mk = master.subarray(0, suite.keyBytes);
  // A 12-byte GCM master salt enters the same PRF padded with zeros (RFC 7714 section 11).
  const ms = Buffer.alloc(SALT_BYTES);
  master.copy(ms, 0, suite.keyBytes, suite.keyBytes + saltBytes(suite));
  const base = rtcp ? 3 : 0;
  return {
    enc: deriveKey(mk, ms, base, suite.keyBytes),
    auth: deriveKey(mk, ms, base + 1, 20),
    salt: deriveKey(mk, ms, base + 2, saltBytes(suite)),
  };
}

/** The 12-byte GCM IV (RFC 7714 sections 8.1 and 9.1): 00 00 || SSRC || 4 bytes || 2 bytes, XOR the session salt. */
function gcmIv(salt: Buffer, ssrc: number, mid: number, low: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  iv.writeUInt32BE(mid >>> 0, 6);
  iv.writeUInt16BE(low & 0xffff, 10);
  for (let i = 0; i < 12; i++) iv[i] ^= salt[i];
  return iv;
}

/** The SRTCP GCM IV: 00 00 || SSRC || 00 00 || 0 || the 31-bit SRTCP index, XOR the salt. */
function rtcpGcmIv(salt: Buffer, ssrc: number, index: number): Buffer {
  return gcmIv(salt, ssrc, (index >>> 16) & 0x7fff, index & 0xffff);
}

function gcmSeal(key: Buffer, iv: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = crypto.createCipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function gcmOpen(key: Buffer, iv: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < 16) throw new SrtpError('too short');
  const d = crypto.createDecipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  } catch {
    throw new SrtpError('authentication failed');
  }
}

function hmac(key: Buffer, parts: Buffer[], bytes: number): Buffer {
  const h = crypto.createHmac('sha1', key);
  for (const p of parts) h.update(p);
  return h.digest().subarray(0, bytes);
}

/** Where an RTP packet's payload starts (after CSRCs and a header extension). */
function rtpHeaderLength(p: Buffer): number {
  let off = 12 + 4 * (p[0] & 0x0f);
  if (p[0] & 0x10) off += 4 + 4 * p.readUInt16BE(off + 2);
  return off;
}

export class SrtpError extends Error {}

export interface SessionParams {
  encryptRtp?: boolean;
  encryptRtcp?: boolean;
  authRtp?: boolean;
}

/**
 * One direction of one SRTP session (one master key): protects what a test
 * peer sends, or unprotects what it receives. Tracks the rollover counter and
 * SRTCP index per SSRC, as a sender and a receiver do.
 */
export class SrtpSession {
  private readonly rtpKeys: SessionKeys;
  private readonly rtcpKeys: SessionKeys;
  /** Per SSRC: the rollover counter and highest sequence number seen or sent. */
  private readonly state = new Map<number, { roc: number; seq: number }>();
  private readonly rtcpIndex = new Map<number, number>();

  /**
   * opts: the RFC 4568 session parameters UNENCRYPTED_SRTP (encryptRtp false),
   * UNENCRYPTED_SRTCP (encryptRtcp false), UNAUTHENTICATED_SRTP (authRtp false).
   */
  constructor(readonly suite: SrtpSuiteSpec, readonly master: Buffer, readonly opts: SessionParams = {}) {
    if (master.length !== suite.keyBytes + saltBytes(suite)) throw new Error(`key of ${master.length} bytes for ${suite.name}`);
    this.rtpKeys = sessionKeys(suite, master, false);
    this.rtcpKeys = sessionKeys(suite, master, true);
  }

  static fromInline(suiteName: string, base64: string, opts: SessionParams = {}): SrtpSession {
    const suite = TEST_SUITES[suiteName];
    if (!suite) throw new Error(`suite ${suiteName} not in the test implementation`);
    return new SrtpSession(suite, Buffer.from(base64, 'base64'), opts);
  }

  private get rtpTag(): number {
    return this.opts.authRtp === false ? 0 : this.suite.tagBytes;
  }

  private get encryptsRtp(): boolean {
    return this.suite.encrypts && this.opts.encryptRtp !== false;
  }

  private get encryptsRtcp(): boolean {
    return this.suite.encrypts && this.opts.encryptRtcp !== false;
  }

  /** Sender side: the packet's index is ROC * 2^16 + SEQ, the ROC counting wraps of SEQ. */
  protectRtp(packet: Buffer): Buffer {
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let st = this.state.get(ssrc);
    if (!st) st = { roc: 0, seq };
    else if (seq < st.seq && st.seq - seq > 0x8000) st.roc++;
    st.seq = seq;
    this.state.set(ssrc, st);
    return this.transformRtp(packet, st.roc, this.rtpTag);
  }

  /** Encrypts and authenticates with a given rollover counter (the RFC's appendix uses this). */
  transformRtp(packet: Buffer, roc: number, tagBytes: number): Buffer {
    const k = this.rtpKeys;
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const hl = rtpHeaderLength(packet);
    const index = (BigInt(roc >>> 0) << 16n) | BigInt(seq);
    const payload = packet.subarray(hl);
    if (this.suite.aead) return Buffer.concat([packet.subarray(0, hl), gcmSeal(k.enc, gcmIv(k.salt, ssrc, roc, seq), packet.subarray(0, hl), payload)]);
    const enc = this.encryptsRtp ? aesCtr(k.enc, cmIv(k.salt, ssrc, index), payload) : Buffer.from(payload);
    const out = Buffer.concat([packet.subarray(0, hl), enc]);
    if (tagBytes === 0) return out;
    const rocBuf = Buffer.alloc(4);
    rocBuf.writeUInt32BE(roc >>> 0);
    return Buffer.concat([out, hmac(k.auth, [out, rocBuf], tagBytes)]);
  }

  /** Receiver side: authenticates, then decrypts. Throws SrtpError on a bad tag. */
  unprotectRtp(packet: Buffer): Buffer {
    const k = this.rtpKeys;
    const t = this.suite.aead ? 0 : this.rtpTag;
    if (packet.length < 12 + t) throw new SrtpError('too short');
    const body = packet.subarray(0, packet.length - t);
    const tag = packet.subarray(packet.length - t);
    const ssrc = body.readUInt32BE(8);
    const seq = body.readUInt16BE(2);
    const st = this.state.get(ssrc);
    // RFC 3711 section 3.3.1: the ROC guess closest to the highest sequence seen.
    let roc = st ? st.roc : 0;
    if (st) {
      if (st.seq < 0x8000) {
        if (seq - st.seq > 0x8000) roc = st.roc - 1;
      } else if (st.seq - 0x8000 > seq) {
        roc = st.roc + 1;
      }
    }
    if (this.suite.aead) {
      const hl = rtpHeaderLength(packet);
      const out = Buffer.concat([packet.subarray(0, hl), gcmOpen(k.enc, gcmIv(k.salt, ssrc, roc, seq), packet.subarray(0, hl), packet.subarray(hl))]);
      if (!st || roc > st.roc || (roc === st.roc && seq > st.seq)) this.state.set(ssrc, { roc, seq });
      return out;
    }
    const rocBuf = Buffer.alloc(4);
    rocBuf.writeUInt32BE(roc >>> 0);
    if (t > 0 && !crypto.timingSafeEqual(hmac(k.auth, [body, rocBuf], t), tag)) throw new SrtpError('authentication failed');
    if (!st || roc > st.roc || (roc === st.roc && seq > st.seq)) this.state.set(ssrc, { roc, seq });
    const hl = rtpHeaderLength(body);
    const index = (BigInt(roc >>> 0) << 16n) | BigInt(seq);
    const payload = body.subarray(hl);
    const dec = this.encryptsRtp ? aesCtr(k.enc, cmIv(k.salt, ssrc, index), payload) : Buffer.from(payload);
    return Buffer.concat([body.subarray(0, hl), dec]);
  }

  /** SRTCP (section 3.4): everything after the first 8 bytes encrypted, E flag and index, an 80-bit tag. */
  protectRtcp(packet: Buffer): Buffer {
    const k = this.rtcpKeys;
    const ssrc = packet.readUInt32BE(4);
    const index = ((this.rtcpIndex.get(ssrc) ?? -1) + 1) & 0x7fffffff;
    this.rtcpIndex.set(ssrc, index);
    const rest = packet.subarray(8);
    if (this.suite.aead) {
      const ei = Buffer.alloc(4);
      ei.writeUInt32BE((0x80000000 | index) >>> 0);
      const aad = Buffer.concat([packet.subarray(0, 8), ei]);
      return Buffer.concat([packet.subarray(0, 8), gcmSeal(k.enc, rtcpGcmIv(k.salt, ssrc, index), aad, rest), ei]);
    }
    const enc = this.encryptsRtcp ? aesCtr(k.enc, cmIv(k.salt, ssrc, BigInt(index)), rest) : Buffer.from(rest);
    const ei = Buffer.alloc(4);
    ei.writeUInt32BE(((this.encryptsRtcp ? 0x80000000 : 0) | index) >>> 0);
    const body = Buffer.concat([packet.subarray(0, 8), enc, ei]);
    return Buffer.concat([body, hmac(k.auth, [body], 10)]);
  }

  unprotectRtcp(packet: Buffer): Buffer {
    const k = this.rtcpKeys;
    if (this.suite.aead) {
      if (packet.length < 8 + 16 + 4) throw new SrtpError('too short');
      const ei = packet.subarray(packet.length - 4);
      const index = ei.readUInt32BE(0) & 0x7fffffff;
      const ssrc = packet.readUInt32BE(4);
      const aad = Buffer.concat([packet.subarray(0, 8), ei]);
      return Buffer.concat([packet.subarray(0, 8), gcmOpen(k.enc, rtcpGcmIv(k.salt, ssrc, index), aad, packet.subarray(8, packet.length - 4))]);
    }
    if (packet.length < 8 + 4 + 10) throw new SrtpError('too short');
    const body = packet.subarray(0, packet.length - 10);
    const tag = packet.subarray(packet.length - 10);
    if (!crypto.timingSafeEqual(hmac(k.auth, [body], 10), tag)) throw new SrtpError('authentication failed');
    const ei = body.readUInt32BE(body.length - 4);
    const index = ei & 0x7fffffff;
    const ssrc = body.readUInt32BE(4);
    const rest = body.subarray(8, body.length - 4);
    const dec = ei & 0x80000000 ? aesCtr(k.enc, cmIv(k.salt, ssrc, BigInt(index)), rest) : Buffer.from(rest);
    return Buffer.concat([body.subarray(0, 8), dec]);
  }
}

/** The a=crypto lines of an SDP body: tag, suite and inline key (base64). */
export function cryptoLines(sdp: string): Array<{ tag: number; suite: string; key: string; rest: string }> {
  const out: Array<{ tag: number; suite: string; key: string; rest: string }> = [];
  for (const m of sdp.matchAll(/^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)(\S*)(.*)$/gm)) {
    out.push({ tag: Number(m[1]), suite: m[2], key: m[3], rest: (m[4] + m[5]).trim() });
  }
  return out;
}

/** A fresh master key and salt for a suite, base64 as an a=crypto line writes it. */
export function newInlineKey(suiteName: string): string {
  const s = TEST_SUITES[suiteName];
  return crypto.randomBytes(s.keyBytes + saltBytes(s)).toString('base64');
}
