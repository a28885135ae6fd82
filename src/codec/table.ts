// The codec table (codecs/codecs.json), typed, and the lookups negotiation and
// graph planning need: by SDP encoding name, by static payload type, and the
// description the native Transcoder takes (native/codec/codec.h, CodecSpec).
//
// The JSON is the one source of codec facts; the native layer gets what it
// needs from here per transcoder, so the two cannot drift apart.

import * as fs from 'fs';
import * as path from 'path';

export type Packetizer = 'samples' | 'frames' | 'whole' | 'g723' | 'g729' | 'ilbc' | 'amr' | 'opus' | 'none';

export interface PtimeRange {
  /** Milliseconds used when SDP gives none. */
  default: number;
  min: number;
  max: number;
  /** A ptime must be a multiple of this (the codec frame, or 1 for sample streams). */
  step: number;
}

export interface BitrateRange {
  default: number;
  min: number;
  max: number;
  /** The only rates the codec has (modes), when it is not continuous. */
  values?: number[];
  /** A different default for some clock rates (speex at 32 kHz). */
  defaultByClockRate?: Record<string, number>;
}

export interface CodecEntry {
  /** Encoding name as written in a=rtpmap, with the reference's spelling (matched case-insensitively). */
  name: string;
  mediaType: 'audio';
  /** RTP clock rate of a=rtpmap; null when the codec has no RTP definition. */
  clockRate: number | null;
  /** Clock rates the codec may be signalled with (speex 8/16/32 kHz, supplemental codecs follow the audio). */
  clockRates: number[];
  /** Sample rate the codec works at by default (G722: 16000 under an 8000 clock). */
  sampleRate: number | null;
  /** Sample rates the codec can run at (opus: any libopus rate, whatever the RTP clock). */
  sampleRates: number[];
  /** Channel count of a=rtpmap (opus: always 2); null when undefined. */
  channels: number | null;
  /** Static payload type of RFC 3551, null for dynamic ones. */
  payloadType: number | null;
  ptime: PtimeRange | null;
  /** Duration of one codec frame in ms; null for sample streams. */
  frameMs: number | null;
  /** Default format parameters, '' for none. */
  fmtp: string;
  /** Format parameters written when negotiation adds the codec, when they differ from fmtp (rtpengine 10.5 offers opus bare). */
  offerFmtp?: string;
  bitrate: BitrateRange | null;
  /** Byte sizes of one frame where they are fixed (documentation; native code knows them). */
  frameBytes: number[] | null;
  /** Library per direction: 'ffmpeg:<avcodec name>', 'bcg729', 'libopus', 'internal:<name>', or null. */
  backend: { decoder: string | null; encoder: string | null };
  packetizer: Packetizer;
  /** Bytes per sample of sample-stream codecs. */
  bytesPerSample?: number;
  /** telephone-event and CN: accompany an audio codec. */
  supplemental: boolean;
  /** Listed by --codecs. */
  listed: boolean;
  notes: string;
}

interface CodecFile {
  codecs: CodecEntry[];
}

let entries: readonly CodecEntry[] | undefined;
let byName: Map<string, CodecEntry> | undefined;

/** Path of the table: <repo>/codecs/codecs.json (this module lives in dist/src/codec/ or src/codec/). */
function tablePath(): string {
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', 'codecs', 'codecs.json'),
    path.resolve(__dirname, '..', '..', 'codecs', 'codecs.json'),
  ];
  for (const p of candidates) if (fs.existsSync(p)) return p;
  return candidates[0];
}

function load(): readonly CodecEntry[] {
  if (entries) return entries;
  const file = JSON.parse(fs.readFileSync(tablePath(), 'utf8')) as CodecFile;
  if (!Array.isArray(file.codecs)) throw new Error('codecs/codecs.json: no codecs array');
  entries = Object.freeze(file.codecs.map((c) => Object.freeze(c)));
  byName = new Map(entries.map((c) => [c.name.toLowerCase(), c]));
  return entries;
}

/** Every codec of the table, in the reference's order. */
export function allCodecs(): readonly CodecEntry[] {
  return load();
}

/** The codec with this encoding name (case-insensitive), or undefined. */
export function findCodec(name: string): CodecEntry | undefined {
  load();
  return byName!.get(name.toLowerCase());
}

/** The codec RFC 3551 assigns this static payload type, or undefined (G729a shares 18 with G729; G729 wins). */
export function codecForStaticPayloadType(pt: number): CodecEntry | undefined {
  return load().find((c) => c.payloadType === pt && c.listed);
}

/** True if the codec can appear in SDP: it has an RTP clock rate and channel count. */
export function hasRtpDefinition(c: CodecEntry): boolean {
  return c.clockRate !== null && c.channels !== null;
}

/**
 * The rate the codec's samples run at when signalled with this clock rate:
 * G722's 8000 clock carries 16 kHz audio; speex and L16 run at their clock; opus's
 * 48000 clock says nothing about the audio (the native layer picks the rate).
 */
export function sampleRateFor(c: CodecEntry, clockRate: number): number {
  if (c.name === 'G722') return 16000;
  if (c.name === 'opus') return 48000;
  if (c.sampleRates.includes(clockRate)) return clockRate;
  return c.sampleRate ?? clockRate;
}

/** A ptime the codec accepts: the nearest multiple of its step within its range. */
export function clampPtime(c: CodecEntry, ptime: number): number {
  if (!c.ptime) return ptime;
  const { min, max, step } = c.ptime;
  let p = Math.round(ptime / step) * step;
  if (p < min) p = min;
  if (p > max) p = Math.floor(max / step) * step;
  return p;
}

/** A bitrate the codec accepts: the highest mode at or below it, else clamped to the range. */
export function clampBitrate(c: CodecEntry, bitrate: number | undefined, clockRate?: number): number {
  const b = c.bitrate;
  if (!b) return 0;
  if (!bitrate || bitrate <= 0) return (clockRate !== undefined ? b.defaultByClockRate?.[String(clockRate)] : undefined) ?? b.default;
  if (b.values && b.values.length) {
    const below = b.values.filter((v) => v <= bitrate);
    return below.length ? below[below.length - 1] : b.values[0];
  }
  return Math.min(b.max, Math.max(b.min, bitrate));
}

/** One side of a native Transcoder: what native/codec/codec.h's CodecSpec holds. */
export interface NativeCodecSpec {
  name: string;
  decoder: string | null;
  encoder: string | null;
  packetizer: Packetizer;
  clockRate: number;
  sampleRate: number;
  channels: number;
  payloadType: number;
  /** Packetization of the output side; the input side takes whatever arrives. */
  ptime: number;
  frameMs: number;
  bitrate: number;
  fmtp: string;
  /** opus encoder complexity 0..10; -1 = library default. */
  complexity: number;
}

/** What negotiation settled for one side of a transcoded stream. */
export interface NegotiatedCodec {
  payloadType: number;
  clockRate?: number;
  channels?: number;
  ptime?: number;
  bitrate?: number;
  /** The fmtp of the answer ('' for none); the codec's default when undefined. */
  fmtp?: string;
  complexity?: number;
}

/** Builds the native description of one side from the table and the negotiated parameters. */
export function nativeCodecSpec(c: CodecEntry, n: NegotiatedCodec): NativeCodecSpec {
  if (!hasRtpDefinition(c)) throw new Error(`codec ${c.name} has no RTP definition`);
  const clockRate = n.clockRate ?? c.clockRate!;
  return {
    name: c.name,
    decoder: c.backend.decoder,
    encoder: c.backend.encoder,
    packetizer: c.packetizer,
    clockRate,
    sampleRate: sampleRateFor(c, clockRate),
    channels: n.channels ?? c.channels!,
    payloadType: n.payloadType,
    ptime: clampPtime(c, n.ptime ?? c.ptime?.default ?? 20),
    frameMs: c.frameMs ?? 0,
    bitrate: clampBitrate(c, n.bitrate, clockRate),
    fmtp: n.fmtp ?? c.fmtp,
    complexity: n.complexity ?? -1,
  };
}

/** How far the linked libraries support a codec, as `rtpengine --codecs` reports it. */
export type CodecSupport = 'full' | 'no-rtp' | 'decode' | 'encode' | 'none';

/**
 * The support of one codec, from which of its backends work (`available`
 * asks the native layer, see src/codec/native.ts): both directions and an RTP
 * definition is full support; both without one is 'no-rtp'.
 */
export function codecSupport(c: CodecEntry, available: (backend: string | null, encode: boolean) => boolean): CodecSupport {
  const dec = available(c.backend.decoder, false);
  const enc = available(c.backend.encoder, true);
  if (dec && enc) return hasRtpDefinition(c) ? 'full' : 'no-rtp';
  if (dec) return 'decode';
  if (enc) return 'encode';
  return 'none';
}

const supportText: Record<CodecSupport, string> = {
  full: 'fully supported',
  'no-rtp': 'codec supported but lacks RTP definition',
  decode: 'supported for decoding only',
  encode: 'supported for encoding only',
  none: 'not supported',
};

/** The output of --codecs, in the reference's format: one `%20s: <support>` line per listed codec. */
export function formatCodecList(available: (backend: string | null, encode: boolean) => boolean): string {
  return allCodecs()
    .filter((c) => c.listed)
    .map((c) => `${c.name.padStart(20)}: ${supportText[codecSupport(c, available)]}\n`)
    .join('');
}
