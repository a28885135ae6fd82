import * as assert from 'assert';
import { BDict } from '../../src/control/bencode';
import { NgError, NG_REASONS } from '../../src/control/errors';
import { NgRequest, normaliseCommand, parseIntLoose, parseNgRequest } from '../../src/control/ng-request';
import { getLogLevel, setLogLevel } from '../../src/log';

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8\r\n';

function parse(extra: BDict, command = 'offer'): NgRequest {
  return parseNgRequest({ command, 'call-id': 'cid', 'from-tag': 'ft', sdp: SDP, ...extra });
}

function flagsOf(items: string[], command = 'offer'): NgRequest {
  return parse({ flags: items }, command);
}

function sorted(s: Set<string>): string[] {
  return [...s].sort();
}

describe('ng request normalisation', () => {
  let level: number;
  before(() => {
    level = getLogLevel();
    setLogLevel(3);
  });
  after(() => setLogLevel(level));

  describe('commands', () => {
    it('lower-cases the command and separates words with single spaces', () => {
      assert.strictEqual(parse({}, 'offer').command, 'offer');
      assert.strictEqual(normaliseCommand('start recording'), 'start recording');
      assert.strictEqual(normaliseCommand('block DTMF'), 'block dtmf');
      assert.strictEqual(normaliseCommand('play_media'), 'play media');
      assert.strictEqual(normaliseCommand('Stop  Recording'), 'stop recording');
    });

    it('refuses a dictionary without a string command with the reference wording', () => {
      for (const dict of [{}, { command: 5 }, { command: ['offer'] }] as BDict[]) {
        assert.throws(() => parseNgRequest(dict), (e: unknown) =>
          e instanceof NgError && e.ngReason === 'Dictionary contains no key "command"' && e.code === 'ERR_NG_NO_COMMAND');
      }
    });

    it('keeps the original dictionary', () => {
      const dict: BDict = { command: 'ping', extra: 'x' };
      assert.strictEqual(parseNgRequest(dict).raw, dict);
    });
  });

  describe('identifiers and strings', () => {
    it('reads call-id, tags, via-branch and sdp under every spelling', () => {
      const r = parseNgRequest({
        command: 'answer', 'call ID': 'c1', 'from tag': 'f1', 'to_tag': 't1', 'via-branch': 'z9hG4bK', SDP: SDP,
      });
      assert.deepStrictEqual([r.callId, r.fromTag, r.toTag, r.viaBranch, r.sdp], ['c1', 'f1', 't1', 'z9hG4bK', SDP]);
      assert.strictEqual(parseNgRequest({ command: 'query', 'call-ID': 'c2' }).callId, 'c2');
    });

    it('leaves identifiers of the wrong type unset, so the command reports them missing', () => {
      const r = parseNgRequest({ command: 'offer', 'call-id': 5, 'from-tag': ['x'], sdp: 7 });
      assert.strictEqual(r.callId, undefined);
      assert.strictEqual(r.fromTag, undefined);
      assert.strictEqual(r.sdp, undefined);
    });

    it('reads the four label keys, label and from-label standing in for each other', () => {
      const r = parse({ label: 'A', 'set-label': 'S', 'to-label': 'T' });
      assert.deepStrictEqual([r.label, r.fromLabel, r.setLabel, r.toLabel], ['A', 'A', 'S', 'T']);
      const f = parse({ 'from-label': 'F' });
      assert.deepStrictEqual([f.label, f.fromLabel], ['F', 'F']);
    });

    it('reads metadata, interface, xmlrpc-callback, address and record call', () => {
      const r = parse({
        metadata: 'k=v', interface: 'pub', 'xmlrpc-callback': '10.0.0.9', address: '10.0.0.8', 'record call': 'yes',
      });
      assert.deepStrictEqual([r.metadata, r.interface, r.xmlrpcCallback, r.address, r.recordCall],
        ['k=v', 'pub', '10.0.0.9', '10.0.0.8', 'yes']);
      assert.strictEqual(parse({ 'record-call': 'off' }).recordCall, 'off');
    });
  });

  describe('flags list', () => {
    const cases: Array<[string, string]> = [
      ['trust-address', 'trust-address'],
      ['trust address', 'trust-address'],
      ['SIP-source-address', 'sip-source-address'],
      ['SIP source address', 'sip-source-address'],
      ['symmetric', 'symmetric'],
      ['asymmetric', 'asymmetric'],
      ['strict-source', 'strict-source'],
      ['strict source', 'strict-source'],
      ['media-handover', 'media-handover'],
      ['media handover', 'media-handover'],
      ['port-latching', 'port-latching'],
      ['port latching', 'port-latching'],
      ['no-rtcp-attribute', 'no-rtcp-attribute'],
      ['no-RTCP-attribute', 'no-rtcp-attribute'],
      ['full-rtcp-attribute', 'full-rtcp-attribute'],
      ['full RTCP attribute', 'full-rtcp-attribute'],
      ['loop-protect', 'loop-protect'],
      ['loop protect', 'loop-protect'],
      ['record-call', 'record-call'],
      ['record call', 'record-call'],
      ['reset', 'reset'],
      ['fatal', 'fatal'],
      ['all', 'all'],
      ['generate-mid', 'generate-mid'],
      ['strip-extmap', 'strip-extmap'],
      ['original-sendrecv', 'original-sendrecv'],
      ['always-transcode', 'always-transcode'],
      ['asymmetric-codecs', 'asymmetric-codecs'],
      ['inject-DTMF', 'inject-dtmf'],
      ['pad-crypto', 'pad-crypto'],
      ['unidirectional', 'unidirectional'],
      ['single-codec', 'single-codec'],
      ['reorder-codecs', 'reorder-codecs'],
      ['no-codec-renegotiation', 'no-codec-renegotiation'],
      ['reuse-codecs', 'no-codec-renegotiation'],
      ['debug', 'debug'],
      ['debugging', 'debug'],
      ['generate-RTCP', 'generate-rtcp'],
      ['trickle-ICE', 'trickle-ice'],
      ['pierce-NAT', 'pierce-nat'],
      ['NAT-wait', 'nat-wait'],
      ['no-jitter-buffer', 'no-jitter-buffer'],
      ['allow-transcoding', 'allow-transcoding'],
      ['reject-ICE', 'ice-reject'],
      ['mirror-RTCP', 'mirror-rtcp'],
      ['detect-DTMF', 'detect-dtmf'],
      ['no-redis-update', 'no-redis-update'],
      ['siprec', 'siprec'],
      ['egress', 'egress'],
      ['fragment', 'fragment'],
    ];
    for (const [item, canonical] of cases) {
      it(`turns the item '${item}' into the flag '${canonical}'`, () => {
        const r = flagsOf([item]);
        assert.ok(r.flags.has(canonical), `flags: ${sorted(r.flags).join(',')}`);
        assert.deepStrictEqual(r.warnings, []);
      });
    }

    it('lets the later of trust-address and SIP-source-address decide', () => {
      assert.strictEqual(flagsOf(['SIP-source-address', 'trust-address']).trustAddress, true);
      assert.strictEqual(flagsOf(['trust-address', 'SIP source address']).trustAddress, false);
      assert.strictEqual(flagsOf([]).trustAddress, undefined);
    });

    it('gives pad-crypto, always-transcode and all their side effects', () => {
      const r = flagsOf(['pad-crypto', 'always-transcode', 'all']);
      assert.ok(r.sdes.has('pad'));
      assert.deepStrictEqual(r.codec.accept, ['all']);
      assert.strictEqual(r.all, 'all');
    });

    it('ignores unknown flags and non-string items with a warning, never an error', () => {
      const r = parse({ flags: ['bogus flag', 5, ['x'], 'trust-address'] });
      assert.deepStrictEqual(sorted(r.flags), ['trust-address']);
      assert.deepStrictEqual(r.warnings, ["Unknown flag 'bogus flag'"]);
    });

    it('accepts a comma-separated string in place of a list', () => {
      assert.deepStrictEqual(sorted(parse({ flags: 'trust-address, loop-protect' }).flags), ['loop-protect', 'trust-address']);
    });
  });

  describe('prefixed and key=value items in the flags list', () => {
    it('folds replace- items into replace', () => {
      const r = flagsOf(['replace-origin', 'replace-session-connection', 'replace-SDP-version', 'replace-zero-address']);
      assert.deepStrictEqual(sorted(r.replace), ['origin', 'sdp-version', 'session-connection', 'zero-address']);
      assert.strictEqual(r.flags.size, 0);
    });

    it('folds rtcp-mux- items into rtcp-mux, require implying offer', () => {
      assert.deepStrictEqual(sorted(flagsOf(['rtcp-mux-demux', 'rtcp-mux-accept']).rtcpMux), ['accept', 'demux']);
      assert.deepStrictEqual(sorted(flagsOf(['rtcp-mux-require']).rtcpMux), ['offer', 'require']);
      assert.deepStrictEqual(sorted(flagsOf(['rtcp-mux-offer', 'rtcp-mux-reject']).rtcpMux), ['offer', 'reject']);
    });

    it('folds SDES- items into SDES options and suite lists', () => {
      const r = flagsOf(['SDES-off', 'SDES-no-AES_CM_128_HMAC_SHA1_32', 'SDES-only-AES_CM_128_HMAC_SHA1_80',
        'SDES-UNENCRYPTED_SRTCP', 'SDES-pad', 'SDES-order:AEAD_AES_256_GCM;AES_256_CM_HMAC_SHA1_80']);
      assert.deepStrictEqual(sorted(r.sdes), ['off', 'pad', 'unencrypted_srtcp']);
      assert.deepStrictEqual(r.sdesNo, ['AES_CM_128_HMAC_SHA1_32']);
      assert.deepStrictEqual(r.sdesOnly, ['AES_CM_128_HMAC_SHA1_80']);
      assert.deepStrictEqual(r.sdesOrder, ['AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80']);
    });

    it('folds OSRTP- and T38- items', () => {
      const r = flagsOf(['OSRTP-offer', 'OSRTP-accept', 'T38-decode', 'T.38-no-V.17', 'T38-FEC']);
      assert.deepStrictEqual(sorted(r.osrtp), ['accept', 'accept-legacy', 'accept-rfc', 'offer']);
      assert.deepStrictEqual(sorted(r.t38), ['decode', 'fec', 'no-v17']);
    });

    it('folds every codec- item into the codec operations, keeping codec case', () => {
      const r = flagsOf(['transcode-PCMA', 'codec-transcode-G722', 'codec-strip-opus', 'codec-mask-PCMA',
        'codec-offer-PCMU', 'codec-except-telephone-event', 'codec-set-opus/48000/2', 'codec-consume-G729',
        'codec-accept-AMR', 'codec-ignore-PCMU']);
      assert.deepStrictEqual(r.codec, {
        strip: ['opus'], offer: ['PCMU'], transcode: ['PCMA', 'G722'], mask: ['PCMA'],
        except: ['telephone-event'], set: ['opus/48000/2'], consume: ['G729'], accept: ['AMR'], ignore: ['PCMU'],
      });
      assert.strictEqual(r.flags.size, 0);
    });

    it("unescapes '--' in codec items to '='", () => {
      assert.deepStrictEqual(flagsOf(['transcode-opus/48000/2///useinbandfec--1']).codec.transcode,
        ['opus/48000/2///useinbandfec=1']);
    });

    it('reads from-tags- and endpoint-learning- items', () => {
      const r = flagsOf(['from-tags-abc', 'from-tags-def', 'endpoint-learning-delayed']);
      assert.deepStrictEqual(r.fromTags, ['abc', 'def']);
      assert.strictEqual(r.endpointLearning, 'delayed');
    });

    it('reads key=value items as dictionary keys', () => {
      const r = flagsOf(['ICE=force', 'DTLS=passive', 'address-family=IP6', 'media-address=2001:db8::1',
        'label=caller', 'TOS=184', 'delete-delay=5', 'ptime=30', 'direction=priv', 'direction=pub',
        'received-from=10.1.2.3', 'from-tags=t9', 'record-call=yes']);
      assert.strictEqual(r.ice, 'force');
      assert.strictEqual(r.dtls, 'passive');
      assert.strictEqual(r.addressFamily, 'IP6');
      assert.strictEqual(r.mediaAddress, '2001:db8::1');
      assert.strictEqual(r.label, 'caller');
      assert.strictEqual(r.tos, 184);
      assert.strictEqual(r.deleteDelay, 5);
      assert.strictEqual(r.ptime, 30);
      assert.deepStrictEqual(r.direction, ['priv', 'pub']);
      assert.deepStrictEqual(r.receivedFrom, { family: 'IP4', address: '10.1.2.3' });
      assert.deepStrictEqual(r.fromTags, ['t9']);
      assert.strictEqual(r.recordCall, 'yes');
      assert.deepStrictEqual(r.warnings, []);
    });

    it('reads ICE=remove and the transport profile names', () => {
      assert.strictEqual(flagsOf(['ICE=remove']).ice, 'remove');
      assert.strictEqual(flagsOf(['RTP/AVP']).transportProtocol, 'RTP/AVP');
      assert.strictEqual(flagsOf(['RTP/SAVPF']).transportProtocol, 'RTP/SAVPF');
      assert.strictEqual(flagsOf(['UDP/TLS/RTP/SAVPF']).transportProtocol, 'UDP/TLS/RTP/SAVPF');
    });

    it('builds the transport profile from the words RTP, SRTP, AVP and AVPF as the modules do', () => {
      assert.strictEqual(flagsOf(['SRTP', 'AVPF']).transportProtocol, 'RTP/SAVPF');
      assert.strictEqual(flagsOf(['SRTP']).transportProtocol, 'RTP/SAVP');
      assert.strictEqual(flagsOf(['RTP/AVPF', 'SRTP']).transportProtocol, 'RTP/SAVPF');
      assert.strictEqual(flagsOf(['RTP/SAVPF', 'RTP']).transportProtocol, 'RTP/AVPF');
      assert.strictEqual(flagsOf(['DTLS', 'AVPF']).transportProtocol, 'UDP/TLS/RTP/SAVPF');
    });

    it('turns in-iface/out-iface and internal/external into a direction', () => {
      assert.deepStrictEqual(flagsOf(['in-iface=priv', 'out-iface=pub']).direction, ['priv', 'pub']);
      assert.deepStrictEqual(flagsOf(['internal', 'external']).direction, ['internal', 'external']);
    });
  });

  describe('dictionary keys', () => {
    it('reads received from as a list or a plain address under both spellings', () => {
      assert.deepStrictEqual(parse({ 'received from': ['IP6', '2001:db8::5'] }).receivedFrom,
        { family: 'IP6', address: '2001:db8::5' });
      assert.deepStrictEqual(parse({ 'received-from': ['IP4', '10.65.31.43'] }).receivedFrom,
        { family: 'IP4', address: '10.65.31.43' });
      assert.deepStrictEqual(parse({ 'received-from': '2001:db8::7' }).receivedFrom,
        { family: 'IP6', address: '2001:db8::7' });
    });

    it('reads media address and address family, warning about unparsable values', () => {
      const r = parse({ 'media address': '2001:d8::6f24:65b', 'address family': 'IP6' });
      assert.deepStrictEqual([r.mediaAddress, r.addressFamily], ['2001:d8::6f24:65b', 'IP6']);
      const bad = parse({ 'media-address': 'bogus', 'address-family': 'IP7' });
      assert.deepStrictEqual([bad.mediaAddress, bad.addressFamily], [undefined, undefined]);
      assert.strictEqual(bad.warnings.length, 2);
    });

    it('reads the transport protocol under both spellings, ignoring unknown ones', () => {
      assert.strictEqual(parse({ 'transport protocol': 'RTP/SAVPF' }).transportProtocol, 'RTP/SAVPF');
      assert.strictEqual(parse({ 'transport-protocol': 'udp/tls/rtp/savp' }).transportProtocol, 'UDP/TLS/RTP/SAVP');
      assert.strictEqual(parse({ 'transport-protocol': 'accept' }).transportProtocol, 'accept');
      assert.strictEqual(parse({ 'transport-protocol': 'RTP/BOGUS' }).transportProtocol, undefined);
    });

    it('reads ICE values, keeping an invalid one out with a warning as the reference does', () => {
      assert.strictEqual(parse({ ICE: 'force-relay' }).ice, 'force-relay');
      assert.strictEqual(parse({ ICE: 'force_relay' }).ice, 'force-relay');
      assert.strictEqual(parse({ ice: 'optional' }).ice, 'optional');
      const bad = parse({ ICE: 'bogus' });
      assert.strictEqual(bad.ice, undefined);
      assert.deepStrictEqual(bad.warnings, ["Unknown 'ICE' value 'bogus'"]);
    });

    it('reads DTLS values and their synonyms', () => {
      assert.strictEqual(parse({ DTLS: 'passive' }).dtls, 'passive');
      for (const v of ['off', 'no', 'disable', 'disabled']) assert.strictEqual(parse({ DTLS: v }).dtls, 'off');
      assert.strictEqual(parse({ 'DTLS-reverse': 'active' }).dtlsReverse, 'active');
      assert.strictEqual(parse({ 'DTLS fingerprint': 'sha-256' }).dtlsFingerprint, 'sha-256');
    });

    it('reads the SDES, OSRTP, rtcp-mux, replace, supports and T.38 lists', () => {
      const r = parse({
        SDES: ['off', 'UNENCRYPTED_SRTP', 'encrypted_srtcp'], OSRTP: ['offer'], 'rtcp-mux': ['demux', 'bogus'],
        replace: ['origin', 'session connection', 'SDP version', 'username', 'session-name', 'zero address',
          'force-increment-sdp-ver'],
        supports: ['load limit'], 'T.38': ['force', 'no-ECM'],
      });
      assert.deepStrictEqual(sorted(r.sdes), ['encrypted_srtcp', 'off', 'unencrypted_srtp']);
      assert.deepStrictEqual(sorted(r.osrtp), ['offer']);
      assert.deepStrictEqual(sorted(r.rtcpMux), ['demux']);
      assert.deepStrictEqual(sorted(r.replace), ['force-increment-sdp-version', 'origin', 'sdp-version',
        'session-connection', 'session-name', 'username', 'zero-address']);
      assert.deepStrictEqual(sorted(r.supports), ['load limit']);
      assert.deepStrictEqual(sorted(r.t38), ['force', 'no-ecm']);
      assert.deepStrictEqual(r.warnings, ["Unknown 'rtcp-mux' flag 'bogus'"]);
    });

    it('reads the codec dictionary with every operation, lists or comma strings', () => {
      const r = parse({
        codec: {
          strip: ['all'], offer: ['PCMU'], transcode: ['opus/48000/2/32000'], mask: 'PCMA,G722', except: ['PCMU'],
          set: ['opus/48000/1'], consume: ['G729'], accept: ['PCMA'], bogus: ['x'],
        },
      });
      assert.deepStrictEqual(r.codec, {
        strip: ['all'], offer: ['PCMU'], transcode: ['opus/48000/2/32000'], mask: ['PCMA', 'G722'],
        except: ['PCMU'], set: ['opus/48000/1'], consume: ['G729'], accept: ['PCMA'], ignore: [],
      });
      assert.deepStrictEqual(r.warnings, ["Unknown 'codec' operation 'bogus'"]);
    });

    it('applies codec additions and ptime only to offers, as the reference does', () => {
      const r = parse({ codec: { strip: ['PCMU'], transcode: ['PCMA'] }, ptime: 30, flags: ['codec-mask-G722'] }, 'answer');
      assert.deepStrictEqual(r.codec.strip, ['PCMU']);
      assert.deepStrictEqual(r.codec.transcode, []);
      assert.deepStrictEqual(r.codec.mask, []);
      assert.strictEqual(r.ptime, undefined);
      assert.strictEqual(r.warnings.length, 2);
    });

    it('reads integers given as numbers or as strings, like strtoll', () => {
      const r = parse({ ptime: '20', 'ptime-reverse': 30, TOS: '0x2e', 'delete delay': '5s', limit: 'abc' });
      assert.deepStrictEqual([r.ptime, r.ptimeReverse, r.tos, r.deleteDelay, r.limit], [20, 30, 46, 5, undefined]);
      assert.strictEqual(parse({ 'ptime reverse': '40' }).ptimeReverse, 40);
      assert.strictEqual(parse({ 'delete_delay': 0 }).deleteDelay, 0);
      assert.strictEqual(parse({ 'delete-delay': -1 }).deleteDelay, -1);
      assert.strictEqual(parseIntLoose('010'), 8);
      assert.strictEqual(parseIntLoose('  -7x'), -7);
      assert.strictEqual(parseIntLoose('x', 256), 256);
    });

    it('reads direction as a list of two interfaces, or from from-interface and to-interface', () => {
      assert.deepStrictEqual(parse({ direction: ['priv', 'pub'] }).direction, ['priv', 'pub']);
      assert.deepStrictEqual(parse({ direction: ['a', 'b', 'c'] }).direction, ['a', 'b']);
      assert.deepStrictEqual(parse({ 'from-interface': 'x', 'to-interface': 'y' }).direction, ['x', 'y']);
    });

    it('reads the play media and DTMF keys', () => {
      const r = parseNgRequest({
        command: 'play DTMF', 'call-id': 'c', code: '#', duration: 250, volume: '-8', pause: 100,
        frequencies: [697, '1209'], file: '/tmp/x.wav', 'db-id': '12', 'repeat-times': 3, 'from-tags': ['a', 'b'],
      });
      assert.strictEqual(r.command, 'play dtmf');
      assert.deepStrictEqual([r.code, r.duration, r.volume, r.pause, r.file, r.dbId, r.repeatTimes],
        ['#', 250, -8, 100, '/tmp/x.wav', 12, 3]);
      assert.deepStrictEqual(r.frequencies, [697, 1209]);
      assert.deepStrictEqual(r.fromTags, ['a', 'b']);
      assert.strictEqual(parseNgRequest({ command: 'play DTMF', code: 5 }).code, '5');
      assert.deepStrictEqual(parseNgRequest({ command: 'play DTMF', frequency: '440,880' }).frequencies, [440, 880]);
    });

    it("reads the 'all' key values", () => {
      assert.strictEqual(parseNgRequest({ command: 'block media', all: 'offer-answer' }).all, 'offer-answer');
      assert.strictEqual(parseNgRequest({ command: 'block media', all: 'except-offer-answer' }).all, 'not-offer-answer');
    });

    it('warns about unknown dictionary keys without failing', () => {
      const r = parse({ 'bogus key': 'x' });
      assert.deepStrictEqual(r.warnings, ["Unknown dictionary key 'bogus key'"]);
    });

    it('refuses a negative list limit with the reference wording', () => {
      assert.strictEqual(parseNgRequest({ command: 'list', limit: 0 }).limit, 0);
      assert.strictEqual(parseNgRequest({ command: 'list', limit: '10' }).limit, 10);
      assert.throws(() => parseNgRequest({ command: 'list', limit: -3 }),
        (e: unknown) => e instanceof NgError && e.ngReason === NG_REASONS.invalidLimit);
    });
  });

  describe('proxy module dictionaries', () => {
    // What Kamailio's rtpengine module sends for
    // rtpengine_offer("trust-address replace-origin replace-session-connection ICE=force RTP/SAVPF
    //                  address-family=IP6 transcode-PCMA codec-strip-opus codec-mask-PCMA")
    const FLAGS = 'trust-address replace-origin replace-session-connection ICE=force RTP/SAVPF '
      + 'address-family=IP6 transcode-PCMA codec-strip-opus codec-mask-PCMA';
    const kamailio: BDict = {
      supports: ['load limit'],
      sdp: SDP,
      ICE: 'force',
      'address-family': 'IP6',
      flags: ['trust-address'],
      replace: ['origin', 'session-connection'],
      codec: { transcode: ['PCMA'], strip: ['opus'], mask: ['PCMA'] },
      'transport-protocol': 'RTP/SAVPF',
      'received-from': ['IP4', '192.168.1.20'],
      'call-id': 'a84b4c76e66710@pc33',
      'via-branch': 'z9hG4bK776asdhds',
      'from-tag': '1928301774',
      command: 'offer',
      'sip-message-type': 'sip-request',
    };

    function check(r: NgRequest): void {
      assert.strictEqual(r.command, 'offer');
      assert.deepStrictEqual(sorted(r.flags), ['trust-address']);
      assert.strictEqual(r.trustAddress, true);
      assert.deepStrictEqual(sorted(r.replace), ['origin', 'session-connection']);
      assert.strictEqual(r.ice, 'force');
      assert.strictEqual(r.transportProtocol, 'RTP/SAVPF');
      assert.strictEqual(r.addressFamily, 'IP6');
      assert.deepStrictEqual(r.codec.transcode, ['PCMA']);
      assert.deepStrictEqual(r.codec.strip, ['opus']);
      assert.deepStrictEqual(r.codec.mask, ['PCMA']);
      assert.deepStrictEqual(r.receivedFrom, { family: 'IP4', address: '192.168.1.20' });
      assert.strictEqual(r.callId, 'a84b4c76e66710@pc33');
      assert.strictEqual(r.fromTag, '1928301774');
      assert.deepStrictEqual(r.warnings, []);
    }

    it("normalises Kamailio's offer dictionary", () => {
      const r = parseNgRequest(kamailio);
      check(r);
      assert.strictEqual(r.viaBranch, 'z9hG4bK776asdhds');
      assert.deepStrictEqual(sorted(r.supports), ['load limit']);
      assert.strictEqual(r.sipMessageType, 'request');
    });

    it('gives the same request when the flags string arrives raw as rtpp-flags', () => {
      check(parseNgRequest({
        command: 'offer', 'call-id': 'a84b4c76e66710@pc33', 'from-tag': '1928301774', sdp: SDP,
        'received-from': ['IP4', '192.168.1.20'], 'rtpp-flags': FLAGS,
      }));
    });

    it('gives the same request when the words arrive as items of the flags list', () => {
      check(parseNgRequest({
        command: 'offer', 'call-id': 'a84b4c76e66710@pc33', 'from-tag': '1928301774', sdp: SDP,
        'received-from': ['IP4', '192.168.1.20'], flags: FLAGS.split(' '),
      }));
    });

    it("normalises the OpenSIPS manual's migrated rtpproxy offer", () => {
      // rtpengine_offer("force trust-address symmetric replace-origin replace-session-connection ICE=force RTP/SAVPF")
      const r = parseNgRequest({
        sdp: SDP, ICE: 'force', flags: ['force', 'trust-address', 'symmetric'],
        replace: ['origin', 'session-connection'], 'transport-protocol': 'RTP/SAVPF', 'call-id': 'c',
        'received-from': ['IP4', '10.0.0.1'], 'from-tag': 'f', command: 'offer',
      });
      assert.deepStrictEqual(sorted(r.flags), ['symmetric', 'trust-address']);
      assert.deepStrictEqual(sorted(r.replace), ['origin', 'session-connection']);
      assert.strictEqual(r.ice, 'force');
      assert.strictEqual(r.transportProtocol, 'RTP/SAVPF');
      assert.deepStrictEqual(r.warnings, ["Unknown flag 'force'"]);
    });

    it("normalises the OpenSIPS manual's transcoding offer, whose codec words stay flags", () => {
      // rtpengine_offer("codec-mask-PCMA codec-strip-opus transcode-opus")
      const r = parseNgRequest({
        sdp: SDP, flags: ['codec-mask-PCMA', 'codec-strip-opus', 'transcode-opus'], 'call-id': 'c',
        'received-from': ['IP4', '10.0.0.1'], 'from-tag': 'f', command: 'offer',
      });
      assert.deepStrictEqual(r.codec.mask, ['PCMA']);
      assert.deepStrictEqual(r.codec.strip, ['opus']);
      assert.deepStrictEqual(r.codec.transcode, ['opus']);
      assert.strictEqual(r.flags.size, 0);
    });

    it("normalises OpenSIPS's recording, interface and delete-delay keys", () => {
      // rtpengine_offer("in-iface=internal out-iface=external address-family=IP6 record-call=yes metadata=6b3d76")
      const r = parseNgRequest({
        sdp: SDP, direction: ['internal', 'external'], 'address family': 'IP6', 'record-call': 'yes',
        metadata: '6b3d76', 'call-id': 'c', 'from-tag': 'f', command: 'offer',
      });
      assert.deepStrictEqual(r.direction, ['internal', 'external']);
      assert.strictEqual(r.addressFamily, 'IP6');
      assert.strictEqual(r.recordCall, 'yes');
      assert.strictEqual(r.metadata, '6b3d76');
      // rtpengine_delete("delete-delay=0")
      assert.strictEqual(parseNgRequest({ 'delete-delay': 0, 'call-id': 'c', 'from-tag': 'f', command: 'delete' })
        .deleteDelay, 0);
      // rtpengine_play_media("from-tag=$tt file=/path/to/moh_file.wav")
      const p = parseNgRequest({ 'from-tag': 'tt', file: '/path/to/moh_file.wav', 'call-id': 'c', command: 'play media' });
      assert.deepStrictEqual([p.command, p.fromTag, p.file], ['play media', 'tt', '/path/to/moh_file.wav']);
    });

    it("normalises the README's complete offer example", () => {
      const r = parseNgRequest({
        command: 'offer', 'call-id': 'cfBXzDSZqhYNcXM', 'from-tag': 'mS9rSAn0Cr', sdp: SDP, 'via-branch': '5KiTRPZHH1nL6',
        flags: ['trust address'], replace: ['origin', 'session connection'], 'address family': 'IP6',
        'received-from': ['IP4', '10.65.31.43'], ICE: 'force', 'transport protocol': 'RTP/SAVPF',
        'media address': '2001:d8::6f24:65b', DTLS: 'passive',
      });
      assert.deepStrictEqual(sorted(r.flags), ['trust-address']);
      assert.deepStrictEqual(sorted(r.replace), ['origin', 'session-connection']);
      assert.deepStrictEqual([r.addressFamily, r.ice, r.transportProtocol, r.mediaAddress, r.dtls],
        ['IP6', 'force', 'RTP/SAVPF', '2001:d8::6f24:65b', 'passive']);
      assert.deepStrictEqual(r.warnings, []);
    });
  });
});
