// The call model: Call → Monologue (one per SIP tag) → CallMedia (one per m= line)
// → PacketStream (RTP and RTCP). Parents own their children.
//
// Close cascade (the one place it is written down): Call.close() closes every
// monologue; Monologue.close() closes its medias; CallMedia.close() closes its two
// streams; PacketStream.close() releases its native engine stream and its port. Every
// close() is idempotent.

import type { LocalAddress, LogicalInterface } from '../media/interfaces';
import type { Endpoint } from '../media/engine';
import { emptySdes, type SdesState } from '../crypto/sdes';

/** Releases one allocated local port (RTP or RTCP) and its native stream. */
export type PortRelease = () => void;

import type { Direction } from '../sdp/attributes';
import { MediaCodecs } from '../codec/negotiation';
export type { Direction };

/**
 * The switches of the in-call control commands (block/silence media, block DTMF,
 * forwarding), held per monologue and for the whole call: a stream is blocked when
 * either its monologue's or its call's switch is on.
 */
export interface MediaSwitches {
  blockMedia: boolean;
  silenceMedia: boolean;
  blockDtmf: boolean;
  forwarding: boolean;
}

export function noSwitches(): MediaSwitches {
  return { blockMedia: false, silenceMedia: false, blockDtmf: false, forwarding: false };
}

/** A call's recording as the media plane sees it: which file, and whether packets go there now. */
export interface RecordingState {
  /** The engine's recording number. */
  readonly id: number;
  /** False while paused (`pause recording`). */
  active: boolean;
}

export class PacketStream {
  /** Id of the native engine stream bound to the local port, or null when there is none. */
  engineId: number | null = null;
  localPort = 0;
  localAddress: LocalAddress | null = null;
  /** The peer's address as signalled in SDP (or by `received from` / `media address`). */
  advertised: Endpoint | null = null;
  /** The peer's address packets are sent to: the advertised one, then what was learned. */
  endpoint: Endpoint | null = null;
  /** Set once the engine has learned the endpoint from a received packet. */
  confirmed = false;
  /** When its side's signalling last filled it in (ms), 0 before: media timeouts count from then. */
  signalledAt = 0;
  release: PortRelease | null = null;
  private closed = false;

  constructor(readonly media: CallMedia, readonly component: 1 | 2) {}

  get isRtcp(): boolean {
    return this.component === 2;
  }

  /** Gives the local port back; the stream may get a new one later (re-offer). */
  releasePort(): void {
    const release = this.release;
    this.release = null;
    this.engineId = null;
    this.localPort = 0;
    if (release) release();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releasePort();
  }
}

/** What one side said about one m= line, kept to build the SDP for the other side. */
export interface MediaDescription {
  type: string;
  protocol: string;
  formats: string[];
  /** Codec identity of each format ("PCMA/8000"), '' where it is unknown. */
  codecs: string[];
  port: number;
  direction: Direction | null;
  ptime: number | null;
  rtcpMux: boolean;
  ice: boolean;
}

export class CallMedia {
  readonly rtp: PacketStream;
  readonly rtcp: PacketStream;
  /** The last description this side signalled for this m= line. */
  desc: MediaDescription | null = null;
  /** The logical interface this side's ports live on. */
  iface: LogicalInterface | null = null;
  /** The address family this side is spoken to in (IPv4/IPv6 bridging). */
  family: 4 | 6 = 4;
  /** True when RTCP is multiplexed on the RTP port towards this side. */
  rtcpMux = false;
  /**
   * What rtcp-mux negotiation allows for this side: 'offered' (we offered it to this
   * side), 'follow' (it offered; mux if the far side accepts), 'accept' (it offered;
   * mux regardless of the far side), 'no'.
   */
  muxPolicy: 'no' | 'offered' | 'follow' | 'accept' = 'no';
  /** ICE credentials this daemon advertises towards this side. */
  iceUfrag: string | null = null;
  icePwd: string | null = null;
  /** Set when ICE is offered towards this side. */
  iceOffered = false;
  /** The query flags "send" and "recv" of this media, as the reference derives them. */
  sendFlag = true;
  recvFlag = true;
  /** rtcp-mux as `query` reports it: offered to or by this side, or agreed. */
  rtcpMuxFlag = false;
  /** This side was already multiplexed when its ports were allocated: no RTCP port. */
  rtcpPortless = false;
  /** ICE is in use towards this side: it signalled ICE, or this daemon offered it. */
  ice = false;
  /** The side asked for `asymmetric` when this media was last signalled live. */
  asymmetric = false;
  /** This daemon offered to this side, which makes it the controlling ICE agent there. */
  iceControlling = false;
  /** True once ports have been allocated for this side. */
  hasPorts = false;
  /** The engine holds in-call switches or a recording for this side's streams (wiring). */
  controlled = false;
  /**
   * The audio player engaged on what this side sends (its spec, as JSON), null when
   * its packets are forwarded one by one (wiring).
   */
  audioPlayer: string | null = null;
  /** The payload types used with this side and what happens to what it sends (src/codec/negotiation.ts). */
  readonly codec = new MediaCodecs();
  /** SDES-SRTP keying with this side (src/crypto/sdes.ts). */
  readonly sdes: SdesState = emptySdes();
  private closed = false;

  constructor(readonly monologue: Monologue, readonly index: number) {
    this.rtp = new PacketStream(this, 1);
    this.rtcp = new PacketStream(this, 2);
  }

  get type(): string {
    return this.desc?.type ?? 'audio';
  }

  get protocol(): string {
    return this.desc?.protocol ?? 'RTP/AVP';
  }

  /** Releases the local ports of this side, keeping the description. */
  releasePorts(): void {
    this.rtp.releasePort();
    this.rtcp.releasePort();
    this.hasPorts = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releasePorts();
  }
}

export class Monologue {
  readonly medias: CallMedia[] = [];
  readonly created: number;
  viaBranch: string | null = null;
  label: string | null = null;
  /** The monologue on the other side of the offer/answer exchange. */
  peer: Monologue | null = null;
  /** Set when `trust address` is not in force for this side. */
  sipSource = false;
  /** Learning and address-checking behaviour requested for this side. */
  strictSource = false;
  mediaHandover = false;
  asymmetric = false;
  portLatching = false;
  tos: number | null = null;
  readonly switches = noSwitches();
  private closed = false;

  constructor(readonly call: Call, public tag: string) {
    this.created = Date.now();
  }

  media(index: number): CallMedia {
    while (this.medias.length <= index) this.medias.push(new CallMedia(this, this.medias.length));
    return this.medias[index];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.medias) m.close();
  }
}

/** Values of the `audio-player=` key: 'default' follows --audio-player. */
export type AudioPlayerKey = 'default' | 'transcoding' | 'always' | 'off';

export class Call {
  readonly created: number;
  lastSignal: number;
  /** Monologues keyed by tag. A callee whose tag is not known yet is kept under ''. */
  readonly monologues = new Map<string, Monologue>();
  /** Set by delete; the call is destroyed when the delete delay has passed. */
  deleteAt: number | null = null;
  /** Set when an answer was seen: the offer timeout no longer applies. */
  answered = false;
  recordCall = false;
  /** The `audio-player=` key of the last offer or answer that had one ('default' otherwise). */
  audioPlayer: AudioPlayerKey = 'default';
  metadata: string | null = null;
  readonly switches = noSwitches();
  /** Set while the call is being recorded (src/recording/). */
  recording: RecordingState | null = null;
  /** Where the b2b callback of a timeout goes: the `xmlrpc-callback` address, else where the first offer came from. */
  callbackAddress: string | null = null;
  private closed = false;

  /**
   * Engine thread group: every stream of a call lives on one engine thread, so
   * forwarding between its sides needs no cross-thread hand-off.
   */
  constructor(readonly callId: string, readonly group = 0) {
    this.created = Date.now();
    this.lastSignal = this.created;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  monologue(tag: string): Monologue | undefined {
    return this.monologues.get(tag);
  }

  /** Returns the monologue for a tag, creating it if it does not exist. */
  ensureMonologue(tag: string): Monologue {
    let ml = this.monologues.get(tag);
    if (!ml) {
      ml = new Monologue(this, tag);
      this.monologues.set(tag, ml);
    }
    return ml;
  }

  /** Gives a monologue a new tag (the callee's, once the answer names it). */
  retag(ml: Monologue, tag: string): void {
    this.monologues.delete(ml.tag);
    ml.tag = tag;
    this.monologues.set(tag, ml);
  }

  removeMonologue(ml: Monologue): void {
    if (this.monologues.get(ml.tag) === ml) this.monologues.delete(ml.tag);
    ml.close();
  }

  /** Every stream of the call that has a native engine stream. */
  *streams(): Iterable<PacketStream> {
    for (const ml of this.monologues.values()) {
      for (const m of ml.medias) {
        yield m.rtp;
        yield m.rtcp;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ml of this.monologues.values()) ml.close();
  }
}
