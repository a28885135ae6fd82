// DTMF event reports: each key press a party made (received as RFC 4733 events,
// heard as in-band tones on a transcoded stream, or injected by `play DTMF`)
// is reported once, when it ends, in the JSON form the reference daemon uses:
//
//   {"callid":…,"source_tag":…,"tags":[…],"type":"DTMF","timestamp":<unix s>,
//    "source_ip":…,"event":<0-15>,"duration":<ms>,"volume":<0-63>}
//
// to --dtmf-log-dest (one UDP datagram each), to syslog under
// --log-facility-dtmf, and, with --dtmf-log-ng-tcp, to every TCP ng client as a
// notification dictionary {notify: "onDTMF", data: {…the same fields…}}.
// --dtmf-no-log-injects leaves the injected digits out.
//
// Runs on the control thread; never blocks (UDP sends are fire and forget).

import * as dgram from 'dgram';
import { getLogger, logToFacility } from '../log';
import type { BDict } from '../control/bencode';
import type { Monologue } from '../call/model';

const log = getLogger('dtmf');

export interface DtmfReporterOptions {
  /** --dtmf-log-dest. */
  dest: { address: string; port: number; family: 4 | 6 } | null;
  /** --log-facility-dtmf (a syslog facility name). */
  facility: string | null;
  /** --dtmf-log-ng-tcp: pushes a notification to the TCP ng clients; returns how many got it. */
  notify: ((dict: BDict) => number) | null;
  /** --dtmf-no-log-injects. */
  noLogInjects: boolean;
}

/** One key press that ended. */
export interface KeyPress {
  /** The party that pressed it (for an injected digit: the party it was injected for). */
  from: Monologue;
  /** Where it came from (an address); '' when unknown. */
  sourceIp: string;
  event: number;
  durationMs: number;
  volume: number;
  injected?: boolean;
}

export class DtmfReporter {
  private socket: dgram.Socket | null = null;
  /** Reports sent, by destination (for tests and statistics). */
  readonly sent = { udp: 0, syslog: 0, ng: 0 };

  constructor(private readonly opts: DtmfReporterOptions) {
    const dest = opts.dest;
    if (dest) {
      this.socket = dgram.createSocket(dest.family === 6 ? 'udp6' : 'udp4');
      // A send error (nobody listening, ICMP unreachable) is not the call's problem.
      this.socket.on('error', (err) => log.debug(`DTMF log socket: ${err.message}`));
      this.socket.unref();
    }
  }

  /** Whether anything is reported at all (otherwise the engine's events are ignored). */
  get enabled(): boolean {
    return this.socket !== null || this.opts.facility !== null || this.opts.notify !== null;
  }

  report(k: KeyPress): void {
    if (!this.enabled || (k.injected && this.opts.noLogInjects)) return;
    const ml = k.from;
    const call = ml.call;
    const tags: string[] = [];
    for (const other of call.monologues.values()) if (other.tag) tags.push(other.tag);
    // The reference's field order (it builds the JSON by hand and never sorts).
    const fields = {
      callid: call.callId,
      source_tag: ml.tag,
      tags,
      type: 'DTMF',
      timestamp: Math.floor(Date.now() / 1000),
      source_ip: k.sourceIp,
      event: k.event,
      duration: k.durationMs,
      volume: k.volume,
    };
    const json = JSON.stringify(fields);
    if (this.socket && this.opts.dest) {
      this.socket.send(json, this.opts.dest.port, this.opts.dest.address);
      this.sent.udp++;
    }
    if (this.opts.facility !== null) {
      logToFacility(this.opts.facility, 'dtmf', json);
      this.sent.syslog++;
    }
    if (this.opts.notify) {
      // The same fields, in the order of the reference's notification.
      const f = fields;
      const data: BDict = {
        tags: f.tags, callid: f.callid, source_tag: f.source_tag, type: f.type, source_ip: f.source_ip,
        timestamp: f.timestamp, event: f.event, duration: f.duration, volume: f.volume,
      };
      this.sent.ng += this.opts.notify({ notify: 'onDTMF', data });
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}
