// Call recording with --recording-method pcap: a live call between two UDP
// peers through a daemon started with --recording-dir, recording switched by
// `record call`, `start recording`, `stop recording` (and `pause recording`,
// which rtpengine 10.5 does not know). Checks the files the daemon leaves: one
// pcap per recording holding every datagram the daemon received for the call
// while recording, in order, which tshark (when installed) also reads, and
// the metadata file with the pcap path, the SDPs sent out, the times and the
// `metadata` text. The shared assertions also run against the reference.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DaemonHandle, attachDaemonLogs, daemonKinds, startDaemon } from '../helpers/daemon';
import { RtpPeer, buildRtp, buildRtcpSr, type Endpoint } from '../helpers/rtp';
import { closeLiveCalls, startLiveCall, type LiveCall } from '../helpers/live-call';
import { readPcap, tsharkAvailable, tsharkFrames, type PcapFile } from '../helpers/pcap';

import { sleep } from '../helpers/process';

function liveCall(d: DaemonHandle, offer: Record<string, unknown> = {}, answer: Record<string, unknown> = {}): Promise<LiveCall> {
  return startLiveCall(d, { name: 'recording', codecs: [[8, 'PCMA/8000']], offer, answer });
}

/** Sends n RTP packets each way, alternating, and returns the datagrams in sending order. */
async function talk(c: LiveCall, n: number): Promise<Array<{ from: RtpPeer; to: Endpoint; data: Buffer }>> {
  const sent: Array<{ from: RtpPeer; to: Endpoint; data: Buffer }> = [];
  for (let k = 0; k < n; k++) {
    for (const [from, to, ssrc] of [[c.caller, c.fromCaller, 0xaaaa], [c.callee, c.fromCallee, 0xbbbb]] as const) {
      const data = buildRtp({ pt: 8, seq: c.seq, ts: c.seq * 160, ssrc, payload: Buffer.alloc(160, c.seq & 0xff) });
      await from.send(to, data);
      sent.push({ from, to, data });
      await sleep(10);
    }
    c.seq++;
  }
  await sleep(100);
  return sent;
}

/** The files the daemon wrote under dir: pcaps/ and metadata/, names sorted. */
function spool(dir: string): { pcaps: string[]; metadata: string[] } {
  const list = (sub: string): string[] => (fs.existsSync(path.join(dir, sub)) ? fs.readdirSync(path.join(dir, sub)).sort() : []);
  return { pcaps: list('pcaps'), metadata: list('metadata') };
}

/** Waits until metadata/ holds n files (the daemon writes them when a recording ends). */
async function waitForMetadata(dir: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (spool(dir).metadata.length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} metadata files in ${dir}, found ${JSON.stringify(spool(dir))}`);
    await sleep(50);
  }
}

function metadataOf(dir: string, pcapName: string): string {
  const name = `rtpengine-meta-${pcapName.replace(/\.pcap$/, '')}.txt`;
  return fs.readFileSync(path.join(dir, 'metadata', name), 'utf8');
}

/**
 * Asserts the pcap holds exactly these datagrams, each from its peer to the
 * daemon's port, in the order they were sent to that port (datagrams to
 * different ports are read from different sockets, whose order a loaded
 * machine may swap).
 */
function assertHolds(file: PcapFile, sent: Array<{ from: RtpPeer; to: Endpoint; data: Buffer }>): void {
  assert.equal(file.packets.length, sent.length, `${file.packets.length} packets recorded, ${sent.length} sent`);
  for (const p of file.packets) assert.equal(p.ipVersion, 4);
  const ports = [...new Set(sent.map((s) => s.to.port))];
  for (const port of ports) {
    const want = sent.filter((s) => s.to.port === port);
    const got = file.packets.filter((p) => p.dstPort === port);
    assert.equal(got.length, want.length, `${got.length} packets recorded to port ${port}, ${want.length} sent`);
    got.forEach((p, i) => {
      const s = want[i];
      assert.deepEqual([p.src, p.srcPort, p.dst, p.dstPort], [s.from.address, s.from.port, s.to.address, s.to.port], `packet ${i} to port ${port}: addresses`);
      assert.ok(p.payload.equals(s.data), `packet ${i} to port ${port}: payload`);
    });
  }
}

function checkWithTshark(file: string, count: number): void {
  if (!tsharkAvailable()) {
    console.log('      (tshark check skipped: tshark is not installed; apt-get install tshark)');
    return;
  }
  const frames = tsharkFrames(file);
  assert.equal(frames.length, count, `tshark reads ${frames.length} frames`);
}

for (const kind of daemonKinds()) {
  describe(`call recording to pcap (${kind})`, function () {
    this.timeout(30000);
    let d: DaemonHandle;
    let dir: string;
    const calls: LiveCall[] = [];
    attachDaemonLogs(() => d);

    before(async function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `rtpe-rec-${kind}-`));
      d = await startDaemon({ bin: kind, args: [`--recording-dir=${dir}`, '--recording-method=pcap', '--delete-delay=0'] });
    });

    after(async function () {
      await closeLiveCalls(calls);
      if (d) await d.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(function () {
      // Each test looks at the files of its own call only.
      for (const sub of ['pcaps', 'metadata']) {
        const p = path.join(dir, sub);
        if (fs.existsSync(p)) for (const f of fs.readdirSync(p)) fs.rmSync(path.join(p, f));
      }
    });

    async function call(offerExtra: Record<string, unknown> = {}, answerExtra: Record<string, unknown> = {}): Promise<LiveCall> {
      const c = await liveCall(d, offerExtra, answerExtra);
      calls.push(c);
      return c;
    }

    it('record call=yes at the offer: one pcap holds every datagram of the call (RTP, RTCP, even garbage) and the metadata file has the documented blocks', async function () {
      const c = await call({ 'record call': 'yes', metadata: 'customer=42|agent=7' });
      const sent = await talk(c, 5);
      // RTCP to the RTP port + 1 and a datagram that is neither: recorded as they came.
      const rtcp = buildRtcpSr(0xaaaa);
      const rtcpTo = { address: c.fromCaller.address, port: c.fromCaller.port + 1 };
      await c.caller.send(rtcpTo, rtcp);
      await c.caller.send(c.fromCaller, Buffer.from('garbage'));
      await sleep(100);
      sent.push({ from: c.caller, to: rtcpTo, data: rtcp }, { from: c.caller, to: c.fromCaller, data: Buffer.from('garbage') });
      assert.equal((await d.ng.request({ command: 'delete', 'call-id': c.callId })).result, 'ok');
      await waitForMetadata(dir, 1);

      const files = spool(dir);
      assert.equal(files.pcaps.length, 1);
      const escaped = c.callId.replace(/[-]/g, '\\-');
      assert.match(files.pcaps[0], new RegExp(`^${escaped}-[0-9a-f]{16}\\.pcap$`));
      const pcapPath = path.join(dir, 'pcaps', files.pcaps[0]);
      const pcap = readPcap(pcapPath);
      assert.equal(pcap.linkType, 101, 'raw IP frames');
      assertHolds(pcap, sent);
      checkWithTshark(pcapPath, sent.length);

      const meta = metadataOf(dir, files.pcaps[0]);
      const block = (mode: string, body: string): string =>
        `Label: ${mode === 'offer' ? 'caller' : 'callee'}\nTimestamp started ms: \\d+\\.\\d{3}\nSDP mode: ${mode}\nSDP before RTP packet: 1\n\n${body.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`;
      const when = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d';
      const expected = new RegExp(
        `^${pcapPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n\n\n` +
        block('offer', c.offerSdp) + block('answer', c.answerSdp) +
        `Timestamp terminated ms\\(first monologue\\): [1-9]\\d*\\.\\d{3}\n\n` +
        `call start time: ${when}\ncall end time: ${when}\n\n\ncustomer=42\\|agent=7\n$`);
      assert.match(meta, expected);
    });

    it('stop recording ends the file (terminated 0.000); start recording again begins a new one with only what came after', async function () {
      const c = await call();
      await talk(c, 2);
      assert.deepEqual(await d.ng.request({ command: 'start recording', 'call-id': c.callId }), { result: 'ok' });
      const first = await talk(c, 3);
      assert.deepEqual(await d.ng.request({ command: 'stop recording', 'call-id': c.callId }), { result: 'ok' });
      await waitForMetadata(dir, 1);
      await talk(c, 2);
      const name1 = spool(dir).pcaps[0];
      assert.match(metadataOf(dir, name1), /^\S+\.pcap\n\n\nTimestamp terminated ms\(first monologue\): 0\.000\n\ncall start time: /);
      assert.deepEqual(await d.ng.request({ command: 'start recording', 'call-id': c.callId }), { result: 'ok' });
      const second = await talk(c, 4);
      await d.ng.request({ command: 'delete', 'call-id': c.callId });
      await waitForMetadata(dir, 2);
      const files = spool(dir);
      assert.equal(files.pcaps.length, 2);
      const name2 = files.pcaps.find((f) => f !== name1)!;
      assertHolds(readPcap(path.join(dir, 'pcaps', name1)), first);
      assertHolds(readPcap(path.join(dir, 'pcaps', name2)), second);
    });

    it('record call=no in the answer stops the recording the offer started: the metadata has the offer only', async function () {
      const c = await call({ 'record call': 'yes' }, { 'record call': 'no' });
      await talk(c, 2);
      await d.ng.request({ command: 'delete', 'call-id': c.callId });
      await waitForMetadata(dir, 1);
      const files = spool(dir);
      const meta = metadataOf(dir, files.pcaps[0]);
      assert.match(meta, /SDP mode: offer/);
      assert.doesNotMatch(meta, /SDP mode: answer/);
      assert.equal(readPcap(path.join(dir, 'pcaps', files.pcaps[0])).packets.length, 0);
    });

    it('a re-offer after three packets is noted as "SDP before RTP packet: 4"', async function () {
      const c = await call({ 'record call': 'yes' });
      for (let k = 0; k < 3; k++) {
        await c.caller.send(c.fromCaller, buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: 0xaaaa, payload: Buffer.alloc(160, 0x55) }));
        await sleep(20);
      }
      await sleep(100);
      const reoffer = await d.ng.request({
        command: 'offer', 'call-id': c.callId, 'from-tag': 'caller-tag', label: 'caller',
        sdp: `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${c.caller.port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n`,
      });
      assert.equal(reoffer.result, 'ok');
      await d.ng.request({ command: 'delete', 'call-id': c.callId });
      await waitForMetadata(dir, 1);
      const counts = [...metadataOf(dir, spool(dir).pcaps[0]).matchAll(/SDP mode: (\w+)\nSDP before RTP packet: (\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
      assert.deepEqual(counts, ['offer 1', 'answer 1', 'offer 4']);
    });

    it('the record-call flag records the call too', async function () {
      const c = await call({ flags: ['record-call'] });
      const sent = await talk(c, 3);
      await d.ng.request({ command: 'delete', 'call-id': c.callId });
      await waitForMetadata(dir, 1);
      assertHolds(readPcap(path.join(dir, 'pcaps', spool(dir).pcaps[0])), sent);
    });

    it('start and stop recording: no call-id and an unknown call are errors; tags are ignored', async function () {
      for (const command of ['start recording', 'stop recording']) {
        assert.deepEqual(await d.ng.request({ command }), { result: 'error', 'error-reason': 'No call-id in message' });
        assert.deepEqual(await d.ng.request({ command, 'call-id': 'no-such-call' }), { result: 'error', 'error-reason': 'Unknown call-id' });
      }
      const c = await call();
      assert.deepEqual(await d.ng.request({ command: 'start recording', 'call-id': c.callId, 'from-tag': 'nobody' }), { result: 'ok' });
      assert.deepEqual(await d.ng.request({ command: 'stop recording', 'call-id': c.callId, 'from-tag': 'nobody' }), { result: 'ok' });
    });

    if (kind === 'ours') {
      it('pause recording (newer than 10.5) leaves a gap in the same file; start recording resumes it', async function () {
        const c = await call({ 'record call': 'yes' });
        const before = await talk(c, 2);
        assert.deepEqual(await d.ng.request({ command: 'pause recording', 'call-id': c.callId }), { result: 'ok' });
        await talk(c, 3);
        assert.deepEqual(await d.ng.request({ command: 'start recording', 'call-id': c.callId }), { result: 'ok' });
        const after = await talk(c, 2);
        await d.ng.request({ command: 'delete', 'call-id': c.callId });
        await waitForMetadata(dir, 1);
        const files = spool(dir);
        assert.equal(files.pcaps.length, 1);
        assertHolds(readPcap(path.join(dir, 'pcaps', files.pcaps[0])), [...before, ...after]);
      });
    }
  });
}

describe('call recording options (ours)', function () {
  this.timeout(30000);
  let d: DaemonHandle | undefined;
  let dir: string;
  const peers: RtpPeer[] = [];
  attachDaemonLogs(() => d);

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-rec-opt-'));
  });

  afterEach(async function () {
    for (const p of peers.splice(0)) await p.close();
    if (d) await d.stop();
    d = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function recordOneCall(args: string[]): Promise<{ c: LiveCall; sent: Array<{ from: RtpPeer; to: Endpoint; data: Buffer }>; pcap: PcapFile; file: string }> {
    d = await startDaemon({ bin: 'ours', args: [`--recording-dir=${dir}`, '--delete-delay=0', ...args] });
    const c = await liveCall(d, { 'record call': 'on' });
    peers.push(c.caller, c.callee);
    const sent = await talk(c, 3);
    await d.ng.request({ command: 'delete', 'call-id': c.callId });
    await waitForMetadata(dir, 1);
    const file = path.join(dir, 'pcaps', spool(dir).pcaps[0]);
    return { c, sent, pcap: readPcap(file), file };
  }

  it('--recording-format=eth: Ethernet frames, 14 bytes longer, with the same datagrams', async function () {
    const { sent, pcap, file } = await recordOneCall(['--recording-format=eth']);
    assert.equal(pcap.linkType, 1);
    assertHolds(pcap, sent);
    pcap.packets.forEach((p, i) => assert.equal(p.frame.length, 14 + 20 + 8 + sent[i].data.length));
    assert.equal(pcap.packets[0].frame.readUInt16BE(12), 0x0800, 'IPv4 ethertype');
    checkWithTshark(file, sent.length);
  });

  it('--record-egress: the pcap holds the packets as the daemon sent them, from its ports to the peers', async function () {
    const { c, sent, pcap } = await recordOneCall(['--record-egress']);
    assert.equal(pcap.packets.length, sent.length);
    pcap.packets.forEach((p, i) => {
      const s = sent[i];
      const receiver = s.from === c.caller ? c.callee : c.caller;
      // Sent out of the port the receiver was given in its SDP, to the receiver.
      const daemonPort = s.from === c.caller ? c.fromCallee.port : c.fromCaller.port;
      assert.deepEqual([p.srcPort, p.dst, p.dstPort], [daemonPort, receiver.address, receiver.port], `packet ${i}`);
      assert.ok(p.payload.equals(s.data), `packet ${i} payload (relayed unchanged)`);
    });
  });

  it('stopping the daemon (SIGTERM) during a recorded call completes the pcap and writes the metadata file', async function () {
    d = await startDaemon({ bin: 'ours', args: [`--recording-dir=${dir}`] });
    const c = await liveCall(d, { 'record call': 'yes' });
    peers.push(c.caller, c.callee);
    const sent = await talk(c, 3);
    await d.stop();
    const files = spool(dir);
    assert.equal(files.metadata.length, 1, JSON.stringify(files));
    assertHolds(readPcap(path.join(dir, 'pcaps', files.pcaps[0])), sent);
    assert.match(metadataOf(dir, files.pcaps[0]), /Timestamp terminated ms\(first monologue\): [1-9]/);
  });

  it('without --recording-dir, start recording is ok and nothing is written', async function () {
    d = await startDaemon({ bin: 'ours' });
    const c = await liveCall(d);
    peers.push(c.caller, c.callee);
    assert.deepEqual(await d.ng.request({ command: 'start recording', 'call-id': c.callId }), { result: 'ok' });
    await talk(c, 2);
    assert.ok(d.logLines().some((l) => l.includes('Call recording requested, but no spool directory configured')));
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
