// Dispatch of ng commands to the call registry. Runs on the control thread; each
// command either completes or throws NgError, which leaves existing calls as they were.

import type { BDict } from './bencode';
import { NgError, NG_REASONS } from './errors';
import { parseNgRequest, type NgRequest } from './ng-request';
import type { NgContext } from './ng-server';
import { getLogger } from '../log';
import { LoadLimitError, type CallRegistry } from '../call/registry';
import type { Call } from '../call/model';
import { processSignal, LoopProtected, type SignalEnv } from '../call/offer-answer';
import { queryReply } from '../call/query';
import { PlayerCommands, type MysqlOptions, type PlayerEnv } from './player-commands';
import type { MediaControlCommands } from './media-control';
import type { Recordings } from '../recording/recordings';
import { statisticsReply, type ControlStats, type PortUsage } from '../stats/statistics';

const log = getLogger('control');

export interface CommandEnv {
  registry: CallRegistry;
  signal: SignalEnv;
  control: ControlStats;
  portUsage: () => PortUsage;
  /** Seconds a deleted call stays queryable (--delete-delay). */
  deleteDelay: number;
  /** --player-cache. */
  playerCache?: boolean;
  /** --mysql-*: the database of `play media` with `db-id`. */
  mysql?: MysqlOptions | null;
  /** Receives the digits `play DTMF` injects (DTMF event reports). */
  onInjectedDtmf?: PlayerEnv['onInjected'];
  /** block/silence media, block DTMF, forwarding and recording commands (media-control.ts). */
  mediaControl?: MediaControlCommands;
  recordings?: Recordings;
}

/**
 * Commands the reference knows, spelled exactly as it matches them (case-sensitive:
 * `Ping` is not a command there either).
 */
const REFERENCE_COMMANDS = new Set([
  'ping', 'offer', 'answer', 'delete', 'query', 'list', 'statistics', 'start recording',
  'stop recording', 'pause recording', 'start forwarding', 'stop forwarding', 'block DTMF',
  'unblock DTMF', 'block media', 'unblock media', 'silence media', 'unsilence media',
  'play media', 'stop media', 'play DTMF', 'publish', 'subscribe request', 'subscribe answer',
  'unsubscribe', 'connect',
]);

function need(value: string | undefined, reason: string): string {
  if (value === undefined || value === '') throw new NgError(reason);
  return value;
}

export class Commands {
  private readonly player: PlayerCommands;

  constructor(private readonly env: CommandEnv) {
    this.player = new PlayerCommands({ registry: env.registry, wiring: env.signal.wiring, playerCache: env.playerCache ?? false,
      mysql: env.mysql ?? null, onInjected: env.onInjectedDtmf });
  }

  /**
   * The ng handler: never throws; errors become `result: error` replies. A command
   * that waits for work off the JavaScript thread (play media) answers with a promise.
   */
  handle = (dict: BDict, ctx: NgContext): BDict | Promise<BDict> => {
    const started = process.hrtime.bigint();
    const command = typeof dict['command'] === 'string' ? dict['command'] : '';
    const done = (reply: BDict, ok: boolean): BDict => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.env.control.record(ctx.remote.address, command, seconds, ok);
      return reply;
    };
    try {
      const req = parseNgRequest(dict);
      if (!REFERENCE_COMMANDS.has(command)) throw new NgError(NG_REASONS.unknownCommand);
      const reply = this.dispatch(req, ctx);
      if (reply instanceof Promise) return reply.then((r) => done(r, true), (e) => done(this.errorReply(command, e), false));
      return done(reply, true);
    } catch (e) {
      return done(this.errorReply(command, e), false);
    }
  };

  private errorReply(command: string, e: unknown): BDict {
    if (e instanceof NgError) return { result: 'error', 'error-reason': e.ngReason };
    log.error(`Error processing '${command}': ${(e as Error).stack ?? String(e)}`);
    return { result: 'error', 'error-reason': NG_REASONS.internal };
  }

  private dispatch(req: NgRequest, ctx: NgContext): BDict | Promise<BDict> {
    switch (req.command) {
      case 'ping':
        return { result: 'pong' };
      case 'offer':
        return this.signal(req, 'offer', ctx);
      case 'answer':
        return this.signal(req, 'answer', ctx);
      case 'delete':
        return this.delete(req);
      case 'query':
        return this.query(req);
      case 'list':
        return this.list(req);
      case 'statistics':
        return this.statistics();
      case 'play media':
        return this.player.playMedia(req);
      case 'stop media':
        return this.player.stopMedia(req);
      case 'play dtmf':
        return this.player.playDtmf(req);
      default: {
        // The in-call control commands live in media-control.ts.
        const reply = this.env.mediaControl?.handle(req);
        if (reply) return reply;
        // A command of the reference that this daemon does not implement yet.
        throw new NgError(`Command '${req.command}' is not supported yet`);
      }
    }
  }

  private signal(req: NgRequest, kind: 'offer' | 'answer', ctx: NgContext): BDict {
    const callId = need(req.callId, 'No call-id in message');
    need(req.fromTag, 'No from-tag in message');
    if (kind === 'answer') need(req.toTag, 'No to-tag in message');
    if (req.sdp === undefined) throw new NgError('No SDP body in message');
    const { registry } = this.env;
    let call = registry.get(callId);
    const created = kind === 'offer' && (!call || call.deleteAt !== null);
    if (kind === 'answer') {
      if (!call || call.deleteAt !== null) throw new NgError('Unknown call-id');
    } else {
      try {
        call = registry.getOrCreate(callId);
      } catch (e) {
        // A client that `supports` "load limit" is told which limit, not as an error.
        if (e instanceof LoadLimitError && (req.supports.has('load limit') || req.supports.has('load-limit'))) {
          return { result: 'load limit', message: e.limitReason };
        }
        throw e;
      }
    }
    // `audio-player=` decides how the media routed below are sent; a failed request keeps the old value.
    const audioPlayerBefore = call.audioPlayer;
    if (req.audioPlayer !== undefined) call.audioPlayer = req.audioPlayer;
    try {
      const sdp = processSignal(call, req, kind, this.env.signal);
      // Timeouts count from the signalling of each side; the b2b callback goes to the origin.
      registry.signalled(call, sdp === null ? undefined : kind === 'offer' ? req.fromTag : req.toTag, {
        origin: kind === 'offer' ? ctx.remote.address : undefined,
        callback: req.xmlrpcCallback,
      });
      if (sdp === null) return { result: 'ok' };
      if (req.recordCall !== undefined) call.recordCall = req.recordCall === 'yes' || req.recordCall === 'on';
      if (req.flags.has('record-call')) call.recordCall = true;
      if (req.metadata !== undefined) call.metadata = req.metadata;
      this.record(call, req, kind, sdp);
      return { sdp, result: 'ok' };
    } catch (e) {
      // An SDP that parsed but could not be rewritten leaves the call it created, as
      // in the reference; any other failure leaves no trace.
      const keep = e instanceof NgError && e.code === 'ERR_SDP_REWRITE';
      call.audioPlayer = audioPlayerBefore;
      if (created && !keep) registry.abandon(call);
      if (e instanceof LoopProtected) return { sdp: e.sdp, result: 'ok' };
      // Running out of ports half way through leaves no consistent call: the reference
      // ends it, and so do we. Errors found before anything changed leave it alone.
      else if (e instanceof NgError && e.code === 'ERR_NO_PORTS') registry.destroy(call, 'forced');
      throw e;
    }
  }

  /** `record call` yes/no and the `record-call` flag start and stop the recording; a recorded call keeps its SDPs. */
  private record(call: Call, req: NgRequest, kind: 'offer' | 'answer', sdp: string): void {
    const recordings = this.env.recordings;
    if (!recordings) return;
    if (call.recordCall) recordings.start(call);
    else if (req.recordCall !== undefined) void recordings.finish(call, false);
    const party = call.monologue((kind === 'offer' ? req.fromTag : req.toTag) ?? '');
    recordings.onSignal(call, kind, sdp, party?.label ?? null);
  }

  private delete(req: NgRequest): BDict {
    const callId = need(req.callId, 'No call-id in message');
    const { registry } = this.env;
    const call = registry.get(callId);
    const delay = req.deleteDelay ?? this.env.deleteDelay;
    const before = call ? queryReply(call, this.env.signal.wiring) : null;
    const found = registry.delete(callId, { fromTag: req.fromTag, toTag: req.toTag, viaBranch: req.viaBranch, delay });
    if (!found) {
      const reason = "Call-ID not found or tags didn't match";
      if (req.flags.has('fatal')) throw new NgError(reason);
      return { result: 'ok', warning: reason };
    }
    // The reference answers with the call's figures as they were, delay or not, when
    // the delete names a from-tag; without one, just ok.
    if (before && req.fromTag) {
      before.result = 'ok';
      return before;
    }
    return { result: 'ok' };
  }

  private query(req: NgRequest): BDict {
    const callId = need(req.callId, 'No call-id in message');
    const call = this.env.registry.get(callId);
    if (!call) throw new NgError('Unknown call-id');
    return { ...queryReply(call, this.env.signal.wiring), result: 'ok' };
  }

  private list(req: NgRequest): BDict {
    const limit = req.limit ?? 32;
    if (limit < 0) throw new NgError(NG_REASONS.invalidLimit);
    return { calls: this.env.registry.ids().slice(0, limit), result: 'ok' };
  }

  private statistics(): BDict {
    const live = { packets: 0, bytes: 0, errors: 0 };
    const { registry, signal } = this.env;
    for (const id of registry.ids()) {
      const call = registry.get(id);
      if (!call) continue;
      for (const ps of call.streams()) {
        const st = signal.wiring.stats(ps);
        if (!st) continue;
        live.packets += st.packets;
        live.bytes += st.bytes;
        live.errors += st.errors;
      }
    }
    const stats = statisticsReply(registry, this.env.control, signal.interfaces, this.env.portUsage(), live);
    return { statistics: stats, result: 'ok' };
  }
}
