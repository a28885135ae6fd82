// Builds the rewritten SDP for the receiving side of an offer or answer, in the
// layout the reference daemon produces: lines it does not handle keep their place;
// the attributes it owns (codecs, direction, RTCP, ICE, ptime) are regenerated at
// the end of each media section in a fixed order.

import { serializeSdp, type SdpLine, type SessionDescription, type MediaSection } from '../sdp/sdp';
import type { LogicalInterface } from '../media/interfaces';
import { splitAttribute, parseRtcp } from '../sdp/attributes';
import type { CallMedia, Direction } from './model';
import { candidateLines } from './ice';
import { payloadTypeLines, type PayloadType } from '../codec/negotiation';

export interface MediaPlan {
  index: number;
  parsed: MediaSection;
  /** The payload types written on the m= line (an answer drops what was not offered). */
  formats?: string[];
  /**
   * The negotiated payload types (src/codec/negotiation.ts) whose codec attributes are
   * written; absent for a non-RTP stream, whose codec attributes stay where they are. When negotiation leaves none, the m= line has
   * no formats and the sender's own codec attributes stay where they were.
   */
  codecs?: PayloadType[] | null;
  /** The SDP is an answer (an answer without formats keeps the separator after the protocol). */
  answer?: boolean;
  rejected: boolean;
  media: CallMedia;
  protocol?: string;
  isRtp?: boolean;
  ownConnection: boolean;
  zeroAddress: boolean;
  direction?: Direction | null;
  ptime?: number | null;
  /** Whether a=rtcp-mux is written. */
  rtcpMux?: boolean;
  /** Whether RTCP already shares the RTP port towards the receiver. */
  rtcpMuxed?: boolean;
  /**
   * The a=crypto values written for the receiver (SDES terminated here), which
   * replace the sender's security lines; null or absent: the sender's a=crypto,
   * a=setup, a=fingerprint and a=tls-id are passed through (DTLS transports).
   */
  crypto?: string[] | null;
  ice?: 'none' | 'host' | 'relay';
  /** The sender signalled a=end-of-candidates at session level. */
  endOfCandidates?: boolean;
}

export interface OutputOptions {
  replaceOrigin: boolean;
  replaceSessionConnection: boolean;
  noRtcpAttribute: boolean;
  /** `replace zero-address`: an old-style hold address is replaced like any other. */
  replaceZeroAddress: boolean;
  /** `generate-mid`: media sections without a=mid get one. */
  generateMid: boolean;
  /** `original-sendrecv`: direction attributes are passed through where they stand. */
  originalSendrecv: boolean;
  fullRtcpAttribute: boolean;
  /** Instance id for a=rtpengine: with `loop protect`, else null. */
  loopProtect: string | null;
  /** `media address`: the address advertised instead of the interface's. */
  mediaAddress: string | null;
  iface: LogicalInterface;
}

/** Session attributes this daemon drops (it terminates what they describe). */
const SESSION_DROPPED = new Set([
  'group', 'ice-lite', 'ice-ufrag', 'ice-pwd', 'ice-options', 'rtpengine',
  // Directions are written per media section.
  'sendrecv', 'sendonly', 'recvonly', 'inactive',
]);

/** Media attributes this daemon regenerates or drops. */
const MEDIA_OWNED = new Set([
  'rtpmap', 'fmtp', 'rtcp-fb', 'rtcp', 'rtcp-mux', 'candidate', 'ice-ufrag', 'ice-pwd', 'ice-options',
  'ice-lite', 'ice-mismatch', 'end-of-candidates', 'remote-candidates', 'sendrecv', 'sendonly',
  'recvonly', 'inactive', 'ptime', 'mid', 'crypto', 'setup', 'fingerprint', 'tls-id', 'rtpengine',
]);

const CODEC_ATTRS: ReadonlySet<string> = new Set(['rtpmap', 'fmtp', 'rtcp-fb']);

/** True for RTP transports (RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, …), not udptl. */
export function isRtpProtocol(proto: string): boolean {
  return proto.toUpperCase().includes('RTP');
}

const DIRECTION_ATTRS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Security attributes passed through on DTLS transports (not terminated here) but moved to their slot. */
const CRYPTO_ATTRS = ['crypto', 'setup', 'fingerprint', 'tls-id'];

function attrName(value: string): string {
  return splitAttribute(value).name;
}

export function sdpHasLoopProtect(sdp: SessionDescription, instanceId: string): boolean {
  const is = (l: SdpLine): boolean => l.type === 'a' && l.value === `rtpengine:${instanceId}`;
  return sdp.session.some(is) || sdp.media.some((m) => m.lines.some(is));
}

/** A copy of a line with another value (spelled out: a spread plus a property costs V8 a new hidden class). */
function withValue(line: SdpLine, value: string): SdpLine {
  const out: SdpLine = { type: line.type, value };
  if (line.eol) out.eol = line.eol;
  return out;
}

function connectionLine(address: string): string {
  return `IN ${address.includes(':') ? 'IP6' : 'IP4'} ${address}`;
}

function advertisedAddress(media: CallMedia, opts: OutputOptions): string {
  if (opts.mediaAddress) return opts.mediaAddress;
  return media.rtp.localAddress?.advertised ?? opts.iface.addresses[0]?.advertised ?? '0.0.0.0';
}

function outputDirection(plan: MediaPlan): Direction {
  let dir: Direction = plan.direction ?? 'sendrecv';
  if (plan.zeroAddress) {
    // An endpoint that advertises no address cannot receive: hold in the old style.
    if (dir === 'sendrecv') dir = 'sendonly';
    else if (dir === 'recvonly') dir = 'inactive';
  }
  return dir;
}

/** The c= value towards the receiver: ours, the media address, or an old-style hold kept as is. */
function connectionValue(original: string, plan: MediaPlan, address: string, opts: OutputOptions): string {
  if (opts.mediaAddress) return connectionLine(opts.mediaAddress);
  if (plan.ice === 'relay') return original;
  if (plan.zeroAddress && plan.ice === 'none' && !opts.replaceZeroAddress) {
    // An old-style hold stays one, in the family spoken towards the receiver.
    const family = plan.media.rtp.localAddress?.family ?? plan.media.family;
    return connectionLine(family === 6 ? '::' : '0.0.0.0');
  }
  return connectionLine(address);
}

/** Attributes kept in place with ICE=force-relay: the sender's own ICE, minus relays. */
function keptForRelay(name: string, value: string): boolean {
  if (name === 'candidate') return !/ typ relay( |$)/.test(value);
  return name === 'ice-ufrag' || name === 'ice-pwd' || name === 'ice-options' || name === 'rtcp-mux' || name === 'rtcp';
}

/** A media section of the output: its m= line fields and lines. */
function outputSection(parsed: MediaSection, port: number, protocol: string, formats: string[], lines: SdpLine[]): MediaSection {
  const section: MediaSection = { type: parsed.type, port, portCount: null, proto: protocol, formats, lines };
  if (parsed.eol) section.eol = parsed.eol;
  return section;
}

function buildMedia(plan: MediaPlan, opts: OutputOptions): MediaSection {
  const section = plan.parsed;
  const media = plan.media;
  const protocol = plan.protocol ?? section.proto;
  if (plan.rejected) {
    const rejected: SdpLine[] = [];
    // A rejected non-RTP stream (T.38) keeps its attributes; an RTP one loses them.
    if (!isRtpProtocol(section.proto)) rejected.push(...section.lines.filter((l) => l.type === 'a'));
    if (opts.generateMid) {
      const mid = section.lines.find((l) => l.type === 'a' && attrName(l.value) === 'mid');
      rejected.push({ type: 'a', value: mid?.value ?? `mid:${plan.index + 1}` });
    }
    return outputSection(section, 0, protocol, section.formats, rejected);
  }
  const relay = plan.ice === 'relay';
  const port = media.rtp.localPort;
  const address = advertisedAddress(media, opts);
  const formats = plan.formats ?? section.formats;
  // Negotiation left no payload type: the sender's codec attributes stay as they were,
  // and the m= line ends with the separator (an empty format), as the reference writes it.
  const emptied = plan.codecs !== undefined && plan.codecs !== null && plan.codecs.length === 0 &&
    (section.formats.length > 0 || plan.answer === true);
  const out: SdpLine[] = [];
  let mid: string | null = null;
  let endOfCandidates = plan.endOfCandidates ?? false;
  let senderIce = false;
  const crypto: string[] = [];
  for (const line of section.lines) {
    if (line.type === 'c') {
      out.push(withValue(line, connectionValue(line.value, plan, address, opts)));
      continue;
    }
    if (line.type !== 'a') {
      out.push(line);
      continue;
    }
    const attr = splitAttribute(line.value);
    const name = attr.name;
    const value = attr.value ?? '';
    if (name === 'mid') mid = line.value;
    if (name === 'ice-ufrag') senderIce = true;
    if (CRYPTO_ATTRS.includes(name)) crypto.push(line.value);
    if (name === 'end-of-candidates') endOfCandidates = true;
    if (relay && keptForRelay(name, value)) {
      out.push(line);
      continue;
    }
    if (opts.originalSendrecv && DIRECTION_ATTRS.has(name)) {
      out.push(line);
      continue;
    }
    // Wildcard feedback (a=rtcp-fb:* …) belongs to no codec and keeps its place; so do
    // codec attributes of an m= line without formats and attributes that do not parse.
    const passThrough = (name === 'rtcp-fb' && value.startsWith('* ')) ||
      (CODEC_ATTRS.has(name) && (formats.length === 0 || !/^\d+( |$)/.test(value))) ||
      // An a=ptime stays where it is when this daemon writes none of its own.
      (name === 'ptime' && plan.isRtp === true && !plan.ptime) ||
      // An a=rtcp whose port parses but whose address does not is kept as it is.
      (name === 'rtcp' && parseRtcp(value) === null && /^\d+ /.test(value)) ||
      // So is an a=crypto too short to be one (no key parameter), as the reference keeps it.
      (name === 'crypto' && plan.crypto !== undefined && plan.crypto !== null && value.trim().split(/\s+/).length < 3);
    if (MEDIA_OWNED.has(name) && !passThrough) continue;
    out.push(line);
  }
  const attrs: string[] = [];
  if (mid === null && opts.generateMid) mid = `mid:${plan.index + 1}`;
  if (mid !== null) attrs.push(mid);
  if (plan.isRtp && plan.codecs) for (const p of plan.codecs) attrs.push(...payloadTypeLines(p));
  if (!opts.originalSendrecv) attrs.push(outputDirection(plan));
  if (plan.isRtp && !opts.noRtcpAttribute && !relay) {
    const rtcpPort = plan.rtcpMuxed ? port : media.rtcp.localPort;
    attrs.push(opts.fullRtcpAttribute ? `rtcp:${rtcpPort} ${connectionLine(address)}` : `rtcp:${rtcpPort}`);
  }
  if (plan.rtcpMux && !relay) attrs.push('rtcp-mux');
  if (plan.crypto) attrs.push(...plan.crypto);
  else for (const name of CRYPTO_ATTRS) attrs.push(...crypto.filter((c) => attrName(c) === name));
  if (plan.ptime) attrs.push(`ptime:${plan.ptime}`);
  if (plan.ice && plan.ice !== 'none' && media.iceUfrag && media.icePwd) {
    if (!relay || !senderIce) attrs.push(`ice-ufrag:${media.iceUfrag}`, `ice-pwd:${media.icePwd}`);
    const all = media.iface?.addresses ?? opts.iface.addresses;
    const addrs = [...all.filter((a) => a.family === media.family), ...all.filter((a) => a.family !== media.family)];
    const advertised = opts.mediaAddress ? addrs.map((a) => ({ ...a, advertised: opts.mediaAddress as string })) : addrs;
    const rtcpCandidate = plan.rtcpMuxed || !plan.isRtp ? null : media.rtcp.localPort;
    attrs.push(...candidateLines(advertised, port, rtcpCandidate, plan.ice, relay && senderIce ? 1 : 65535));
  }
  if (endOfCandidates) attrs.push('end-of-candidates');
  for (const a of attrs) out.push({ type: 'a', value: a });
  return outputSection(section, relay ? section.port : port, protocol, emptied ? [''] : formats, out);
}

/** Rewrites the sender's SDP for the receiver. */
export function buildSdp(sdp: SessionDescription, plans: MediaPlan[], opts: OutputOptions): string {
  const firstLive = plans.find((p) => !p.rejected);
  const address = firstLive ? advertisedAddress(firstLive.media, opts) : opts.iface.addresses[0]?.advertised ?? '0.0.0.0';
  // The session c= is rewritten when asked, or when a live stream relies on it.
  const live = plans.filter((p) => !p.rejected);
  const sessionConnUsed = live.length === 0 || live.some((p) => !p.ownConnection);
  const sessionZeroPlan = plans.find((p) => !p.rejected && !p.ownConnection);
  const session: SdpLine[] = [];
  for (const line of sdp.session) {
    if (line.type === 'o' && opts.replaceOrigin) {
      const parts = line.value.split(' ');
      if (parts.length >= 6) {
        parts[4] = address.includes(':') ? 'IP6' : 'IP4';
        parts[5] = address;
        session.push(withValue(line, parts.join(' ')));
        continue;
      }
    }
    if (line.type === 'c' && (sessionConnUsed || opts.replaceSessionConnection)) {
      session.push(withValue(line, sessionZeroPlan ? connectionValue(line.value, sessionZeroPlan, address, opts) : connectionLine(opts.mediaAddress ?? address)));
      continue;
    }
    if (line.type === 'a' && SESSION_DROPPED.has(attrName(line.value))) {
      if (!(opts.originalSendrecv && DIRECTION_ATTRS.has(attrName(line.value)))) continue;
    }
    session.push(line);
  }
  if (opts.loopProtect) session.push({ type: 'a', value: `rtpengine:${opts.loopProtect}` });
  const media: MediaSection[] = [];
  const out: SessionDescription = { session, media };
  for (const plan of plans) media.push(buildMedia(plan, opts));
  return serializeSdp(out);
}
