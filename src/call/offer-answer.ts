// Offer/answer: takes the SDP one side sent, records what it said in the call model,
// allocates this daemon's ports for the other side, wires the media engine and
// returns the rewritten SDP for the other side.

import { parseSdp, SdpError, findLine, assertComplete, SDP_INCOMPLETE_REASON, type SessionDescription, type MediaSection } from '../sdp/sdp';
import { getAttribute, hasAttribute, getDirection, parseConnection, formatConnection, parsePtime, parseRtcp, payloadTypeFrom, rtpmapsByPayloadType, type Rtpmap } from '../sdp/attributes';
import type { NgRequest } from '../control/ng-request';
import { NgError } from '../control/errors';
import type { LogicalInterface } from '../media/interfaces';
import { selectInterface } from '../media/interfaces';
import type { Endpoint } from '../media/engine';
import { Call, CallMedia, Monologue, type MediaDescription } from './model';
import { newIceCredentials } from './ice';
import { buildSdp, isRtpProtocol, sdpHasLoopProtect, type MediaPlan } from './sdp-output';
import type { MediaWiring } from './wiring';
import { getLogger } from '../log';
import { negotiateOffer, negotiateAnswer, storeFromSection, type PayloadType } from '../codec/negotiation';
import { isSdesProtocol, readCryptoLines, offerCrypto, acceptAnswer, answerCrypto, formatCryptoLine, sdesFlags, type SdesFlags } from '../crypto/sdes';

const log = getLogger('call');

export interface SignalEnv {
  interfaces: LogicalInterface[];
  /** --sip-source: use the SIP source address instead of the SDP's unless `trust address`. */
  sipSource: boolean;
  /** The value of a=rtpengine: this daemon inserts with `loop protect`. */
  instanceId: string;
  wiring: MediaWiring;
}

export type SignalKind = 'offer' | 'answer';

/**
 * Thrown for an SDP that carries this daemon's own loop-protect mark: the SDP goes
 * back untouched and nothing in the call changes (a new call is not even created).
 */
export class LoopProtected extends Error {
  constructor(readonly sdp: string) {
    super('SDP already processed by this daemon');
  }
}

function connectionOf(value: string | null): { family: 4 | 6; address: string } | null {
  const c = value !== null ? parseConnection(value) : null;
  return c ? { family: c.addrType === 'IP6' ? 6 : 4, address: c.address } : null;
}

function isZeroAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** The registry key of a callee monologue that has no tag yet: by branch, or ''. */
function untaggedKey(viaBranch: string | undefined): string {
  return viaBranch ? `\u0000${viaBranch}` : '';
}

function isUntagged(ml: Monologue): boolean {
  return ml.tag === '' || ml.tag.startsWith('\u0000');
}

/**
 * Finds (or creates) the two monologues an offer or answer is between. An offer goes
 * from the from-tag to the to-tag if that is known (an in-dialog re-offer, possibly
 * from the callee), else to the callee of the sender's earlier offer, or to a new
 * untagged callee; a different via-branch before the answer is a separate fork. An
 * answer comes from the to-tag and gives the untagged callee that tag.
 */
function sides(call: Call, req: NgRequest, kind: SignalKind): { sender: Monologue; receiver: Monologue; unknownOfferer?: boolean } {
  const fromTag = req.fromTag ?? '';
  const toTag = req.toTag ?? '';
  if (kind === 'answer') {
    // An answer from a from-tag the call does not know starts a new side, as in the reference.
    const known = call.monologue(fromTag) !== undefined;
    const receiver = call.ensureMonologue(fromTag);
    let sender = call.monologue(toTag) ?? (req.viaBranch ? call.monologue(untaggedKey(req.viaBranch)) : undefined);
    if (!sender && receiver.peer && isUntagged(receiver.peer)) sender = receiver.peer;
    if (!sender) sender = call.ensureMonologue(toTag);
    if (isUntagged(sender)) call.retag(sender, toTag);
    link(sender, receiver);
    return { sender, receiver, unknownOfferer: !known };
  }
  const sender = call.ensureMonologue(fromTag);
  let receiver = toTag ? call.monologue(toTag) : undefined;
  if (!receiver) {
    const peer = sender.peer;
    if (!req.viaBranch) receiver = peer ?? call.ensureMonologue('');
    else {
      const samePeer = peer && (!isUntagged(peer) || peer.viaBranch === null || peer.viaBranch === req.viaBranch);
      receiver = call.monologue(untaggedKey(req.viaBranch)) ?? (samePeer ? peer : undefined) ??
        call.ensureMonologue(untaggedKey(req.viaBranch));
    }
  }
  if (req.viaBranch && isUntagged(receiver) && receiver.viaBranch === null) receiver.viaBranch = req.viaBranch;
  link(sender, receiver);
  return { sender, receiver };
}

function link(a: Monologue, b: Monologue): void {
  a.peer = b;
  b.peer = a;
}

/** What the sender's SDP says about one m= line. */
interface ParsedMedia {
  section: MediaSection;
  desc: MediaDescription;
  connection: { family: 4 | 6; address: string } | null;
  hasOwnConnection: boolean;
  rtcpPort: number | null;
  /** The address of an RFC 3605 a=rtcp line, when it names one. */
  rtcpAddress: { family: 4 | 6; address: string } | null;
}

function parseMedia(sdp: SessionDescription): ParsedMedia[] {
  assertComplete(sdp);
  const sessionConn = findLine(sdp.session, 'c')?.value ?? null;
  const sessionDir = getDirection(sdp.session) ?? null;
  const sessionIce = hasAttribute(sdp.session, 'ice-ufrag');
  return sdp.media.map((section) => {
    const ownConn = findLine(section.lines, 'c')?.value ?? null;
    const connection = connectionOf(ownConn ?? sessionConn);
    if (!connection && section.port !== 0) throw new NgError(SDP_INCOMPLETE_REASON);
    const ptime = getAttribute(section.lines, 'ptime');
    const rtcp = getAttribute(section.lines, 'rtcp');
    const rtcpAttr = rtcp !== undefined ? parseRtcp(rtcp) : null;
    const rtpmaps = rtpmapsByPayloadType(section.lines);
    const desc: MediaDescription = {
      type: section.type,
      protocol: section.proto,
      formats: section.formats,
      codecs: section.formats.map((f) => codecIdentity(rtpmaps, f)),
      port: section.port,
      direction: getDirection(section.lines) ?? sessionDir,
      ptime: ptime !== undefined ? parsePtime(ptime) : null,
      rtcpMux: hasAttribute(section.lines, 'rtcp-mux'),
      ice: sessionIce || hasAttribute(section.lines, 'ice-ufrag') || hasAttribute(section.lines, 'candidate'),
    };
    return {
      section,
      desc,
      connection,
      hasOwnConnection: ownConn !== null,
      rtcpPort: rtcpAttr?.port ?? null,
      rtcpAddress: rtcpAttr?.connection ? connectionOf(formatConnection(rtcpAttr.connection)) : null,
    };
  });
}

function codecIdentity(rtpmaps: ReadonlyMap<number, Rtpmap>, format: string): string {
  const r = /^\d+$/.test(format) ? payloadTypeFrom(rtpmaps, parseInt(format, 10)) : undefined;
  return r ? `${r.encoding.toUpperCase()}/${r.clockRate}` : '';
}

/**
 * What the receiver is taken to have said before it signals itself: the sender's
 * media, with nothing of its own yet. Spelled out: an object spread followed by
 * more properties makes V8 build a new hidden class every time.
 */
function provisionalDescription(desc: MediaDescription, protocol: string): MediaDescription {
  return {
    type: desc.type,
    protocol,
    formats: desc.formats,
    codecs: desc.codecs,
    port: desc.port,
    direction: null,
    ptime: null,
    rtcpMux: false,
    ice: false,
  };
}

function sameEndpoint(a: Endpoint | null, b: Endpoint | null): boolean {
  if (!a || !b) return a === b;
  return a.address === b.address && a.port === b.port && a.family === b.family;
}

/** Records the sender's endpoint for one media, per trust-address / SIP-source rules. */
function senderEndpoints(pm: ParsedMedia, req: NgRequest, sipSource: boolean): { rtp: Endpoint | null; rtcp: Endpoint | null } {
  if (!pm.connection) return { rtp: null, rtcp: null };
  let { family, address } = pm.connection;
  if (sipSource && req.receivedFrom) {
    family = req.receivedFrom.family === 'IP6' ? 6 : 4;
    address = req.receivedFrom.address;
  }
  const port = pm.desc.port;
  const rtcpPort = pm.desc.rtcpMux && pm.rtcpPort === port ? port : pm.rtcpPort ?? (port === 0 ? 1 : port + 1);
  const rtcpAddr = !sipSource && pm.rtcpAddress ? pm.rtcpAddress : { family, address };
  return { rtp: { family, address, port }, rtcp: { family: rtcpAddr.family, address: rtcpAddr.address, port: rtcpPort } };
}

/**
 * Processes an offer or answer. Runs on the control thread; may throw NgError, in
 * which case the call keeps its earlier state as far as the engine is concerned.
 */
export function processSignal(call: Call, req: NgRequest, kind: SignalKind, env: SignalEnv): string | null {
  const text = req.sdp ?? '';
  let sdp: SessionDescription;
  try {
    sdp = parseSdp(text);
  } catch (e) {
    if (e instanceof SdpError) throw new NgError(e.reason);
    throw e;
  }
  if (req.flags.has('loop-protect') && sdpHasLoopProtect(sdp, env.instanceId)) throw new LoopProtected(text);
  let parsed: ParsedMedia[];
  try {
    parsed = parseMedia(sdp);
  } catch (e) {
    if (e instanceof SdpError) throw new NgError(e.reason);
    throw e;
  }

  const { sender, receiver, unknownOfferer } = sides(call, req, kind);
  // A body with nothing in it is answered without an SDP, the call kept, as the reference does.
  if (sdp.session.length === 0 && sdp.media.length === 0) {
    call.lastSignal = Date.now();
    return null;
  }
  // Session lines without any m= line cannot be rewritten.
  if (sdp.media.length === 0) throw new NgError('Error rewriting SDP', 'ERR_SDP_REWRITE');
  if (req.label !== undefined && kind === 'offer') sender.label = req.label;
  if (req.label !== undefined && kind === 'answer') sender.label = req.label;
  const sipSource = req.flags.has('sip-source-address') || (env.sipSource && !req.flags.has('trust-address'));
  sender.sipSource = sipSource;
  sender.strictSource = req.flags.has('strict-source');
  sender.mediaHandover = req.flags.has('media-handover');
  sender.asymmetric = req.flags.has('asymmetric');
  sender.portLatching = req.flags.has('port-latching');
  if (req.tos !== undefined) {
    const tos = req.tos >= 0 && req.tos < 256 ? req.tos : null;
    if (req.tos >= 0) { sender.tos = tos; receiver.tos = tos; }
  }

  // Interfaces: `direction` names the sender's then the receiver's logical interface.
  // `direction` names the sender's interface, then the receiver's. A sender keeps the
  // interface it has; a receiver moves (with new ports) when a direction names another.
  // Without one, a side gets an interface of its SDP's family.
  const sdpFamily = parsed.find((p) => p.connection)?.connection?.family;
  const senderPick = pickInterface(env, req.direction[0], sender, sdpFamily, true);
  const receiverFamily = req.addressFamily ? (req.addressFamily === 'IP6' ? 6 : 4)
    : kind === 'answer' && receiver.medias.length > 0 ? receiver.medias[0].family : sdpFamily;
  const receiverPick = pickInterface(env, req.direction[1], receiver, receiverFamily, false);
  const senderIface = senderPick.iface;
  const receiverIface = receiverPick.iface;

  const plans: MediaPlan[] = [];
  const sdes = sdesFlags(req.sdes, req.sdesNo);
  for (let i = 0; i < parsed.length; i++) {
    const pm = parsed[i];
    const sm = sender.media(i);
    const rm = receiver.media(i);
    sm.desc = pm.desc;
    const ep = senderEndpoints(pm, req, sipSource);
    const hadEndpoint = sm.rtp.advertised !== null;
    // A disabled (port 0) stream under ICE keeps the endpoint it had, as in the reference.
    const keepEndpoint = pm.desc.port === 0 && hadEndpoint && sm.ice;
    const endpointChanged = !sameEndpoint(sm.rtp.advertised, ep.rtp);
    sm.rtp.advertised = ep.rtp;
    sm.rtcp.advertised = ep.rtcp;
    if ((endpointChanged || !sm.rtp.confirmed) && !keepEndpoint) {
      sm.rtp.endpoint = ep.rtp;
      sm.rtcp.endpoint = ep.rtcp;
      sm.rtp.confirmed = false;
      sm.rtcp.confirmed = false;
    }

    // The direction flags `query` shows: the sender's from its own point of view, the
    // receiver's mirrored.
    const dir = pm.desc.direction ?? 'sendrecv';
    // An old-style hold address means the sender cannot receive.
    const zero = ep.rtp !== null && isZeroAddress(ep.rtp.address);
    const sends = dir === 'sendrecv' || dir === 'sendonly';
    const receives = (dir === 'sendrecv' || dir === 'recvonly') && !zero;
    sm.sendFlag = receives;
    sm.recvFlag = sends;
    rm.sendFlag = sends;
    rm.recvFlag = receives;

    // The daemon is the controlling agent towards the side it first offered to, and
    // towards an answerer whose offerer it never saw.
    if (kind === 'offer' && !rm.rtp.advertised) rm.iceControlling = true;
    if (kind === 'answer' && unknownOfferer) sm.iceControlling = true;
    if (req.ice === 'force' || req.ice === 'force-relay') rm.ice = true;

    if (pm.desc.port === 0) {
      // A rejected or disabled stream: no ports on either side.
      rm.releasePorts();
      sm.releasePorts();
      const protocol = kind === 'offer' && req.transportProtocol && isRtpProtocol(pm.desc.protocol) ? req.transportProtocol : pm.desc.protocol;
      if (!rm.desc) rm.desc = provisionalDescription(pm.desc, protocol);
      plans.push({ index: i, parsed: pm.section, rejected: true, media: rm, protocol, ownConnection: pm.hasOwnConnection, zeroAddress: false });
      continue;
    }

    // Ports for both sides: a re-offer keeps them unless the sender's endpoint moved.
    // New ports face the receiver when the sender moved (a re-offer or re-answer), as the
    // reference does, unless `port latching` asks to keep them.
    const moved = hadEndpoint && endpointChanged && !sender.portLatching && !rm.iceOffered;
    if (moved || (rm.hasPorts && rm.iface !== receiverIface)) rm.releasePorts();
    sm.iface = senderIface;
    rm.iface = receiverIface;
    // Each side is spoken to in the family of its own SDP; the receiver of an offer in
    // the requested family, else the one it used before, else the sender's.
    if (ep.rtp && !sm.hasPorts) sm.family = ep.rtp.family;
    if (req.addressFamily) rm.family = req.addressFamily === 'IP6' ? 6 : 4;
    else if (receiverPick.family) rm.family = receiverPick.family;
    else if (!rm.rtp.advertised && ep.rtp) rm.family = ep.rtp.family;
    // Negotiated for every live stream (the query shows it), written only for RTP ones,
    // and before ports are taken: a side known to multiplex gets no RTCP port.
    const rtp = isRtpProtocol(pm.desc.protocol);
    const negotiated = negotiateMux(sm, rm, pm.desc, req, kind);
    const mux = rtp ? negotiated : { offer: false, muxed: false };
    for (const m of [sm, rm]) {
      const fresh = !m.hasPorts;
      env.wiring.ensurePorts(m);
      // An RTP side already known to multiplex gets no RTCP port of its own.
      if (fresh) m.rtcpPortless = rtp && (m.rtcpMux || m.muxPolicy === 'accept');
    }

    if (!rm.desc) rm.desc = provisionalDescription(pm.desc, pm.desc.protocol);
    if (req.transportProtocol && kind === 'offer' && rtp) rm.desc = { ...rm.desc, protocol: req.transportProtocol };

    sm.asymmetric = sender.asymmetric;
    const ice = negotiateIce(sm, rm, pm.desc, req, kind);
    const codecs = rtp ? negotiateCodecs(sm, rm, pm, req, kind) : null;
    // Towards the receiver: the requested transport in an offer, what it offered in an answer.
    const protocol = kind === 'offer' ? (rtp && req.transportProtocol ? req.transportProtocol : pm.desc.protocol) : (rm.desc?.protocol ?? pm.desc.protocol);
    const crypto = rtp ? negotiateSdes(sm, rm, pm, protocol, kind, sdes) : null;
    env.wiring.route(sm, rm);
    plans.push({
      index: i,
      parsed: pm.section,
      formats: codecs ? codecs.map((c) => String(c.pt)) : pm.section.formats,
      codecs,
      answer: kind === 'answer',
      rejected: false,
      media: rm,
      protocol,
      isRtp: rtp,
      ownConnection: pm.hasOwnConnection,
      zeroAddress: ep.rtp !== null && isZeroAddress(ep.rtp.address),
      direction: pm.desc.direction,
      ptime: rtp ? rm.codec.ptime || null : pm.desc.ptime,
      rtcpMux: mux.offer,
      rtcpMuxed: mux.muxed,
      crypto,
      ice,
      endOfCandidates: hasAttribute(sdp.session, 'end-of-candidates'),
    });
  }
  // Medias beyond what this SDP describes are gone (fewer m= lines than before).
  call.lastSignal = Date.now();
  if (kind === 'answer') call.answered = true;
  return buildSdp(sdp, plans, {
    replaceOrigin: req.replace.has('origin'),
    replaceSessionConnection: req.replace.has('session-connection'),
    noRtcpAttribute: req.flags.has('no-rtcp-attribute'),
    replaceZeroAddress: req.replace.has('zero-address'),
    generateMid: req.flags.has('generate-mid'),
    originalSendrecv: req.flags.has('original-sendrecv'),
    fullRtcpAttribute: req.flags.has('full-rtcp-attribute'),
    loopProtect: req.flags.has('loop-protect') ? env.instanceId : null,
    mediaAddress: req.mediaAddress ?? null,
    iface: receiverIface,
  });
}

/**
 * Codec negotiation for one live RTP m= line (src/codec/negotiation.ts): sets both
 * sides' ptimes as the reference does (a `ptime` flag overrides what the SDPs say
 * from then on) and returns the payload types the receiver is given.
 */
function negotiateCodecs(sm: CallMedia, rm: CallMedia, pm: ParsedMedia, req: NgRequest, kind: SignalKind): PayloadType[] {
  sm.codec.isRtp = true;
  rm.codec.isRtp = true;
  sm.codec.mediaType = rm.codec.mediaType = pm.section.type.toLowerCase();
  const sdpPtime = pm.desc.ptime !== null ? Math.floor(pm.desc.ptime) : 0;
  if (sdpPtime > 0) {
    if (!rm.codec.ptimeOverride) rm.codec.ptime = sdpPtime;
    if (!sm.codec.ptimeOverride) sm.codec.ptime = sdpPtime;
  }
  if (req.ptime !== undefined && req.ptime > 0) {
    rm.codec.ptime = req.ptime;
    rm.codec.ptimeOverride = true;
    sm.codec.ptimeOverride = true;
  }
  if (req.ptimeReverse !== undefined && req.ptimeReverse > 0) {
    sm.codec.ptime = req.ptimeReverse;
    rm.codec.ptimeOverride = true;
    sm.codec.ptimeOverride = true;
  }
  const offered = storeFromSection(pm.section, sdpPtime);
  const flags = {
    ops: req.codec,
    reuse: req.flags.has('reuse-codecs'),
    singleCodec: req.flags.has('single-codec'),
    answerOnly: kind !== 'offer' && pm.section.port !== 0,
  };
  if (kind === 'offer') negotiateOffer(sm.codec, rm.codec, offered, flags);
  else negotiateAnswer(sm.codec, rm.codec, offered, flags);
  return rm.codec.codecs.list;
}

/**
 * SDES-SRTP for one live RTP m= line (src/crypto/sdes.ts): records the keys the
 * sender's SDP carries, decides the keys of both directions with each side, and
 * returns the a=crypto values written for the receiver. Null for a DTLS transport
 * towards the receiver, whose security lines are passed through as before.
 */
function negotiateSdes(sm: CallMedia, rm: CallMedia, pm: ParsedMedia, protocol: string, kind: SignalKind, flags: SdesFlags): string[] | null {
  if (/TLS/i.test(protocol)) return null;
  const lines = isSdesProtocol(pm.desc.protocol) ? readCryptoLines(pm.section.lines) : [];
  const toReceiver = isSdesProtocol(protocol);
  if (kind === 'offer') {
    sm.sdes.offered = lines;
    rm.sdes.ours = toReceiver ? offerCrypto(lines, rm.sdes.send, flags) : [];
    return rm.sdes.ours.map((c) => formatCryptoLine(c, flags));
  }
  // The answerer: the line it chose among those offered to it.
  if (!isSdesProtocol(pm.desc.protocol) || !acceptAnswer(sm.sdes, lines)) {
    // It answered without SRTP: plain RTP with it. (What was offered to it stays
    // on record: query shows its first suite, as the reference does.)
    sm.sdes.recv = null;
    sm.sdes.send = null;
  }
  // The offerer: answered with the suite the answerer chose if it can, else its first.
  if (!toReceiver || flags.off) {
    rm.sdes.recv = null;
    rm.sdes.send = null;
    return [];
  }
  const answer = answerCrypto(rm.sdes, sm.sdes, flags);
  return answer ? [formatCryptoLine(answer, flags)] : [];
}

/**
 * The logical interface named by `direction` for one side. A side keeps the one it
 * was given until a direction names another. Unknown names fall back to the default
 * interface, as the reference does; the legacy names `internal` and `external` (when
 * no interface has them) and `round-robin-calls` are understood as it understands them.
 */
function pickInterface(env: SignalEnv, name: string | undefined, ml: Monologue, family: 4 | 6 | undefined, keep: boolean): { iface: LogicalInterface; family?: 4 | 6 } {
  const existing = ml.medias.find((m) => m.iface)?.iface;
  const fits = (i: LogicalInterface): boolean => family === undefined || i.addresses.some((a) => a.family === family);
  // A receiver whose interface cannot speak its family is moved to one that can.
  if (existing && (keep || (!name && fits(existing)))) return { iface: existing };
  const ofFamily = (): LogicalInterface =>
    env.interfaces.find((i) => i.addresses.some((a) => a.family === family)) ?? selectInterface(env.interfaces);
  if (!name) return { iface: ofFamily() };
  if (name === 'round-robin-calls') {
    const i = roundRobin++ % env.interfaces.length;
    return { iface: env.interfaces[i] };
  }
  try {
    return { iface: selectInterface(env.interfaces, name) };
  } catch {
    const fallback = existing ?? ofFamily();
    if (name === 'internal') return { iface: fallback, family: 4 };
    if (name === 'external') return { iface: fallback, family: 6 };
    log.warn(`Unknown interface '${name}' in direction, using '${fallback.name}'`);
    return { iface: fallback };
  }
}

let roundRobin = 0;

/**
 * RFC 5761 negotiation. At the offer, decides whether to offer rtcp-mux to the
 * receiver; at the answer, whether each side is multiplexed from now on.
 */
function negotiateMux(sm: CallMedia, rm: CallMedia, desc: MediaDescription, req: NgRequest, kind: SignalKind): { offer: boolean; muxed: boolean } {
  const opts = req.rtcpMux;
  if (kind === 'offer') {
    const offered = desc.rtcpMux;
    const require = opts.has('require');
    // `reject` refuses multiplexing to the offerer only; the far side is still offered it.
    const offer = require || opts.has('offer') || (offered && !opts.has('demux'));
    // Remember what the offerer may get back in the answer.
    sm.muxPolicy = offered && !opts.has('reject') ? (opts.has('demux') || opts.has('accept') ? 'accept' : 'follow') : 'no';
    rm.rtcpMux = require;
    rm.muxPolicy = offer ? 'offered' : 'no';
    sm.rtcpMuxFlag = offered;
    rm.rtcpMuxFlag = offer;
    return { offer, muxed: require };
  }
  // Answer: the sender (answerer) muxes if it accepted what we offered.
  const senderMuxed = desc.rtcpMux && sm.muxPolicy === 'offered' || sm.rtcpMux;
  sm.rtcpMux = senderMuxed;
  const receiverMuxed = rm.muxPolicy === 'accept' || (rm.muxPolicy === 'follow' && senderMuxed);
  rm.rtcpMux = receiverMuxed;
  sm.rtcpMuxFlag = senderMuxed;
  rm.rtcpMuxFlag = receiverMuxed;
  return { offer: receiverMuxed, muxed: receiverMuxed };
}

function negotiateIce(sm: CallMedia, rm: CallMedia, desc: MediaDescription, req: NgRequest, kind: SignalKind): 'none' | 'host' | 'relay' {
  const mode = req.ice;
  let want: boolean;
  if (mode === 'remove') want = false;
  else if (mode === 'force' || mode === 'force-relay') want = true;
  // In an answer, ICE goes back to the offerer only if it offered ICE itself.
  else if (kind === 'answer') want = rm.desc?.ice ?? false;
  else want = desc.ice;
  rm.iceOffered = want;
  sm.iceOffered = sm.iceOffered || desc.ice;
  // What `query` calls ICE: in use towards a side once its SDP carried ICE or this
  // daemon sent it ICE; an answer without ICE turns it off for the answerer, and the
  // latest SDP sent to a side decides for that side.
  sm.ice = kind === 'offer' ? sm.ice || desc.ice : desc.ice;
  rm.ice = want;
  if (!want) return 'none';
  if (!rm.iceUfrag || !rm.icePwd || req.flags.has('reset')) {
    const cred = newIceCredentials();
    rm.iceUfrag = cred.ufrag;
    rm.icePwd = cred.pwd;
  }
  return mode === 'force-relay' ? 'relay' : 'host';
}
