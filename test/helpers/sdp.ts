// Test SDP: building offer/answer bodies and reading back what a daemon wrote.
// Deliberately tiny and separate from src/sdp: the tests must not trust the
// parser they are testing.

export interface MediaSpec {
  /** m= media type (default 'audio'). */
  type?: string;
  port: number;
  /** Number of ports in "m=audio 4000/2 ..." (rarely used). */
  portCount?: number;
  proto?: string; // default RTP/AVP
  /** Payload types / formats (default [0, 8]). */
  formats?: Array<number | string>;
  /** Media-level c= address (omitted when undefined). */
  address?: string;
  /**
   * Attribute lines without the "a=" prefix, e.g. 'rtpmap:0 PCMU/8000', 'sendrecv'.
   * When undefined, rtpmaps for well-known static payload types are generated.
   */
  attributes?: string[];
  /** Extra attribute lines added after the generated or given ones. */
  extraAttributes?: string[];
  /** Other lines (b=, i=, k=) placed before the attributes, verbatim. */
  lines?: string[];
}

export interface SdpSpec {
  /** Session-level c= address (default 127.0.0.1). null leaves out the session c= line. */
  address?: string | null;
  /** o= address (default: `address`, or 127.0.0.1). */
  originAddress?: string;
  originUser?: string;
  sessionId?: string | number;
  sessionVersion?: string | number;
  sessionName?: string;
  /** Session-level attribute lines without "a=". */
  attributes?: string[];
  media: MediaSpec[];
  /** Line ending (default CRLF). */
  eol?: string;
}

const STATIC_RTPMAP: Record<number, string> = {
  0: 'PCMU/8000',
  3: 'GSM/8000',
  4: 'G723/8000',
  8: 'PCMA/8000',
  9: 'G722/8000',
  13: 'CN/8000',
  18: 'G729/8000',
};

function ipVersion(addr: string): 'IP4' | 'IP6' {
  return addr.includes(':') ? 'IP6' : 'IP4';
}

/** Builds an SDP body. */
export function buildSdp(spec: SdpSpec): string {
  const eol = spec.eol ?? '\r\n';
  const addr = spec.address === undefined ? '127.0.0.1' : spec.address;
  const oAddr = spec.originAddress ?? addr ?? '127.0.0.1';
  const lines: string[] = [
    'v=0',
    `o=${spec.originUser ?? '-'} ${spec.sessionId ?? 1545997027} ${spec.sessionVersion ?? 1} IN ${ipVersion(oAddr)} ${oAddr}`,
    `s=${spec.sessionName ?? 'tester'}`,
  ];
  if (addr !== null) lines.push(`c=IN ${ipVersion(addr)} ${addr}`);
  lines.push('t=0 0');
  for (const a of spec.attributes ?? []) lines.push(`a=${a}`);
  for (const m of spec.media) {
    const formats = m.formats ?? [0, 8];
    const port = m.portCount ? `${m.port}/${m.portCount}` : `${m.port}`;
    lines.push(`m=${m.type ?? 'audio'} ${port} ${m.proto ?? 'RTP/AVP'} ${formats.join(' ')}`);
    if (m.address) lines.push(`c=IN ${ipVersion(m.address)} ${m.address}`);
    for (const l of m.lines ?? []) lines.push(l);
    const attrs =
      m.attributes ??
      formats
        .map((f) => (typeof f === 'number' && STATIC_RTPMAP[f] ? `rtpmap:${f} ${STATIC_RTPMAP[f]}` : null))
        .filter((a): a is string => a !== null);
    for (const a of attrs) lines.push(`a=${a}`);
    for (const a of m.extraAttributes ?? []) lines.push(`a=${a}`);
  }
  return lines.join(eol) + eol;
}

/** A one-stream audio offer/answer body: the common case. */
export function simpleAudioSdp(port: number, opts: { address?: string; formats?: number[]; extra?: string[] } = {}): string {
  return buildSdp({
    address: opts.address ?? '127.0.0.1',
    media: [{ port, formats: opts.formats ?? [0, 8], extraAttributes: ['sendrecv', ...(opts.extra ?? [])] }],
  });
}

// ---------------------------------------------------------------- reading

export interface SdpAttribute {
  name: string;
  /** Text after the first ':' (null for flag attributes like a=sendrecv). */
  value: string | null;
}

export interface ParsedMedia {
  type: string;
  port: number;
  portCount: number | null;
  proto: string;
  formats: string[];
  /** Media-level c= address, or null. */
  connection: string | null;
  attributes: SdpAttribute[];
  /** All lines of this media section (including m=), as received. */
  lines: string[];
}

export interface ParsedSdp {
  origin: { user: string; sessionId: string; version: string; netType: string; addrType: string; address: string } | null;
  /** Session-level c= address, or null. */
  connection: string | null;
  attributes: SdpAttribute[];
  media: ParsedMedia[];
  /** Session-level lines, as received. */
  sessionLines: string[];
}

function parseAttr(v: string): SdpAttribute {
  const i = v.indexOf(':');
  return i < 0 ? { name: v, value: null } : { name: v.slice(0, i), value: v.slice(i + 1) };
}

function parseConnection(v: string): string | null {
  // "IN IP4 203.0.113.1" or "IN IP4 224.2.1.1/127"
  const parts = v.trim().split(/\s+/);
  return parts.length >= 3 ? parts[2].replace(/\/.*$/, '') : null;
}

/** Parses an SDP body loosely (any line ending, unknown lines kept in `lines`). */
export function parseSdp(body: string): ParsedSdp {
  const out: ParsedSdp = { origin: null, connection: null, attributes: [], media: [], sessionLines: [] };
  let cur: ParsedMedia | null = null;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.replace(/\r$/, '');
    if (!line) continue;
    const t = line[0];
    const v = line.slice(2);
    if (t === 'm' && line[1] === '=') {
      const [type, portSpec = '0', proto = '', ...formats] = v.split(/\s+/);
      const [port, count] = portSpec.split('/');
      cur = {
        type,
        port: Number(port),
        portCount: count !== undefined ? Number(count) : null,
        proto,
        formats,
        connection: null,
        attributes: [],
        lines: [line],
      };
      out.media.push(cur);
      continue;
    }
    if (cur) {
      cur.lines.push(line);
      if (t === 'c') cur.connection = parseConnection(v);
      else if (t === 'a') cur.attributes.push(parseAttr(v));
    } else {
      out.sessionLines.push(line);
      if (t === 'c') out.connection = parseConnection(v);
      else if (t === 'a') out.attributes.push(parseAttr(v));
      else if (t === 'o') {
        const [user, sessionId, version, netType, addrType, address] = v.split(/\s+/);
        out.origin = { user, sessionId, version, netType, addrType, address };
      }
    }
  }
  return out;
}

function media(sdp: string | ParsedSdp, index: number): ParsedMedia {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  const m = p.media[index];
  if (!m) throw new Error(`SDP has no m= line #${index} (has ${p.media.length})`);
  return m;
}

/** The effective c= address of media `index` (media level, else session level). */
export function connectionAddress(sdp: string | ParsedSdp, index = 0): string | null {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  return media(p, index).connection ?? p.connection;
}

/** The m= port of every media section, in order. */
export function mediaPorts(sdp: string | ParsedSdp): number[] {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  return p.media.map((m) => m.port);
}

/** Where media `index` should be sent: its c= address and m= port. */
export function mediaEndpoint(sdp: string | ParsedSdp, index = 0): { address: string; port: number } {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  const address = connectionAddress(p, index);
  if (!address) throw new Error(`SDP media #${index} has no c= address`);
  return { address, port: media(p, index).port };
}

/** Values of the attribute `name` of media `index`, or of the session when index is 'session'. */
export function attributeValues(sdp: string | ParsedSdp, name: string, index: number | 'session' = 0): Array<string | null> {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  const attrs = index === 'session' ? p.attributes : media(p, index).attributes;
  return attrs.filter((a) => a.name === name).map((a) => a.value);
}

/** The first value of attribute `name` (undefined when absent, null for a flag attribute). */
export function attribute(sdp: string | ParsedSdp, name: string, index: number | 'session' = 0): string | null | undefined {
  const v = attributeValues(sdp, name, index);
  return v.length ? v[0] : undefined;
}

/** Whether media `index` (or the session) carries the attribute `name`. */
export function hasAttribute(sdp: string | ParsedSdp, name: string, index: number | 'session' = 0): boolean {
  return attributeValues(sdp, name, index).length > 0;
}

/** a=rtcp of media `index` as port and optional address, or null when absent. */
export function rtcpAttribute(sdp: string | ParsedSdp, index = 0): { port: number; address: string | null } | null {
  const v = attribute(sdp, 'rtcp', index);
  if (v === undefined || v === null) return null;
  const parts = v.trim().split(/\s+/);
  return { port: Number(parts[0]), address: parts.length >= 4 ? parts[3] : null };
}

/** rtpmap entries of media `index`: payload type → "encoding/clock[/channels]". */
export function rtpmaps(sdp: string | ParsedSdp, index = 0): Map<number, string> {
  const out = new Map<number, string>();
  for (const v of attributeValues(sdp, 'rtpmap', index)) {
    if (!v) continue;
    const m = /^(\d+)\s+(\S+)/.exec(v);
    if (m) out.set(Number(m[1]), m[2]);
  }
  return out;
}

/** The media direction attribute of media `index` (sendrecv when none is given). */
export function direction(sdp: string | ParsedSdp, index = 0): 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' {
  const p = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  const dirs = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;
  for (const d of dirs) if (hasAttribute(p, d, index)) return d;
  for (const d of dirs) if (hasAttribute(p, d, 'session')) return d;
  return 'sendrecv';
}

/** Extracts the SDP body from a SIP message (text after the first empty line). */
export function sipBody(message: string): string {
  const m = /\r?\n\r?\n/.exec(message);
  return m ? message.slice(m.index + m[0].length) : '';
}
