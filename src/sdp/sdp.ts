// SDP (RFC 4566/8866) parser and serializer.
//
// The model is deliberately thin: every line is kept as a typed {type, value}
// pair in its original order, so a body that nobody changes serializes back to
// exactly the bytes that came in. Only the m= line is broken into fields; the
// typed views of c=, o= and a= lines live in attributes.ts.
//
// Strings are "binary" strings (one character per byte, latin1), which is how
// the control layer decodes bencode. Parsing is a single linear pass and never
// throws anything but SdpError.
//
// Acceptance follows the reference daemon (rtpengine 10.5), which is lenient
// about what RFC 4566 requires (o=, s= and t= may be missing) but strict about
// the lines it needs to rewrite (v=, o=, c=, m=). Where the reference rejects a
// body its ng reply says "Failed to parse SDP"; SdpError.reason carries that text.

import { isIpAddress } from './attributes';

export interface SdpLine {
  type: string;
  value: string;
  /** Set when the line ended in a bare LF; it is written back that way (CRLF otherwise). */
  eol?: '\n';
}

export interface MediaSection {
  type: string;
  port: number;
  portCount: number | null;
  proto: string;
  formats: string[];
  lines: SdpLine[];
  /** The m= line ended in a bare LF. */
  eol?: '\n';
  /**
   * The m= line as parsed, with the fields it gave. Serializing reuses its text
   * while the fields are unchanged, so odd but accepted spacing survives a round
   * trip. Absent on sections built in code.
   */
  original?: MediaLineSnapshot;
}

export interface MediaLineSnapshot {
  raw: string;
  type: string;
  port: number;
  portCount: number | null;
  proto: string;
  formats: readonly string[];
}

export interface SessionDescription {
  session: SdpLine[];
  media: MediaSection[];
}

export interface ParseOptions {
  /**
   * Accept a body that does not start with v= (a trickle-ICE SDP fragment,
   * RFC 8840), as the ng flag "fragment" does.
   */
  fragment?: boolean;
}

export type SdpErrorCode =
  | 'SDP_NO_SESSION'
  | 'SDP_MISSING_EQUALS'
  | 'SDP_UNKNOWN_LINE_TYPE'
  | 'SDP_BAD_VERSION'
  | 'SDP_MULTIPLE_SESSIONS'
  | 'SDP_BAD_ORIGIN'
  | 'SDP_ORIGIN_IN_MEDIA'
  | 'SDP_DUPLICATE_ORIGIN'
  | 'SDP_NAME_IN_MEDIA'
  | 'SDP_BAD_CONNECTION'
  | 'SDP_DUPLICATE_CONNECTION'
  | 'SDP_BAD_MEDIA'
  | 'SDP_INCOMPLETE';

/** The ng error-reason the reference gives for a body it cannot parse. */
export const SDP_PARSE_FAILURE_REASON = 'Failed to parse SDP';
/** The ng error-reason the reference gives when a stream has no usable c= line. */
export const SDP_INCOMPLETE_REASON = 'Incomplete SDP specification';

/**
 * Raised for an SDP body that cannot be used. `code` is stable, `line` is the
 * 1-based line number of the offending line (0 when the problem is not tied to
 * one line), and `reason` is the wording for the ng reply.
 */
export class SdpError extends Error {
  readonly code: SdpErrorCode;
  readonly line: number;
  readonly reason: string;

  constructor(code: SdpErrorCode, problem: string, line: number) {
    super(line > 0 ? `${problem} (SDP line ${line})` : problem);
    this.name = 'SdpError';
    this.code = code;
    this.line = line;
    this.reason = code === 'SDP_INCOMPLETE' ? SDP_INCOMPLETE_REASON : SDP_PARSE_FAILURE_REASON;
  }
}

// Line types the reference accepts; anything else fails the whole body.
const KNOWN_TYPES = new Set(['v', 'o', 's', 'i', 'u', 'e', 'p', 'c', 'b', 't', 'r', 'z', 'k', 'a', 'm']);

function unchanged(m: MediaSection, snap: MediaLineSnapshot): boolean {
  if (m.type !== snap.type || m.port !== snap.port || m.portCount !== snap.portCount || m.proto !== snap.proto) return false;
  if (m.formats.length !== snap.formats.length) return false;
  for (let i = 0; i < snap.formats.length; i++) if (m.formats[i] !== snap.formats[i]) return false;
  return true;
}

/**
 * Splits off the next space-separated token the way the reference does: an
 * empty token is possible when two spaces follow each other, and a final token
 * without a trailing space is accepted when it is not empty.
 */
export function nextToken(rest: string): [string, string] | null {
  const i = rest.indexOf(' ');
  if (i >= 0) return [rest.slice(0, i), rest.slice(i + 1)];
  if (rest.length === 0) return null;
  return [rest, ''];
}

/** Takes `count` tokens; returns them and the remainder, or null if there are fewer. */
export function takeTokens(value: string, count: number): { tokens: string[]; rest: string } | null {
  const tokens: string[] = [];
  let rest = value;
  for (let i = 0; i < count; i++) {
    const t = nextToken(rest);
    if (!t) return null;
    tokens.push(t[0]);
    rest = t[1];
  }
  return { tokens, rest };
}

const C_SPACE = /[\t\n\v\f\r ]/;

// Reads a leading decimal integer in the manner of strtol(): optional
// whitespace, optional sign, digits. Returns the value (clamped to keep the
// arithmetic exact) and the index after the digits, or null without digits.
function leadingInteger(s: string, from = 0): { value: number; end: number } | null {
  let i = from;
  while (i < s.length && C_SPACE.test(s[i])) i++;
  let sign = 1;
  if (s[i] === '+' || s[i] === '-') {
    if (s[i] === '-') sign = -1;
    i++;
  }
  const start = i;
  let value = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (value < 1e12) value = value * 10 + (c - 48);
    i++;
  }
  if (i === start) return null;
  return { value: sign * value, end: i };
}

function skipSpaces(s: string): string {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 0x20) i++;
  return i === 0 ? s : s.slice(i);
}

// Parses the fields of an m= line value; returns null where the reference
// fails. The media type ends at the first space (it may be empty, as the
// reference allows); further runs of spaces between port, protocol and
// formats count as one separator. The reference accepts those too, though it
// misreads the fields.
function parseMediaLine(value: string): Omit<MediaSection, 'lines'> | null {
  const first = nextToken(value);
  if (!first) return null;
  const [type, afterType] = first;
  const t = nextToken(skipSpaces(afterType));
  if (!t) return null;
  const portStr = t[0];
  const p = nextToken(skipSpaces(t[1]));
  if (!p) return null;
  const [proto, rest] = p;
  const port = leadingInteger(portStr);
  if (!port || port.value < 0 || port.value > 0xffff) return null;
  let portCount: number | null = null;
  if (portStr[port.end] === '/') {
    const count = leadingInteger(portStr, port.end + 1);
    const n = count ? count.value : 0;
    if (n <= 0 || n > 10) return null;
    portCount = n;
  }
  const formats = rest.split(' ').filter((f) => f.length > 0);
  return { type, port: port.value, portCount, proto, formats };
}

// Checks a c= line value the way the reference does: network type "IN" (or
// "in"), address type IP4 or IP6, and a literal address of that family. The
// multicast "/ttl" suffix is not accepted by the reference either.
function validConnectionValue(value: string): boolean {
  const t = takeTokens(value, 3);
  if (!t) return false;
  const [net, addrType, address] = t.tokens;
  if (net !== 'IN' && net !== 'in') return false;
  if (addrType === 'IP4') return isIpAddress(address, 4);
  if (addrType === 'IP6') return isIpAddress(address, 6);
  return false;
}

/**
 * Parses an SDP body. Lines may end in CRLF or a bare LF; the last line may
 * lack its line ending. As in the reference, the body ends at the first empty
 * line (anything after it is dropped), and a lone trailing character without a
 * line ending is ignored. A body with no lines before that point (empty, or
 * starting with a blank line) gives an empty description rather than an
 * error: the reference accepts such an offer and answers without SDP.
 */
export function parseSdp(text: string, options: ParseOptions = {}): SessionDescription {
  const sdp: SessionDescription = { session: [], media: [] };
  let started = false;
  let media: MediaSection | null = null;
  let sessionHasOrigin = false;
  let sectionHasConnection = false;
  let pos = 0;
  let lineNo = 0;

  while (pos < text.length - 1) {
    lineNo++;
    const first = text[pos];
    if (first === '\r' || first === '\n') break;
    const nl = text.indexOf('\n', pos);
    let end = nl < 0 ? text.length : nl;
    const next = nl < 0 ? text.length : nl + 1;
    if (nl >= 0 && end > pos && text[end - 1] === '\r') end--;

    if (text[pos + 1] !== '=') throw new SdpError('SDP_MISSING_EQUALS', "Missing '=' sign", lineNo);
    const type = first;
    const value = text.slice(pos + 2, Math.max(pos + 2, end));

    if (!started && type !== 'v' && !options.fragment) {
      throw new SdpError('SDP_NO_SESSION', "SDP doesn't start with a session definition", lineNo);
    }
    if (!KNOWN_TYPES.has(type)) {
      throw new SdpError('SDP_UNKNOWN_LINE_TYPE', `Unknown SDP line type '${printable(type)}'`, lineNo);
    }

    const line: SdpLine = { type, value };
    const bareLf = nl >= 0 && text[nl - 1] !== '\r';
    if (bareLf) line.eol = '\n';
    switch (type) {
      case 'v':
        if (started) {
          throw new SdpError('SDP_MULTIPLE_SESSIONS', 'More than one session description in the body', lineNo);
        }
        if (value !== '0') throw new SdpError('SDP_BAD_VERSION', 'Error in v= line: version must be 0', lineNo);
        break;
      case 'o':
        if (media) throw new SdpError('SDP_ORIGIN_IN_MEDIA', 'o= line found within media section', lineNo);
        if (sessionHasOrigin) throw new SdpError('SDP_DUPLICATE_ORIGIN', 'More than one o= line', lineNo);
        if (!takeTokens(value, 6)) throw new SdpError('SDP_BAD_ORIGIN', 'Error parsing o= line', lineNo);
        sessionHasOrigin = true;
        break;
      case 's':
        if (media) throw new SdpError('SDP_NAME_IN_MEDIA', 's= line found within media section', lineNo);
        break;
      case 'c':
        if (sectionHasConnection) {
          throw new SdpError('SDP_DUPLICATE_CONNECTION', 'More than one c= line in the same section', lineNo);
        }
        if (!validConnectionValue(value)) throw new SdpError('SDP_BAD_CONNECTION', 'Error parsing c= line', lineNo);
        sectionHasConnection = true;
        break;
      case 'm': {
        const fields = parseMediaLine(value);
        if (!fields) throw new SdpError('SDP_BAD_MEDIA', 'Error parsing m= line', lineNo);
        // Spelled out: an object spread followed by more properties makes V8
        // build a new hidden class for every parsed section.
        const { type: mtype, port, portCount, proto, formats } = fields;
        media = {
          type: mtype, port, portCount, proto, formats, lines: [],
          original: { raw: value, type: mtype, port, portCount, proto, formats: formats.slice() },
        };
        if (bareLf) media.eol = '\n';
        sdp.media.push(media);
        sectionHasConnection = false;
        started = true;
        pos = next;
        continue;
      }
      default:
        break;
    }
    started = true;
    (media ? media.lines : sdp.session).push(line);
    pos = next;
  }

  return sdp;
}

function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? c : `\\x${code.toString(16).padStart(2, '0')}`;
}

/** Formats the value of an m= line (everything after "m="). */
export function formatMediaLine(m: MediaSection): string {
  const snap = m.original;
  if (snap && unchanged(m, snap)) return snap.raw;
  const port = m.portCount !== null ? `${m.port}/${m.portCount}` : `${m.port}`;
  const formats = m.formats.length > 0 ? ` ${m.formats.join(' ')}` : '';
  return `${m.type} ${port} ${m.proto}${formats}`;
}

/** Serializes with CRLF line endings; an unchanged parsed body comes out byte for byte. */
export function serializeSdp(sdp: SessionDescription): string {
  const out: string[] = [];
  for (const l of sdp.session) out.push(`${l.type}=${l.value}${l.eol ?? '\r\n'}`);
  for (const m of sdp.media) {
    out.push(`m=${formatMediaLine(m)}${m.eol ?? '\r\n'}`);
    for (const l of m.lines) out.push(`${l.type}=${l.value}${l.eol ?? '\r\n'}`);
  }
  return out.join('');
}

/** The first line of a type in a list, e.g. the media-level c= line. */
export function findLine(lines: SdpLine[], type: string): SdpLine | undefined {
  for (const l of lines) if (l.type === type) return l;
  return undefined;
}

/** The c= line that applies to a media section: its own, else the session's. */
export function effectiveConnectionLine(sdp: SessionDescription, media: MediaSection): SdpLine | undefined {
  return findLine(media.lines, 'c') ?? findLine(sdp.session, 'c');
}

/**
 * Throws SDP_INCOMPLETE (reason "Incomplete SDP specification") when a media
 * section has no c= line of its own and the session has none either. The
 * reference checks this for every m= line, rejected (port 0) ones included.
 */
export function assertComplete(sdp: SessionDescription): void {
  if (findLine(sdp.session, 'c')) return;
  sdp.media.forEach((m, i) => {
    if (!findLine(m.lines, 'c')) {
      throw new SdpError('SDP_INCOMPLETE', `Media section ${i + 1} (m=${m.type}) has no c= line`, 0);
    }
  });
}

/** A deep copy that keeps the original m= line text for unchanged sections. */
export function cloneSdp(sdp: SessionDescription): SessionDescription {
  return {
    session: sdp.session.map((l) => ({ ...l })),
    media: sdp.media.map((m) => ({ ...m, formats: [...m.formats], lines: m.lines.map((l) => ({ ...l })) })),
  };
}
