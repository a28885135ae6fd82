// The in-call control commands of the ng protocol: block/unblock media,
// silence/unsilence media, block/unblock DTMF, start/stop forwarding, and
// start/stop/pause recording. Runs on the control thread; a switch takes effect
// on the next packet (the engine reads it per stream, see wiring.ts).
//
// Which party a switch applies to, as rtpengine 10.5 decides it: the `all` flag
// means the whole call; otherwise the first of `label`, `address` (the monologue
// with a stream whose peer has that address) and `from-tag` that is given names a
// monologue, and without any of them the whole call is meant. A party's media is
// blocked when its own switch or the call's is on. Turning a switch off for one
// party leaves the call's switch alone, off for the call leaves the parties'
// switches alone, and off with `all` clears both. `to-tag` is accepted and does
// not narrow anything down.

import { isIP } from 'net';
import type { BDict } from './bencode';
import { NgError } from './errors';
import type { NgRequest } from './ng-request';
import type { CallRegistry } from '../call/registry';
import type { MediaWiring } from '../call/wiring';
import type { Call, MediaSwitches, Monologue } from '../call/model';
import type { Recordings } from '../recording/recordings';
import { getLogger } from '../log';

const log = getLogger('control');

export interface MediaControlEnv {
  registry: CallRegistry;
  wiring: MediaWiring;
  recordings: Recordings;
}

/** The switch commands (as NgRequest spells them: lower case): which switch, and whether they turn it on. */
const SWITCHES: Record<string, { key: keyof MediaSwitches; on: boolean }> = {
  'block media': { key: 'blockMedia', on: true },
  'unblock media': { key: 'blockMedia', on: false },
  'silence media': { key: 'silenceMedia', on: true },
  'unsilence media': { key: 'silenceMedia', on: false },
  'block dtmf': { key: 'blockDtmf', on: true },
  'unblock dtmf': { key: 'blockDtmf', on: false },
  'start forwarding': { key: 'forwarding', on: true },
  'stop forwarding': { key: 'forwarding', on: false },
};

/** Canonical text of an IP address, for comparing spellings of one address. */
function canonicalIp(a: string): string {
  return isIP(a) === 6 ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a;
}

/**
 * The one party a request names by `label`, `address` (a monologue with a stream
 * whose peer has that address) or `from-tag`, in that order as the reference
 * looks; null when it names none. Errors are worded as the reference words them.
 */
export function matchParty(call: Call, req: NgRequest): Monologue | null {
  if (req.label !== undefined) {
    for (const ml of call.monologues.values()) if (ml.label === req.label) return ml;
    throw new NgError('No monologue matching the given label');
  }
  if (req.address !== undefined) {
    if (!isIP(req.address)) throw new NgError('Failed to parse network address');
    const want = canonicalIp(req.address);
    for (const ml of call.monologues.values()) {
      for (const m of ml.medias) {
        for (const ps of [m.rtp, m.rtcp]) {
          const e = ps.endpoint ?? ps.advertised;
          if (e && canonicalIp(e.address) === want) return ml;
        }
      }
    }
    throw new NgError('Failed to match address to any tag');
  }
  if (req.fromTag !== undefined && req.fromTag !== '') {
    const ml = call.monologue(req.fromTag);
    if (!ml) throw new NgError('From-tag given, but no such tag exists');
    return ml;
  }
  return null;
}

export class MediaControlCommands {
  constructor(private readonly env: MediaControlEnv) {}

  /** Handles one of the commands above; null for any other command. */
  handle(req: NgRequest): BDict | null {
    const sw = SWITCHES[req.command];
    if (sw) return this.toggle(req, sw.key, sw.on);
    switch (req.command) {
      case 'start recording':
        return this.recording(req, 'start');
      case 'stop recording':
        return this.recording(req, 'stop');
      case 'pause recording':
        return this.recording(req, 'pause');
      default:
        return null;
    }
  }

  private toggle(req: NgRequest, key: keyof MediaSwitches, on: boolean): BDict {
    if (!req.callId) throw new NgError('No call-id in message');
    const call = this.env.registry.get(req.callId);
    if (!call || call.deleteAt !== null) throw new NgError('Unknown call-ID');
    const all = req.all === 'all';
    const ml = all ? null : matchParty(call, req);
    if (ml) {
      ml.switches[key] = on;
    } else {
      call.switches[key] = on;
      if (!on && all) for (const m of call.monologues.values()) m.switches[key] = false;
    }
    log.child(call.callId).info(`${req.command}: ${ml ? `tag '${ml.tag}'` : 'whole call'}`);
    this.env.wiring.refreshControl(call);
    return { result: 'ok' };
  }

  /** start/stop/pause recording: always the whole call (tags are ignored, as in the reference). */
  private recording(req: NgRequest, what: 'start' | 'stop' | 'pause'): BDict {
    if (!req.callId) throw new NgError('No call-id in message');
    const call = this.env.registry.get(req.callId);
    if (!call || call.deleteAt !== null) throw new NgError('Unknown call-id');
    if (req.metadata !== undefined) call.metadata = req.metadata;
    const { recordings } = this.env;
    if (what === 'start') recordings.start(call);
    else if (what === 'pause') recordings.pause(call);
    else {
      // A later offer or answer does not restart it on the strength of an earlier `record call`.
      call.recordCall = false;
      void recordings.finish(call, false);
    }
    return { result: 'ok' };
  }
}
