// Typed access to the codec part of the native addon (native/codec/binding.cc):
// which backends the linked libraries provide, RFC 3389 helpers, and the
// Transcoder object that tests and benchmarks drive from JavaScript. In
// production the relay owns its Transcoders in C++; JavaScript is never on the
// per-packet path.

import { loadNative, type DtxRouteOptions } from '../media/engine';
import type { NativeCodecSpec } from './table';

/** The DTX fields are those of a CodecRoute (src/media/engine.ts). */
export interface TranscoderOptions extends DtxRouteOptions {
  in: NativeCodecSpec;
  out: NativeCodecSpec;
  /** RFC 3389 payload type accepted on input. */
  inCnPt?: number;
  /** RFC 3389 payload type of the output peer; with silenceDbov, silent packets go out as CN. */
  outCnPt?: number;
  /** Packets quieter than -silenceDbov dBov count as silence (--silence-detect). */
  silenceDbov?: number;
  /** Output SSRC; default: the input's. */
  ssrc?: number;
  /** First output sequence number and timestamp; default: the input's (continue a stream across a codec change). */
  startSeq?: number;
  startTs?: number;
  /** Input gaps longer than this are skipped (timestamp jump, marker), not filled. */
  maxGapMs?: number;
  /** Comfort noise is generated for at most this long. */
  maxDtxMs?: number;
  /** tick() fills a DTX gap once audio is this late. */
  dtxDelayMs?: number;
}

export interface TranscoderStats {
  packetsIn: number;
  packetsOut: number;
  bytesOut: number;
  framesDecoded: number;
  framesEncoded: number;
  errors: number;
  dropped: number;
  cnIn: number;
  cnOut: number;
  concealedSamples: number;
  resyncs: number;
  /** DTX buffer: timer steps without a packet (filled) and timer moves. */
  dtxGaps: number;
  dtxShifts: number;
  nsDecode: number;
  nsEncode: number;
  nsTotal: number;
}

/** A native Transcoder driven from JavaScript: for tests and benchmarks only. */
export interface NativeTranscoder {
  /** Feeds one RTP packet; returns the packets produced, or null if its payload type is not the transcoder's. */
  input(packet: Buffer, nowMs?: number): Buffer[] | null;
  tick(nowMs: number): Buffer[];
  stats(): TranscoderStats;
  info(): { decoderRate: number; encoderRate: number; encoderChannels: number; packetSamples: number };
  /**
   * Feeds the packets `rounds` times from C++ (sequence numbers and timestamps
   * continued), after one unmeasured warm-up round; for benchmarks. allocations
   * is -1 unless a counting allocator exporting rtpe_alloc_count is preloaded.
   */
  run(packets: Buffer[], rounds: number): { packetsOut: number; bytesOut: number; ns: number; allocations: number };
}

interface CodecNative {
  codecAvailable(backend: string, encode: boolean): boolean;
  Transcoder: new (opts: TranscoderOptions) => NativeTranscoder;
  cnDescribe(samples: Int16Array, order?: number): Buffer;
  cnGenerate(payload: Buffer, samples: number): Int16Array;
}

export function codecNative(): CodecNative {
  return loadNative() as unknown as CodecNative;
}

/** Whether a backend of the codec table ('ffmpeg:g722', 'bcg729', ...) works in this process. */
export function backendAvailable(backend: string | null, encode: boolean): boolean {
  if (!backend) return false;
  return codecNative().codecAvailable(backend, encode);
}
