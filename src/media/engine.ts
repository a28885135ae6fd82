// Typed façade over the native media engine (native/, see native/addon.cc).
//
// The engine owns UDP sockets grouped into streams and relays packets between
// them on its own threads; nothing here touches a packet. A stream is one local
// port bound on one or more local addresses. Each stream has an endpoint (the
// remote peer: signalled, then possibly learned from received packets) and a
// sink (the stream its received packets are sent out of, to the sink's
// endpoint); muxed RTCP may go to a separate rtcpSink. A stream may also have a
// codec route (CodecRoute): its received RTP is then transcoded, renumbered or
// dropped by payload type on the engine thread before it reaches the sink.
//
// Threads: every method runs on the JavaScript thread and returns at once,
// except close(), which stops the engine threads and closes every socket.
// closeStreams() does not wait for the sockets: the streams relay nothing from
// the moment it returns, and their engine thread closes the sockets within a
// few milliseconds (native/worker.h says when); openStream() on a port whose
// socket is still closing waits for it instead of failing. Events arrive in
// batches through onEvents on the JavaScript thread; a throwing handler is
// logged, never fatal.

import * as path from 'path';
import type { NativeCodecSpec } from '../codec/table';
import { getLogger } from '../log';

const log = getLogger('media');

export type Family = 4 | 6;

export interface Endpoint {
  family: Family;
  address: string;
  port: number;
}

/** A local socket to bind; port 0 lets the kernel pick one port for all sockets of the stream. */
export interface LocalSocketSpec {
  family: Family;
  address: string;
  port: number;
}

/**
 * Endpoint learning, as rtpengine's --endpoint-learning:
 * - 'off': never learn, send to the signalled endpoint (the `asymmetric` flag);
 * - 'immediate': the first packet's source becomes the endpoint, fixed at once;
 * - 'delayed': during the learning window (3 s after the last configure(), i.e.
 *   after signalling, as the reference counts it) the endpoint follows packet
 *   sources; the first packet after the window fixes it;
 * - 'heuristic': like 'delayed', but the source closest to the signalled
 *   endpoint wins (same address and port, fixed at once; then same address;
 *   then same port; then any).
 */
export type Learning = 'off' | 'immediate' | 'delayed' | 'heuristic';

export interface StreamConfig {
  /** The signalled remote endpoint, or null if unknown. */
  endpoint: Endpoint | null;
  /** Stream whose sockets send this stream's received packets, or null to drop them. */
  sink: number | null;
  /** Stream that receives RTCP arriving on this stream (RFC 5761 muxing), or null. */
  rtcpSink: number | null;
  learning: Learning;
  /** Once the endpoint is fixed, drop packets from any other source. */
  strictSource: boolean;
  /** Once the endpoint is fixed, move it to the source of any newer packet. */
  mediaHandover: boolean;
  /** IP TOS byte / IPv6 traffic class for the stream's sockets; null = default. */
  tos: number | null;
  /**
   * The ICE credentials this daemon advertised towards the stream's peer: STUN
   * binding requests on the stream's ports are answered (ice-lite) when they carry
   * USERNAME "<ufrag>:<peer ufrag>" and MESSAGE-INTEGRITY under `pwd`, and a
   * successful check sets the endpoint. Absent or null: no ICE.
   */
  ice?: IceCredentials | null;
  /**
   * The payload types of the media and their clock rates, to read the jitter of
   * RTCP reports arriving on this stream. Absent: the static payload types of
   * RFC 3551.
   */
  clockRates?: PayloadClock[];
  /**
   * How RTP received on this stream is transformed before it goes to the sink.
   * Absent or null: plain relaying, every packet forwarded unchanged. RTCP is
   * always forwarded unchanged. Repeating the same route (equal specs) keeps the
   * stream's Transcoders and their state; a different route replaces them. A
   * route whose codecs cannot be built makes configure() throw EngineError
   * 'EINVAL' naming the codec, and leaves the stream as it was.
   */
  codecs?: CodecRoute | null;
  /**
   * SRTP with the stream's peer (native/srtp.h): `recv` decrypts and authenticates
   * what arrives (a packet that fails is counted in errors and dropped), `send`
   * protects what the stream's sockets send. Repeating the same keys keeps the
   * contexts (rollover counters, replay windows). Absent or null: plain RTP.
   */
  srtp?: SrtpConfig | null;
}

/** One direction's SRTP keying: suite number (src/crypto/sdes.ts), master key + salt, session parameter bits. */
export interface SrtpKeying {
  suite: number;
  key: Buffer;
  params: number;
}

export interface SrtpConfig {
  recv: SrtpKeying | null;
  send: SrtpKeying | null;
}

/** The DTX buffer and the comfort noise payloads of a transcoding direction (native/codec/dtx.h). */
export interface DtxRouteOptions {
  /**
   * The DTX buffer (--dtx-delay set): input packets wait dtxDelayMs and are
   * released at the input's pace, gaps filled; dtxBufferPackets, dtxLagMs and
   * dtxShiftMs are --dtx-buffer, --dtx-lag and --dtx-shift. Default off.
   */
  dtxBuffered?: boolean;
  dtxBufferPackets?: number;
  dtxLagMs?: number;
  dtxShiftMs?: number;
  /** --dtx-cn-params: RFC 3389 payload whose noise fills DTX gaps; empty or absent: silence. */
  dtxCnParams?: number[];
  /** --cn-payload: the RFC 3389 payload sent for silence (default [32]). */
  cnPayload?: number[];
  /** --amr-dtx=CN: AMR SID frames and gaps are filled as other codecs' gaps. */
  amrDtxCn?: boolean;
}

/**
 * What the in-call control commands (block/silence media, block DTMF, recording)
 * do to the packets a stream receives. RTCP is never blocked or silenced.
 */
export interface StreamControl {
  /** Drop received RTP, except DTMF events (the telephone-event types of the stream's clockRates). */
  blockMedia: boolean;
  /** Overwrite the payload of received RTP whose payload type has a silence pattern. */
  silenceMedia: boolean;
  /** Drop received RTP DTMF events. */
  blockDtmf: boolean;
  /** Payload types of this side that carry a codec with a one-byte silence pattern. */
  silence: Array<{ pt: number; fill: number }>;
  /** The recording packets are copied to, 0 for none; what is copied: what arrives or what leaves. */
  recording: number;
  record: 'ingress' | 'egress';
}

/**
 * How packets received on a stream are transformed before going to its sink.
 *
 * Each RTP packet is dispatched by payload type: a `transcode` entry's type goes
 * to that entry's Transcoder (decoded, re-encoded into `out`); a `passthrough`
 * entry's type is forwarded with its payload type number rewritten; the input
 * CN type goes to the Transcoder of the current input codec; anything else is
 * dropped and counted in `dropped`. Everything leaving the stream direction is
 * one RTP stream for the receiver: the SSRC of the first packet, one continuous
 * sequence counter over transcoded and passthrough packets, and timestamps that
 * continue across a change of input codec. Passthrough types must keep their
 * clock rate (in == out) on the input codecs' timeline.
 *
 * DTMF: an `events` entry's telephone-event type is translated into the sink's
 * (duration rescaled between the two event clocks, one output timestamp per
 * event) or, with outPt -1, played as in-band tones into the transcoded audio;
 * with `outEventPt` in-band digits heard in the decoded input are sent as events
 * of that type. While an input event is in progress its audio is not transcoded
 * unless `suppressDtmf` is false (--dtmf-no-suppress).
 */
export interface CodecRoute extends DtxRouteOptions {
  /** Input payload types to decode and re-encode, each into `out` (one Transcoder per entry). */
  transcode: Array<{ in: NativeCodecSpec /* with in.payloadType */ }>;
  /** The codec the sink's peer receives (payloadType, ptime, bitrate, fmtp set); null when nothing is transcoded. */
  out: NativeCodecSpec | null;
  /** Input payload types forwarded unchanged except for the payload type number (e.g. a shared codec); same clock rate. telephone-event goes in `events`. */
  passthrough: Array<{ pt: number; outPt: number }>;
  /** RFC 3389 CN payload type accepted on input / of the output peer (-1 none). */
  inCnPt: number;
  outCnPt: number;
  /** --silence-detect: silent packets become CN towards a peer with outCnPt; -1 off. */
  silenceDbov: number;
  /** DTX options (--dtx-delay, --max-dtx) in ms. */
  dtxDelayMs: number;
  maxDtxMs: number;
  /** telephone-event input types: translated to outPt (clock outClockRate), or played as tones (outPt -1). */
  events?: EventRoute[];
  /** The sink's telephone-event type that in-band digits detected in the input are sent as (-1 none), and its clock. */
  outEventPt?: number;
  outEventClock?: number;
  /** Audio is left out while an event stands in for it (false: --dtmf-no-suppress). */
  suppressDtmf?: boolean;
}

/** One telephone-event input type of a CodecRoute (see there). */
export interface EventRoute {
  pt: number;
  /** The sink's telephone-event type, -1: played as in-band tones. */
  outPt: number;
  clockRate: number;
  outClockRate: number;
}

export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

export interface PayloadClock {
  pt: number;
  clockRate: number;
  /** telephone-event (RFC 4733): the engine reports the key presses received in it (a 'dtmf' event). */
  event?: boolean;
}

export interface StreamStats {
  /** Well-formed RTP/RTCP packets received (including those then dropped). */
  packets: number;
  bytes: number;
  /** Malformed, oversized or unreadable packets received, and packets refused by strict source; all dropped. */
  errors: number;
  /**
   * Well-formed packets not forwarded: strict-source mismatch, no sink, sink without
   * endpoint, send failure; with a codec route also payload types it has no entry
   * for, and late or duplicate packets a Transcoder discarded.
   */
  dropped: number;
  /** Unix time in ms of the last accepted packet; 0 = never. */
  lastPacket: number;
  /** Packets and bytes sent out of this stream's sockets. */
  packetsOut: number;
  bytesOut: number;
  /** Where this stream sends to now (signalled or learned). */
  endpoint: Endpoint | null;
  /** The endpoint was taken from a received packet. */
  learned: boolean;
  /** The endpoint is fixed (learning is over, or learning is off). */
  confirmed: boolean;
  /** The SSRC of the latest RTP (or, on an RTCP port, RTCP) packet; null before any. */
  ssrc: number | null;
  /** The RTP payload type received most often; null before any RTP. */
  payloadType: number | null;
  /** The stream has a codec route with at least one transcode entry. */
  transcoded: boolean;
  /** Codec frames decoded and encoded by the stream's Transcoders (past routes included). */
  framesDecoded: number;
  framesEncoded: number;
  /** Malformed RTP or undecodable payloads met by the Transcoders (concealed, never fatal). */
  transcodeErrors: number;
  /** The stream's RTP is forwarded in the kernel now (its flows are in the kernel's table). */
  kernelized: boolean;
  /** Of `packets`, those the kernel forwarded (they never reached the engine's sockets). */
  kernelPackets: number;
}

/** One MOS sample, taken from a receiver report (at most one a second per reporting SSRC). */
export interface MosSample {
  /** MOS x 10 (10..50); 0 when it could not be computed (MOS-CQ without a round trip). */
  mos: number;
  /** End-to-end round trip in microseconds (both legs); 0 when unknown. */
  rtt: number;
  /** Round trip of the reporter's leg in microseconds; 0 when unknown. */
  rttLeg: number;
  /** Jitter in milliseconds. */
  jitter: number;
  /** Loss in percent, from the fraction lost. */
  packetLoss: number;
  /** Unix time of the report in microseconds. */
  reportedUs: number;
}

/**
 * What the engine knows about one SSRC of a call: its RTP, the last report block it
 * sent, and the MOS samples computed from its receiver reports as the reference
 * daemon does (daemon/ssrc.c).
 */
export interface SsrcStats {
  ssrc: number;
  /** RTP packets received with this SSRC, the last sequence number, the most frequent payload type. */
  packets: number;
  lastSeq: number;
  payloadType: number | null;
  /** The last report block this SSRC sent (RR or SR), raw; null if none. */
  report: { about: number; fractionLost: number; packetsLost: number; highestSeq: number; jitter: number } | null;
  /** Round trip (µs) of the leg towards the peer that last reported about this SSRC; 0 if unknown. */
  rtt: number;
  /** The cumulative loss of the last report block that produced a sample. */
  cumulativeLoss: number;
  /** Samples taken, and how many of them have no MOS. */
  samples: number;
  samplesWithoutMos: number;
  /** Sums over the samples that have a MOS. */
  sums: { mos: number; rtt: number; rttLeg: number; jitter: number; packetLoss: number };
  /** The sample with the lowest non-zero MOS, and the one with the highest MOS. */
  lowest: MosSample | null;
  highest: MosSample | null;
  /** The samples in order (thinned out evenly past a few thousand). */
  blocks: MosSample[];
}

/** What every stream has received since the engine started, closed streams included. */
export interface EngineTotals {
  packets: number;
  bytes: number;
  errors: number;
}

export type EngineEvent =
  /** A stream's endpoint changed because of a received packet, or became fixed. */
  | { type: 'learned'; id: number; endpoint: Endpoint; confirmed: boolean }
  /** Something failed on an engine thread; id is null when it concerns the engine itself. */
  | { type: 'error'; id: number | null; code: string; message: string }
  /**
   * A key press received on a stream ended (native/dtmf_events.h): an RFC 4733
   * event of a telephone-event payload type (PayloadClock.event), or, with
   * `inband`, a tone heard by a Transcoder. `source` is where it came from (the
   * packet's source; for a tone, the stream's endpoint).
   */
  | { type: 'dtmf'; id: number; source: Endpoint | null; event: number; volume: number; durationMs: number; inband: boolean };

/** A failed engine request; `code` is an errno name ('EADDRINUSE', 'EACCES', ...), 'ENOENT' for an unknown stream, 'EINVAL' for a bad argument, or 'EENGINE' when the engine is closed or failed. */
export class EngineError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

export interface MediaEngineOptions {
  /** Engine threads; streams are placed by `group` (see openStream). */
  threads: number;
  onEvents: (events: EngineEvent[]) => void;
  /** Length of the learning window for 'delayed' and 'heuristic'; 3000 as the reference. For tests. */
  learningDelayMs?: number;
  /** MOS formula, as --mos: 'CQ' (needs a round-trip time, the default) or 'LQ'. */
  mos?: 'CQ' | 'LQ';
  /** SOFTWARE attribute of STUN answers (--software-id); a default when absent. */
  softwareId?: string;
  /** Bytes per engine thread queued for the call recorder (default 16 MiB). For tests. */
  recordRingBytes?: number;
}

export interface OpenStreamOptions {
  /**
   * Placement: the stream runs on engine thread `group % threads`. A stream and
   * its sinks must share a thread, so give all streams of a call the same group.
   * Streams of one group also share one SSRC table (see ssrcStats), so a group is
   * one call: give each call its own.
   * Default 0.
   */
  group?: number;
}

/**
 * The addon's calls (native/addon.cc). Numbers of open, configure and stats go
 * through the io block, positional values otherwise: every N-API call costs,
 * and these run several times per offer, answer and delete.
 */
interface NativeEngine {
  /** Then family, address and port of each local socket. */
  openStream(group: number, ...sockets: Array<number | string>): number;
  /** The other fields come from io (the CFG_* slots). */
  configure(id: number, endpointAddress: string, iceUfrag: string | null, icePwd: string | null, codecs: CodecRoute | null): void;
  closeStreams(ids: number[]): void;
  /** Writes the figures into io (the STAT_* slots) and returns the endpoint's address, null if none. */
  statsInto(id: number): string | null;
  lastPacket(id: number): number;
  play(id: number, list: PlayList | null, repeat: number, queue: boolean): void;
  setAudioPlayer(id: number, spec: AudioPlayerSpec | null): void;
  ssrcStats(group: number): SsrcStats[];
  totals(): EngineTotals;
  setControl(id: number, bits: number, recording: number, silence: number[]): void;
  setSrtp(id: number, inSuite: number, inKey: Buffer | null, inParams: number, outSuite: number, outKey: Buffer | null, outParams: number): void;
  openRecording(recording: number, path: string, eth: boolean): void;
  closeRecording(recording: number): void;
  recordedPackets(recording: number): number;
  recordingDrops(): number;
  /** null when loaded and attached, else why the kernel path is unavailable. */
  kernelOpen(table: number, ifnames: string[]): string | null;
  setKernel(id: number, allowed: boolean): void;
  close(): void;
}

// The io block's layouts, as native/addon.cc's ConfigSlot and StatsSlot.
const CFG_ENDPOINT_FAMILY = 0;
const CFG_ENDPOINT_PORT = 1;
const CFG_SINK = 2;
const CFG_RTCP_SINK = 3;
const CFG_LEARNING = 4;
const CFG_STRICT_SOURCE = 5;
const CFG_MEDIA_HANDOVER = 6;
const CFG_TOS = 7;
const CFG_RATE_COUNT = 8;
const CFG_RATES = 9;
const MAX_CLOCK_RATES = 128;
const IO_SLOTS = CFG_RATES + 2 * MAX_CLOCK_RATES;

const STAT_PACKETS = 0;
const STAT_BYTES = 1;
const STAT_ERRORS = 2;
const STAT_DROPPED = 3;
const STAT_LAST_PACKET = 4;
const STAT_PACKETS_OUT = 5;
const STAT_BYTES_OUT = 6;
const STAT_ENDPOINT_FAMILY = 7;
const STAT_ENDPOINT_PORT = 8;
const STAT_LEARNED = 9;
const STAT_CONFIRMED = 10;
const STAT_SSRC = 11;
const STAT_PAYLOAD_TYPE = 12;
const STAT_TRANSCODED = 13;
const STAT_FRAMES_DECODED = 14;
const STAT_FRAMES_ENCODED = 15;
const STAT_TRANSCODE_ERRORS = 16;
const STAT_KERNELIZED = 17;
const STAT_KERNEL_PACKETS = 18;

/** Learning modes as the engine numbers them (native/learning.h). */
const LEARNING_CODES: ReadonlyMap<string, number> = new Map([['off', 0], ['immediate', 1], ['delayed', 2], ['heuristic', 3]]);

interface NativeModule {
  version: string;
  preparePlayback(opts: PlaybackRequest): Promise<PreparedPlayback>;
  configurePlayer(opts: { threads: number }): void;
  prepareDtmf(opts: { event: number; durationMs: number; volume: number; pauseMs: number; eventPt: number; clockRate: number;
    ptime: number; codec?: NativeCodecSpec }): PreparedPlayback;
  Engine: new (
    opts: { threads: number; learningDelayMs: number; mos?: string; softwareId?: string },
    onEvents: (events: EngineEvent[]) => void,
    io: Float64Array,
  ) => NativeEngine;
}

/** What a playback is prepared from (PlaybackSource) and for. */
export interface PlaybackRequest extends PlaybackSource {
  startMs: number;
  /** The codec the party receives. */
  codec: NativeCodecSpec;
  /** Prepare PCM at the rate `codec`'s encoder takes, for an audio player's mix (not RTP for the party). */
  pcm?: boolean;
}

/**
 * The mixing audio player of one stream (native/player/audio_player.h): what the
 * stream receives (`inputs`, decoded) and played media are mixed in a buffer of
 * `bufferMs` and sent to its sink's peer encoded in `out`, one packet per ptime.
 */
export interface AudioPlayerSpec {
  /** The codecs the stream receives, each with its payload type; others are dropped. */
  inputs: NativeCodecSpec[];
  out: NativeCodecSpec;
  /** --audio-buffer-length and --audio-buffer-delay. */
  bufferMs: number;
  delayMs: number;
  /** Engaged for playbacks only: disengages once they are over (--audio-player=play-media). */
  transient: boolean;
}

/** An opaque handle to packets prepared for playback (native/player/playlist.h); immutable, shareable. */
export type PlayList = { readonly __playList: unique symbol };

/** What preparing a playback gives: the packets and the length of the source media in ms. */
export interface PreparedPlayback {
  list: PlayList;
  durationMs: number;
}

/** A MySQL/MariaDB server and the query (id filled in) whose first column of the first row is the media. */
export interface MediaQuery {
  host: string;
  /** Unset: the client library's defaults (port 3306, the login name, no password). */
  port?: number;
  user?: string;
  pass?: string;
  query: string;
}

/** Where the media of a playback comes from: exactly one of these. */
export interface PlaybackSource {
  file?: string;
  blob?: Buffer;
  db?: MediaQuery;
}

/**
 * Fetches the media from the database when asked to, decodes it (anything
 * libavformat reads) and encodes it into the packets of `codec`, skipping the first
 * `startMs`, on a media preparation thread (--media-num-threads). Rejects with
 * EngineError 'EMEDIA' when the media cannot be read, 'EDB' when the database gives
 * none, 'EDISABLED' without preparation threads, 'EINVAL' when the codec cannot be built.
 */
export async function preparePlayback(opts: PlaybackRequest): Promise<PreparedPlayback> {
  try {
    return await loadNative().preparePlayback(opts);
  } catch (err) {
    rethrow(err);
  }
}

/**
 * Sets the number of media preparation threads (--media-num-threads; 0: none, every
 * preparation fails with EDISABLED). Effective only before the first preparation.
 */
export function configurePlayer(opts: { threads: number }): void {
  try {
    loadNative().configurePlayer(opts);
  } catch (err) {
    rethrow(err);
  }
}

/**
 * Prepares one DTMF event (0-15): RFC 4733 packets of payload type `eventPt` when it
 * is not -1, else the in-band tone encoded in `codec`.
 */
export function prepareDtmf(opts: { event: number; durationMs: number; volume: number; pauseMs: number; eventPt: number;
  clockRate: number; ptime: number; codec?: NativeCodecSpec }): PreparedPlayback {
  try {
    return loadNative().prepareDtmf(opts);
  } catch (err) {
    rethrow(err);
  }
}

let native: NativeModule | undefined;

/** Loads the addon built by node-gyp (Release, else Debug). */
export function loadNative(): NativeModule {
  if (native) return native;
  const root = path.resolve(__dirname, '..', '..', '..');
  const tried: string[] = [];
  for (const kind of ['Release', 'Debug']) {
    const file = path.join(root, 'build', kind, 'rtpengine_native.node');
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      native = require(file) as NativeModule;
      return native;
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message}`);
    }
  }
  throw new EngineError('EENGINE', `cannot load the native media engine (run node-gyp rebuild): ${tried.join('; ')}`);
}

/** Turns an error thrown by the addon (an Error with a string `code`) into an EngineError. */
function rethrow(err: unknown): never {
  if (err instanceof EngineError) throw err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    throw new EngineError(typeof code === 'string' ? code : 'EENGINE', err.message);
  }
  throw new EngineError('EENGINE', String(err));
}

export class MediaEngine {
  private readonly engine: NativeEngine;
  private closed = false;
  // Numbers exchanged with the addon (see NativeEngine); read or written
  // right around each call.
  private readonly io = new Float64Array(IO_SLOTS);
  /** Streams given SRTP keys: a later configuration without keys must clear them. */
  private readonly srtpStreams = new Set<number>();

  constructor(opts: MediaEngineOptions) {
    const onEvents = opts.onEvents;
    const safe = (events: EngineEvent[]): void => {
      try {
        onEvents(events);
      } catch (err) {
        log.error(`media event handler threw: ${(err as Error)?.stack ?? String(err)}`);
      }
    };
    try {
      this.engine = new (loadNative().Engine)(
        {
          threads: opts.threads,
          learningDelayMs: opts.learningDelayMs ?? 3000,
          mos: opts.mos ?? 'CQ',
          ...(opts.softwareId !== undefined ? { softwareId: opts.softwareId } : {}),
          ...(opts.recordRingBytes !== undefined ? { recordRingBytes: opts.recordRingBytes } : {}),
        },
        safe,
        this.io,
      );
    } catch (err) {
      rethrow(err);
    }
  }

  /** Binds all sockets (same port on each address) and returns the stream id; throws EngineError and binds nothing on failure. */
  openStream(sockets: LocalSocketSpec[], opts: OpenStreamOptions = {}): number {
    const args: Array<number | string> = [];
    for (const s of sockets) args.push(s.family, s.address, s.port);
    try {
      return this.engine.openStream(opts.group ?? 0, ...args);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Replaces the stream's configuration. A new endpoint or learning mode starts learning over. */
  configure(id: number, cfg: StreamConfig): void {
    const io = this.io;
    const ep = cfg.endpoint;
    const learning = LEARNING_CODES.get(cfg.learning);
    if (learning === undefined) {
      throw new EngineError('EINVAL', "learning must be 'off', 'immediate', 'delayed' or 'heuristic'");
    }
    const rates = cfg.clockRates ?? [];
    if (rates.length > MAX_CLOCK_RATES) {
      throw new EngineError('EINVAL', `clockRates must have at most ${MAX_CLOCK_RATES} entries`);
    }
    io[CFG_ENDPOINT_FAMILY] = ep ? ep.family : 0;
    io[CFG_ENDPOINT_PORT] = ep ? ep.port : 0;
    io[CFG_SINK] = cfg.sink ?? 0;
    io[CFG_RTCP_SINK] = cfg.rtcpSink ?? 0;
    io[CFG_LEARNING] = learning;
    io[CFG_STRICT_SOURCE] = cfg.strictSource ? 1 : 0;
    io[CFG_MEDIA_HANDOVER] = cfg.mediaHandover ? 1 : 0;
    io[CFG_TOS] = cfg.tos ?? -1;
    io[CFG_RATE_COUNT] = rates.length;
    for (let i = 0; i < rates.length; i++) {
      // A telephone-event payload type goes as pt + 128 (native/addon.cc).
      io[CFG_RATES + 2 * i] = rates[i].pt + (rates[i].event ? 128 : 0);
      io[CFG_RATES + 2 * i + 1] = rates[i].clockRate;
    }
    try {
      this.engine.configure(id, ep ? ep.address : '', cfg.ice ? cfg.ice.ufrag : null, cfg.ice ? cfg.ice.pwd : null, cfg.codecs ?? null);
      // Only streams that have or had SRTP cost the extra call.
      const srtp = cfg.srtp && (cfg.srtp.recv || cfg.srtp.send) ? cfg.srtp : null;
      if (srtp || this.srtpStreams.has(id)) {
        const r = srtp?.recv ?? null;
        const w = srtp?.send ?? null;
        this.engine.setSrtp(id, r ? r.suite : 0, r ? r.key : null, r ? r.params : 0, w ? w.suite : 0, w ? w.key : null, w ? w.params : 0);
        if (srtp) this.srtpStreams.add(id);
        else this.srtpStreams.delete(id);
      }
    } catch (err) {
      rethrow(err);
    }
  }

  /** Closes the stream; its port is free a moment later (see the threads note above). Unknown ids are ignored. */
  closeStream(id: number): void {
    this.closeStreams([id]);
  }

  /** Closes several streams with one request to the engine: a call's teardown. Unknown ids are ignored. */
  closeStreams(ids: number[]): void {
    if (this.closed) return;
    if (this.srtpStreams.size) for (const id of ids) this.srtpStreams.delete(id);
    try {
      this.engine.closeStreams(ids);
    } catch (err) {
      rethrow(err);
    }
  }

  stats(id: number): StreamStats {
    let address: string | null;
    try {
      address = this.engine.statsInto(id);
    } catch (err) {
      rethrow(err);
    }
    const f = this.io;
    const family = f[STAT_ENDPOINT_FAMILY];
    return {
      packets: f[STAT_PACKETS],
      bytes: f[STAT_BYTES],
      errors: f[STAT_ERRORS],
      dropped: f[STAT_DROPPED],
      lastPacket: f[STAT_LAST_PACKET],
      packetsOut: f[STAT_PACKETS_OUT],
      bytesOut: f[STAT_BYTES_OUT],
      endpoint:
        address !== null && (family === 4 || family === 6)
          ? { family, address, port: f[STAT_ENDPOINT_PORT] }
          : null,
      learned: f[STAT_LEARNED] !== 0,
      confirmed: f[STAT_CONFIRMED] !== 0,
      ssrc: f[STAT_SSRC] >= 0 ? f[STAT_SSRC] : null,
      payloadType: f[STAT_PAYLOAD_TYPE] >= 0 ? f[STAT_PAYLOAD_TYPE] : null,
      transcoded: f[STAT_TRANSCODED] !== 0,
      framesDecoded: f[STAT_FRAMES_DECODED],
      framesEncoded: f[STAT_FRAMES_ENCODED],
      transcodeErrors: f[STAT_TRANSCODE_ERRORS],
      kernelized: f[STAT_KERNELIZED] !== 0,
      kernelPackets: f[STAT_KERNEL_PACKETS],
    };
  }

  /** Unix time in ms of the stream's last accepted packet, 0 = never; cheaper than stats() (no object). */
  lastPacket(id: number): number {
    try {
      return this.engine.lastPacket(id);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Plays a prepared list `repeat` times in place of the RTP stream `id` forwards
   * (towards its sink's peer); null stops the current playback. With `queue`, it
   * follows the current playback (and its pause) instead of replacing it. The engine
   * thread paces it and keeps the receiver's RTP stream continuous
   * (native/player/player.h).
   */
  play(id: number, list: PlayList | null, repeat = 1, queue = false): void {
    try {
      this.engine.play(id, list, repeat, queue);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Engages the mixing audio player on what stream `id` forwards, or disengages it
   * (null). The receiver's RTP stream stays continuous either way. EngineError
   * 'EINVAL' when a codec cannot be built or the buffer holds less than two packets.
   */
  setAudioPlayer(id: number, spec: AudioPlayerSpec | null): void {
    try {
      this.engine.setAudioPlayer(id, spec);
    } catch (err) {
      rethrow(err);
    }
  }

  statsMany(ids: number[]): StreamStats[] {
    return ids.map((id) => this.stats(id));
  }

  /**
   * The SSRC table of a call: every SSRC seen on the streams opened with this
   * `group` (see OpenStreamOptions), with its RTCP figures and MOS samples.
   */
  ssrcStats(group: number): SsrcStats[] {
    try {
      return this.engine.ssrcStats(group);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Packets, bytes and errors received by all streams so far (monotonic); zeros once closed. */
  totals(): EngineTotals {
    if (this.closed) return { packets: 0, bytes: 0, errors: 0 };
    try {
      return this.engine.totals();
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Sets what the in-call control commands ask of the packets a stream receives,
   * from its next packet on (see StreamControl). Throws EngineError 'ENOENT' for an
   * unknown stream.
   */
  setControl(id: number, c: StreamControl): void {
    let bits = 0;
    if (c.blockMedia) bits |= 1;
    if (c.silenceMedia) bits |= 2;
    if (c.blockDtmf) bits |= 4;
    if (c.recording && c.record === 'ingress') bits |= 8;
    if (c.recording && c.record === 'egress') bits |= 16;
    const silence: number[] = [];
    for (const s of c.silence) silence.push(s.pt, s.fill);
    try {
      this.engine.setControl(id, bits, c.recording, silence);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Creates the pcap file of a recording (`recording` > 0, chosen by the caller):
   * packets of streams whose control names it are written there by the engine's
   * recorder thread. Throws EngineError (e.g. 'EACCES', 'EEXIST') when the file
   * cannot be created.
   */
  openRecording(recording: number, path: string, format: 'raw' | 'eth'): void {
    try {
      this.engine.openRecording(recording, path, format === 'eth');
    } catch (err) {
      rethrow(err);
    }
  }

  /** Writes what is queued for a recording and closes its file; waits a few ms at most. */
  closeRecording(recording: number): void {
    if (!this.closed) this.engine.closeRecording(recording);
  }

  /** Packets written to a recording's file so far (lags the packet path by a few ms). */
  recordedPackets(recording: number): number {
    return this.closed ? 0 : this.engine.recordedPackets(recording);
  }

  /** Packets the recorder lost (a full queue, or a recording already closed). */
  recordingDrops(): number {
    return this.closed ? 0 : this.engine.recordingDrops();
  }

  /**
   * Loads the in-kernel forwarder (kernel-module/) for `table` and attaches it to
   * the ingress of each named interface. Returns null when it is in place, else
   * why not ("kernel forwarding unavailable: ..."); nothing stays attached then.
   * Opening again once open does nothing. close() detaches it.
   */
  kernelOpen(table: number, ifnames: string[]): string | null {
    if (typeof this.engine.kernelOpen !== 'function') return 'the native engine was built without the in-kernel forwarder';
    try {
      return this.engine.kernelOpen(table, ifnames);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Says whether a stream may be forwarded in the kernel. Its engine thread then
   * keeps it there exactly while its endpoint is confirmed, its sink's endpoint is
   * known and of the same family, and nothing needs user space (codec route, media
   * control, playback); it falls back by itself and returns when it can. Never
   * allow an RTCP stream. No effect before kernelOpen() succeeded. Throws
   * EngineError 'ENOENT' for an unknown stream.
   */
  setKernel(id: number, allowed: boolean): void {
    try {
      this.engine.setKernel(id, allowed);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Stops the engine threads and closes every stream. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.close();
  }
}
