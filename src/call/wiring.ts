// Connects the call model to the native media engine: allocates the local ports of a
// media on its logical interface and compiles each stream's route (endpoint, sink,
// RTCP sink, learning) when signalling changes it. Runs on the control thread.

import { EngineError, type AudioPlayerSpec, type StreamControl, type CodecRoute, type Endpoint, type StreamConfig, type MediaEngine, type EngineEvent, type Learning, type PayloadClock, type StreamStats } from '../media/engine';
import { planRoute, payloadTypeSpec, DEFAULT_GRAPH_OPTIONS, type GraphOptions } from '../codec/graph';
import type { NativeCodecSpec } from '../codec/table';
import { getLogger } from '../log';
import { PortsExhaustedError, type PortAllocator, type PortPair } from '../media/ports';
import { NgError } from '../control/errors';
import type { Call, CallMedia, PacketStream } from './model';
import { paramBits, type SdesCrypto } from '../crypto/sdes';

type DtmfEngineEvent = Extract<EngineEvent, { type: 'dtmf' }>;

const log = getLogger('call');

/**
 * The payload types this side signalled with their clock rates ("PCMA/8000"), for
 * RTCP jitter; telephone-event types marked, for the key presses they carry.
 */
function clockRates(m: CallMedia): PayloadClock[] | undefined {
  const desc = m.desc;
  if (!desc) return undefined;
  const out: PayloadClock[] = [];
  for (let i = 0; i < desc.formats.length; i++) {
    const f = desc.formats[i];
    const pt = /^\d+$/.test(f) ? parseInt(f, 10) : -1;
    // The codec is "ENCODING/rate[/channels]".
    const codec = desc.codecs[i] ?? '';
    const slash = codec.indexOf('/');
    const rate = slash < 0 ? NaN : parseInt(codec.slice(slash + 1), 10);
    if (pt >= 0 && pt <= 127 && rate > 0) {
      out.push({ pt, clockRate: rate, event: codec.slice(0, slash).toLowerCase() === 'telephone-event' });
    }
  }
  return out;
}

function srtpKeying(c: SdesCrypto | null): { suite: number; key: Buffer; params: number } | null {
  return c ? { suite: c.suite.id, key: c.key, params: paramBits(c) } : null;
}

/** Whether the party of a side speaks SRTP with this daemon (in either direction). */
export function usesSrtp(m: CallMedia): boolean {
  return m.sdes.recv !== null || m.sdes.send !== null;
}

/** The byte that fills a silent payload of the codecs the reference silences that way. */
const SILENCE_FILL: Record<string, number> = { pcma: 0xd5, pcmu: 0xff, g722: 0xfa };

/** The silence pattern of each payload type of a side whose codec has a one-byte one. */
function silencePatterns(m: CallMedia): StreamControl['silence'] {
  const silence: StreamControl['silence'] = [];
  const desc = m.desc;
  if (desc) {
    for (let i = 0; i < desc.formats.length; i++) {
      const pt = Number(desc.formats[i]);
      if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue;
      const name = (desc.codecs[i] ?? '').split('/')[0].toLowerCase();
      if (SILENCE_FILL[name] !== undefined) silence.push({ pt, fill: SILENCE_FILL[name] });
    }
  }
  return silence;
}

/**
 * What the in-call switches and the recording of its call ask of a side's
 * streams; null when they ask nothing (most calls: nothing is built then).
 */
function streamControl(m: CallMedia, record: 'ingress' | 'egress'): StreamControl | null {
  const ml = m.monologue;
  const call = ml.call;
  const rec = call.recording;
  const blockMedia = call.switches.blockMedia || ml.switches.blockMedia;
  const silenceMedia = call.switches.silenceMedia || ml.switches.silenceMedia;
  const blockDtmf = call.switches.blockDtmf || ml.switches.blockDtmf;
  const recording = rec && rec.active ? rec.id : 0;
  if (!blockMedia && !silenceMedia && !blockDtmf && recording === 0) return null;
  return { blockMedia, silenceMedia, blockDtmf, silence: silencePatterns(m), recording, record };
}

/** The control of a side that asks nothing. */
const NO_CONTROL: StreamControl = {
  blockMedia: false, silenceMedia: false, blockDtmf: false, silence: [], recording: 0, record: 'ingress',
};

/** The first codec a side negotiated that this daemon can encode: what it is sent when media is made for it. */
export function outputCodec(m: CallMedia): NativeCodecSpec | null {
  for (const p of m.codec.codecs.list) {
    const s = payloadTypeSpec(p, true);
    if (s) return s;
  }
  return null;
}

/** --audio-player and the mix buffer (--audio-buffer-length, --audio-buffer-delay). */
export interface AudioPlayerOptions {
  mode: 'on-demand' | 'play-media' | 'transcoding' | 'always';
  bufferMs: number;
  delayMs: number;
}

/** How a party's audio is produced when media is played to it. */
export type PlaybackMode =
  /** Replaced by the playback while it lasts (no audio player). */
  | { kind: 'replace' }
  /** Mixed into its audio player: the one engaged already, or one engaged for the playback (`spec`). */
  | { kind: 'mix'; spec: AudioPlayerSpec | null };

export class MediaWiring {
  /** --audio-player, --audio-buffer-length, --audio-buffer-delay. */
  audioPlayer: AudioPlayerOptions = { mode: 'on-demand', bufferMs: 500, delayMs: 5 };

  /** --record-egress: recordings hold what is sent instead of what is received. */
  recordEgress = false;

  /** --log-srtp-keys: the SRTP keys of a side are logged at error level instead of debug. */
  logSrtpKeys = false;

  /**
   * The in-kernel path is in place (--table not negative and the forwarder loaded);
   * `dtmfInUserSpace`: key presses are reported, so a side that negotiated
   * telephone-event keeps its RTP in user space, where events are read.
   */
  kernel: { dtmfInUserSpace: boolean } | null = null;

  /** Native stream id → the model's stream, for events coming back from the engine. */
  private readonly byEngineId = new Map<number, PacketStream>();

  constructor(
    readonly engine: MediaEngine,
    private readonly ports: PortAllocator,
    private readonly learning: Learning,
    private readonly graph: GraphOptions = DEFAULT_GRAPH_OPTIONS,
  ) {}

  /**
   * Allocates an RTP/RTCP port pair for a media on every address of its interface, if
   * it has none, and picks the address of the media's family to advertise.
   */
  ensurePorts(m: CallMedia): void {
    if (m.hasPorts) {
      this.selectLocal(m);
      return;
    }
    if (!m.iface) throw new Error('media has no interface');
    const addrs = m.iface.addresses.map((a) => ({ family: a.family, address: a.address }));
    let pair: PortPair;
    try {
      pair = this.ports.allocatePair(addrs, { group: m.monologue.call.group }, m.monologue.call.callId);
    } catch (err) {
      // The reference's wording, which proxy scripts match on.
      if (err instanceof PortsExhaustedError) throw new NgError(err.message, 'ERR_NO_PORTS');
      throw err;
    }
    m.rtp.engineId = pair.rtp;
    m.rtp.localPort = pair.port;
    m.rtcp.engineId = pair.rtcp;
    m.rtcp.localPort = pair.port + 1;
    this.selectLocal(m);
    this.byEngineId.set(pair.rtp, m.rtp);
    this.byEngineId.set(pair.rtcp, m.rtcp);
    let released = 0;
    const release = (): void => {
      // Both streams share one pair: free it when the second of them is closed.
      if (++released < 2) return;
      this.byEngineId.delete(pair.rtp);
      this.byEngineId.delete(pair.rtcp);
      this.ports.releasePair(pair);
    };
    m.rtp.release = release;
    m.rtcp.release = release;
    m.hasPorts = true;
  }

  private selectLocal(m: CallMedia): void {
    const addrs = m.iface?.addresses ?? [];
    const local = addrs.find((a) => a.family === m.family) ?? addrs[0] ?? null;
    m.rtp.localAddress = local;
    m.rtcp.localAddress = local;
  }

  /** Compiles the routes between two sides of one m= line, both directions. */
  route(a: CallMedia, b: CallMedia): void {
    this.routeSide(a, b);
    this.routeSide(b, a);
  }

  private routeSide(from: CallMedia, to: CallMedia): void {
    if (from.rtp.engineId === null || from.rtcp.engineId === null) return;
    const rtcpTarget = to.rtcpMux ? to.rtp.engineId : to.rtcp.engineId;
    // What this side sends is transcoded on its RTP stream when negotiation says so.
    const codecs = planRoute(from.codec, this.graph);
    const rtpConfig = this.streamConfig(from, from.rtp.endpoint, to.rtp.engineId, rtcpTarget, codecs);
    try {
      this.engine.configure(from.rtp.engineId, rtpConfig);
    } catch (err) {
      if (!(err instanceof EngineError) || err.code !== 'EINVAL' || !codecs) throw err;
      log.warn(`Cannot transcode media ${from.index + 1} of '${from.monologue.tag}', relaying it unchanged: ${err.message}`);
      rtpConfig.codecs = null;
      this.engine.configure(from.rtp.engineId, rtpConfig);
    }
    // RTCP towards a multiplexing peer leaves through its RTP port.
    const rtcpEndpoint = from.rtcpMux ? null : from.rtcp.endpoint;
    this.engine.configure(from.rtcp.engineId, this.streamConfig(from, rtcpEndpoint, rtcpTarget, rtcpTarget, null));
    this.applyControl(from);
    this.logSrtp(from);
    this.applyAudioPlayer(from, to, rtpConfig.codecs ?? null);
    this.applyKernel(from);
  }

  /**
   * Lets the engine move a side's RTP into the kernel when nothing this side asks of
   * it needs user space; the engine checks the rest (route, control, playback,
   * endpoints) itself and keeps the flow in step. RTCP always stays in user space,
   * where reports are read for the call's statistics.
   */
  private applyKernel(from: CallMedia): void {
    if (!this.kernel || from.rtp.engineId === null) return;
    const events = this.kernel.dtmfInUserSpace && (clockRates(from) ?? []).some((c) => c.event);
    // SRTP is decrypted and encrypted in user space, on both sides of the m= line.
    const peer = from.monologue.peer?.medias[from.index];
    const srtp = usesSrtp(from) || (peer !== undefined && usesSrtp(peer));
    this.engine.setKernel(from.rtp.engineId, !events && !srtp);
  }

  /** Logs the SRTP keys in use with a side (debug level, error level with --log-srtp-keys). */
  private logSrtp(from: CallMedia): void {
    const { recv, send } = from.sdes;
    if (!recv && !send) return;
    const text = (c: SdesCrypto | null): string => (c ? `${c.suite.name} ${c.key.toString('base64')}` : 'none');
    const msg = `[${from.monologue.call.callId} ${from.rtp.localPort}] SRTP keys of '${from.monologue.tag}' media ${from.index + 1}: ` +
      `inbound ${text(recv)}, outbound ${text(send)}`;
    if (this.logSrtpKeys) log.error(msg);
    else log.debug(msg);
  }

  /** The audio player mode of a call: its `audio-player=` key, else --audio-player. */
  private audioPlayerMode(from: CallMedia): AudioPlayerOptions['mode'] | 'off' {
    const key = from.monologue.call.audioPlayer;
    return key === 'default' ? this.audioPlayer.mode : key;
  }

  /**
   * The audio player of what `from` sends towards `to`'s party: its inputs are the
   * codecs `from` sends, its output the codec the party receives. Null when nothing
   * can be encoded for the party.
   */
  private audioPlayerSpec(from: CallMedia, to: CallMedia, codecs: CodecRoute | null, transient: boolean): AudioPlayerSpec | null {
    const out = codecs?.out ?? outputCodec(to);
    if (!out) return null;
    const inputs: NativeCodecSpec[] = [];
    const add = (s: NativeCodecSpec | null): void => {
      if (s && !inputs.some((i) => i.payloadType === s.payloadType)) inputs.push(s);
    };
    for (const t of codecs?.transcode ?? []) add(t.in);
    for (const p of from.codec.codecs.list) add(payloadTypeSpec(p, false));
    return { inputs, out, bufferMs: this.audioPlayer.bufferMs, delayMs: this.audioPlayer.delayMs, transient };
  }

  /**
   * Engages the audio player on `from`'s RTP stream when the mode asks for it for the
   * whole call (always; transcoding when the route transcodes), and disengages it
   * otherwise. Only a change reaches the engine.
   */
  private applyAudioPlayer(from: CallMedia, to: CallMedia, codecs: CodecRoute | null): void {
    if (from.rtp.engineId === null || from.type !== 'audio') return;
    const mode = this.audioPlayerMode(from);
    const on = mode === 'always' || (mode === 'transcoding' && codecs !== null && codecs.transcode.length > 0);
    let spec = on ? this.audioPlayerSpec(from, to, codecs, false) : null;
    if (on && !spec) log.warn(`No codec to encode for '${to.monologue.tag}', media ${to.index + 1}: audio player not engaged`);
    let key = spec ? JSON.stringify(spec) : null;
    if (key === from.audioPlayer) return;
    try {
      this.engine.setAudioPlayer(from.rtp.engineId, spec);
    } catch (err) {
      if (!(err instanceof EngineError) || err.code !== 'EINVAL') throw err;
      log.warn(`Cannot engage the audio player for media ${from.index + 1} of '${from.monologue.tag}': ${err.message}`);
      spec = null;
      key = null;
      this.engine.setAudioPlayer(from.rtp.engineId, null);
    }
    from.audioPlayer = key;
  }

  /**
   * How media played to the party of `to` is sent: mixed when its audio player is
   * engaged, or when --audio-player=play-media engages one for the playback (its
   * spec); replacing its audio otherwise. `from` is the other side of the m= line.
   */
  playbackMode(from: CallMedia, to: CallMedia): PlaybackMode {
    if (from.audioPlayer !== null) return { kind: 'mix', spec: null };
    if (this.audioPlayerMode(from) !== 'play-media') return { kind: 'replace' };
    const spec = this.audioPlayerSpec(from, to, planRoute(from.codec, this.graph), true);
    return spec ? { kind: 'mix', spec } : { kind: 'replace' };
  }

  /** Hands a side's in-call switches and recording to its streams. */
  private applyControl(m: CallMedia): void {
    const c = streamControl(m, this.recordEgress ? 'egress' : 'ingress');
    // Most calls never use these commands: nothing to tell the engine then.
    if (!c && !m.controlled) return;
    m.controlled = c !== null;
    for (const ps of [m.rtp, m.rtcp]) if (ps.engineId !== null) this.engine.setControl(ps.engineId, c ?? NO_CONTROL);
  }

  /** Applies a change of a call's switches or recording to all its streams, from their next packet on. */
  refreshControl(call: Call): void {
    for (const ml of call.monologues.values()) for (const m of ml.medias) this.applyControl(m);
  }

  /**
   * One stream's configuration; the side's learning, source and ICE settings are
   * shared by its RTP and RTCP streams. Every configuration is built here, so the
   * engine façade always reads one object shape.
   */
  private streamConfig(from: CallMedia, endpoint: Endpoint | null, sink: number | null, rtcpSink: number | null,
    codecs: CodecRoute | null): StreamConfig {
    const ml = from.monologue;
    return {
      endpoint,
      sink,
      rtcpSink,
      learning: ml.asymmetric ? 'off' : this.learning,
      strictSource: ml.strictSource,
      mediaHandover: ml.mediaHandover,
      tos: ml.tos,
      // STUN checks from this side's peer carry the credentials we advertised to it.
      ice: from.iceUfrag && from.icePwd ? { ufrag: from.iceUfrag, pwd: from.icePwd } : null,
      clockRates: clockRates(from),
      codecs,
      // SRTP with this side's party: what it sends is decrypted, what it is sent encrypted.
      srtp: from.sdes.recv || from.sdes.send ? { recv: srtpKeying(from.sdes.recv), send: srtpKeying(from.sdes.send) } : null,
    };
  }

  /** Receives the key presses the engine reports, with the stream they arrived on. */
  onDtmf: ((ps: PacketStream, ev: DtmfEngineEvent) => void) | null = null;

  /** Applies what the engine reports: learned endpoints, key presses. */
  onEvents(events: EngineEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'error') continue;
      const ps = this.byEngineId.get(ev.id);
      if (!ps) continue;
      if (ev.type === 'dtmf') {
        this.onDtmf?.(ps, ev);
        continue;
      }
      ps.endpoint = ev.endpoint;
      ps.confirmed = true;
    }
  }

  /** Unix ms of the stream's last accepted packet, 0 if none or not in the engine. */
  lastPacket(ps: PacketStream): number {
    if (ps.engineId === null) return 0;
    return this.engine.lastPacket(ps.engineId);
  }

  stats(ps: PacketStream): StreamStats | null {
    if (ps.engineId === null) return null;
    return this.engine.stats(ps.engineId);
  }
}
