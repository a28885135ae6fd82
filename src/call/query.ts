// The `query`, `delete` and `list` replies, in the reference daemon's layout, built
// from the counters the media engine keeps anyway.

import type { BDict, BValue } from '../control/bencode';
import type { Endpoint, StreamStats } from '../media/engine';
import type { Call, CallMedia, Monologue, PacketStream } from './model';
import type { MediaWiring } from './wiring';

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

function streamDict(ps: PacketStream, st: StreamStats | null, call: Call, totals: Counters): BDict {
  const d: BDict = {};
  if (ps.localPort && ps.localAddress) {
    d['local port'] = ps.localPort;
    d['local address'] = ps.localAddress.address;
    d['family'] = familyName(ps.localAddress.family);
  }
  const endpoint = st?.learned && st.endpoint ? st.endpoint : ps.endpoint;
  d['endpoint'] = endpointDict(endpoint);
  d['advertised endpoint'] = endpointDict(ps.advertised);
  d['last packet'] = seconds(st && st.lastPacket > 0 ? st.lastPacket : call.created);
  const flags: string[] = [ps.isRtcp ? 'RTCP' : 'RTP'];
  if (ps.advertised) flags.push('filled');
  if (st?.learned || ps.confirmed) flags.push('confirmed');
  if (ps.media.monologue.strictSource) flags.push('strict source');
  if (ps.media.monologue.mediaHandover) flags.push('media handover');
  d['flags'] = flags;
  const counters = { packets: st?.packets ?? 0, bytes: st?.bytes ?? 0, errors: st?.errors ?? 0 };
  totals.packets += counters.packets;
  totals.bytes += counters.bytes;
  totals.errors += counters.errors;
  d['stats'] = { ...counters };
  return d;
}

function mediaDict(m: CallMedia, wiring: MediaWiring, call: Call, totals: { rtp: Counters; rtcp: Counters }): BDict {
  const streams: BValue[] = [];
  for (const ps of [m.rtp, m.rtcp]) {
    streams.push(streamDict(ps, wiring.stats(ps), call, ps.isRtcp ? totals.rtcp : totals.rtp));
  }
  const flags: string[] = [];
  if (m.rtp.advertised) flags.push('initialized');
  if (m.sendFlag) flags.push('send');
  if (m.recvFlag) flags.push('recv');
  if (m.rtcpMux) flags.push('rtcp-mux');
  if (m.iceControlling) flags.push('ICE controlling');
  return { index: m.index + 1, type: m.type, protocol: m.protocol, streams, flags };
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
    SSRC: {},
    tags,
    totals: { RTP: totals.rtp, RTCP: totals.rtcp },
  };
}
