// Codec negotiation: which payload types each side of a media is offered and
// answered, and, per direction, which received payload types pass through and
// which are decoded and re-encoded into what.
//
// The model is rtpengine's, so that the SDP a proxy gets back is the one it
// gets from the reference daemon for the same flags:
// - each side of a media has a CodecStore: the payload types this daemon uses
//   with that side, in preference order. The sender's store holds what it
//   offered (after strip/offer/accept/consume); the receiver's store is what
//   the rewritten SDP offers it (after strip/mask/consume/offer/transcode).
// - handlers, per receiving side: for each payload type the side may send,
//   either passthrough (the sink side has the identical payload type) or a
//   transcoder into the sink's preferred codec, with the sink's telephone-event
//   and CN payload types of that clock rate.
// - supplemental codecs (telephone-event, CN) follow the audio codecs: when a
//   clock rate was touched by a flag, one is added for every audio clock rate
//   that lacks one and dropped for a clock rate that no audio codec has left.
// - an answer is rebuilt from what the answerer chose: a passthrough payload
//   type as the answerer wrote it, a transcoded one as the offerer's codec it
//   is transcoded into.
//
// Runs on the control thread; nothing here touches a packet.

import type { MediaSection } from '../sdp/sdp';
import { parseRtpmap, staticPayloadType } from '../sdp/attributes';
import type { CodecOps } from '../control/ng-request';
import { findCodec, codecSupport, hasRtpDefinition, type CodecEntry, type CodecSupport } from './table';
import { backendAvailable } from './native';

/** One RTP payload type as this daemon uses it with one side. */
export interface PayloadType {
  pt: number;
  /** Encoding name as the SDP wrote it ('' when unknown). */
  encoding: string;
  clockRate: number;
  channels: number;
  /** The a=fmtp value after the payload type ('' for none). */
  fmtp: string;
  /** The a=rtcp-fb values after the payload type. */
  rtcpFb: string[];
  /** Packetization in ms; 0 = unknown. */
  ptime: number;
  /** Bits per second asked for (transcode=opus/48000/2/32000, codec-set); 0 = default. */
  bitrate: number;
  /** Added for transcoding (not offered by the peer), or marked by accept/consume. */
  forTranscoding: boolean;
  accepted: boolean;
  /** The codec, when this daemon knows it (see knownCodec); else null. */
  def: CodecEntry | null;
  /** An a=rtpmap value that does not parse, written back as it was. */
  rawRtpmap: string | null;
  /** Insertion order, for name lookups (the reference keeps per-name queues). */
  seq: number;
  /** namesOf() cache. */
  names: string[] | null;
}

let seqCounter = 0;

const supportCache = new Map<string, CodecSupport>();

function support(c: CodecEntry): CodecSupport {
  let s = supportCache.get(c.name);
  if (s === undefined) {
    s = codecSupport(c, backendAvailable);
    supportCache.set(c.name, s);
  }
  return s;
}

/**
 * The codec of an encoding name when this daemon knows it for this media type (it
 * has an RTP definition and at least a decoder or an encoder), else null. Codecs
 * it does not know are passed through, and removed once transcoding is engaged.
 */
export function knownCodec(encoding: string, mediaType = 'audio'): CodecEntry | null {
  const c = findCodec(encoding);
  if (!c || !c.listed || c.mediaType !== mediaType || !hasRtpDefinition(c)) return null;
  const s = support(c);
  return s === 'full' || s === 'decode' || s === 'encode' ? c : null;
}

/** Whether this daemon both decodes and encodes the codec: only those can be added by `transcode`. */
export function canTranscode(c: CodecEntry | null): boolean {
  return c !== null && support(c) === 'full';
}

function isSupplemental(p: PayloadType): boolean {
  return p.def?.supplemental === true;
}

/** "PCMA/8000", "opus/48000/2": the rtpmap text (a channel count of 1 left out). */
export function withParams(p: PayloadType): string {
  return `${p.encoding}/${p.clockRate}${p.channels !== 1 ? `/${p.channels}` : ''}`;
}

function fullParams(p: PayloadType): string {
  return `${p.encoding}/${p.clockRate}/${p.channels}`;
}

/** Same payload type number, clock rate, channels and encoding (format parameters not compared). */
function sameNoFormat(a: PayloadType, b: PayloadType): boolean {
  return a.pt === b.pt && a.clockRate === b.clockRate && a.channels === b.channels &&
    withParams(a).toLowerCase() === withParams(b).toLowerCase();
}

function samePayloadType(a: PayloadType, b: PayloadType): boolean {
  return sameNoFormat(a, b) && a.fmtp === b.fmtp;
}

/** A copy, built field by field: one object shape for every payload type (V8 hidden classes). */
function copyPt(p: PayloadType): PayloadType {
  return {
    pt: p.pt, encoding: p.encoding, clockRate: p.clockRate, channels: p.channels, fmtp: p.fmtp,
    rtcpFb: p.rtcpFb.slice(), ptime: p.ptime, bitrate: p.bitrate, forTranscoding: p.forTranscoding,
    accepted: p.accepted, def: p.def, rawRtpmap: p.rawRtpmap, seq: ++seqCounter, names: p.names,
  };
}

/** The lower-cased names a payload type is known by (encoding, with params, with full params). */
function namesOf(p: PayloadType): string[] {
  if (!p.names) p.names = [p.encoding.toLowerCase(), withParams(p).toLowerCase(), fullParams(p).toLowerCase()];
  return p.names;
}

/** The codec attribute values (without "a=") of one payload type, as the reference writes them. */
export function payloadTypeLines(p: PayloadType): string[] {
  const out = [p.rawRtpmap !== null ? p.rawRtpmap : `rtpmap:${p.pt} ${withParams(p)}`];
  if (p.fmtp) out.push(`fmtp:${p.pt} ${p.fmtp}`);
  for (const fb of p.rtcpFb) out.push(`rtcp-fb:${p.pt} ${fb}`);
  return out;
}

/** The payload types of one side of a media, in preference order. */
export class CodecStore {
  list: PayloadType[] = [];
  /** The first supplemental codec: codecs added "in order" go before it. */
  private suppLink: PayloadType | null = null;
  stripAll = false;
  stripFull = false;
  /** Clock rates of audio codecs a flag added or removed; all of them after a supplemental one was. */
  touched = new Set<number>();
  allTouched = false;

  /** `media` supplies the media's ptime (which overrides every codec's) and whether it is RTP. */
  constructor(private readonly media: { ptime: number; isRtp: boolean } | null = null) {}

  byPt(pt: number): PayloadType | undefined {
    return this.list.find((p) => p.pt === pt);
  }

  /** Payload types known under a name: encoding, encoding/clock[/channels] or encoding/clock/channels. */
  named(name: string): PayloadType[] {
    const n = name.toLowerCase();
    const out = this.list.filter((p) => namesOf(p).includes(n));
    if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
    return out;
  }

  touch(p: PayloadType): void {
    if (isSupplemental(p)) this.allTouched = true;
    else this.touched.add(p.clockRate);
  }

  isTouched(p: PayloadType): boolean {
    return this.allTouched || this.touched.has(p.clockRate);
  }

  /** Adds a payload type object (not copied) before `before`, or at the end. */
  addRaw(p: PayloadType, before: PayloadType | null = null): void {
    if (this.media && this.media.ptime > 0) p.ptime = this.media.ptime;
    const i = before ? this.list.indexOf(before) : -1;
    if (i >= 0) this.list.splice(i, 0, p);
    else this.list.push(p);
    if (!this.suppLink && isSupplemental(p)) this.suppLink = p;
  }

  /** Adds at the end, but before the supplemental codecs. */
  addRawOrder(p: PayloadType): void {
    this.addRaw(p, this.suppLink);
  }

  /** Adds a copy (non-RTP media take none). */
  add(p: PayloadType, before: PayloadType | null = null): void {
    if (this.media && !this.media.isRtp) return;
    this.addRaw(copyPt(p), before);
  }

  addOrder(p: PayloadType): void {
    this.add(p, this.suppLink);
  }

  delete(p: PayloadType): void {
    const i = this.list.indexOf(p);
    if (i < 0) return;
    if (this.suppLink === p) this.suppLink = this.list[i + 1] ?? null;
    this.list.splice(i, 1);
  }

  /** Empties the store and its tracking; returns what it held. */
  take(): CodecStore {
    const old = new CodecStore(this.media);
    old.list = this.list;
    old.suppLink = this.suppLink;
    old.stripAll = this.stripAll;
    old.stripFull = this.stripFull;
    old.touched = this.touched;
    old.allTouched = this.allTouched;
    this.list = [];
    this.suppLink = null;
    this.stripAll = false;
    this.stripFull = false;
    this.touched = new Set();
    this.allTouched = false;
    return old;
  }
}

// ---------------------------------------------------------------- parsing

/** What a section's a=rtpmap, a=fmtp and a=rtcp-fb lines say of one payload type (after the number). */
interface CodecAttributes {
  rtpmap: string | null;
  fmtp: string | null;
  rtcpFb: string[];
}

/** The codec attributes of a section by payload type, in one pass; the first rtpmap and fmtp count. */
function codecAttributes(section: MediaSection): Map<string, CodecAttributes> {
  const out = new Map<string, CodecAttributes>();
  for (const l of section.lines) {
    if (l.type !== 'a') continue;
    const v = l.value;
    const colon = v.indexOf(':');
    let kind: 'rtpmap' | 'fmtp' | 'rtcpFb';
    if (colon === 6 && v.startsWith('rtpmap')) kind = 'rtpmap';
    else if (colon === 4 && v.startsWith('fmtp')) kind = 'fmtp';
    else if (colon === 7 && v.startsWith('rtcp-fb')) kind = 'rtcpFb';
    else continue;
    const sp = v.indexOf(' ', colon + 1);
    const pt = v.slice(colon + 1, sp < 0 ? v.length : sp);
    const rest = sp < 0 ? '' : v.slice(sp + 1);
    let attrs = out.get(pt);
    if (!attrs) {
      attrs = { rtpmap: null, fmtp: null, rtcpFb: [] };
      out.set(pt, attrs);
    }
    if (kind === 'rtcpFb') attrs.rtcpFb.push(rest);
    else if (attrs[kind] === null) attrs[kind] = rest;
  }
  return out;
}

/** The payload types an SDP media section offers, in m= line order. */
export function storeFromSection(section: MediaSection, ptime: number): CodecStore {
  const type = section.type.toLowerCase();
  const store = new CodecStore();
  const attrs = codecAttributes(section);
  for (const f of section.formats) {
    if (!/^\d+$/.test(f)) continue;
    const pt = parseInt(f, 10);
    if (pt > 127) continue;
    let encoding = '';
    let clockRate = 0;
    let channels = 1;
    let rawRtpmap: string | null = null;
    const a = attrs.get(f);
    if (a && a.rtpmap !== null) {
      const parsed = parseRtpmap(`${f} ${a.rtpmap}`);
      if (parsed) {
        encoding = parsed.encoding;
        clockRate = parsed.clockRate;
        channels = parsed.channels ?? 1;
      } else {
        rawRtpmap = `rtpmap:${f} ${a.rtpmap}`;
      }
    } else {
      const known = staticPayloadType(pt);
      if (known) {
        encoding = known.encoding;
        clockRate = known.clockRate;
        channels = known.channels ?? 1;
      }
    }
    const fmtp = a?.fmtp ?? '';
    store.addRaw({
      pt, encoding, clockRate, channels, fmtp,
      rtcpFb: a ? a.rtcpFb.slice() : [],
      ptime: ptime > 0 ? Math.floor(ptime) : 0,
      bitrate: 0, forTranscoding: false, accepted: false,
      def: encoding ? knownCodec(encoding, type) : null,
      rawRtpmap, seq: ++seqCounter, names: null,
    });
  }
  return store;
}

// ---------------------------------------------------------------- media sides

/** What a receiving side does with one payload type it may send. */
export interface Handler {
  src: PayloadType;
  /** The payload type sent to the sink; for passthrough a copy of src. */
  dest: PayloadType;
  passthrough: boolean;
  /** The sink's telephone-event and CN payload types for dest's clock rate; -1 = none. */
  dtmfPt: number;
  cnPt: number;
}

/** The codec state of one side of a media. */
export class MediaCodecs {
  ptime = 0;
  /** A `ptime` flag set this side's ptime: mismatches between the sides engage repacketization. */
  ptimeOverride = false;
  isRtp = true;
  /** The m= line's media type: only audio has codecs this daemon transcodes. */
  mediaType = 'audio';
  readonly codecs: CodecStore = new CodecStore(this);
  /** Handlers for what this side sends, towards `sink`. */
  handlers = new Map<number, Handler>();
  sink: MediaCodecs | null = null;
  /** Some payload type this side sends is transcoded. */
  transcoding = false;
}

/** Parsed `codec-set` entries by the names they match. */
type CodecSet = Map<string, PayloadType>;

function codecSet(items: string[]): CodecSet | null {
  if (items.length === 0) return null;
  const out: CodecSet = new Map();
  for (const s of items) {
    const p = makePayloadType(s);
    if (!p) continue;
    for (const k of [p.encoding, withParams(p), fullParams(p)]) out.set(k.toLowerCase(), p);
  }
  return out;
}

function applyCodecSet(p: PayloadType, set: CodecSet | null): void {
  if (!set) return;
  for (const k of [fullParams(p), withParams(p), p.encoding]) {
    const s = set.get(k.toLowerCase());
    if (!s) continue;
    if (s.clockRate !== p.clockRate || s.channels !== p.channels) continue;
    if (!p.bitrate) p.bitrate = s.bitrate;
    return;
  }
}

/**
 * A payload type from a flag's codec string: name[/clock[/channels[/bitrate[/ptime[/fmtp]]]]],
 * with the codec's defaults filled in; null for an empty name.
 */
export function makePayloadType(s: string): PayloadType | null {
  const parts = s.split('/');
  const encoding = parts[0];
  if (!encoding) return null;
  const num = (i: number): number => {
    const n = parseInt(parts[i] ?? '', 10);
    return Number.isFinite(n) ? n : 0;
  };
  let clockRate = num(1);
  let channels = num(2);
  const bitrate = num(3);
  const ptime = num(4);
  let fmtp = parts[5] ?? '';
  if (clockRate && !channels) channels = 1;
  const c = findCodec(encoding);
  const name = c && c.listed ? c.name : encoding;
  if (c && c.clockRate !== null) {
    if (!clockRate) clockRate = c.clockRate;
    if (!channels) channels = c.channels ?? 1;
    if (!fmtp) fmtp = c.offerFmtp ?? c.fmtp;
  }
  if (!channels) channels = 1;
  let pt = -1;
  if (c && c.payloadType !== null) {
    const known = staticPayloadType(c.payloadType);
    if (known && known.encoding.toLowerCase() === name.toLowerCase() && known.clockRate === clockRate && (known.channels ?? 1) === channels) pt = c.payloadType;
  }
  return {
    pt, encoding: name, clockRate, channels, fmtp, rtcpFb: [], ptime: ptime > 0 ? ptime : c?.ptime?.default ?? 0,
    bitrate, forTranscoding: false, accepted: false, def: knownCodec(name), rawRtpmap: null, seq: ++seqCounter, names: null,
  };
}

/** A free payload type number for p (its own if free or the same codec), else from 96 on; -1 if none. */
function unusedPt(stores: CodecStore[], p: PayloadType): number {
  let num = p.pt >= 0 ? p.pt : 96;
  for (;;) {
    const match = stores.map((s) => s.byPt(num)).find((x) => x !== undefined);
    if (!match) return num;
    if (sameNoFormat({ ...p, pt: num }, match)) return num;
    num++;
    if (num < 96) num = 96;
    else if (num >= 128) return -1;
  }
}

/** A payload type for a codec asked for by a flag, if this daemon can transcode it. */
function addPayloadType(name: string, media: MediaCodecs, extra: CodecStore | null): PayloadType | null {
  const p = makePayloadType(name);
  if (!p || !canTranscode(p.def) || !p.def || p.clockRate <= 0) return null;
  if (p.def.mediaType !== media.mediaType) return null;
  const stores = [media.codecs];
  if (extra) stores.push(extra);
  p.pt = unusedPt(stores, p);
  return p.pt < 0 ? null : p;
}

// ---------------------------------------------------------------- store operations

/**
 * Fills `dst` from `src`, keeping what `dst` knew of each payload type (ptime,
 * transcoding marks, bitrate). With `answerOnly` (an answer to an offer this
 * daemon made) a payload type the offer did not contain is left out, as the
 * reference does ("stray answer codec").
 */
function populate(dst: CodecStore, src: CodecStore, set: CodecSet | null, answerOnly = false): void {
  const orig = dst.take();
  for (const p of src.list) {
    const o = orig.byPt(p.pt);
    if (!o && answerOnly) continue;
    const copy = copyPt(p);
    if (o) {
      copy.ptime = o.ptime;
      copy.forTranscoding = o.forTranscoding;
      copy.accepted = o.accepted;
      copy.bitrate = o.bitrate;
      // A codec this daemon added for transcoding that the other side takes up
      // counts as touched: its clock rate (all of them for telephone-event or CN)
      // gets its supplemental codecs revised (observed of rtpengine 10.5).
      if (o.forTranscoding) dst.touch(copy);
    }
    applyCodecSet(copy, set);
    dst.add(copy);
  }
}

/** `reuse-codecs`: keeps what the side had, adds new payload types, drops vanished ones. */
function populateReuse(dst: CodecStore, src: CodecStore, set: CodecSet | null): void {
  for (const p of src.list) {
    if (dst.byPt(p.pt)) continue;
    const copy = copyPt(p);
    applyCodecSet(copy, set);
    dst.add(copy);
  }
  for (const p of [...dst.list]) if (!src.byPt(p.pt)) dst.delete(p);
}

function isAllKeyword(s: string): boolean {
  return s === 'all' || s === 'full';
}

function strip(cs: CodecStore, names: string[], except: string[]): void {
  const excepted = new Set(except.map((e) => e.toLowerCase()));
  for (const name of names) {
    if (isAllKeyword(name)) {
      if (name === 'all') cs.stripAll = true;
      else cs.stripFull = true;
      for (const p of [...cs.list]) {
        if ([p.encoding, withParams(p), fullParams(p)].some((k) => excepted.has(k.toLowerCase()))) continue;
        cs.touch(p);
        cs.delete(p);
      }
      continue;
    }
    for (const p of cs.named(name)) {
      cs.touch(p);
      cs.delete(p);
    }
  }
}

/** Restores codecs of `orig` that were stripped, in order. */
function restore(cs: CodecStore, name: string, orig: CodecStore): void {
  for (const o of orig.named(name)) {
    if (cs.byPt(o.pt)) continue;
    cs.touch(o);
    cs.addOrder(o);
  }
}

function offerCodecs(cs: CodecStore, names: string[], orig: CodecStore): void {
  for (const name of names) {
    if (cs.named(name).length > 0) continue;
    restore(cs, name, orig);
  }
}

function accept(cs: CodecStore, names: string[], orig: CodecStore | null): void {
  for (const name of names) {
    let pts = isAllKeyword(name) ? [...cs.list] : cs.named(name);
    if (pts.length === 0) {
      if (!orig || orig.named(name).length === 0) continue;
      restore(cs, name, orig);
      pts = cs.named(name);
    }
    for (const p of pts) {
      p.forTranscoding = true;
      p.accepted = true;
      cs.touch(p);
    }
  }
}

function track(cs: CodecStore, names: string[]): void {
  for (const name of names) {
    if (isAllKeyword(name)) {
      cs.allTouched = true;
      continue;
    }
    for (const p of cs.named(name)) cs.touch(p);
  }
}

function transcode(media: MediaCodecs, names: string[], orig: CodecStore): void {
  const cs = media.codecs;
  for (const name of names) {
    if (cs.named(name).length > 0) continue;
    if (orig.named(name).length === 0 || cs.stripFull) {
      const p = addPayloadType(name, media, orig);
      if (!p) continue;
      p.forTranscoding = true;
      cs.touch(p);
      cs.addRawOrder(p);
      continue;
    }
    restore(cs, name, orig);
  }
}

/** Flags that leave no codec at all leave the original list, as the reference does. */
function checkEmpty(cs: CodecStore, src: CodecStore): void {
  if (cs.list.length > 0) return;
  populate(cs, src, null);
}

/** Adds telephone-event/CN for touched clock rates that lack them; drops those whose clock rate is gone. */
export function trackerUpdate(media: MediaCodecs): boolean {
  let changed = false;
  const cs = media.codecs;
  const clockRates = new Set<number>();
  const supp = new Map<string, Map<number, PayloadType[]>>();
  for (const p of cs.list) {
    if (!isSupplemental(p)) {
      clockRates.add(p.clockRate);
      continue;
    }
    const key = p.encoding.toLowerCase();
    let byRate = supp.get(key);
    if (!byRate) supp.set(key, (byRate = new Map()));
    const q = byRate.get(p.clockRate) ?? [];
    q.push(p);
    byRate.set(p.clockRate, q);
  }
  const rates = [...clockRates].sort((a, b) => a - b);
  const touched = (rate: number): boolean => cs.allTouched || cs.touched.has(rate);
  // CN before telephone-event: the order the reference adds them in.
  for (const [key, byRate] of [...supp].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const name = byRate.values().next().value?.[0]?.def?.name ?? key;
    for (const rate of rates) {
      if (byRate.has(rate)) {
        byRate.delete(rate);
        continue;
      }
      if (!touched(rate)) continue;
      const p = addPayloadType(`${name}/${rate}`, media, null);
      if (!p) continue;
      p.forTranscoding = true;
      cs.addRawOrder(p);
      changed = true;
    }
    for (const [rate, entries] of byRate) {
      if (!touched(rate)) continue;
      for (const p of entries) cs.delete(p);
      changed = true;
    }
  }
  return changed;
}

// ---------------------------------------------------------------- handlers

interface SinkInfo {
  supp: Map<string, Map<number, PayloadType>>;
  preferred: PayloadType | null;
}

function checkCodecList(side: MediaCodecs, wantPreferred: boolean): SinkInfo {
  const supp = new Map<string, Map<number, PayloadType>>();
  let preferred: PayloadType | null = null;
  let firstAccepted: PayloadType | null = null;
  for (const p of side.codecs.list) {
    if (!p.def) continue;
    if (p.ptime <= 0) p.ptime = p.def.ptime?.default ?? 20;
    if (side.ptime > 0) p.ptime = side.ptime;
    if (!preferred && !p.def.supplemental) preferred = p;
    if (p.accepted && !firstAccepted && !p.def.supplemental) firstAccepted = p;
    if (p.def.supplemental) {
      const key = p.def.name.toLowerCase();
      let m = supp.get(key);
      if (!m) supp.set(key, (m = new Map()));
      if (!m.has(p.clockRate)) m.set(p.clockRate, p);
    }
  }
  if (firstAccepted) preferred = firstAccepted;
  return { supp, preferred: wantPreferred ? preferred : null };
}

function suppFor(info: SinkInfo, name: string, rate: number): PayloadType | null {
  return info.supp.get(name)?.get(rate) ?? null;
}

/**
 * Decides, for every payload type `receiver` may send, whether it passes through to
 * `sink` or is transcoded into the sink's preferred codec. `withFlags` is false for
 * the second pass over the answerer's side during an answer: a supplemental codec
 * the answer rejected is then not kept for the sink either.
 */
export function handlersUpdate(receiver: MediaCodecs, sink: MediaCodecs, withFlags: boolean): void {
  receiver.transcoding = false;
  receiver.handlers = new Map();
  receiver.sink = sink;
  if (!receiver.isRtp || !sink.isRtp) return;
  const sinks = checkCodecList(sink, true);
  const recvs = checkCodecList(receiver, false);
  for (const p of receiver.codecs.list) {
    if (p.ptime <= 0 && p.def) p.ptime = p.def.ptime?.default ?? 20;
    if (receiver.ptime > 0) p.ptime = receiver.ptime;
    const passthrough = (dtmf: PayloadType | null, cn: PayloadType | null): void => {
      receiver.handlers.set(p.pt, { src: p, dest: copyPt(p), passthrough: true, dtmfPt: dtmf?.pt ?? -1, cnPt: cn?.pt ?? -1 });
    };
    if (!p.def) {
      passthrough(null, null);
      continue;
    }
    const recvDtmf = suppFor(recvs, 'telephone-event', p.clockRate);
    const recvCn = suppFor(recvs, 'cn', p.clockRate);
    let sinkPt: PayloadType | null = sink.codecs.byPt(p.pt) ?? null;
    if (sinkPt && !samePayloadType(p, sinkPt)) sinkPt = null;
    if (!sinkPt) {
      sinkPt = sink.codecs.named(p.encoding).find((s) => s.clockRate === p.clockRate && s.channels === p.channels) ?? null;
    }
    if (sinkPt && !p.def.supplemental && sinks.preferred?.forTranscoding) sinkPt = sinks.preferred;
    if (!sinkPt) sinkPt = sinks.preferred;
    if (!sinkPt) {
      passthrough(recvDtmf, recvCn);
      continue;
    }
    let sinkDtmf = suppFor(sinks, 'telephone-event', sinkPt.clockRate);
    let sinkCn = suppFor(sinks, 'cn', sinkPt.clockRate);
    if (!withFlags) {
      if (sinkDtmf && !recvDtmf && !sinkDtmf.forTranscoding) sinkDtmf = null;
      if (sinkCn && !recvCn && !sinkCn.forTranscoding) sinkCn = null;
    }
    const pcmDtmfDetect = !p.def.supplemental && !recvDtmf && sinkDtmf !== null && sinkDtmf.forTranscoding;
    const ptimeMismatch = !p.def.supplemental && sinkPt.ptime > 0 && p.ptime > 0 && sinkPt.ptime !== p.ptime &&
      (sink.ptimeOverride || receiver.ptimeOverride);
    const needsTranscoding = !sameNoFormat(p, sinkPt) || ptimeMismatch || pcmDtmfDetect ||
      (recvDtmf !== null && recvDtmf.forTranscoding && !sinkDtmf) ||
      (!recvCn && sinkCn !== null && sinkCn.forTranscoding) ||
      (recvCn !== null && recvCn.forTranscoding && !sinkCn);
    if (!needsTranscoding) {
      // Passed through, events and comfort noise keep the sender's payload types.
      passthrough(recvDtmf, recvCn);
      continue;
    }
    // Options given with the codec at the offer (bitrate) live on the sink's own entry.
    const reverse = sink.codecs.byPt(sinkPt.pt);
    if (reverse && !sinkPt.bitrate) sinkPt.bitrate = reverse.bitrate;
    // Any payload type that is not passed through, telephone-event and CN included,
    // marks the side as transcoding (what `query` reports as "transcoding").
    receiver.transcoding = true;
    receiver.handlers.set(p.pt, { src: p, dest: sinkPt, passthrough: false, dtmfPt: sinkDtmf?.pt ?? -1, cnPt: sinkCn?.pt ?? -1 });
  }
  if (!receiver.transcoding) return;
  // Transcoding engaged: the side may be sent any of its codecs, so those this daemon
  // does not know at all are withdrawn.
  for (const p of [...receiver.codecs.list]) {
    if (p.def) continue;
    receiver.codecs.touch(p);
    receiver.codecs.delete(p);
    receiver.handlers.delete(p.pt);
  }
}

/** The answer towards the offerer (dst), from what the answerer (src) chose and the handlers between them. */
function answerStore(dst: MediaCodecs, src: MediaCodecs, singleCodec: boolean): void {
  const orig = dst.codecs.take();
  const cs = dst.codecs;
  let count = 0;
  const suppQueue: PayloadType[] = [];
  const handler = (p: PayloadType): Handler | undefined => (src.sink === dst ? src.handlers.get(p.pt) : undefined);
  // An answer that passes anything through unchanged is not transcoded for the rest,
  // except for codecs a flag asked to transcode (observed of rtpengine 10.5).
  const anyPassthrough = src.codecs.list.some((p) => handler(p)?.passthrough === true);
  for (const p of src.codecs.list) {
    const add = !(singleCodec && count >= 1);
    const h = handler(p);
    if (!h) {
      if (!p.forTranscoding && add) {
        cs.add(p);
        count++;
      }
      continue;
    }
    // Supplemental codecs a flag touched come with their audio codec (below), not on their own.
    const supp = isSupplemental(p);
    if (supp && (p.forTranscoding || cs.isTouched(p) || src.codecs.isTouched(p) || orig.isTouched(p))) continue;
    if (!add && !supp) continue;
    if (!h.passthrough && anyPassthrough && !p.forTranscoding && !h.dest.forTranscoding && !sameNoFormat(p, h.dest)) continue;
    if (!cs.byPt(h.dest.pt)) {
      cs.add(h.passthrough ? p : h.dest);
      count++;
    }
    // The telephone-event and CN that go with it, when the offerer has them.
    for (const extra of [h.cnPt, h.dtmfPt]) {
      if (extra < 0) continue;
      const e = orig.byPt(extra);
      if (e) suppQueue.push(e);
    }
  }
  for (const e of suppQueue) {
    if (cs.byPt(e.pt)) continue;
    cs.add(e);
  }
}

// ---------------------------------------------------------------- offer and answer

export interface NegotiationFlags {
  ops: CodecOps;
  /** `reuse-codecs` / `no-codec-renegotiation`. */
  reuse: boolean;
  /** `single-codec` (answer). */
  singleCodec: boolean;
  /** An answer that accepts the media (port not 0): codecs the offer lacked are ignored. */
  answerOnly?: boolean;
}

/** The sender's store becomes what its SDP signalled, after `codec-set`, strip and offer. */
function takeSignalled(sender: MediaCodecs, signalled: CodecStore, f: NegotiationFlags): void {
  const set = codecSet(f.ops.set);
  if (f.reuse) populateReuse(sender.codecs, signalled, set);
  else populate(sender.codecs, signalled, set, f.answerOnly === true);
  strip(sender.codecs, f.ops.strip, f.ops.except);
  offerCodecs(sender.codecs, f.ops.offer, signalled);
}

/**
 * An offer from `sender` to `receiver` for one m= line: the sender's store becomes
 * what it offered (after its flags), the receiver's store what the rewritten SDP
 * offers it; handlers for early media from the receiver are set up.
 */
export function negotiateOffer(sender: MediaCodecs, receiver: MediaCodecs, offered: CodecStore, f: NegotiationFlags): void {
  const ops = f.ops;
  takeSignalled(sender, offered, f);
  if (!sender.codecs.stripFull) offerCodecs(sender.codecs, ops.transcode, offered);
  checkEmpty(sender.codecs, offered);
  accept(sender.codecs, ops.accept, null);
  accept(sender.codecs, ops.consume, offered);
  track(sender.codecs, ops.mask);

  if (!(receiver.isRtp && !sender.isRtp)) {
    if (f.reuse) populateReuse(receiver.codecs, offered, null);
    else populate(receiver.codecs, offered, null);
  }
  strip(receiver.codecs, ops.strip, ops.except);
  strip(receiver.codecs, ops.consume, ops.except);
  strip(receiver.codecs, ops.mask, ops.except);
  offerCodecs(receiver.codecs, ops.offer, offered);
  transcode(receiver, ops.transcode, offered);
  checkEmpty(receiver.codecs, offered);
  trackerUpdate(receiver);
  const before = receiver.codecs.list.length;
  handlersUpdate(receiver, sender, true);
  // Updating the handlers may withdraw codecs: then the supplemental ones are revised and the handlers set again.
  if (trackerUpdate(receiver) || receiver.codecs.list.length !== before) handlersUpdate(receiver, sender, true);
}

/**
 * An answer from `sender` (the answerer) to `receiver` (the offerer): the answerer's
 * store becomes what it answered; the offerer's store, the codecs of the rewritten
 * answer, is rebuilt from it through the handlers; both directions' handlers are set.
 */
export function negotiateAnswer(sender: MediaCodecs, receiver: MediaCodecs, answered: CodecStore, f: NegotiationFlags): void {
  takeSignalled(sender, answered, f);
  checkEmpty(sender.codecs, answered);
  handlersUpdate(sender, receiver, false);
  answerStore(receiver, sender, f.singleCodec);
  handlersUpdate(receiver, sender, true);
  trackerUpdate(receiver);
  trackerUpdate(sender);
  handlersUpdate(receiver, sender, true);
  handlersUpdate(sender, receiver, false);
}
