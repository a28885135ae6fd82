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
import type { CodecRoute } from '../media/engine';

/** Daemon-wide settings that shape every transcoding route. */
export interface GraphOptions {
  /** --silence-detect in dBov (0 = off). */
  silenceDetectDbov: number;
  /** --dtx-delay and --max-dtx, ms. */
  dtxDelayMs: number;
  maxDtxMs: number;
}

/** What the options give when none is set: no silence detection, 60 ms DTX delay, 30 s of comfort noise at most. */
export const DEFAULT_GRAPH_OPTIONS: GraphOptions = { silenceDetectDbov: 0, dtxDelayMs: 60, maxDtxMs: 30000 };

function spec(p: PayloadType, encoder: boolean): NativeCodecSpec | null {
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

/**
 * The route for what `side` sends, or null when nothing it sends is transcoded.
 * Only audio handlers into the first transcoded output codec are built; the rest
 * of what the side may send passes with the sink's payload type, or is dropped
 * by the engine (an event turned into in-band audio is not supported yet).
 */
export function planRoute(side: MediaCodecs, opts: GraphOptions = DEFAULT_GRAPH_OPTIONS): CodecRoute | null {
  if (!side.transcoding) return null;
  const handlers = [...side.handlers.values()];
  // Only telephone-event or CN to be turned into audio (which the engine does not
  // do yet): the side stays a plain relay, as before `transcoding` counted them.
  if (!handlers.some((h) => !h.passthrough && h.src.def?.supplemental !== true)) return null;
  const first = handlers.find((h) => !h.passthrough && !h.src.def?.supplemental && spec(h.dest, true) !== null);
  const out = first ? spec(first.dest, true) : null;
  const route: CodecRoute = {
    transcode: [],
    out,
    passthrough: [],
    inCnPt: -1,
    outCnPt: first?.cnPt ?? -1,
    silenceDbov: opts.silenceDetectDbov > 0 && first && first.cnPt >= 0 ? opts.silenceDetectDbov : -1,
    dtxDelayMs: opts.dtxDelayMs,
    maxDtxMs: opts.maxDtxMs,
  };
  const forwarded = (h: Handler): boolean => h.passthrough || (h.src.def?.supplemental === true && !isCn(h.src) &&
    h.dest.def?.name === h.src.def?.name && h.dest.clockRate === h.src.clockRate);
  for (const h of handlers) {
    if (forwarded(h)) {
      route.passthrough.push({ pt: h.src.pt, outPt: h.dest.pt });
      continue;
    }
    if (isCn(h.src)) {
      if (first && h.src.clockRate === first.src.clockRate) route.inCnPt = h.src.pt;
      continue;
    }
    if (!out || !first || h.dest.pt !== first.dest.pt) continue;
    const input = spec(h.src, false);
    if (input) route.transcode.push({ in: input });
  }
  return route;
}
