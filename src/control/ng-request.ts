// Normalisation of an ng request dictionary into one typed NgRequest.
//
// Proxies spell the same option in many ways: dictionary keys with spaces,
// hyphens or underscores ("received from", "received-from"), list items in
// "flags" ("trust address", "SIP-source-address"), prefixed items
// ("codec-mask-PCMA", "SDES-off", "replace-origin"), key=value items
// ("ICE=force"), bare transport names ("RTP/SAVPF") and a raw Kamailio flags
// string ("rtpp-flags"). Everything is folded here, once, at the edge; the rest
// of the daemon reads only NgRequest.
//
// Like the reference daemon, unknown keys, flags and values are not errors:
// they are logged, recorded in `warnings`, and otherwise ignored.

import { isIP } from 'net';
import { BDict, BValue } from './bencode';
import { NG_REASONS, NgError } from './errors';
import { getLogger } from '../log';
import type { AudioPlayerKey } from '../call/model';

const log = getLogger('ng-request');

export interface CodecOps {
  strip: string[];
  offer: string[];
  transcode: string[];
  mask: string[];
  except: string[];
  set: string[];
  consume: string[];
  accept: string[];
  ignore: string[];
}

export interface NgRequest {
  /** Lower-case command with single spaces, e.g. 'offer', 'start recording', 'play dtmf'. */
  command: string;
  callId?: string;
  fromTag?: string;
  toTag?: string;
  viaBranch?: string;
  sdp?: string;
  /** The 'label' key, or 'from-label' when only that is given. */
  label?: string;
  setLabel?: string;
  /** The 'from-label' key, or 'label' when only that is given. */
  fromLabel?: string;
  toLabel?: string;
  /** Canonical lower-case hyphenated names of the recognised flags. */
  flags: Set<string>;
  /** The last of 'trust-address' (true) and 'SIP-source-address' (false), if either was given. */
  trustAddress?: boolean;
  /** 'origin', 'origin-full', 'session-connection', 'sdp-version', 'username', 'session-name', 'zero-address', 'force-increment-sdp-version'. */
  replace: Set<string>;
  /** Interface names: [from, to]. */
  direction: string[];
  receivedFrom?: { family: 'IP4' | 'IP6'; address: string };
  /** 'remove' | 'force' | 'force-relay' | 'default' | 'optional'. */
  ice?: string;
  /** 'off' | 'forward' | 'backward' | 'both'. */
  iceLite?: string;
  /** Canonical profile name ('RTP/AVP', 'UDP/TLS/RTP/SAVPF', ...) or 'accept'. */
  transportProtocol?: string;
  mediaAddress?: string;
  addressFamily?: 'IP4' | 'IP6';
  /** 'offer' | 'require' | 'demux' | 'accept' | 'reject'; 'require' implies 'offer'. */
  rtcpMux: Set<string>;
  /** 'accept' | 'offer' | 'reject' | 'require' | 'strict'. */
  bundle: Set<string>;
  /** 'passive' | 'active' | 'off'. */
  dtls?: string;
  dtlsReverse?: string;
  dtlsFingerprint?: string;
  /** 'off', 'unencrypted_srtp', 'encrypted_srtcp', ..., 'lifetime', 'pad', 'static', 'nonew', 'prefer'. */
  sdes: Set<string>;
  sdesNo: string[];
  sdesOnly: string[];
  sdesOrder: string[];
  sdesOffererPref: string[];
  /** 'offer', 'offer-legacy', 'accept', 'accept-rfc', 'accept-legacy'. */
  osrtp: Set<string>;
  t38: Set<string>;
  t38Version?: number;
  tos?: number;
  recordCall?: string;
  /** `audio-player=`: 'default', 'transcoding', 'always' or 'off'. */
  audioPlayer?: AudioPlayerKey;
  metadata?: string;
  codec: CodecOps;
  ptime?: number;
  ptimeReverse?: number;
  deleteDelay?: number;
  limit?: number;
  interface?: string;
  supports: Set<string>;
  fromTags: string[];
  /** Value of the 'all' key or flag: 'all' | 'none' | 'offer-answer' | 'not-offer-answer' | 'flows'. */
  all?: string;
  address?: string;
  xmlrpcCallback?: string;
  /** DTMF digit or event code for 'play DTMF', as a string ('5', '#', 'A', '12'). */
  code?: string;
  duration?: number;
  volume?: number;
  pause?: number;
  frequencies: number[];
  file?: string;
  blob?: string;
  dbId?: number;
  repeatTimes?: number;
  repeatDuration?: number;
  startPos?: number;
  trigger?: string;
  triggerEnd?: string;
  triggerEndTime?: number;
  triggerEndDigits?: number;
  dtmfDelay?: number;
  dtmfSecurity?: string;
  dtmfSecurityTrigger?: string;
  dtmfSecurityTriggerEnd?: string;
  dtmfLogDest?: string;
  delayBuffer?: number;
  mediaEcho?: string;
  dropTraffic?: 'start' | 'stop';
  passthrough?: 'on' | 'off';
  generateRtcp?: 'on' | 'off';
  endpointLearning?: string;
  recordingFile?: string;
  recordingPath?: string;
  recordingPattern?: string;
  toCallId?: string;
  instance?: string;
  sipCode?: number;
  /** 'request' | 'reply'. */
  sipMessageType?: string;
  repacketize?: number;
  sdpMediaRemove: string[];
  /** Dictionaries passed through unparsed: 'sdp-attr', 'extmap', 'moh', 'medias'. */
  sdpAttr?: BValue;
  extmap?: BValue;
  moh?: BValue;
  medias?: BValue;
  template?: string;
  /** What was ignored, one sentence each (unknown keys, flags, values). */
  warnings: string[];
  /** The original dictionary. */
  raw: BDict;
}

// Commands whose codec dictionary may add codecs (transcode, mask, set, accept, consume) and set ptime.
const CODEC_ADD_COMMANDS = new Set(['offer', 'publish', 'subscribe request', 'play media']);

const FLAG_ALIASES: Record<string, string> = {};
function flag(canonical: string, ...aliases: string[]): void {
  FLAG_ALIASES[canonical] = canonical;
  for (const a of aliases) FLAG_ALIASES[a] = canonical;
}
[
  'trust-address', 'sip-source-address', 'symmetric', 'asymmetric', 'unidirectional', 'strict-source',
  'media-handover', 'reset', 'all', 'fragment', 'port-latching', 'no-port-latching', 'generate-mid',
  'strip-extmap', 'record-call', 'no-rtcp-attribute', 'full-rtcp-attribute', 'generate-rtcp', 'trickle-ice',
  'loop-protect', 'original-sendrecv', 'always-transcode', 'asymmetric-codecs', 'symmetric-codecs',
  'reorder-codecs', 'single-codec', 'allow-transcoding', 'inject-dtmf', 'pad-crypto', 'passthrough',
  'no-passthrough', 'no-jitter-buffer', 'pierce-nat', 'nat-wait', 'fatal', 'no-redis-update', 'egress',
  'siprec', 'detect-dtmf', 'early-media', 'block-egress', 'directional', 'exclude-recording',
  'discard-recording', 'inactive', 'new-branch', 'provisional', 'recrypt', 'to-tag', 'webrtc',
  'force-transcoding', 'bidirectional', 'block-dtmf', 'no-tls-id', 'recording-vsc', 'recording-announcement',
].forEach((f) => flag(f));
flag('debug', 'debugging');
flag('no-codec-renegotiation', 'reuse-codecs');
flag('ice-reject', 'reject-ice');
flag('mirror-rtcp', 'rtcp-mirror');
flag('block-short', 'block-shorts', 'block-short-packets');
flag('skip-recording-db', 'skip-recording-database');
flag('static-codecs', 'static-codec');
flag('allow-asymmetric-codecs', 'allow-asymmetric-codec');
flag('allow-no-codec-media', 'allow-no-codec-medias', 'allow-empty-codec-media', 'allow-empty-codec-medias');
flag('audio-player', 'player');
flag('no-player', 'no-audio-player');
flag('mix', 'mixed');

const TRANSPORTS = ['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF', 'UDPTL'];
const TRANSPORT_BY_UPPER = new Map(TRANSPORTS.map((t) => [t, t]));
// Kamailio's transport bits: 0x100 "given", 0x001 secure, 0x002 feedback, 0x004 DTLS.
const TRANSPORT_BITS: Record<number, string> = {
  0: 'RTP/AVP', 1: 'RTP/SAVP', 2: 'RTP/AVPF', 3: 'RTP/SAVPF', 4: 'UDP/TLS/RTP/SAVP', 6: 'UDP/TLS/RTP/SAVPF',
};
const BITS_OF_TRANSPORT = new Map(Object.entries(TRANSPORT_BITS).map(([bits, t]) => [t, 0x100 | Number(bits)]));

// Value vocabularies: alias -> canonical value.
function vocab(groups: Record<string, string[]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [canonical, aliases] of Object.entries(groups)) {
    m.set(canonical, canonical);
    for (const a of aliases) m.set(a, canonical);
  }
  return m;
}
const ICE_VALUES = vocab({ remove: [], force: [], default: [], optional: [], 'force-relay': ['force_relay', 'force relay'] });
const ICE_LITE_VALUES = vocab({
  off: ['none', 'no'], forward: ['offer', 'fwd', 'fw'],
  backward: ['backwards', 'reverse', 'answer', 'back', 'bkw', 'bk'], both: [],
});
const AUDIO_PLAYER_VALUES = vocab({
  default: ['on-demand', 'on demand'], transcoding: ['transcode'], always: ['force', 'forced', 'everything'],
  off: ['no', 'never', 'disable', 'disabled'],
});
const DTLS_VALUES = vocab({ passive: [], active: [], off: ['no', 'disabled', 'disable'] });
const DTLS_REVERSE_VALUES = vocab({ passive: [], active: [] });
const MEDIA_ECHO_VALUES = vocab({
  blackhole: ['sinkhole'], forward: ['fwd', 'fw'], backward: ['backwards', 'reverse', 'back', 'bkw', 'bk'], both: [],
});
const ON_OFF_VALUES = vocab({ on: ['yes', 'enable', 'enabled'], off: ['no', 'disable', 'disabled'] });
const ALL_VALUES = vocab({
  all: [], none: [], 'offer-answer': [], 'not-offer-answer': ['non-offer-answer', 'except-offer-answer'], flows: [],
});
const EL_VALUES = vocab({ off: [], immediate: [], delayed: [], heuristic: [] });
const DTMF_BLOCK_VALUES = vocab({ drop: [], dtmf: [], off: [], random: [], silence: [], tone: [], zero: [] });
const SDES_VALUES = vocab({
  off: ['no', 'disabled', 'disable'], unencrypted_srtp: [], unencrypted_srtcp: [], unauthenticated_srtp: [],
  encrypted_srtp: [], encrypted_srtcp: [], authenticated_srtp: [], lifetime: [], pad: [], static: [],
  nonew: [], prefer: ['priority'],
});
const REPLACE_VALUES = vocab({
  origin: [], 'origin-full': [], 'session-connection': [], 'sdp-version': [], username: [], 'session-name': [],
  'zero-address': [], 'force-increment-sdp-version': ['force-increment-sdp-ver'],
});
const RTCP_MUX_VALUES = vocab({ offer: [], require: [], demux: [], accept: [], reject: [] });
const BUNDLE_VALUES = vocab({ accept: [], offer: [], reject: [], require: [], strict: [] });
const OSRTP_VALUES = vocab({
  offer: ['offer-rfc'], 'offer-legacy': [], accept: [], 'accept-rfc': [], 'accept-legacy': [],
});
const T38_VALUES = vocab({
  decode: [], force: [], stop: [], 'no-ecm': [], 'no-v17': [], 'no-v27ter': [], 'no-v29': [], 'no-v34': [],
  'no-iaf': [], fec: [],
});
const SIP_TYPE_VALUES = vocab({
  request: ['sip-request'], reply: ['sip-response', 'sip-reply', 'response'],
});

/** Lower-cases and turns spaces and underscores into hyphens: the canonical spelling of keys and flags. */
export function normaliseName(s: string): string {
  return s.toLowerCase().replace(/[ _]/g, '-');
}

/** Parses an integer the way C's strtoll(s, NULL, 0) does; returns `def` when no digits lead the string. */
export function parseIntLoose(v: BValue | undefined, def?: number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : def;
  if (typeof v !== 'string') return def;
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(v);
  if (!m) return def;
  const body = m[2];
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (body.length > 1 && body[0] === '0') n = parseInt(body, 8);
  else n = parseInt(body, 10);
  return m[1] === '-' ? -n : n;
}

function str(v: BValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

// A list value is a bencode list of strings or, as newer daemons accept, one comma-separated string.
function strList(v: BValue | undefined): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return [];
}

// Codec names in flags cannot carry '=', so proxies write '--' for it.
function unescapeCodec(s: string): string {
  return s.split('--').join('=');
}

function emptyCodecOps(): CodecOps {
  return { strip: [], offer: [], transcode: [], mask: [], except: [], set: [], consume: [], accept: [], ignore: [] };
}

function familyOf(address: string): 'IP4' | 'IP6' {
  return isIP(address) === 6 || address.includes(':') ? 'IP6' : 'IP4';
}

/** Accumulates one request; each method folds one spelling of an option into NgRequest. */
class RequestBuilder {
  readonly req: NgRequest;
  private transportBits = 0;
  private ifaceIn?: string;
  private ifaceOut?: string;

  constructor(command: string, raw: BDict) {
    this.req = {
      command, flags: new Set(), replace: new Set(), direction: [], rtcpMux: new Set(), bundle: new Set(),
      sdes: new Set(), sdesNo: [], sdesOnly: [], sdesOrder: [], sdesOffererPref: [], osrtp: new Set(),
      t38: new Set(), codec: emptyCodecOps(), supports: new Set(), fromTags: [], frequencies: [],
      sdpMediaRemove: [], warnings: [], raw,
    };
  }

  warn(msg: string): void {
    this.req.warnings.push(msg);
  }

  private pick(map: Map<string, string>, v: BValue | undefined, what: string): string | undefined {
    const s = str(v);
    if (s === undefined) return undefined;
    const c = map.get(s.toLowerCase()) ?? map.get(normaliseName(s));
    if (c === undefined) this.warn(`Unknown '${what}' value '${s}'`);
    return c;
  }

  private addVocab(set: Set<string>, map: Map<string, string>, s: string, what: string): string | undefined {
    const c = map.get(s.toLowerCase()) ?? map.get(normaliseName(s));
    if (c === undefined) this.warn(`Unknown '${what}' flag '${s}'`);
    else set.add(c);
    return c;
  }

  rtcpMux(s: string): void {
    if (this.addVocab(this.req.rtcpMux, RTCP_MUX_VALUES, s, 'rtcp-mux') === 'require') this.req.rtcpMux.add('offer');
  }

  bundleOpt(s: string): void {
    const c = this.addVocab(this.req.bundle, BUNDLE_VALUES, s, 'BUNDLE');
    if (c === 'require' || c === 'strict') this.req.bundle.add('offer').add('require');
    if (c === 'offer' || c === 'require' || c === 'strict') this.req.flags.add('generate-mid');
  }

  replaceOpt(s: string): void {
    this.addVocab(this.req.replace, REPLACE_VALUES, s, 'replace');
  }

  osrtpOpt(s: string): void {
    if (this.addVocab(this.req.osrtp, OSRTP_VALUES, s, 'OSRTP') === 'accept') {
      this.req.osrtp.add('accept-rfc').add('accept-legacy');
    }
  }

  t38Opt(s: string): void {
    const n = normaliseName(s).replace(/v\.(\d)/g, 'v$1');
    this.addVocab(this.req.t38, T38_VALUES, n, 'T.38');
  }

  sdesOpt(s: string): void {
    const lower = s.toLowerCase();
    const rest = (p: string): string => s.slice(p.length);
    const multi = (p: string): string[] => rest(p).split(';').filter((x) => x.length > 0);
    if (lower.startsWith('no-')) this.req.sdesNo.push(rest('no-'));
    else if (lower.startsWith('only-')) this.req.sdesOnly.push(rest('only-'));
    else if (lower.startsWith('order:')) this.req.sdesOrder.push(...multi('order:'));
    else if (lower.startsWith('offerer_pref:') || lower.startsWith('offerer-pref:')) {
      this.req.sdesOffererPref.push(...multi('offerer_pref:'));
    } else {
      const c = SDES_VALUES.get(lower.replace(/[- ]/g, '_')) ?? SDES_VALUES.get(lower);
      if (c === undefined) this.warn(`Unknown 'SDES' flag '${s}'`);
      else this.req.sdes.add(c);
    }
  }

  codecOp(op: keyof CodecOps, items: string[]): void {
    if (items.length === 0) return;
    const adding = op === 'transcode' || op === 'mask' || op === 'set' || op === 'accept' || op === 'consume';
    if (adding && !CODEC_ADD_COMMANDS.has(this.req.command)) {
      this.warn(`Codec '${op}' ignored in '${this.req.command}'`);
      return;
    }
    for (const it of items) this.req.codec[op].push(unescapeCodec(it));
  }

  receivedFrom(v: BValue): void {
    if (Array.isArray(v)) {
      const [fam, addr] = strList(v);
      if (addr === undefined) return;
      const f = fam?.toUpperCase();
      this.req.receivedFrom = { family: f === 'IP4' || f === 'IP6' ? f : familyOf(addr), address: addr };
    } else if (typeof v === 'string' && v.length > 0) {
      this.req.receivedFrom = { family: familyOf(v), address: v };
    }
  }

  transport(v: string): void {
    if (v.toLowerCase() === 'accept') {
      this.req.transportProtocol = 'accept';
      return;
    }
    const t = TRANSPORT_BY_UPPER.get(v.toUpperCase());
    if (t === undefined) this.warn(`Unknown transport protocol '${v}'`);
    else this.req.transportProtocol = t;
  }

  /** One item of the 'flags' list. */
  flagItem(item: string): void {
    const eq = item.indexOf('=');
    if (eq > 0) this.token(item.slice(0, eq), item.slice(eq + 1));
    else this.token(item, undefined);
  }

  /** A bare flag word, already known not to be a prefixed or special item. */
  private plainFlag(word: string): void {
    const c = FLAG_ALIASES[normaliseName(word)];
    if (c === undefined) {
      this.warn(`Unknown flag '${word}'`);
      return;
    }
    const r = this.req;
    r.flags.add(c);
    switch (c) {
      case 'trust-address': r.trustAddress = true; break;
      case 'sip-source-address': r.trustAddress = false; break;
      case 'pad-crypto': r.sdes.add('pad'); break;
      case 'always-transcode': r.codec.accept.push('all'); break;
      case 'all': r.all = 'all'; break;
      case 'generate-rtcp': r.generateRtcp = 'on'; break;
      case 'passthrough': r.passthrough = 'on'; break;
      case 'no-passthrough': r.passthrough = 'off'; break;
    }
  }

  // Matches "prefix-rest" (case-insensitive prefix) or "prefix=value"; returns the rest, verbatim.
  private static prefixed(key: string, val: string | undefined, prefix: string): string | undefined {
    if (key.length === prefix.length) {
      return normaliseName(key) === prefix && val !== undefined && val.length > 0 ? val : undefined;
    }
    if (key.length < prefix.length + 2 || normaliseName(key.slice(0, prefix.length + 1)) !== prefix + '-') {
      return undefined;
    }
    const rest = key.slice(prefix.length + 1);
    return val !== undefined ? `${rest}=${val}` : rest;
  }

  /**
   * One token of a Kamailio/OpenSIPS flags string, or one item of the 'flags'
   * list: a word, or key=value. Folds the module conventions (prefixes,
   * transport words, in-iface/out-iface) and falls back to dictionary keys.
   */
  token(key: string, val: string | undefined): void {
    const r = this.req;
    const P = RequestBuilder.prefixed;
    let rest: string | undefined;
    if ((rest = P(key, val, 'replace')) !== undefined) return this.replaceOpt(rest);
    if ((rest = P(key, val, 'received-from')) !== undefined) return this.receivedFrom(rest);
    if ((rest = P(key, val, 'sdes')) !== undefined) return this.sdesOpt(rest);
    if ((rest = P(key, val, 'osrtp')) !== undefined) return this.osrtpOpt(rest);
    if ((rest = P(key, val, 't38') ?? P(key, val, 't.38')) !== undefined) return this.t38Opt(rest);
    if ((rest = P(key, val, 'rtcp-mux')) !== undefined) return this.rtcpMux(rest);
    if ((rest = P(key, val, 'bundle')) !== undefined) return this.bundleOpt(rest);
    if ((rest = P(key, val, 'from-tags')) !== undefined) { r.fromTags.push(rest); return; }
    if ((rest = P(key, val, 'endpoint-learning')) !== undefined) {
      r.endpointLearning = this.pick(EL_VALUES, rest, 'endpoint-learning');
      return;
    }
    if ((rest = P(key, val, 'transcode') ?? P(key, val, 'codec-transcode')) !== undefined) {
      return this.codecOp('transcode', [rest]);
    }
    for (const op of ['strip', 'offer', 'mask', 'set', 'except', 'accept', 'consume', 'ignore'] as const) {
      if ((rest = P(key, val, `codec-${op}`)) !== undefined) return this.codecOp(op, [rest]);
    }

    const nk = normaliseName(key);
    if (val === undefined) {
      const upper = key.toUpperCase();
      if (TRANSPORT_BY_UPPER.has(upper)) {
        // An explicit profile replaces the word-built one; later words modify it, as in Kamailio.
        this.transportBits = BITS_OF_TRANSPORT.get(upper) ?? 0;
        return this.transport(upper);
      }
      switch (upper) {
        case 'RTP': this.transportBits = (this.transportBits | 0x100) & ~0x001; return this.syncTransport();
        case 'AVP': this.transportBits = (this.transportBits | 0x100) & ~0x002; return this.syncTransport();
        case 'SRTP': this.transportBits |= 0x101; return this.syncTransport();
        case 'AVPF': this.transportBits |= 0x102; return this.syncTransport();
        case 'DTLS': this.transportBits |= 0x104; return this.syncTransport();
      }
      if (nk === 'internal' || nk === 'external') { r.direction.push(key); return; }
      return this.plainFlag(key);
    }
    switch (nk) {
      case 'direction': r.direction.push(val); return;
      case 'in-iface': this.ifaceIn = val; return this.syncIfaces();
      case 'out-iface': this.ifaceOut = val; return this.syncIfaces();
      case 'delete-delay': case 'tos': case 'repacketize':
        return this.key(key, parseIntLoose(val) ?? val);
    }
    this.key(key, val);
  }

  private syncTransport(): void {
    const t = TRANSPORT_BITS[this.transportBits & 0x007];
    if (t !== undefined) this.req.transportProtocol = t;
  }

  private syncIfaces(): void {
    if (this.ifaceIn !== undefined && this.ifaceOut !== undefined) this.req.direction = [this.ifaceIn, this.ifaceOut];
  }

  /** Parses a raw Kamailio-style flags string ('rtpp-flags'): space-separated words and key=value pairs. */
  rtppFlags(s: string): void {
    for (const word of s.split(/\s+/)) {
      if (word.length === 0) continue;
      this.flagItem(word);
    }
  }

  /** One dictionary entry. */
  key(rawKey: string, v: BValue): void {
    const r = this.req;
    const int = (def?: number): number | undefined => parseIntLoose(v, def);
    switch (normaliseName(rawKey)) {
      case 'command': return;
      case 'call-id': r.callId = str(v); return;
      case 'from-tag': r.fromTag = str(v); return;
      case 'to-tag': r.toTag = str(v); return;
      case 'via-branch': r.viaBranch = str(v); return;
      case 'sdp': r.sdp = str(v); return;
      case 'label': r.label = str(v); return;
      case 'from-label': r.fromLabel = str(v); return;
      case 'set-label': r.setLabel = str(v); return;
      case 'to-label': r.toLabel = str(v); return;
      case 'flags': for (const f of strList(v)) this.flagItem(f); return;
      case 'rtpp-flags': if (typeof v === 'string') this.rtppFlags(v); return;
      case 'replace': for (const s of strList(v)) this.replaceOpt(s); return;
      case 'supports': for (const s of strList(v)) r.supports.add(s); return;
      case 'rtcp-mux': for (const s of strList(v)) this.rtcpMux(s); return;
      case 'bundle': for (const s of strList(v)) this.bundleOpt(s); return;
      case 'sdes': for (const s of strList(v)) this.sdesOpt(s); return;
      case 'osrtp': for (const s of strList(v)) this.osrtpOpt(s); return;
      case 't38': case 't.38': for (const s of strList(v)) this.t38Opt(s); return;
      case 'from-tags': r.fromTags.push(...strList(v)); return;
      case 'direction': r.direction = strList(v); return;
      case 'from-interface': if (typeof v === 'string') r.direction[0] = v; return;
      case 'to-interface': if (typeof v === 'string') r.direction[1] = v; return;
      case 'received-from': return this.receivedFrom(v);
      case 'ice': r.ice = this.pick(ICE_VALUES, v, 'ICE'); return;
      case 'ice-lite': r.iceLite = this.pick(ICE_LITE_VALUES, v, 'ICE-lite'); return;
      case 'dtls': r.dtls = this.pick(DTLS_VALUES, v, 'DTLS'); return;
      case 'dtls-reverse': r.dtlsReverse = this.pick(DTLS_REVERSE_VALUES, v, 'DTLS-reverse'); return;
      case 'dtls-fingerprint': r.dtlsFingerprint = str(v); return;
      case 'transport-protocol': if (typeof v === 'string') this.transport(v); return;
      case 'media-address': {
        const s = str(v);
        if (s !== undefined && isIP(s)) r.mediaAddress = s;
        else if (s !== undefined) this.warn(`Could not parse 'media-address' '${s}'`);
        return;
      }
      case 'address-family': {
        const s = str(v)?.toUpperCase();
        if (s === 'IP4' || s === 'IP6') r.addressFamily = s;
        else if (s !== undefined) this.warn(`Unknown 'address family' value '${str(v)}'`);
        return;
      }
      case 'tos': r.tos = int(); return;
      case 'record-call': r.recordCall = str(v); return;
      case 'audio-player': r.audioPlayer = this.pick(AUDIO_PLAYER_VALUES, v, 'audio-player') as AudioPlayerKey | undefined; return;
      case 'metadata': r.metadata = str(v); return;
      case 'codec': return this.codecDict(v);
      case 'ptime': if (r.command === 'offer') r.ptime = int(0) || undefined; return;
      case 'ptime-reverse': case 'reverse-ptime':
        if (r.command === 'offer') r.ptimeReverse = int(0) || undefined;
        return;
      case 'delete-delay': r.deleteDelay = int(); return;
      case 'limit': r.limit = int(); return;
      case 'interface': r.interface = str(v); return;
      case 'all': r.all = this.pick(ALL_VALUES, v, 'all'); if (r.all === 'all') r.flags.add('all'); return;
      case 'address': r.address = str(v); return;
      case 'xmlrpc-callback': r.xmlrpcCallback = str(v); return;
      case 'code': case 'digit':
        r.code = typeof v === 'number' ? String(Math.trunc(v)) : str(v);
        return;
      case 'duration': r.duration = int(); return;
      case 'volume': r.volume = int(); return;
      case 'pause': r.pause = int(); return;
      case 'frequency': case 'frequencies': return this.frequencies(v);
      case 'file': r.file = str(v); return;
      case 'blob': r.blob = str(v); return;
      case 'db-id': r.dbId = int(); return;
      case 'repeat-times': r.repeatTimes = int(); return;
      case 'repeat-duration': r.repeatDuration = int(); return;
      case 'start-pos': r.startPos = int(); return;
      case 'trigger': r.trigger = str(v); return;
      case 'trigger-end': case 'end-trigger': r.triggerEnd = str(v); return;
      case 'trigger-end-time': case 'end-trigger-time': r.triggerEndTime = int(); return;
      case 'trigger-end-digits': case 'end-trigger-digits': r.triggerEndDigits = int(); return;
      case 'dtmf-delay': r.dtmfDelay = int(); return;
      case 'dtmf-security': r.dtmfSecurity = this.pick(DTMF_BLOCK_VALUES, v, 'DTMF-security'); return;
      case 'dtmf-security-trigger':
        r.dtmfSecurityTrigger = this.pick(DTMF_BLOCK_VALUES, v, 'DTMF-security-trigger');
        return;
      case 'dtmf-security-trigger-end':
        r.dtmfSecurityTriggerEnd = this.pick(DTMF_BLOCK_VALUES, v, 'DTMF-security-trigger-end');
        return;
      case 'dtmf-log-dest': case 'dtmf-log-destination': r.dtmfLogDest = str(v); return;
      case 'delay-buffer': r.delayBuffer = int(); return;
      case 'media-echo': r.mediaEcho = this.pick(MEDIA_ECHO_VALUES, v, 'media-echo'); return;
      case 'drop-traffic': {
        const s = str(v);
        if (s === 'start' || s === 'stop') r.dropTraffic = s;
        else if (s !== undefined) this.warn(`Unknown 'drop-traffic' value '${s}'`);
        return;
      }
      case 'passthrough': case 'passthru':
        r.passthrough = this.pick(ON_OFF_VALUES, v, 'passthrough') as 'on' | 'off' | undefined;
        return;
      case 'generate-rtcp': {
        const s = str(v);
        if (s === 'on' || s === 'off') r.generateRtcp = s;
        return;
      }
      case 'endpoint-learning':
        for (const s of strList(v)) r.endpointLearning = this.pick(EL_VALUES, s, 'endpoint-learning');
        return;
      case 'output-destination': case 'output-dest': case 'output-file': case 'recording-destination':
      case 'recording-dest': case 'recording-file':
        r.recordingFile = str(v);
        return;
      case 'recording-path': case 'recording-dir': case 'recording-directory': case 'recording-folder':
      case 'output-path': case 'output-dir': case 'output-directory': case 'output-folder':
        r.recordingPath = str(v);
        return;
      case 'recording-pattern': case 'output-pattern': r.recordingPattern = str(v); return;
      case 'to-call-id': r.toCallId = str(v); return;
      case 'instance': r.instance = str(v); return;
      case 'sip-code': case 'sip-response-code': r.sipCode = int(); return;
      case 'sip-message-type': r.sipMessageType = this.pick(SIP_TYPE_VALUES, v, 'sip-message-type'); return;
      case 't38-version': case 't.38-version': r.t38Version = int(); return;
      case 'repacketize': r.repacketize = int(); return;
      case 'sdp-media-remove': r.sdpMediaRemove.push(...strList(v)); return;
      case 'sdp-attr': r.sdpAttr = v; return;
      case 'extmap': r.extmap = v; return;
      case 'moh': r.moh = v; return;
      case 'media': case 'medias': r.medias = v; return;
      case 'template': r.template = str(v); return;
    }
    this.warn(`Unknown dictionary key '${rawKey}'`);
  }

  private codecDict(v: BValue): void {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return;
    for (const [k, items] of Object.entries(v)) {
      const op = normaliseName(k);
      if (Object.prototype.hasOwnProperty.call(this.req.codec, op)) this.codecOp(op as keyof CodecOps, strList(items));
      else this.warn(`Unknown 'codec' operation '${k}'`);
    }
  }

  private frequencies(v: BValue): void {
    const add = (x: BValue): void => {
      if (Array.isArray(x)) { x.forEach(add); return; }
      const parts = typeof x === 'string' ? x.split(',') : [x];
      for (const p of parts) {
        const n = parseIntLoose(p);
        if (n !== undefined && n > 0) this.req.frequencies.push(n);
        else this.warn('Invalid content in \'frequencies\'');
      }
    };
    add(v);
  }

  finish(): NgRequest {
    const r = this.req;
    if (r.label === undefined && r.fromLabel !== undefined) r.label = r.fromLabel;
    if (r.fromLabel === undefined && r.label !== undefined) r.fromLabel = r.label;
    if (r.direction.length > 2) r.direction = r.direction.slice(0, 2);
    return r;
  }
}

/** Canonical spelling of a command: lower case, words separated by single spaces. */
export function normaliseCommand(s: string): string {
  return s.toLowerCase().replace(/[-_\s]+/g, ' ').trim();
}

/**
 * Folds a request dictionary into an NgRequest. Throws NgError only where the
 * reference daemon refuses the request before running the command: a missing
 * or non-string `command`, and a negative `limit` on `list`.
 */
export function parseNgRequest(dict: BDict): NgRequest {
  const cmd = dict.command;
  if (typeof cmd !== 'string') throw new NgError(NG_REASONS.noCommand, 'ERR_NG_NO_COMMAND');
  const b = new RequestBuilder(normaliseCommand(cmd), dict);
  for (const k of Object.keys(dict)) b.key(k, dict[k]);
  const req = b.finish();
  if (req.command === 'list' && req.limit !== undefined && req.limit < 0) {
    throw new NgError(NG_REASONS.invalidLimit, 'ERR_NG_INVALID_LIMIT');
  }
  if (req.warnings.length > 0) {
    const l = req.callId !== undefined ? log.child(req.callId) : log;
    for (const w of req.warnings) l.warn(w);
  }
  return req;
}
