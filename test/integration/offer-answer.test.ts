// Offer/answer SDP rewriting, asserted line by line against the SDP an operator
// expects to see (the layout the reference daemon produces). Each case is the SDP
// sent and the SDP expected back; `{port}` stands for the port the daemon gave that
// m= line, `{port+1}` for the one after it, and `{*}` for a value the daemon makes up
// (ICE credentials, candidate foundations, the loop-protect id).

import { strict as assert } from 'assert';
import { startDaemon, type DaemonHandle } from '../helpers/daemon';
import type { BDict } from '../helpers/ng-client';

function sdp(...lines: string[]): string {
  return lines.map((l) => l + '\r\n').join('');
}

/** Checks an SDP against an expected template, one line at a time. */
function assertSdp(actual: string, expected: string, portMin: number, portMax: number): void {
  const got = actual.split('\r\n');
  const want = expected.split('\r\n');
  let port = -1;
  assert.equal(got.length, want.length, `line count differs:\n${actual}\n--- expected ---\n${expected}`);
  for (let i = 0; i < want.length; i++) {
    const m = /^m=\S+ (\d+) /.exec(got[i]);
    if (m) port = parseInt(m[1], 10);
    if (want[i].includes('{port}')) {
      assert.ok(port >= portMin && port <= portMax, `port ${port} outside the daemon's range (line ${i + 1})`);
    }
    const escape = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = want[i]
      .split(/(\{port\+1\}|\{port\}|\{\*\})/)
      .map((t) => (t === '{port+1}' ? String(port + 1) : t === '{port}' ? String(port) : t === '{*}' ? '\\S+' : escape(t)))
      .join('');
    assert.match(got[i], new RegExp(`^${pattern}$`), `line ${i + 1}:\n${actual}`);
  }
}

const OFFER = sdp(
  'v=0',
  'o=- 1545997027 1 IN IP4 198.51.100.1',
  's=tester',
  'c=IN IP4 198.51.100.1',
  't=0 0',
  'm=audio 2000 RTP/AVP 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=x-custom:kept',
  'a=sendrecv',
  'a=ptime:20',
);

const ANSWER = sdp(
  'v=0',
  'o=- 99 2 IN IP4 198.51.100.2',
  's=-',
  'c=IN IP4 198.51.100.2',
  't=0 0',
  'm=audio 3000 RTP/AVP 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
);

describe('offer and answer rewrite the SDP', function () {
  this.timeout(30000);
  let d: DaemonHandle;
  let n = 0;
  const callId = (): string => `oa-${process.pid}-${++n}`;

  before(async () => {
    d = await startDaemon({ args: ['--delete-delay=0'] });
  });
  after(async () => {
    await d?.stop();
  });

  async function offer(body: string, extra: Record<string, unknown> = {}, id = callId()): Promise<BDict> {
    const r = await d.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'caller', sdp: body, ...extra });
    assert.equal(r.result, 'ok', JSON.stringify(r));
    return r;
  }

  it('offer moves media to the daemon and keeps what it does not handle', async () => {
    const r = await offer(OFFER);
    assertSdp(String(r.sdp), sdp(
      'v=0',
      'o=- 1545997027 1 IN IP4 198.51.100.1',
      's=tester',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio {port} RTP/AVP 0 8 101',
      'a=x-custom:kept',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=sendrecv',
      'a=rtcp:{port+1}',
      'a=ptime:20',
    ), d.portMin, d.portMax);
  });

  it('replace origin and session-connection rewrite o= and the session c=', async () => {
    const body = OFFER.replace('m=audio 2000 RTP/AVP 0 8 101\r\n', 'm=audio 2000 RTP/AVP 0 8 101\r\nc=IN IP4 198.51.100.9\r\n');
    const r = await offer(body, { replace: ['origin', 'session-connection'] });
    const out = String(r.sdp);
    assert.match(out, /^o=- 1545997027 1 IN IP4 127\.0\.0\.1\r$/m);
    assert.equal(out.match(/^c=IN IP4 127\.0\.0\.1\r$/gm)?.length, 2, out);
  });

  it('answer returns the callee SDP with the caller-facing port and only offered codecs', async () => {
    const id = callId();
    await offer(OFFER, {}, id);
    const body = ANSWER.replace('RTP/AVP 8 101', 'RTP/AVP 8 18 101').replace('a=sendrecv', 'a=rtpmap:18 G729/8000\r\na=sendrecv');
    const r = await d.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'caller', 'to-tag': 'callee', sdp: body });
    assert.equal(r.result, 'ok');
    assertSdp(String(r.sdp), sdp(
      'v=0',
      'o=- 99 2 IN IP4 198.51.100.2',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio {port} RTP/AVP 8 101',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      'a=rtcp:{port+1}',
      'a=ptime:20',
    ), d.portMin, d.portMax);
  });

  it('ICE=force lists the daemon as the only host candidate for RTP and RTCP', async () => {
    const r = await offer(OFFER, { ICE: 'force' });
    const out = String(r.sdp);
    assert.match(out, /a=ice-ufrag:[A-Za-z0-9]{8}\r\na=ice-pwd:[A-Za-z0-9]{26}\r\n/);
    const port = parseInt(/m=audio (\d+)/.exec(out)![1], 10);
    assert.match(out, new RegExp(`a=candidate:\\S+ 1 UDP 2130706431 127\\.0\\.0\\.1 ${port} typ host\r\na=candidate:\\S+ 2 UDP 2130706430 127\\.0\\.0\\.1 ${port + 1} typ host\r\n$`));
  });

  it('ICE=remove strips the caller candidates and adds none', async () => {
    const body = OFFER + 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=candidate:1 1 UDP 2130706431 198.51.100.1 2000 typ host\r\n';
    const r = await offer(body, { ICE: 'remove' });
    assert.doesNotMatch(String(r.sdp), /ice-|candidate/);
  });

  it('an ICE offer without the ICE key gets the daemon as its only candidate', async () => {
    const body = OFFER + 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=candidate:1 1 UDP 2130706431 198.51.100.1 2000 typ host\r\n';
    const out = String((await offer(body)).sdp);
    assert.doesNotMatch(out, /198\.51\.100\.1 2000/);
    assert.equal(out.match(/a=candidate:/g)?.length, 2);
  });

  it('rtcp-mux offered by the caller is offered on, and accepted by the callee it multiplexes both sides', async () => {
    const id = callId();
    const o = String((await offer(OFFER + 'a=rtcp-mux\r\n', {}, id)).sdp);
    assert.match(o, /a=rtcp:(\d+)\r\na=rtcp-mux\r\n/);
    const a = await d.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'caller', 'to-tag': 'callee', sdp: ANSWER + 'a=rtcp-mux\r\n' });
    const out = String(a.sdp);
    const port = /m=audio (\d+)/.exec(out)![1];
    assert.match(out, new RegExp(`a=rtcp:${port}\r\na=rtcp-mux\r\n`));
  });

  it('rtcp-mux require advertises RTCP on the RTP port from the first offer', async () => {
    const out = String((await offer(OFFER, { 'rtcp-mux': ['require'] })).sdp);
    const port = /m=audio (\d+)/.exec(out)![1];
    assert.match(out, new RegExp(`a=rtcp:${port}\r\na=rtcp-mux\r\n`));
  });

  it('rtcp-mux demux does not offer multiplexing on but accepts it back to the caller', async () => {
    const id = callId();
    const o = String((await offer(OFFER + 'a=rtcp-mux\r\n', { 'rtcp-mux': ['demux'] }, id)).sdp);
    assert.doesNotMatch(o, /rtcp-mux/);
    const a = String((await d.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'caller', 'to-tag': 'callee', sdp: ANSWER })).sdp);
    const port = /m=audio (\d+)/.exec(a)![1];
    assert.match(a, new RegExp(`a=rtcp:${port}\r\na=rtcp-mux\r\n`));
  });

  it('no-rtcp-attribute omits a=rtcp and full-rtcp-attribute names the address', async () => {
    assert.doesNotMatch(String((await offer(OFFER, { flags: ['no-rtcp-attribute'] })).sdp), /a=rtcp/);
    const full = String((await offer(OFFER, { flags: ['full-rtcp-attribute'] })).sdp);
    const port = parseInt(/m=audio (\d+)/.exec(full)![1], 10);
    assert.match(full, new RegExp(`a=rtcp:${port + 1} IN IP4 127\\.0\\.0\\.1\r\n`));
  });

  it('loop protect marks the SDP and leaves an already marked SDP untouched', async () => {
    const first = String((await offer(OFFER, { flags: ['loop-protect'] })).sdp);
    assert.match(first, /^a=rtpengine:\S+\r$/m);
    const second = String((await offer(first, { flags: ['loop-protect'] })).sdp);
    assert.equal(second, first);
  });

  it('a rejected stream keeps port 0 and loses its attributes', async () => {
    const body = OFFER + 'm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n';
    const out = String((await offer(body)).sdp);
    assert.match(out, /\r\nm=video 0 RTP\/AVP 96\r\n$/);
  });

  it('an old-style hold (c=0.0.0.0) stays on hold and becomes sendonly', async () => {
    const out = String((await offer(OFFER.replace('c=IN IP4 198.51.100.1', 'c=IN IP4 0.0.0.0'))).sdp);
    assert.match(out, /^c=IN IP4 0\.0\.0\.0\r$/m);
    assert.match(out, /^a=sendonly\r$/m);
  });

  it('transport protocol rewrites the m= protocol of RTP streams only', async () => {
    const body = OFFER + 'm=image 4000 udptl t38\r\na=T38FaxVersion:0\r\n';
    const out = String((await offer(body, { 'transport-protocol': 'RTP/AVPF' })).sdp);
    assert.match(out, /^m=audio \d+ RTP\/AVPF 0 8 101\r$/m);
    assert.match(out, /^m=image \d+ udptl t38\r$/m);
  });

  it('media address is advertised instead of the interface address', async () => {
    const out = String((await offer(OFFER, { 'media-address': '203.0.113.5' })).sdp);
    assert.match(out, /^c=IN IP4 203\.0\.113\.5\r$/m);
  });

  it('generate-mid numbers media sections that have no a=mid', async () => {
    const out = String((await offer(OFFER, { flags: ['generate-mid'] })).sdp);
    assert.match(out, /a=x-custom:kept\r\na=mid:1\r\na=rtpmap:0/);
  });

  it('a second offer with the same endpoint keeps the ports', async () => {
    const id = callId();
    const a = String((await offer(OFFER, {}, id)).sdp);
    const b = String((await offer(OFFER, {}, id)).sdp);
    assert.equal(/m=audio (\d+)/.exec(b)![1], /m=audio (\d+)/.exec(a)![1]);
  });

  it('an empty SDP body is answered ok without an SDP', async () => {
    const r = await d.ng.request({ command: 'offer', 'call-id': callId(), 'from-tag': 'caller', sdp: '' });
    assert.deepEqual(r, { result: 'ok' });
  });

  for (const [what, dict, reason] of [
    ['no call-id', { command: 'offer', 'from-tag': 'a', sdp: OFFER }, 'No call-id in message'],
    ['no from-tag', { command: 'offer', 'call-id': 'x', sdp: OFFER }, 'No from-tag in message'],
    ['no SDP', { command: 'offer', 'call-id': 'x', 'from-tag': 'a' }, 'No SDP body in message'],
    ['garbage SDP', { command: 'offer', 'call-id': 'x', 'from-tag': 'a', sdp: 'garbage' }, 'Failed to parse SDP'],
    ['no c= anywhere', { command: 'offer', 'call-id': 'x', 'from-tag': 'a', sdp: OFFER.replace('c=IN IP4 198.51.100.1\r\n', '') }, 'Incomplete SDP specification'],
    ['answer without to-tag', { command: 'answer', 'call-id': 'x', 'from-tag': 'a', sdp: OFFER }, 'No to-tag in message'],
    ['answer to an unknown call', { command: 'answer', 'call-id': 'nope', 'from-tag': 'a', 'to-tag': 'b', sdp: OFFER }, 'Unknown call-id'],
    ['query of an unknown call', { command: 'query', 'call-id': 'nope' }, 'Unknown call-id'],
    ['an unknown command', { command: 'Ping' }, 'Unrecognized command'],
  ] as const) {
    it(`${what} is an error: ${reason}`, async () => {
      assert.deepEqual(await d.ng.request(dict as Record<string, unknown>), { result: 'error', 'error-reason': reason });
    });
  }

  it('delete of an unknown call is ok with a warning, and an error with fatal', async () => {
    const reason = "Call-ID not found or tags didn't match";
    assert.deepEqual(await d.ng.request({ command: 'delete', 'call-id': 'nope', 'from-tag': 'a' }), { result: 'ok', warning: reason });
    assert.deepEqual(await d.ng.request({ command: 'delete', 'call-id': 'nope', 'from-tag': 'a', flags: ['fatal'] }), { result: 'error', 'error-reason': reason });
  });
});
