// SDES keying (RFC 4568): the a=crypto lines this daemon reads from a party and
// writes to a party, and the keys each stream's SRTP contexts get (native/srtp.h).
//
// Per side of an m= line (CallMedia.sdes) the daemon remembers what the party
// offered (its own keys), what the daemon offered to it (the daemon's keys) and,
// once answered, the pair in use: `recv` decrypts what the party sends, `send`
// encrypts what the daemon sends it. As the reference does, a suite the offerer
// proposed is offered on to the other side with the offerer's own key and tag,
// and an answer whose suite the offerer also proposed goes back with the
// answerer's key, so that an SRTP-to-SRTP call can keep one key per direction.

import { randomBytes } from 'crypto';
import type { SdpLine } from '../sdp/sdp';
import { splitAttribute, parseCrypto } from '../sdp/attributes';

export interface SdesSuite {
  /** The RFC 4568 / RFC 7714 name written on the a=crypto line. */
  name: string;
  /** The suite number of native/srtp.h. */
  id: number;
  /** Bytes of master key plus master salt. */
  keyLength: number;
}

/**
 * The suites offered, in the reference's order. The reference also offers the
 * F8 suites, which libsrtp2 does not implement: they are left out here.
 */
export const SDES_SUITES: readonly SdesSuite[] = [
  { name: 'AEAD_AES_256_GCM', id: 1, keyLength: 44 },
  { name: 'AEAD_AES_128_GCM', id: 2, keyLength: 28 },
  { name: 'AES_256_CM_HMAC_SHA1_80', id: 3, keyLength: 46 },
  { name: 'AES_256_CM_HMAC_SHA1_32', id: 4, keyLength: 46 },
  { name: 'AES_192_CM_HMAC_SHA1_80', id: 5, keyLength: 38 },
  { name: 'AES_192_CM_HMAC_SHA1_32', id: 6, keyLength: 38 },
  { name: 'AES_CM_128_HMAC_SHA1_80', id: 7, keyLength: 30 },
  { name: 'AES_CM_128_HMAC_SHA1_32', id: 8, keyLength: 30 },
  { name: 'NULL_HMAC_SHA1_80', id: 9, keyLength: 30 },
  { name: 'NULL_HMAC_SHA1_32', id: 10, keyLength: 30 },
];

export function suiteByName(name: string): SdesSuite | undefined {
  const upper = name.toUpperCase();
  return SDES_SUITES.find((s) => s.name === upper);
}

/** The session parameters that change the transform, in the order they are written, with their native bits. */
const SESSION_PARAMS = [
  { name: 'UNENCRYPTED_SRTP', bit: 1, on: 'unencrypted_srtp', off: 'encrypted_srtp' },
  { name: 'UNENCRYPTED_SRTCP', bit: 2, on: 'unencrypted_srtcp', off: 'encrypted_srtcp' },
  { name: 'UNAUTHENTICATED_SRTP', bit: 4, on: 'unauthenticated_srtp', off: 'authenticated_srtp' },
] as const;

/** One a=crypto line: a party's or this daemon's. */
export interface SdesCrypto {
  tag: number;
  suite: SdesSuite;
  /** Master key followed by master salt. */
  key: Buffer;
  /** The session parameters that change the transform (UNENCRYPTED_SRTP, …), upper case. */
  params: string[];
}

/** What one side of an m= line said and was told about SDES. */
export interface SdesState {
  /** The crypto lines the party offered, with its keys. */
  offered: SdesCrypto[];
  /** The crypto lines this daemon offered to the party, with its keys. */
  ours: SdesCrypto[];
  /** The key the party encrypts with (decrypts what it sends); null: it sends plain RTP. */
  recv: SdesCrypto | null;
  /** The key this daemon encrypts with towards the party; null: it is sent plain RTP. */
  send: SdesCrypto | null;
}

export function emptySdes(): SdesState {
  return { offered: [], ours: [], recv: null, send: null };
}

/** The SDES flags of a request (NgRequest.sdes, sdesNo), normalised. */
export interface SdesFlags {
  off: boolean;
  /** Suite names not to offer (upper case). */
  no: Set<string>;
  lifetime: boolean;
  pad: boolean;
  /** Session parameters switched on and off. */
  on: Set<string>;
  offParams: Set<string>;
}

export function sdesFlags(sdes: ReadonlySet<string>, no: readonly string[]): SdesFlags {
  const on = new Set<string>();
  const offParams = new Set<string>();
  for (const p of SESSION_PARAMS) {
    if (sdes.has(p.on)) on.add(p.name);
    if (sdes.has(p.off)) offParams.add(p.name);
  }
  return {
    off: sdes.has('off'),
    no: new Set(no.map((n) => n.toUpperCase())),
    lifetime: sdes.has('lifetime'),
    pad: sdes.has('pad'),
    on,
    offParams,
  };
}

/** Whether a transport keys SRTP by SDES: RTP/SAVP and RTP/SAVPF (not DTLS's UDP/TLS/…). */
export function isSdesProtocol(proto: string): boolean {
  const p = proto.toUpperCase();
  return p === 'RTP/SAVP' || p === 'RTP/SAVPF';
}

/** Base64 of the key; without padding unless asked, as the reference writes it. */
function keyText(key: Buffer, pad: boolean): string {
  const b = key.toString('base64');
  return pad ? b : b.replace(/=+$/, '');
}

/**
 * The usable a=crypto lines of a media section, in order. A line this daemon
 * cannot use (unknown suite, a key of the wrong length, an MKI, a key method
 * other than inline, several keys) is ignored, as the reference ignores it.
 */
export function readCryptoLines(lines: readonly SdpLine[]): SdesCrypto[] {
  const out: SdesCrypto[] = [];
  for (const line of lines) {
    if (line.type !== 'a') continue;
    const attr = splitAttribute(line.value);
    if (attr.name !== 'crypto' || attr.value === undefined || attr.value === null) continue;
    const c = parseCrypto(attr.value);
    if (!c || c.keyParams.length !== 1) continue;
    const suite = suiteByName(c.suite);
    const kp = c.keyParams[0];
    if (!suite || kp.method.toLowerCase() !== 'inline' || kp.mki !== undefined) continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(kp.keySalt)) continue;
    const key = Buffer.from(kp.keySalt, 'base64');
    if (key.length !== suite.keyLength) continue;
    if (out.some((o) => o.tag === c.tag)) continue;
    const params = c.sessionParams.map((p) => p.toUpperCase()).filter((p) => SESSION_PARAMS.some((s) => s.name === p));
    out.push({ tag: c.tag, suite, key, params });
  }
  return out;
}

/** The a=crypto value for a line this daemon writes. */
export function formatCryptoLine(c: SdesCrypto, flags: Pick<SdesFlags, 'lifetime' | 'pad'>): string {
  const lifetime = flags.lifetime ? '|2^31' : '';
  const params = c.params.length ? ` ${c.params.join(' ')}` : '';
  return `crypto:${c.tag} ${c.suite.name} inline:${keyText(c.key, flags.pad)}${lifetime}${params}`;
}

/** The session parameters of a line this daemon writes: the offerer's, changed by the flags. */
function adjustParams(base: readonly string[], flags: SdesFlags): string[] {
  return SESSION_PARAMS.filter((p) => (base.includes(p.name) || flags.on.has(p.name)) && !flags.offParams.has(p.name)).map((p) => p.name);
}

/** The native bits of a key's session parameters. */
export function paramBits(c: SdesCrypto): number {
  let bits = 0;
  for (const p of SESSION_PARAMS) if (c.params.includes(p.name)) bits |= p.bit;
  return bits;
}

/**
 * The crypto lines offered to a party, as the reference orders them: the line
 * already agreed with the party, if any (same tag and key: a re-INVITE keeps
 * it), then the suites the offerer proposed (its keys, tags and session
 * parameters), then every other suite with a fresh key of this daemon's, tags
 * counting on from the highest so far.
 */
export function offerCrypto(offerer: readonly SdesCrypto[], agreed: SdesCrypto | null, flags: SdesFlags): SdesCrypto[] {
  if (flags.off) return [];
  const out: SdesCrypto[] = [];
  const has = (suite: SdesSuite): boolean => out.some((o) => o.suite === suite);
  if (agreed && !flags.no.has(agreed.suite.name) && !offerer.some((c) => c.suite === agreed.suite)) out.push(agreed);
  for (const c of offerer) {
    if (flags.no.has(c.suite.name) || has(c.suite)) continue;
    out.push({ tag: c.tag, suite: c.suite, key: c.key, params: adjustParams(c.params, flags) });
  }
  let tag = out.reduce((m, c) => Math.max(m, c.tag), 0);
  for (const suite of SDES_SUITES) {
    if (flags.no.has(suite.name) || has(suite)) continue;
    out.push({ tag: ++tag, suite, key: randomBytes(suite.keyLength), params: adjustParams([], flags) });
  }
  return out;
}

/**
 * Takes an answer from a party this daemon offered SRTP to: the line it chose
 * (by tag, else by suite) sets both directions towards it. False when it chose
 * none of the offered lines.
 */
export function acceptAnswer(side: SdesState, answered: readonly SdesCrypto[]): boolean {
  for (const a of answered) {
    const ours = side.ours.find((o) => o.tag === a.tag && o.suite === a.suite) ?? side.ours.find((o) => o.suite === a.suite);
    if (!ours) continue;
    side.recv = a;
    side.send = { tag: a.tag, suite: a.suite, key: ours.key, params: a.params };
    return true;
  }
  side.recv = null;
  side.send = null;
  return false;
}

/**
 * The answer to an SRTP offerer: the suite the other party chose if the offerer
 * proposed it too (with that party's key), else the offerer's first usable
 * suite with a key of this daemon's (kept across re-answers). Sets the
 * offerer's directions and returns the line to write, or null when the offerer
 * proposed nothing usable.
 */
export function answerCrypto(side: SdesState, other: SdesState | null, flags: SdesFlags): SdesCrypto | null {
  const chosen = other?.recv ?? null;
  const usable = side.offered.filter((c) => !flags.no.has(c.suite.name));
  const match = chosen ? usable.find((c) => c.suite === chosen.suite) : undefined;
  const offer = match ?? usable[0];
  if (!offer) {
    side.recv = null;
    side.send = null;
    return null;
  }
  let key: Buffer;
  if (match && chosen) key = chosen.key;
  else if (side.send && side.send.suite === offer.suite && side.send.tag === offer.tag) key = side.send.key;
  else key = randomBytes(offer.suite.keyLength);
  side.recv = offer;
  side.send = { tag: offer.tag, suite: offer.suite, key, params: adjustParams(offer.params, flags) };
  return side.send;
}
