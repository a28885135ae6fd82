// Graph planning: turns the handlers negotiation chose for one sending side
// (src/codec/negotiation.ts) into the codec route the media engine runs for the
// stream that receives that side's RTP (CodecRoute, src/media/engine.ts).
//
// A side without transcoding gets no route: its packets are relayed untouched
// (and stay eligible for the kernel path). With transcoding, every payload type
// it may send is either decoded and re-encoded into the one output codec, or
// forwarded with the sink's payload type number.

import type { Handler, MediaCodecs, PayloadType } from './negotiation';
import { nativeCodecSpec, type NativeCodecSpec } from './table';
import type { CodecRoute, EventRoute } from '../media/engine';

/** Daemon-wide settings that shape every transcoding route. */
export interface GraphOptions {
  /** --silence-detect in dBov (0 = off). */
  silenceDetectDbov: number;
  /** --dtx-delay and --max-dtx, ms. */
  dtxDelayMs: number;
  maxDtxMs: number;
  /** Audio is left out while a DTMF event stands in for it (false: --dtmf-no-suppress). */
  suppressDtmf: boolean;
  /** The DTX buffer (--dtx-delay given) with --dtx-buffer, --dtx-lag, --dtx-shift. */
  dtxBuffered: boolean;
  dtxBufferPackets: number;
  dtxLagMs: number;
  dtxShiftMs: number;
  /** --dtx-cn-params, --cn-payload, --amr-dtx=CN. */
  dtxCnParams: number[];
  cnPayload: number[];
  amrDtxCn: boolean;
}

/**
 * What the options give when none is set: no silence detection, 60 ms DTX delay
 * (comfort noise after CN or SID only, no DTX buffer), 30 s of comfort noise at
 * most, DTMF suppression, silence in gaps, CN payload [32], AMR's own comfort noise.
 */
export const DEFAULT_GRAPH_OPTIONS: GraphOptions = {
  silenceDetectDbov: 0, dtxDelayMs: 60, maxDtxMs: 30000, suppressDtmf: true,
  dtxBuffered: false, dtxBufferPackets: 10, dtxLagMs: 100, dtxShiftMs: 5,
  dtxCnParams: [], cnPayload: [32], amrDtxCn: false,
};

/** The engine's description of a payload type for decoding or encoding, or null when this daemon cannot. */
export function payloadTypeSpec(p: PayloadType, encoder: boolean): NativeCodecSpec | null {
  const c = p.def;
  if (!c || c.supplemental) return null;
  if (encoder ? !c.backend.encoder : !c.backend.decoder) return null;
  return nativeCodecSpec(c, {
    payloadType: p.pt,
    clockRate: p.clockRate,
    channels: p.channels,
    ptime: p.ptime > 0 ? p.ptime : undefined,
    bitrate: p.bitrate > 0 ? p.bitrate : undefined,
    fmtp: p.fmtp,
  });
}

function isCn(p: PayloadType): boolean {
  return p.def?.name === 'CN';
}

function isEvent(p: PayloadType): boolean {
  return p.def?.name === 'telephone-event';
}

/**
 * Where the side's telephone-event type `h.src` goes: the sink's telephone-event
 * (the handler's own when both took the same, else the one that goes with the sink's
 * codec, at its clock rate, durations rescaled), or in-band tones (outPt -1) when
 * the sink has none.
 */
function eventRoute(h: Handler, sink: MediaCodecs | null): EventRoute {
  const { pt, clockRate } = h.src;
  if (h.passthrough || isEvent(h.dest)) return { pt, outPt: h.dest.pt, clockRate, outClockRate: h.dest.clockRate };
  if (h.dtmfPt >= 0) {
    const te = sink?.codecs.byPt(h.dtmfPt);
    return { pt, outPt: h.dtmfPt, clockRate, outClockRate: te?.clockRate ?? h.dest.clockRate };
  }
  return { pt, outPt: -1, clockRate, outClockRate: clockRate };
}

/**
 * The route for what `side` sends, or null when nothing it sends is transcoded.
 * Only audio handlers into the first transcoded output codec are built; the rest
 * of what the side may send passes with the sink's payload type, or is dropped
 * by the engine. telephone-event is translated into the sink's, or played as
 * in-band tones when the sink has none. In-band digits in the side's audio are
 * detected and sent as events when the side has no telephone-event and the sink's
 * was added for transcoding (the reference's condition).
 */
export function planRoute(side: MediaCodecs, opts: GraphOptions = DEFAULT_GRAPH_OPTIONS): CodecRoute | null {
  if (!side.transcoding) return null;
  const handlers = [...side.handlers.values()];
  const first = handlers.find((h) => !h.passthrough && !h.src.def?.supplemental && payloadTypeSpec(h.dest, true) !== null);
  const out = first ? payloadTypeSpec(first.dest, true) : null;
  const events: EventRoute[] = [];
  const route: CodecRoute = {
    transcode: [],
    out,
    passthrough: [],
    inCnPt: -1,
    outCnPt: first?.cnPt ?? -1,
    silenceDbov: opts.silenceDetectDbov > 0 && first && first.cnPt >= 0 ? opts.silenceDetectDbov : -1,
    dtxDelayMs: opts.dtxDelayMs,
    maxDtxMs: opts.maxDtxMs,
    events,
    outEventPt: -1,
    outEventClock: 8000,
    suppressDtmf: opts.suppressDtmf,
    dtxBuffered: opts.dtxBuffered,
    dtxBufferPackets: opts.dtxBufferPackets,
    dtxLagMs: opts.dtxLagMs,
    dtxShiftMs: opts.dtxShiftMs,
    dtxCnParams: opts.dtxCnParams,
    cnPayload: opts.cnPayload,
    amrDtxCn: opts.amrDtxCn,
  };
  const forwarded = (h: Handler): boolean => h.passthrough || (h.src.def?.supplemental === true && !isCn(h.src) &&
    h.dest.def?.name === h.src.def?.name && h.dest.clockRate === h.src.clockRate);
  for (const h of handlers) {
    if (isEvent(h.src)) {
      const ev = eventRoute(h, side.sink);
      if (ev.outPt >= 0 || route.out) events.push(ev);
      continue;
    }
    if (forwarded(h)) {
      route.passthrough.push({ pt: h.src.pt, outPt: h.dest.pt });
      continue;
    }
    if (isCn(h.src)) {
      if (first && h.src.clockRate === first.src.clockRate) route.inCnPt = h.src.pt;
      continue;
    }
    if (!out || !first || h.dest.pt !== first.dest.pt) continue;
    const input = payloadTypeSpec(h.src, false);
    if (input) route.transcode.push({ in: input });
  }
  const sinkEvent = first && first.dtmfPt >= 0 ? side.sink?.codecs.byPt(first.dtmfPt) : undefined;
  if (route.out && sinkEvent?.forTranscoding && !handlers.some((h) => isEvent(h.src))) {
    route.outEventPt = sinkEvent.pt;
    route.outEventClock = sinkEvent.clockRate;
  }
  // Nothing to decode, no events to convert, every payload type kept: a plain
  // relay does the same (e.g. only a telephone-event of a clock rate the other
  // side lacks counts as transcoding) and the stream stays eligible for the
  // kernel path.
  if (route.transcode.length === 0 && events.length === 0 && (route.outEventPt ?? -1) < 0 &&
      route.passthrough.every((p) => p.pt === p.outPt)) return null;
  return route;
}
