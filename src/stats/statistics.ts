// The `statistics` reply: current and total counters, per-command control figures
// and per-interface port usage, in the reference daemon's layout.

import type { BDict } from '../control/bencode';
import type { CallRegistry } from '../call/registry';
import type { LogicalInterface } from '../media/interfaces';

/** Per-command counts and durations, per control peer (the reference's "proxies"). */
export class ControlStats {
  private readonly proxies = new Map<string, Map<string, { count: number; duration: number }>>();
  errors = new Map<string, number>();
  readonly started = Date.now();

  record(proxy: string, command: string, seconds: number, ok: boolean): void {
    let p = this.proxies.get(proxy);
    if (!p) {
      p = new Map();
      this.proxies.set(proxy, p);
    }
    const key = COMMAND_KEYS[command];
    if (key) {
      const c = p.get(key) ?? { count: 0, duration: 0 };
      c.count++;
      c.duration += seconds;
      p.set(key, c);
    }
    if (!ok) this.errors.set(proxy, (this.errors.get(proxy) ?? 0) + 1);
  }

  dict(): BDict {
    const proxies: BDict[] = [];
    const totals = new Map<string, number>();
    for (const [proxy, counts] of this.proxies) {
      const d: BDict = { proxy };
      for (const key of Object.values(COMMAND_KEYS)) {
        const c = counts.get(key) ?? { count: 0, duration: 0 };
        d[`${key}count`] = c.count;
        d[`${key}duration`] = c.duration.toFixed(6);
        totals.set(key, (totals.get(key) ?? 0) + c.count);
      }
      d['errorcount'] = this.errors.get(proxy) ?? 0;
      proxies.push(d);
    }
    const out: BDict = { proxies };
    for (const key of Object.values(COMMAND_KEYS)) out[`total${key}count`] = totals.get(key) ?? 0;
    return out;
  }
}

/** ng command → the reference's short key in controlstatistics. */
const COMMAND_KEYS: Record<string, string> = {
  ping: 'ping', offer: 'offer', answer: 'answer', delete: 'delete', query: 'query', list: 'list',
  'start recording': 'startrec', 'stop recording': 'stoprec', 'start forwarding': 'startfwd',
  'stop forwarding': 'stopfwd', 'block dtmf': 'blkdtmf', 'unblock dtmf': 'unblkdtmf',
  'block media': 'blkmedia', 'unblock media': 'unblkmedia', 'play media': 'playmedia',
  'stop media': 'stopmedia', 'play dtmf': 'playdtmf', statistics: 'stats',
  'silence media': 'slnmedia', 'unsilence media': 'unslnmedia', publish: 'pub',
  'subscribe request': 'subreq', 'subscribe answer': 'subans', unsubscribe: 'unsub',
};

export interface PortUsage {
  min: number;
  max: number;
  used: number;
  last: number;
}

export function statisticsReply(
  registry: CallRegistry,
  control: ControlStats,
  interfaces: LogicalInterface[],
  ports: PortUsage,
  live: { packets: number; bytes: number; errors: number },
): BDict {
  const t = registry.totals;
  const ended = t.regularTerminatedSessions + t.timeoutSessions + t.silentTimeoutSessions +
    t.finalTimeoutSessions + t.offerTimeoutSessions + t.forcedTerminatedSessions;
  const avg = ended > 0 ? t.totalCallsDuration / ended : 0;
  const variance = ended > 0 ? Math.max(0, t.totalCallsDuration2 / ended - avg * avg) : 0;
  const packets = t.relayedPackets + live.packets;
  const bytes = t.relayedBytes + live.bytes;
  const errors = t.relayedErrors + live.errors;
  const total = ports.max - ports.min + 1;
  return {
    currentstatistics: {
      sessionsown: registry.size, sessionsforeign: 0, sessionstotal: registry.size, transcodedmedia: 0,
      packetrate_user: 0, byterate_user: 0, errorrate_user: 0,
      packetrate_kernel: 0, byterate_kernel: 0, errorrate_kernel: 0,
      packetrate: 0, byterate: 0, errorrate: 0,
      media_userspace: 0, media_kernel: 0, media_mixed: 0,
    },
    totalstatistics: {
      uptime: String(Math.floor((Date.now() - control.started) / 1000)),
      managedsessions: t.managedSessions, rejectedsessions: t.rejectedSessions,
      timeoutsessions: t.timeoutSessions, silenttimeoutsessions: t.silentTimeoutSessions,
      finaltimeoutsessions: t.finalTimeoutSessions, offertimeoutsessions: t.offerTimeoutSessions,
      regularterminatedsessions: t.regularTerminatedSessions, forcedterminatedsessions: t.forcedTerminatedSessions,
      relayedpackets_user: packets, relayedpacketerrors_user: errors, relayedbytes_user: bytes,
      relayedpackets_kernel: 0, relayedpacketerrors_kernel: 0, relayedbytes_kernel: 0,
      relayedpackets: packets, relayedpacketerrors: errors, relayedbytes: bytes,
      zerowaystreams: 0, onewaystreams: 0,
      avgcallduration: avg.toFixed(6),
      totalcallsduration: t.totalCallsDuration.toFixed(6),
      totalcallsduration2: t.totalCallsDuration2.toFixed(6),
      totalcallsduration_stddev: Math.sqrt(variance).toFixed(6),
    },
    mos: { mos_total: '0.000000', mos2_total: '0.000000', mos_samples_total: 0, mos_average: '0.000000', mos_stddev: '0.000000' },
    controlstatistics: control.dict(),
    interfaces: interfaces.flatMap((iface) => iface.addresses.map((a) => ({
      name: iface.name,
      address: a.address,
      ports: {
        min: ports.min, max: ports.max, used: ports.used,
        used_pct: (total > 0 ? (ports.used * 100) / total : 0).toFixed(2),
        free: total - ports.used, totals: total, last: ports.last,
      },
    }))),
    transcoders: [],
  };
}
