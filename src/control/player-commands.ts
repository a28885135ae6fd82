// The in-call media commands `play media`, `stop media` and `play DTMF`: which party
// they address, what it is sent (in the codec it negotiated) and the reference's
// replies. Runs on the control thread. Decoding and encoding happen before the reply,
// on a media preparation thread (native/player/prep-pool.h), and so does the query
// for media kept in a database (`db-id`, native/player/media-db.h); the engine
// thread that owns the stream only paces the prepared packets (native/player/player.h).
// A party with an audio player (or one that --audio-player=play-media engages for
// the playback, see MediaWiring.playbackMode) gets the media as PCM, mixed with
// what the other side sends.

import { createHash } from 'crypto';
import { NgError } from './errors';
import { matchParty } from './media-control';
import type { BDict } from './bencode';
import type { NgRequest } from './ng-request';
import { getLogger } from '../log';
import type { CallRegistry } from '../call/registry';
import type { Call, CallMedia, Monologue } from '../call/model';
import { outputCodec, type MediaWiring, type PlaybackMode } from '../call/wiring';
import type { KeyPress } from '../dtmf/reporter';
import { EngineError, prepareDtmf, preparePlayback, type PlaybackSource, type PreparedPlayback } from '../media/engine';
import type { NativeCodecSpec } from '../codec/table';
import type { PayloadType } from '../codec/negotiation';

const log = getLogger('player');

export interface PlayerEnv {
  registry: CallRegistry;
  wiring: MediaWiring;
  /** --player-cache: keep the encoded packets per media file and output codec. */
  playerCache: boolean;
  /** --mysql-*: where `db-id` media come from; null without --mysql-host or --mysql-query. */
  mysql?: MysqlOptions | null;
  /** Reports a digit `play DTMF` injected, once it has played (src/dtmf/reporter.ts). */
  onInjected?: (k: KeyPress) => void;
}

/** The --mysql-* options. `query` holds one `%llu`, the place of the id. */
export interface MysqlOptions {
  host: string;
  port: number | null;
  user: string | null;
  pass: string | null;
  query: string;
}

/** What a `play media` request plays: the source, its key in the player cache, how failures are worded. */
interface MediaSource {
  source: PlaybackSource;
  key: string;
  /** For the log: 'file', 'blob', 'database media #7'. */
  what: string;
  failure: string;
}

/** DTMF characters by event number (RFC 4733: 0-9, *, #, A-D). */
const DTMF_CHARS = '0123456789*#ABCD';

/** The reference's limits for `play DTMF` (ms): out-of-range values are clamped, not refused. */
const DTMF_DURATION = { dflt: 250, min: 100, max: 5000 };
const DTMF_PAUSE = { dflt: 100, min: 100, max: 5000 };
const DTMF_VOLUME = 8;

function clamp(v: number | undefined, lim: { dflt: number; min: number; max: number }): number {
  if (v === undefined || !Number.isFinite(v)) return lim.dflt;
  return Math.min(lim.max, Math.max(lim.min, Math.trunc(v)));
}

/**
 * A file name from the request. Bencode strings arrive with one character per byte:
 * the bytes are the UTF-8 of the name. (A JSON request's strings are text already.)
 */
function pathOf(s: string | undefined): string | undefined {
  if (s === undefined || /[^\x00-\xff]/.test(s)) return s;
  return Buffer.from(s, 'latin1').toString('utf8');
}

/**
 * The DTMF event of a `code` key as the reference reads it: an integer 0-15 (a
 * bencode integer or a string of digits), the character code of a DTMF character
 * (55 is '7', 35 is '#'), or a single character of 0-9 * # A-D.
 */
export function dtmfEvent(code: string | undefined): number {
  const s = code?.trim();
  if (s !== undefined && /^-?\d+$/.test(s)) {
    const n = parseInt(s, 10);
    if (n >= 0 && n <= 15) return n;
    const i = n > 0 && n < 128 ? DTMF_CHARS.indexOf(String.fromCharCode(n)) : -1;
    if (i < 0) throw new NgError("Out of range 'code' specified");
    return i;
  }
  const i = code !== undefined && code.length === 1 ? DTMF_CHARS.indexOf(code) : -1;
  if (i < 0) throw new NgError("Out of range 'code' specified");
  return i;
}

/** The parties a request addresses, as the reference selects them (`all`, then label, media address, from-tag). */
export function selectParties(call: Call, req: NgRequest): Monologue[] {
  if (req.all === 'all') return [...call.monologues.values()].filter((ml) => ml.tag !== '' || ml.medias.length > 0);
  const ml = matchParty(call, req);
  if (!ml) throw new NgError('No participant party specified');
  return [ml];
}

/** One audio m= line of a party: the stream that sends to it and the codecs it negotiated. */
interface Target {
  media: CallMedia;
  /** The other side of the m= line, whose RTP stream sends to the party. */
  other: CallMedia;
  /** The engine stream whose forwarded packets reach the party (the other side's RTP stream). */
  sourceId: number;
}

function audioTargets(ml: Monologue): Target[] {
  const out: Target[] = [];
  const peer = ml.peer;
  if (!peer) return out;
  for (const m of ml.medias) {
    if (m.type !== 'audio') continue;
    const other = peer.medias[m.index];
    if (!other || other.rtp.engineId === null) continue;
    out.push({ media: m, other, sourceId: other.rtp.engineId });
  }
  return out;
}

/** The party's telephone-event payload type at a clock rate, or null. */
function eventType(m: CallMedia, clockRate: number): PayloadType | null {
  return m.codec.codecs.list.find((p) => p.encoding.toLowerCase() === 'telephone-event' && p.clockRate === clockRate) ?? null;
}

export class PlayerCommands {
  /** --player-cache: prepared packets by source and output codec (concurrent requests share one preparation). */
  private readonly cache = new Map<string, Promise<PreparedPlayback>>();
  /** Parties that have been played to (the reference's "player" of a monologue). */
  private readonly played = new WeakSet<Monologue>();

  constructor(private readonly env: PlayerEnv) {}

  private call(req: NgRequest): Call {
    if (!req.callId) throw new NgError('No call-id in message');
    const call = this.env.registry.get(req.callId);
    if (!call || call.deleteAt !== null) throw new NgError('Unknown call-ID');
    return call;
  }

  async playMedia(req: NgRequest): Promise<BDict> {
    const call = this.call(req);
    const parties = selectParties(call, req);
    const media = this.mediaSource(req);
    const repeat = Math.max(1, req.repeatTimes ?? 1);
    const startMs = Math.max(0, req.startPos ?? 0);
    const failure = media.failure;
    // Everything is prepared before any party is touched: a failure changes nothing.
    const plays: Array<{ ml: Monologue; t: Target; mode: PlaybackMode; prepared: Promise<PreparedPlayback> }> = [];
    for (const ml of parties) {
      for (const t of audioTargets(ml)) {
        // With an audio player the media is mixed as PCM, else sent in the party's codec.
        const mode = this.env.wiring.playbackMode(t.other, t.media);
        const out = outputCodec(t.media);
        if (out) plays.push({ ml, t, mode, prepared: this.prepare(media, startMs, out, mode.kind === 'mix') });
      }
    }
    if (plays.length === 0) throw new NgError(failure);
    const prepared = await Promise.all(plays.map((p) => p.prepared));
    // The call may have ended while the media was being prepared.
    if (this.env.registry.get(call.callId) !== call || call.deleteAt !== null) throw new NgError('Unknown call-ID');
    try {
      plays.forEach((p, i) => {
        if (p.mode.kind === 'mix' && p.mode.spec) this.env.wiring.engine.setAudioPlayer(p.t.sourceId, p.mode.spec);
        this.env.wiring.engine.play(p.t.sourceId, prepared[i].list, repeat);
      });
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      log.warn(`${failure}: ${err.message}`);
      throw new NgError(failure);
    }
    for (const p of plays) this.played.add(p.ml);
    log.info(`Playing ${media.what} to '${parties.map((m) => m.tag).join("', '")}' (${repeat}x)`);
    // The length of the media, as the reference reports it (-1 when unknown).
    const duration = prepared[0].durationMs;
    return { duration: duration > 0 ? duration : -1, result: 'ok' };
  }

  /**
   * The media a request names, looked for as the reference does: `file`, else `blob`,
   * else a positive `db-id` (the row the --mysql-query returns for it).
   */
  private mediaSource(req: NgRequest): MediaSource {
    const file = pathOf(req.file);
    if (file) return { source: { file }, key: `file:${file}`, what: `'${file}'`, failure: 'Failed to start media playback from file' };
    // Bencode strings carry one character per byte.
    const blob = req.blob !== undefined ? Buffer.from(req.blob, 'latin1') : undefined;
    if (blob && blob.length > 0) {
      return { source: { blob }, key: `blob:${hashOf(blob)}`, what: `a ${blob.length}-byte blob`, failure: 'Failed to start media playback from blob' };
    }
    const id = req.dbId;
    if (id === undefined || id <= 0) throw new NgError('No media file specified');
    const failure = 'Failed to start media playback from database';
    const db = this.env.mysql;
    if (!db) {
      log.warn(`${failure}: missing configuration (--mysql-host and --mysql-query)`);
      throw new NgError(failure);
    }
    const query = db.query.replace('%llu', String(id));
    return {
      source: { db: { host: db.host, port: db.port ?? undefined, user: db.user ?? undefined, pass: db.pass ?? undefined, query } },
      key: `db:${id}`,
      what: `database media #${id}`,
      failure,
    };
  }

  /** The packets of a media for one codec: from the cache (--player-cache) or prepared now. */
  private prepare(media: MediaSource, startMs: number, codec: NativeCodecSpec, pcm: boolean): Promise<PreparedPlayback> {
    const key = this.env.playerCache ? `${media.key}|${startMs}|${codecKey(codec)}|${pcm ? 'pcm' : 'rtp'}` : null;
    const hit = key !== null ? this.cache.get(key) : undefined;
    if (hit) {
      log.info(`Playback of ${media.what} in ${codec.name} from the player cache`);
      return hit;
    }
    const prepared = preparePlayback({ ...media.source, startMs, codec, pcm }).catch((err: unknown) => {
      if (key !== null) this.cache.delete(key);
      if (!(err instanceof EngineError)) throw err;
      log.warn(`${media.failure}: ${err.message}`);
      throw new NgError(media.failure);
    });
    if (key !== null) this.cache.set(key, prepared);
    return prepared;
  }

  stopMedia(req: NgRequest): BDict {
    const parties = selectParties(this.call(req), req);
    for (const ml of parties) {
      if (!this.played.has(ml)) throw new NgError('Not currently playing media');
    }
    for (const ml of parties) {
      for (const t of audioTargets(ml)) this.env.wiring.engine.play(t.sourceId, null);
    }
    return { result: 'ok' };
  }

  playDtmf(req: NgRequest): BDict {
    const parties = selectParties(this.call(req), req);
    const event = dtmfEvent(req.code);
    const durationMs = clamp(req.duration, DTMF_DURATION);
    const pauseMs = clamp(req.pause, DTMF_PAUSE);
    // Volume in dBm0 below zero, either sign accepted.
    const volume = Math.min(63, Math.abs(req.volume ?? DTMF_VOLUME));
    const plays: Array<{ t: Target; prepared: PreparedPlayback }> = [];
    for (const ml of parties) {
      const targets = audioTargets(ml);
      if (targets.length === 0) throw new NgError('Monologue has no media capable of DTMF injection');
      const t = targets[0];
      const out = outputCodec(t.media);
      const te = eventType(t.media, out?.clockRate ?? 8000);
      if (!te && !out) throw new NgError('Monologue has no media capable of DTMF injection');
      try {
        const prepared = te
          ? prepareDtmf({ event, durationMs, volume, pauseMs, eventPt: te.pt, clockRate: te.clockRate, ptime: out?.ptime ?? 20 })
          : prepareDtmf({ event, durationMs, volume, pauseMs, eventPt: -1, clockRate: out!.clockRate, ptime: out!.ptime, codec: out! });
        plays.push({ t, prepared });
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        throw new NgError(`DTMF injection failed: ${err.message}`);
      }
    }
    // A digit sent while another one is still playing follows it, as the reference queues them.
    for (const p of plays) this.env.wiring.engine.play(p.t.sourceId, p.prepared.list, 1, true);
    log.info(`Playing DTMF '${DTMF_CHARS[event]}' (${durationMs} ms) to '${parties.map((m) => m.tag).join("', '")}'`);
    const report = this.env.onInjected;
    if (report) {
      // Reported as a key press of the party it was played for, when it is over.
      for (const p of plays) {
        const ml = p.t.media.monologue;
        const sourceIp = p.t.media.rtp.endpoint?.address ?? '';
        setTimeout(() => report({ from: ml, sourceIp, event, durationMs, volume, injected: true }), durationMs).unref();
      }
    }
    return { result: 'ok' };
  }
}

function codecKey(c: NativeCodecSpec): string {
  return `${c.name}/${c.clockRate}/${c.channels}/${c.payloadType}/${c.ptime}/${c.bitrate}/${c.fmtp}`;
}

function hashOf(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
