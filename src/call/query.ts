// The `query`, `delete` and `list` replies, in the reference daemon's layout, built
// from the counters the media engine keeps anyway.

import type { BDict, BValue } from '../control/bencode';
import type { Endpoint, MosSample, SsrcStats, StreamStats } from '../media/engine';
import type { Call, CallMedia, Monologue, PacketStream } from './model';
import type { MediaWiring } from './wiring';
import { withParams } from '../codec/negotiation';

interface Counters {
  packets: number;
  bytes: number;
  errors: number;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function familyName(family: 4 | 6): string {
  return family === 6 ? 'IPv6' : 'IPv4';
}

function endpointDict(ep: Endpoint | null): BDict {
  if (!ep) return {};
  return { family: familyName(ep.family), address: ep.address, port: ep.port };
}

function monologueKey(ml: Monologue, untagged: { n: number }): string {
  if (ml.tag !== '' && !ml.tag.startsWith('\u0000')) return ml.tag;
  untagged.n++;
  return `<untagged ${untagged.n}>`;
}

function visibleTag(ml: Monologue): string {
  return ml.tag.startsWith('\u0000') ? '' : ml.tag;
}

/** The SDES suite in use with a side, or the first one offered to it before it answered. */
function sdesSuite(m: CallMedia): string | null {
  return m.sdes.send?.suite.name ?? (m.sdes.recv ? null : m.sdes.ours[0]?.suite.name ?? null);
}

function streamDict(ps: PacketStream, st: StreamStats | null, call: Call, totals: Counters): BDict {
  const d: BDict = {};
  if (ps.localPort && ps.localAddress) {
    // A multiplexed side has no RTCP port of its own.
    d['local port'] = ps.isRtcp && ps.media.rtcpPortless ? 0 : ps.localPort;
    d['local address'] = ps.localAddress.address;
    d['family'] = familyName(ps.localAddress.family);
  }
  const endpoint = st?.learned && st.endpoint ? st.endpoint : ps.endpoint;
  d['endpoint'] = endpointDict(endpoint);
  d['advertised endpoint'] = endpointDict(ps.advertised);
  const suite = sdesSuite(ps.media);
  if (suite) d['crypto suite'] = suite;
  d['last packet'] = seconds(st && st.lastPacket > 0 ? st.lastPacket : call.created);
  const muxed = ps.media.rtcpMuxFlag;
  // With rtcp-mux the RTP stream carries RTCP too and the RTCP stream is only a fallback.
  const flags: string[] = ps.isRtcp ? (muxed ? ['RTCP', 'fallback RTCP'] : ['RTCP']) : (muxed ? ['RTP', 'RTCP'] : ['RTP']);
  if (ps.advertised) flags.push('filled');
  // Confirmed as the reference means it: a packet has arrived and the endpoint is
  // fixed (after the learning window, at once without learning).
  if (st && st.confirmed && st.lastPacket > 0) flags.push('confirmed');
  if (st && st.kernelized) flags.push('kernelized');
  if (ps.media.monologue.strictSource) flags.push('strict source address');
  if (ps.media.monologue.mediaHandover) flags.push('media handover');
  if (ps.media.ice) flags.push('ICE');
  d['flags'] = flags;
  if (st && st.ssrc !== null) d['SSRC'] = st.ssrc;
  const counters = { packets: st?.packets ?? 0, bytes: st?.bytes ?? 0, errors: st?.errors ?? 0 };
  totals.packets += counters.packets;
  totals.bytes += counters.bytes;
  totals.errors += counters.errors;
  d['stats'] = { ...counters };
  return d;
}

/**
 * The codec of the payload type the media's RTP port received most, as this side's
 * negotiated payload type names it ("opus/48000/2"); null before any packet or for a
 * payload type this side did not negotiate (the reference then has no `codec` either).
 */
function codecName(m: CallMedia, st: StreamStats | null): string | null {
  if (!st || st.payloadType === null || st.packets === 0) return null;
  const p = m.codec.codecs.byPt(st.payloadType);
  return p && p.encoding ? withParams(p) : null;
}

/**
 * Our extension to the reference's layout: the codec this daemon sends towards the
 * side of `m`. What the other side sends (the payload type its RTP stream received
 * most, or before any packet its first negotiated codec) is followed through that
 * side's handler: passed through as it is, or transcoded into the handler's output.
 * Null while the media has no negotiated peer.
 */
function egressCodec(m: CallMedia, wiring: MediaWiring): string | null {
  const peer = m.monologue.peer?.medias[m.index];
  if (!peer || peer.codec.sink !== m.codec) return null;
  const st = wiring.stats(peer.rtp);
  let pt = st && st.packets > 0 ? st.payloadType : null;
  if (pt === null) {
    const first = peer.codec.codecs.list.find((p) => p.def === null || !p.def.supplemental);
    if (!first) return null;
    pt = first.pt;
  }
  const h = peer.codec.handlers.get(pt);
  if (!h) return null;
  return withParams(h.passthrough ? h.src : h.dest);
}

function mediaDict(m: CallMedia, wiring: MediaWiring, call: Call, totals: { rtp: Counters; rtcp: Counters }): BDict {
  const streams: BValue[] = [];
  const stats = [m.rtp, m.rtcp].map((ps) => wiring.stats(ps));
  [m.rtp, m.rtcp].forEach((ps, i) => {
    streams.push(streamDict(ps, stats[i], call, ps.isRtcp ? totals.rtcp : totals.rtp));
  });
  const flags: string[] = [];
  if (m.rtp.advertised) flags.push('initialized');
  if (m.asymmetric) flags.push('asymmetric');
  if (m.sendFlag) flags.push('send');
  if (m.recvFlag) flags.push('recv');
  if (m.rtcpMuxFlag) flags.push('rtcp-mux');
  if (sdesSuite(m)) flags.push('SDES');
  if (m.ice) flags.push('ICE');
  if (m.iceControlling) flags.push('ICE controlling');
  if (m.codec.transcoding) flags.push('transcoding');
  const d: BDict = { index: m.index + 1, type: m.type, protocol: m.protocol };
  const codec = codecName(m, stats[0]);
  if (codec !== null) d['codec'] = codec;
  const egress = egressCodec(m, wiring);
  if (egress !== null) d['egress codec'] = egress;
  d['streams'] = streams;
  d['flags'] = flags;
  return d;
}

function tagDict(ml: Monologue, wiring: MediaWiring, call: Call, totals: { rtp: Counters; rtcp: Counters }): BDict {
  const d: BDict = { tag: visibleTag(ml), created: seconds(ml.created) };
  if (ml.label !== null) d['label'] = ml.label;
  const peers = ml.peer ? [{ tag: visibleTag(ml.peer), type: 'offer/answer' }] : [];
  d['subscriptions'] = peers;
  d['subscribers'] = peers.map((p) => ({ ...p }));
  d['medias'] = ml.medias.map((m) => mediaDict(m, wiring, call, totals));
  return d;
}

function mosEntry(b: Omit<MosSample, 'reportedUs'>, div = 1): BDict {
  return {
    MOS: Math.floor(b.mos / div),
    'round-trip time': Math.floor(b.rtt / div),
    'round-trip time leg': Math.floor(b.rttLeg / div),
    jitter: Math.floor(b.jitter / div),
    'packet loss': Math.floor(b.packetLoss / div),
  };
}

function reportedAt(b: MosSample): number {
  return Math.floor(b.reportedUs / 1e6);
}

/**
 * One SSRC in the reference's layout: the cumulative loss, the average over the
 * samples with a MOS, the lowest and highest samples, and about ten samples spread
 * over the call. Null until its receiver reports gave a MOS: the reference (10.5)
 * then leaves the SSRC out.
 */
function ssrcDict(s: SsrcStats): BDict | null {
  if (s.samples === 0 || !s.lowest || !s.highest) return null;
  const div = Math.max(1, s.samples - s.samplesWithoutMos);
  const blocks = s.blocks;
  const interval = blocks.length > 0 ? Math.floor((reportedAt(blocks[blocks.length - 1]) - reportedAt(blocks[0])) / 10) : 0;
  const entries: BValue[] = [];
  let next = blocks.length > 0 ? reportedAt(blocks[0]) : 0;
  for (const b of blocks) {
    if (reportedAt(b) < next) continue;
    next += interval;
    entries.push({ ...mosEntry(b), 'reported at': reportedAt(b) });
  }
  return {
    'cumulative loss': s.cumulativeLoss,
    'average MOS': { ...mosEntry(s.sums, div), samples: div },
    'lowest MOS': { ...mosEntry(s.lowest), 'reported at': reportedAt(s.lowest) },
    'highest MOS': { ...mosEntry(s.highest), 'reported at': reportedAt(s.highest) },
    'MOS progression': { interval, entries },
  };
}

/** The `SSRC` dictionary of a call, keyed by SSRC in decimal. */
export function ssrcReply(call: Call, wiring: MediaWiring): BDict {
  const out: BDict = {};
  for (const s of wiring.engine.ssrcStats(call.group)) {
    const d = ssrcDict(s);
    if (d) out[String(s.ssrc)] = d;
  }
  return out;
}

/** The reply body of `query` (and of `delete`): the call, its tags, medias and streams. */
export function queryReply(call: Call, wiring: MediaWiring): BDict {
  const totals = {
    rtp: { packets: 0, bytes: 0, errors: 0 },
    rtcp: { packets: 0, bytes: 0, errors: 0 },
  };
  const tags: BDict = {};
  const untagged = { n: 0 };
  for (const ml of call.monologues.values()) {
    tags[monologueKey(ml, untagged)] = tagDict(ml, wiring, call, totals);
  }
  return {
    created: seconds(call.created),
    created_us: (call.created % 1000) * 1000,
    'last signal': seconds(call.lastSignal),
    SSRC: ssrcReply(call, wiring),
    tags,
    totals: { RTP: totals.rtp, RTCP: totals.rtcp },
  };
}
