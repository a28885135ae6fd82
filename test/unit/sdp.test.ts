import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  parseSdp,
  serializeSdp,
  cloneSdp,
  assertComplete,
  effectiveConnectionLine,
  SdpError,
  SDP_PARSE_FAILURE_REASON,
  SDP_INCOMPLETE_REASON,
  type SdpErrorCode,
  type SessionDescription,
} from '../../src/sdp/sdp';
import * as A from '../../src/sdp/attributes';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/sdp');

function readFixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'latin1');
}

const fixtureNames = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.sdp'))
  .sort();

const BASE = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0 8\r\n';

// Each typed parser with the attribute it reads; formatting the parse of a
// well-formed corpus line must give the line back.
const TYPED: Array<[string, (v: string) => unknown, (x: never) => string]> = [
  ['rtpmap', A.parseRtpmap, A.formatRtpmap],
  ['fmtp', A.parseFmtp, A.formatFmtp],
  ['rtcp', A.parseRtcp, A.formatRtcp],
  ['candidate', A.parseCandidate, A.formatCandidate],
  ['crypto', A.parseCrypto, A.formatCrypto],
  ['fingerprint', A.parseFingerprint, A.formatFingerprint],
  ['group', A.parseGroup, A.formatGroup],
  ['ssrc', A.parseSsrc, A.formatSsrc],
  ['ssrc-group', A.parseSsrcGroup, A.formatSsrcGroup],
  ['extmap', A.parseExtmap, A.formatExtmap],
  ['rtcp-fb', A.parseRtcpFb, A.formatRtcpFb],
];

function expectSdpError(text: string, code: SdpErrorCode, line?: number): SdpError {
  try {
    parseSdp(text);
  } catch (e) {
    assert.ok(e instanceof SdpError, `expected SdpError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.reason, SDP_PARSE_FAILURE_REASON);
    if (line !== undefined) assert.equal(e.line, line, e.message);
    return e;
  }
  assert.fail(`expected ${code} for ${JSON.stringify(text)}`);
}

describe('SDP fixture corpus', () => {
  it('holds at least 25 bodies', () => {
    assert.ok(fixtureNames.length >= 25, `only ${fixtureNames.length} fixtures`);
  });

  for (const name of fixtureNames) {
    describe(name, () => {
      const text = readFixture(name);

      it('uses CRLF line endings throughout', () => {
        assert.ok(text.endsWith('\r\n'));
        assert.ok(!/[^\r]\n/.test(text), 'bare LF found');
      });

      it('round-trips byte for byte', () => {
        assert.equal(serializeSdp(parseSdp(text)), text);
      });

      it('has a connection for every media section', () => {
        assert.doesNotThrow(() => assertComplete(parseSdp(text)));
      });

      it('has well-formed c=, o=, b= lines and typed attributes that format back identically', () => {
        const sdp = parseSdp(text);
        const sections = [sdp.session, ...sdp.media.map((m) => m.lines)];
        for (const lines of sections) {
          for (const l of lines) {
            if (l.type === 'c') assert.equal(A.formatConnection(A.parseConnection(l.value)!), l.value);
            if (l.type === 'o') assert.equal(A.formatOrigin(A.parseOrigin(l.value)!), l.value);
            if (l.type === 'b') assert.equal(A.formatBandwidth(A.parseBandwidth(l.value)!), l.value);
          }
          for (const [attr, parse, format] of TYPED) {
            for (const v of A.getAttributes(lines, attr)) {
              const parsed = parse(v);
              assert.ok(parsed !== null, `a=${attr}:${v} did not parse`);
              assert.equal(format(parsed as never), v);
            }
          }
          for (const v of [...A.getAttributes(lines, 'ptime'), ...A.getAttributes(lines, 'maxptime')]) {
            assert.ok(A.parsePtime(v) !== null, `ptime ${v}`);
          }
          for (const v of A.getAttributes(lines, 'setup')) assert.ok(A.parseSetup(v) !== null);
        }
      });
    });
  }
});

describe('SDP parsing and serialization', () => {
  it('splits session lines and media sections and keeps line order', () => {
    const sdp = parseSdp(readFixture('session-and-media-connection.sdp'));
    assert.deepEqual(
      sdp.session.map((l) => l.type),
      ['v', 'o', 's', 'c', 't'],
    );
    assert.equal(sdp.media.length, 2);
    const [audio, video] = sdp.media;
    assert.deepEqual(
      { type: audio.type, port: audio.port, portCount: audio.portCount, proto: audio.proto, formats: audio.formats },
      { type: 'audio', port: 41730, portCount: null, proto: 'RTP/AVP', formats: ['0', '8'] },
    );
    assert.deepEqual(audio.lines[0], { type: 'c', value: 'IN IP4 198.51.100.62' });
    assert.deepEqual(audio.lines[1], { type: 'a', value: 'rtpmap:0 PCMU/8000' });
    assert.equal(video.type, 'video');
    assert.equal(effectiveConnectionLine(sdp, audio)?.value, 'IN IP4 198.51.100.62');
    assert.equal(effectiveConnectionLine(sdp, video)?.value, 'IN IP4 10.47.3.12');
  });

  it('accepts LF-only input and writes each line back with the ending it came with', () => {
    const crlf = readFixture('asterisk-g711-offer.sdp');
    const lf = crlf.replace(/\r\n/g, '\n');
    assert.equal(serializeSdp(parseSdp(lf)), lf);
  });

  it('writes lines it makes up with CRLF, as the reference does with LF input', () => {
    const sdp = parseSdp('v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 5000 RTP/AVP 0\n');
    sdp.media[0].lines.push({ type: 'a', value: 'sendrecv' });
    assert.match(serializeSdp(sdp), /m=audio 5000 RTP\/AVP 0\na=sendrecv\r\n$/);
  });

  it('accepts mixed line endings and a last line without one', () => {
    const text = 'v=0\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\nc=IN IP4 10.0.0.1\r\nt=0 0\nm=audio 5000 RTP/AVP 0\r\na=sendrecv';
    assert.equal(
      serializeSdp(parseSdp(text)),
      'v=0\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\nc=IN IP4 10.0.0.1\r\nt=0 0\nm=audio 5000 RTP/AVP 0\r\na=sendrecv\r\n',
    );
  });

  it('ends the body at the first blank line, as the reference does', () => {
    const sdp = parseSdp(BASE + '\r\na=after-blank\r\n');
    assert.equal(serializeSdp(sdp), BASE);
  });

  it('ignores a lone trailing character without a line ending', () => {
    assert.equal(serializeSdp(parseSdp(BASE + 'a')), BASE);
  });

  it('keeps binary bytes in values untouched', () => {
    const text = BASE + 'a=x-bin:\u0001\u00ff\u0000\u0080\r\n';
    assert.equal(serializeSdp(parseSdp(text)), text);
  });

  it('reads a port count and keeps an unchanged m= line verbatim even with odd spacing', () => {
    const text = BASE.replace('m=audio 5000 RTP/AVP 0 8', 'm=audio 5000/2 RTP/AVP 0  8 ');
    const sdp = parseSdp(text);
    assert.equal(sdp.media[0].portCount, 2);
    assert.deepEqual(sdp.media[0].formats, ['0', '8']);
    assert.equal(serializeSdp(sdp), text);
    assert.equal(serializeSdp(cloneSdp(sdp)), text);
  });

  it('writes a changed m= line in canonical form', () => {
    const sdp = parseSdp(BASE.replace('m=audio 5000 RTP/AVP 0 8', 'm=audio 5000abc RTP/AVP 0  8'));
    assert.equal(sdp.media[0].port, 5000);
    sdp.media[0].port = 30000;
    sdp.media[0].formats.push('101');
    assert.ok(serializeSdp(sdp).includes('\r\nm=audio 30000 RTP/AVP 0 8 101\r\n'));
  });

  it('accepts an m= line without formats, and port 0', () => {
    const sdp = parseSdp(BASE.replace('m=audio 5000 RTP/AVP 0 8', 'm=audio 0 RTP/AVP'));
    assert.equal(sdp.media[0].port, 0);
    assert.deepEqual(sdp.media[0].formats, []);
  });

  it('accepts a body without o=, s= or t= like the reference', () => {
    const sdp = parseSdp('v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\n');
    assert.equal(sdp.media.length, 1);
  });

  it('accepts t=, i=, k= and b= lines inside a media section', () => {
    const text = BASE + 't=0 0\r\ni=x\r\nk=prompt\r\nb=AS:64\r\n';
    assert.equal(serializeSdp(parseSdp(text)), text);
  });

  it('accepts IPv6 connection addresses, in brackets too, and the lowercase "in" network type', () => {
    for (const c of ['IN IP6 ::1', 'IN IP6 [::1]', 'IN IP6 ::ffff:1.2.3.4', 'IN IP6 1:2:3:4:5:6:7:8', 'in IP4 10.0.0.1']) {
      assert.doesNotThrow(() => parseSdp(BASE.replace('c=IN IP4 10.0.0.1', `c=${c}`)), c);
    }
  });

  it('accepts a trickle-ICE fragment only when asked to', () => {
    const frag = 'a=ice-ufrag:abcd\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n';
    expectSdpError(frag, 'SDP_NO_SESSION', 1);
    const sdp = parseSdp(frag, { fragment: true });
    assert.deepEqual(sdp.session, [{ type: 'a', value: 'ice-ufrag:abcd' }]);
    assert.equal(serializeSdp(sdp), frag);
  });

  it('reports a media section without any c= line as incomplete', () => {
    const sdp = parseSdp(BASE.replace('c=IN IP4 10.0.0.1\r\n', '').replace('5000', '0'));
    assert.throws(
      () => assertComplete(sdp),
      (e: unknown) => e instanceof SdpError && e.code === 'SDP_INCOMPLETE' && e.reason === SDP_INCOMPLETE_REASON,
    );
    const withMediaC = parseSdp(BASE.replace('c=IN IP4 10.0.0.1\r\n', '') + 'c=IN IP4 1.1.1.1\r\n');
    assert.doesNotThrow(() => assertComplete(withMediaC));
  });

  it('gives an empty description for a body with no lines before a blank line, as the reference accepts it', () => {
    for (const text of ['', '\r\n', '\n' + BASE, 'v']) assert.deepEqual(parseSdp(text), { session: [], media: [] }, JSON.stringify(text));
  });

  it('reads an m= line with an empty media type or doubled spaces, which the reference accepts', () => {
    const doubled = parseSdp(BASE.replace('m=audio 5000 RTP/AVP', 'm=audio  5000  RTP/AVP')).media[0];
    assert.deepEqual([doubled.type, doubled.port, doubled.proto, doubled.formats], ['audio', 5000, 'RTP/AVP', ['0', '8']]);
    const untyped = parseSdp(BASE.replace('m=audio 5000', 'm= 5000')).media[0];
    assert.deepEqual([untyped.type, untyped.port, untyped.proto], ['', 5000, 'RTP/AVP']);
  });

  it('serializes an empty description to an empty string', () => {
    assert.equal(serializeSdp({ session: [], media: [] }), '');
  });
});

describe('SDP the reference refuses ("Failed to parse SDP")', () => {
  const cases: Array<[string, string, SdpErrorCode, number]> = [
    ['a body not starting with v=', BASE.slice(5), 'SDP_NO_SESSION', 1],
    ['plain garbage', 'hello world', 'SDP_MISSING_EQUALS', 1],
    ['leading whitespace', ' ' + BASE, 'SDP_MISSING_EQUALS', 1],
    ['a byte-order mark', '\u00ef\u00bb\u00bf' + BASE, 'SDP_MISSING_EQUALS', 1],
    ['CR-only line endings', BASE.replace(/\r\n/g, '\r'), 'SDP_BAD_VERSION', 1],
    ['version 1', BASE.replace('v=0', 'v=1'), 'SDP_BAD_VERSION', 1],
    ['a lone "v=0" followed by CR only', 'v=0\r', 'SDP_BAD_VERSION', 1],
    ['a trailing space after the version', BASE.replace('v=0', 'v=0 '), 'SDP_BAD_VERSION', 1],
    ['a second session', BASE + BASE, 'SDP_MULTIPLE_SESSIONS', 7],
    ['a line without "="', BASE + 'foo\r\n', 'SDP_MISSING_EQUALS', 7],
    ['a two-character last line', BASE + 'ab', 'SDP_MISSING_EQUALS', 7],
    ['an upper-case line type', BASE + 'A=foo\r\n', 'SDP_UNKNOWN_LINE_TYPE', 7],
    ['an unknown line type', BASE + 'x=foo\r\n', 'SDP_UNKNOWN_LINE_TYPE', 7],
    ['a space before "="', BASE + 'a =foo\r\n', 'SDP_MISSING_EQUALS', 7],
    ['an o= line with five fields', BASE.replace('o=- 1 1 IN IP4 10.0.0.1', 'o=- 1 1 IN IP4'), 'SDP_BAD_ORIGIN', 2],
    ['two o= lines', BASE.replace('s=-', 'o=- 2 2 IN IP4 1.1.1.1\r\ns=-'), 'SDP_DUPLICATE_ORIGIN', 3],
    ['an o= line in a media section', BASE + 'o=- 2 2 IN IP4 1.1.1.1\r\n', 'SDP_ORIGIN_IN_MEDIA', 7],
    ['an s= line in a media section', BASE + 's=x\r\n', 'SDP_NAME_IN_MEDIA', 7],
    ['a non-numeric port', BASE.replace('5000', 'abc'), 'SDP_BAD_MEDIA', 6],
    ['port 65536', BASE.replace('5000', '65536'), 'SDP_BAD_MEDIA', 6],
    ['a negative port', BASE.replace('5000', '-1'), 'SDP_BAD_MEDIA', 6],
    ['a huge port', BASE.replace('5000', '99999999999999999999999999'), 'SDP_BAD_MEDIA', 6],
    ['port count 0', BASE.replace('5000', '5000/0'), 'SDP_BAD_MEDIA', 6],
    ['port count 11', BASE.replace('5000', '5000/11'), 'SDP_BAD_MEDIA', 6],
    ['an m= line without protocol', BASE.replace('m=audio 5000 RTP/AVP 0 8', 'm=audio 5000'), 'SDP_BAD_MEDIA', 6],
    ['an empty m= line', BASE.replace('m=audio 5000 RTP/AVP 0 8', 'm='), 'SDP_BAD_MEDIA', 6],
    ['a hostname in c=', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN IP4 example.com'), 'SDP_BAD_CONNECTION', 4],
    ['a multicast TTL in c=', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN IP4 224.2.1.1/127'), 'SDP_BAD_CONNECTION', 4],
    ['a leading zero in an IPv4 address', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN IP4 010.0.0.1'), 'SDP_BAD_CONNECTION', 4],
    ['an IPv4 address with IP6', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN IP6 10.0.0.1'), 'SDP_BAD_CONNECTION', 4],
    ['an IPv6 zone index', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN IP6 fe80::1%eth0'), 'SDP_BAD_CONNECTION', 4],
    ['lower-case ip4', BASE.replace('c=IN IP4 10.0.0.1', 'c=IN ip4 10.0.0.1'), 'SDP_BAD_CONNECTION', 4],
    ['an unknown network type', BASE.replace('c=IN IP4 10.0.0.1', 'c=In IP4 10.0.0.1'), 'SDP_BAD_CONNECTION', 4],
    ['an empty c= line', BASE.replace('c=IN IP4 10.0.0.1', 'c='), 'SDP_BAD_CONNECTION', 4],
    ['two c= lines in the session', BASE.replace('t=0 0', 'c=IN IP4 10.0.0.2\r\nt=0 0'), 'SDP_DUPLICATE_CONNECTION', 5],
    ['two c= lines in one media section', BASE + 'c=IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.2\r\n', 'SDP_DUPLICATE_CONNECTION', 8],
  ];
  for (const [what, text, code, line] of cases) {
    it(`rejects ${what} with ${code}`, () => {
      const e = expectSdpError(text, code, line);
      if (line > 0) assert.match(e.message, new RegExp(`line ${line}\\)$`));
    });
  }
});

describe('SDP attribute helpers', () => {
  const lines = parseSdp(readFixture('webrtc-chrome-offer.sdp')).media[0].lines;

  it('finds attributes by exact, case-sensitive name', () => {
    assert.equal(A.getAttribute(lines, 'mid'), '0');
    assert.equal(A.getAttribute(lines, 'rtcp-mux'), '');
    assert.equal(A.getAttribute(lines, 'MID'), undefined);
    assert.ok(A.hasAttribute(lines, 'rtcp-mux'));
    assert.ok(!A.hasAttribute(lines, 'rtcp-mu'));
    assert.equal(A.getAttributes(lines, 'rtcp').length, 1, 'a=rtcp must not match a=rtcp-mux or a=rtcp-fb');
    assert.equal(A.getAttributes(lines, 'candidate').length, 3);
  });

  it('splits attributes and builds lines', () => {
    assert.deepEqual(A.splitAttribute('rtpmap:0 PCMU/8000'), { name: 'rtpmap', value: '0 PCMU/8000' });
    assert.deepEqual(A.splitAttribute('sendrecv'), { name: 'sendrecv', value: null });
    assert.deepEqual(A.attributeLine('ptime', '20'), { type: 'a', value: 'ptime:20' });
    assert.deepEqual(A.attributeLine('rtcp-mux'), { type: 'a', value: 'rtcp-mux' });
  });

  it('removes attributes in place by name or predicate', () => {
    const copy = lines.map((l) => ({ ...l }));
    const removed = A.removeAttributes(copy, 'candidate');
    assert.equal(removed.length, 3);
    assert.ok(!A.hasAttribute(copy, 'candidate'));
    const before = copy.length;
    A.removeAttributes(copy, (a) => a.name === 'rtpmap' && a.value !== null && a.value.startsWith('126 '));
    assert.equal(copy.length, before - 1);
    assert.equal(A.getAttributes(copy, 'rtpmap').length, 7);
  });

  it('parses typed attributes of a section, skipping malformed ones', () => {
    const extra = [...lines, A.attributeLine('rtpmap', 'junk')];
    const maps = A.getParsedAttributes(extra, 'rtpmap', A.parseRtpmap);
    assert.equal(maps.length, 8);
    assert.deepEqual(maps[0], { pt: 111, encoding: 'opus', clockRate: 48000, channels: 2 });
  });

  it('reads and writes c= lines', () => {
    assert.deepEqual(A.parseConnection('IN IP4 192.0.2.1'), { netType: 'IN', addrType: 'IP4', address: '192.0.2.1' });
    assert.deepEqual(A.parseConnection('IN IP4 224.2.1.1/127/3'), {
      netType: 'IN', addrType: 'IP4', address: '224.2.1.1', ttl: 127, count: 3,
    });
    assert.deepEqual(A.parseConnection('IN IP6 ff15::101/3'), { netType: 'IN', addrType: 'IP6', address: 'ff15::101', count: 3 });
    assert.equal(A.formatConnection({ netType: 'IN', addrType: 'IP6', address: '::1' }), 'IN IP6 ::1');
    assert.equal(A.formatConnection({ netType: 'IN', addrType: 'IP4', address: '224.2.1.1', ttl: 16, count: 2 }), 'IN IP4 224.2.1.1/16/2');
    for (const bad of ['', 'IN IP4', 'IN IPX 1.2.3.4', 'IN IP4 1.2.3.4/x', 'IN IP4 1.2.3.4/1/2/3', 'IN IP6 ::1/1/2']) {
      assert.equal(A.parseConnection(bad), null, bad);
    }
  });

  it('validates IP literals like inet_pton', () => {
    for (const ok of ['0.0.0.0', '255.255.255.255', '192.0.2.1']) assert.ok(A.isIpAddress(ok, 4), ok);
    for (const bad of ['256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4x']) assert.ok(!A.isIpAddress(bad, 4), bad);
    for (const ok of ['::', '::1', '2001:db8::1', '[2001:db8::1]', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::']) {
      assert.ok(A.isIpAddress(ok, 6), ok);
    }
    for (const bad of [':::1', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8', '12345::1', 'fe80::1%eth0', 'g::1', '1.2.3.4']) {
      assert.ok(!A.isIpAddress(bad, 6), bad);
    }
  });

  it('reads and writes o= lines, keeping big numbers as text', () => {
    const o = A.parseOrigin('- 4611731400430051336 18446744073709551615 IN IP4 203.0.113.5');
    assert.deepEqual(o, {
      username: '-', sessId: '4611731400430051336', sessVersion: '18446744073709551615',
      netType: 'IN', addrType: 'IP4', address: '203.0.113.5',
    });
    assert.equal(A.formatOrigin(o!), '- 4611731400430051336 18446744073709551615 IN IP4 203.0.113.5');
    assert.equal(A.parseOrigin('- 1 1 IN IP4'), null);
  });

  it('reads and writes b= lines', () => {
    assert.deepEqual(A.parseBandwidth('TIAS:64000'), { bwtype: 'TIAS', bandwidth: 64000 });
    assert.equal(A.parseBandwidth('AS'), null);
    assert.equal(A.parseBandwidth('AS:x'), null);
  });

  it('reads and writes a=rtpmap', () => {
    assert.deepEqual(A.parseRtpmap('0 PCMU/8000'), { pt: 0, encoding: 'PCMU', clockRate: 8000 });
    assert.deepEqual(A.parseRtpmap('96 opus/48000/2'), { pt: 96, encoding: 'opus', clockRate: 48000, channels: 2 });
    assert.equal(A.formatRtpmap({ pt: 9, encoding: 'G722', clockRate: 8000, channels: 1 }), '9 G722/8000/1');
    for (const bad of ['x', '0', '0 PCMU', '0 PCMU/', '0 PCMU/8000x', '128 X/8000', 'a PCMU/8000', '0 /8000', '0 PCMU/8000/0', '0 A/1/2/3']) {
      assert.equal(A.parseRtpmap(bad), null, bad);
    }
  });

  it('reads and writes a=fmtp and its parameters', () => {
    assert.deepEqual(A.parseFmtp('111 minptime=10;useinbandfec=1'), { pt: 111, params: 'minptime=10;useinbandfec=1' });
    assert.equal(A.formatFmtp({ pt: 101, params: '0-16' }), '101 0-16');
    assert.equal(A.parseFmtp('x 0-16'), null);
    assert.deepEqual(A.parseFmtpParameters('minptime=10; useinbandfec=1;;0-15'), [
      { name: 'minptime', value: '10' },
      { name: 'useinbandfec', value: '1' },
      { name: '0-15', value: null },
    ]);
    assert.equal(A.formatFmtpParameters([{ name: 'annexb', value: 'no' }, { name: 'x', value: null }]), 'annexb=no;x');
  });

  it('resolves static payload types from RFC 3551 when there is no rtpmap', () => {
    assert.deepEqual(A.staticPayloadType(0), { pt: 0, encoding: 'PCMU', clockRate: 8000, channels: 1, media: 'audio' });
    assert.equal(A.staticPayloadType(8)?.encoding, 'PCMA');
    assert.equal(A.staticPayloadType(9)?.clockRate, 8000);
    assert.equal(A.staticPayloadType(13)?.encoding, 'CN');
    assert.equal(A.staticPayloadType(18)?.encoding, 'G729');
    assert.equal(A.staticPayloadType(4)?.encoding, 'G723');
    assert.equal(A.staticPayloadType(3)?.encoding, 'GSM');
    assert.equal(A.staticPayloadType(96), undefined);
    const m = parseSdp(readFixture('static-payloads-no-rtpmap.sdp')).media[0];
    assert.deepEqual(A.resolvePayloadType(m.lines, 18), { pt: 18, encoding: 'G729', clockRate: 8000, channels: 1 });
    const p = parseSdp(readFixture('polycom-vvx-offer.sdp')).media[0];
    assert.deepEqual(A.resolvePayloadType(p.lines, 102), { pt: 102, encoding: 'G7221', clockRate: 16000 });
    assert.equal(A.resolvePayloadType(p.lines, 100), undefined);
  });

  it('reads and writes a=rtcp with and without an address (RFC 3605)', () => {
    assert.deepEqual(A.parseRtcp('5001'), { port: 5001 });
    assert.deepEqual(A.parseRtcp('9 IN IP4 0.0.0.0'), {
      port: 9, connection: { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' },
    });
    assert.equal(A.formatRtcp({ port: 53001, connection: { netType: 'IN', addrType: 'IP6', address: '::1' } }), '53001 IN IP6 ::1');
    for (const bad of ['', 'abc', '0', '65536', '5001 IN IP4', '5001 IN IP4 host.example']) assert.equal(A.parseRtcp(bad), null, bad);
  });

  it('reads and writes a=candidate (RFC 5245)', () => {
    const c = A.parseCandidate('2999745851 1 udp 1686052607 203.0.113.41 52814 typ srflx raddr 192.168.10.23 rport 52814 generation 0 network-id 1');
    assert.deepEqual(c, {
      foundation: '2999745851', component: 1, transport: 'udp', priority: 1686052607, address: '203.0.113.41', port: 52814,
      type: 'srflx', relAddr: '192.168.10.23', relPort: 52814,
      extensions: [{ name: 'generation', value: '0' }, { name: 'network-id', value: '1' }],
    });
    const host = A.parseCandidate('1 2 TCP 2105524479 abcd-1234.local 9 typ host tcptype active');
    assert.equal(host?.component, 2);
    assert.equal(host?.address, 'abcd-1234.local');
    assert.deepEqual(host?.extensions, [{ name: 'tcptype', value: 'active' }]);
    assert.equal(
      A.formatCandidate({ foundation: 'a1', component: 1, transport: 'UDP', priority: 1, address: '::1', port: 9, type: 'relay', relAddr: '::2', relPort: 10, extensions: [] }),
      'a1 1 UDP 1 ::1 9 typ relay raddr ::2 rport 10',
    );
    for (const bad of [
      'x', '1 1 udp 1 1.2.3.4 5 host', '1 0 udp 1 1.2.3.4 5 typ host', '1 1 udp 99999999999 1.2.3.4 5 typ host',
      '1 1 udp 1 1.2.3.4 70000 typ host', '1 1 udp 1 1.2.3.4 5 typ host generation', '1 1 udp 1 1.2.3.4 5 typ srflx raddr 1.2.3.4 rport x',
    ]) {
      assert.equal(A.parseCandidate(bad), null, bad);
    }
  });

  it('reads ICE options and credentials', () => {
    assert.deepEqual(A.parseIceOptions('trickle  renomination'), ['trickle', 'renomination']);
    assert.equal(A.formatIceOptions(['trickle']), 'trickle');
    const ff = parseSdp(readFixture('webrtc-firefox-offer.sdp'));
    const cred = A.getIceCredentials(ff.media[0].lines, ff.session);
    assert.equal(cred?.ufrag.length, 8);
    assert.equal(cred?.pwd.length, 32);
    assert.ok(A.hasAttribute(parseSdp(readFixture('webrtc-ice-lite-gateway.sdp')).session, 'ice-lite'));
    assert.equal(A.getIceCredentials([], []), null);
  });

  it('reads and writes a=crypto (RFC 4568)', () => {
    const c = A.parseCrypto('1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 UNENCRYPTED_SRTCP KDR=1');
    assert.deepEqual(c, {
      tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80',
      keyParams: [{ method: 'inline', keySalt: 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', lifetime: '2^20', mki: '1:4' }],
      sessionParams: ['UNENCRYPTED_SRTCP', 'KDR=1'],
    });
    assert.equal(A.formatCrypto(c!), '1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 UNENCRYPTED_SRTCP KDR=1');
    assert.deepEqual(A.parseCrypto('2 F8_128_HMAC_SHA1_80 inline:AAAA|1:1;inline:BBBB|2:1')?.keyParams, [
      { method: 'inline', keySalt: 'AAAA', mki: '1:1' },
      { method: 'inline', keySalt: 'BBBB', mki: '2:1' },
    ]);
    assert.deepEqual(A.parseCrypto('3 AES_CM_128_HMAC_SHA1_32 inline:CCCC|1048576')?.keyParams[0].lifetime, '1048576');
    for (const bad of ['1 AES_CM_128_HMAC_SHA1_80', 'x AES inline:AAAA', '1 AES inline:', '1 AES inline:A|B|C|D', '1 AES inline:A|x', '1 AES nokey']) {
      assert.equal(A.parseCrypto(bad), null, bad);
    }
  });

  it('reads and writes a=fingerprint and checks the digest length', () => {
    const hex32 = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
    const f = A.parseFingerprint(`sha-256 ${hex32}`);
    assert.deepEqual(f, { hashFunc: 'sha-256', fingerprint: hex32 });
    assert.equal(A.fingerprintBytes(f!).length, 32);
    assert.equal(A.fingerprintBytes(f!)[1], 7);
    assert.ok(A.parseFingerprint(`SHA-256 ${hex32}`));
    assert.equal(A.parseFingerprint(`sha-1 ${hex32}`), null, 'length mismatch');
    assert.equal(A.parseFingerprint(`sha-999 ${hex32}`), null);
    assert.equal(A.parseFingerprint(`sha-256 ${hex32.replace('00', 'G0')}`), null);
    assert.equal(A.parseFingerprint('sha-256'), null);
  });

  it('reads a=setup roles', () => {
    for (const r of ['actpass', 'active', 'passive', 'holdconn']) assert.equal(A.parseSetup(r), r);
    assert.equal(A.parseSetup('Active'), null);
  });

  it('reads and writes a=mid and a=group', () => {
    const s = parseSdp(readFixture('webrtc-chrome-offer.sdp'));
    assert.deepEqual(A.parseGroup(A.getAttribute(s.session, 'group')!), { semantics: 'BUNDLE', mids: ['0', '1'] });
    assert.deepEqual(s.media.map((m) => A.getAttribute(m.lines, 'mid')), ['0', '1']);
    assert.equal(A.formatGroup({ semantics: 'LS', mids: ['a', 'b'] }), 'LS a b');
    assert.equal(A.parseGroup(''), null);
  });

  it('reads a=ptime and a=maxptime', () => {
    assert.equal(A.parsePtime('20'), 20);
    assert.equal(A.parsePtime('0.125'), 0.125);
    for (const bad of ['', '0', '-20', '20ms', '1e3']) assert.equal(A.parsePtime(bad), null, bad);
  });

  it('reads and sets the direction', () => {
    assert.equal(A.getDirection(parseSdp(readFixture('hold-sendonly.sdp')).media[0].lines), 'sendonly');
    assert.equal(A.getDirection(parseSdp(readFixture('hold-inactive.sdp')).media[0].lines), 'inactive');
    assert.equal(A.getDirection(parseSdp(readFixture('recvonly-answer.sdp')).media[0].lines), 'recvonly');
    assert.equal(A.getDirection(parseSdp(readFixture('hold-rfc2543-zero-address.sdp')).media[0].lines), undefined);
    const l = [A.attributeLine('rtpmap', '0 PCMU/8000'), A.attributeLine('sendonly'), A.attributeLine('ptime', '20'), A.attributeLine('inactive')];
    A.setDirection(l, 'sendrecv');
    assert.deepEqual(l.map((x) => x.value), ['rtpmap:0 PCMU/8000', 'sendrecv', 'ptime:20']);
    const none = [A.attributeLine('ptime', '20')];
    A.setDirection(none, 'recvonly');
    assert.deepEqual(none.map((x) => x.value), ['ptime:20', 'recvonly']);
    assert.ok(A.isDirection('inactive') && !A.isDirection('hold'));
  });

  it('reads and writes a=ssrc and a=ssrc-group (RFC 5576)', () => {
    assert.deepEqual(A.parseSsrc('3735928559 cname:user@host'), { id: 3735928559, attribute: 'cname', value: 'user@host' });
    assert.deepEqual(A.parseSsrc('1 msid:stream track'), { id: 1, attribute: 'msid', value: 'stream track' });
    assert.deepEqual(A.parseSsrc('1 x-flag'), { id: 1, attribute: 'x-flag' });
    assert.equal(A.formatSsrc({ id: 5, attribute: 'label', value: 'a' }), '5 label:a');
    for (const bad of ['1', '4294967296 cname:x', 'x cname:x', '1 :x']) assert.equal(A.parseSsrc(bad), null, bad);
    assert.deepEqual(A.parseSsrcGroup('FID 1 2'), { semantics: 'FID', ssrcs: [1, 2] });
    assert.equal(A.parseSsrcGroup('FID 1 x'), null);
  });

  it('reads and writes a=extmap (RFC 8285)', () => {
    assert.deepEqual(A.parseExtmap('1 urn:ietf:params:rtp-hdrext:ssrc-audio-level'), { id: 1, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' });
    assert.deepEqual(A.parseExtmap('2/recvonly urn:x vad=on'), { id: 2, direction: 'recvonly', uri: 'urn:x', attributes: 'vad=on' });
    assert.equal(A.formatExtmap({ id: 3, direction: 'sendonly', uri: 'urn:y' }), '3/sendonly urn:y');
    for (const bad of ['1', '0 urn:x', 'x urn:x', '1/sideways urn:x', '1/sendonly/x urn:x']) assert.equal(A.parseExtmap(bad), null, bad);
  });

  it('reads and writes a=rtcp-fb (RFC 4585)', () => {
    assert.deepEqual(A.parseRtcpFb('96 nack pli'), { pt: 96, type: 'nack', param: 'pli' });
    assert.deepEqual(A.parseRtcpFb('* trr-int 100'), { pt: '*', type: 'trr-int', param: '100' });
    assert.deepEqual(A.parseRtcpFb('111 transport-cc'), { pt: 111, type: 'transport-cc' });
    assert.equal(A.formatRtcpFb({ pt: '*', type: 'ccm', param: 'fir' }), '* ccm fir');
    assert.equal(A.parseRtcpFb('96'), null);
    assert.equal(A.parseRtcpFb('x nack'), null);
  });
});

// A small deterministic PRNG (mulberry32) so that a failing case can be replayed.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATTRIBUTE_PARSERS: Array<(v: string) => unknown> = [
  A.parseRtpmap, A.parseFmtp, A.parseFmtpParameters, A.parseRtcp, A.parseCandidate, A.parseCrypto,
  A.parseFingerprint, A.parseSetup, A.parseIceOptions, A.parseGroup, A.parsePtime, A.parseSsrc,
  A.parseSsrcGroup, A.parseExtmap, A.parseRtcpFb, A.parseConnection, A.parseOrigin, A.parseBandwidth,
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const at = () => Math.floor(rnd() * (text.length + 1));
  switch (Math.floor(rnd() * 9)) {
    case 0:
      return text.slice(0, at());
    case 1: {
      const i = at();
      return text.slice(0, i) + String.fromCharCode(Math.floor(rnd() * 256)) + text.slice(i + 1);
    }
    case 2: {
      const lines = text.split('\r\n');
      for (let k = 0; k < 3; k++) {
        const i = Math.floor(rnd() * lines.length);
        const j = Math.floor(rnd() * lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
      }
      return lines.join('\r\n');
    }
    case 3:
      return text.replace(/[0-9]+/g, (d) => (rnd() < 0.1 ? pick(['99999999999999999999999', '-1', '4294967296', '65536', '0', '1e308', '']) : d));
    case 4: {
      const i = at();
      return text.slice(0, i) + pick(['\r', '\n', ' ', '=', '/', ':', '\r\n', '\r\n\r\n', 'm=', 'v=0\r\n', 'c=IN IP6 ']) + text.slice(i);
    }
    case 5: {
      const i = at();
      return text.slice(0, i) + text.slice(i + Math.floor(rnd() * 40));
    }
    case 6: {
      const lines = text.split('\r\n');
      const i = Math.floor(rnd() * lines.length);
      lines.splice(i, 0, lines[Math.floor(rnd() * lines.length)]);
      return lines.join('\r\n');
    }
    case 7:
      return text.replace(/ /g, () => (rnd() < 0.05 ? pick(['  ', '\t', '', ' / ']) : ' '));
    default: {
      const i = at();
      return text.slice(0, i) + ' '.repeat(Math.floor(rnd() * 5000)) + '9'.repeat(Math.floor(rnd() * 500)) + text.slice(i);
    }
  }
}

function exerciseParsed(sdp: SessionDescription, fragment = false): void {
  const out = serializeSdp(sdp);
  const again = parseSdp(out, { fragment });
  assert.equal(serializeSdp(again), out, 'serialization is not a fixed point');
  for (const lines of [sdp.session, ...sdp.media.map((m) => m.lines)]) {
    for (const l of lines) {
      const { value } = A.splitAttribute(l.value);
      for (const p of ATTRIBUTE_PARSERS) p(value ?? l.value);
    }
  }
  try {
    assertComplete(sdp);
  } catch (e) {
    assert.ok(e instanceof SdpError);
  }
}

describe('SDP fuzzing', () => {
  const corpus = fixtureNames.map(readFixture);

  it('mutated fixtures only ever raise SdpError, and accepted ones re-serialize stably', () => {
    const rnd = prng(0x5d9);
    let accepted = 0;
    let rejected = 0;
    for (let iter = 0; iter < 4000; iter++) {
      let text = corpus[iter % corpus.length];
      const rounds = 1 + Math.floor(rnd() * 4);
      for (let r = 0; r < rounds; r++) text = mutate(text, rnd);
      let sdp: SessionDescription;
      const fragment = rnd() < 0.1;
      try {
        sdp = parseSdp(text, { fragment });
      } catch (e) {
        if (!(e instanceof SdpError)) throw new Error(`iteration ${iter}: ${String(e)} for ${JSON.stringify(text.slice(0, 200))}`);
        rejected++;
        continue;
      }
      accepted++;
      exerciseParsed(sdp, fragment);
    }
    assert.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
  });

  it('random bytes only ever raise SdpError', () => {
    const rnd = prng(42);
    for (let iter = 0; iter < 2000; iter++) {
      const len = Math.floor(rnd() * 300);
      let s = iter % 2 === 0 ? 'v=0\r\n' : '';
      for (let i = 0; i < len; i++) s += String.fromCharCode(rnd() < 0.7 ? 32 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256));
      try {
        exerciseParsed(parseSdp(s));
      } catch (e) {
        if (!(e instanceof SdpError)) throw e;
      }
    }
  });

  it('handles very large bodies in linear time', () => {
    const many = BASE + 'a=x-filler:0123456789\r\n'.repeat(200000);
    assert.equal(parseSdp(many).media[0].lines.length, 200000);
    const longLine = BASE.replace('RTP/AVP 0 8', `RTP/AVP ${'96 '.repeat(300000)}`);
    assert.equal(parseSdp(longLine).media[0].formats.length, 300000);
    const hugeAttr = 'x'.repeat(2_000_000);
    for (const p of ATTRIBUTE_PARSERS) p(hugeAttr);
    assert.equal(A.isIpAddress('1'.repeat(1_000_000), 6), false);
    assert.equal(A.isIpAddress('1.'.repeat(500_000), 4), false);
  });
});
