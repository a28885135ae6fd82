// --iptables-chain: the daemon runs in a network namespace this file creates
// (the host's firewall is never touched) and keeps one ACCEPT rule per open
// media port in a chain made there, checked with iptables -S / ip6tables -S /
// nft list chain, as an administrator would look.
//
// Needs root and the `ip` tool; without them every case is skipped with the
// reason printed.

import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startDaemon, type DaemonHandle } from '../helpers/daemon';
import { createNetns, skipUnlessNetns, type TestNetns } from '../helpers/netns';
import type { BDict } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { mediaPorts, simpleAudioSdp } from '../helpers/sdp';
import { findOnPath } from '../../iptables-extension/backend';

const CHAIN = 'RTPE_MEDIA';
let ns: TestNetns;
let HOST_V4 = '';
let NS_V4 = '';
let NS_V6 = '';

/** Runs a command inside the namespace and returns its stdout. */
function inNs(cmd: string, ...args: string[]): string {
  return ns.exec(cmd, args);
}

/** The firewall tool this machine lacks, or null. */
function missingTool(): string | null {
  for (const bin of ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'nft']) {
    if (!findOnPath(bin, `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)) return `'${bin}' is not installed`;
  }
  return null;
}

interface Rule {
  address: string;
  port: number;
  comment: string;
}

/** Reads a quoted or bare word as iptables -S prints it, from s at i; returns it and the index after it. */
function word(s: string, i: number): [string, number] {
  if (s[i] !== '"') {
    const end = s.indexOf(' ', i);
    return end < 0 ? [s.slice(i), s.length] : [s.slice(i, end), end];
  }
  let out = '';
  for (i++; i < s.length && s[i] !== '"'; i++) out += s[i] === '\\' ? s[++i] : s[i];
  return [out, i + 1];
}

/** The ACCEPT rules of a chain, from `iptables -S` (family 4) or `ip6tables -S` (6). */
function iptablesRules(family: 4 | 6): Rule[] {
  const out = inNs(family === 4 ? 'iptables' : 'ip6tables', '-S', CHAIN);
  const rules: Rule[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith(`-A ${CHAIN} `)) continue;
    const m = /-d (\S+)\/(?:32|128) -p udp -m udp --dport (\d+) -m comment --comment /.exec(line);
    assert.ok(m, `unexpected rule form: ${line}`);
    const [comment, end] = word(line, m.index + m[0].length);
    assert.equal(line.slice(end), ' -j ACCEPT', `unexpected rule form: ${line}`);
    rules.push({ address: m[1], port: Number(m[2]), comment });
  }
  return rules;
}

/** The ACCEPT rules of an nft chain (`ip filter CHAIN`, ...). */
function nftRules(family: string, table: string, chain: string): Rule[] {
  const out = inNs('nft', 'list', 'chain', family, table, chain);
  const rules: Rule[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*ip6? daddr (\S+) udp dport (\d+) accept comment "([^"]*)"$/.exec(line);
    if (m) rules.push({ address: m[1], port: Number(m[2]), comment: m[3] });
    else if (/dport/.test(line)) assert.fail(`unexpected rule form: ${line}`);
  }
  return rules;
}

const sorted = (rules: Rule[]): string[] => rules.map((r) => `${r.address} ${r.port} ${r.comment}`).sort();
const expect = (address: string, ports: number[], comment: string): string[] =>
  sorted(ports.flatMap((p) => [{ address, port: p, comment }, { address, port: p + 1, comment }]));

/** Polls until read() gives want (rule changes are applied asynchronously). */
async function eventually(read: () => string[], want: string[], what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  let got = read();
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await sleep(50);
    got = read();
  }
  assert.deepEqual(got, want, what);
}

/** Our daemon inside the namespace, its ng port reachable over the veth pair. */
function startInNs(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<DaemonHandle> {
  return startDaemon({ bin: 'ours', netns: ns, env, args: ['--delete-delay=0', ...args] });
}

function offer(d: DaemonHandle, callId: string, port = 4000): Promise<BDict> {
  return d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: simpleAudioSdp(port, { address: HOST_V4 }) });
}

function answer(d: DaemonHandle, callId: string, port = 5000): Promise<BDict> {
  return d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: simpleAudioSdp(port, { address: HOST_V4 }),
  });
}

function rtpPort(reply: BDict): number {
  assert.equal(reply.result, 'ok', JSON.stringify(reply));
  return mediaPorts(String(reply.sdp))[0];
}

describe('--iptables-chain', function () {
  this.timeout(60000);
  let d: DaemonHandle | undefined;

  before(function () {
    skipUnlessNetns(this);
    const why = missingTool();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    ns = createNetns();
    [HOST_V4, NS_V4, NS_V6] = [ns.links[0].hostAddr4, ns.links[0].nsAddr4, ns.links[0].nsAddr6];
  });

  after(() => ns?.remove());

  beforeEach(() => {
    // A fresh chain in both families for each case; iptables here is whatever flavour the system selects.
    for (const tool of ['iptables', 'ip6tables']) {
      try { inNs(tool, '-F', CHAIN); inNs(tool, '-X', CHAIN); } catch { /* not there */ }
      inNs(tool, '-N', CHAIN);
    }
  });

  afterEach(async function () {
    if (d && this.currentTest?.state === 'failed' && this.currentTest.err) {
      this.currentTest.err.message += `\n--- daemon output ---\n${d.logTail(30)}`;
    }
    await d?.stop();
    d = undefined;
  });

  it('flushes stale rules at start-up and empties the chain again at exit', async () => {
    inNs('iptables', '-A', CHAIN, '-p', 'udp', '--dport', '30000', '-j', 'ACCEPT');
    inNs('ip6tables', '-A', CHAIN, '-p', 'udp', '--dport', '30000', '-j', 'ACCEPT');
    d = await startInNs([`--iptables-chain=${CHAIN}`]);
    assert.deepEqual(inNs('iptables', '-S', CHAIN).trim().split('\n'), [`-N ${CHAIN}`]);
    assert.deepEqual(inNs('ip6tables', '-S', CHAIN).trim().split('\n'), [`-N ${CHAIN}`]);
    const o = await offer(d, 'exit-call');
    await eventually(() => sorted(iptablesRules(4)).filter((r) => r.includes(` ${rtpPort(o)} `)),
      [`${NS_V4} ${rtpPort(o)} exit-call`], 'rule of the open call');
    // A generous grace: on a loaded machine a SIGKILL after the default 3 s would leave the rules.
    await d.stop(15000);
    assert.doesNotMatch(d.logTail(20), /Failed to flush|Error while shutting down/);
    assert.deepEqual(iptablesRules(4), [], 'rules left after exit');
  });

  it('offer and answer open exactly the media ports of the call, delete closes them', async () => {
    d = await startInNs([`--iptables-chain=${CHAIN}`]);
    const o = await offer(d, 'call-one');
    const a = await answer(d, 'call-one');
    const [po, pa] = [rtpPort(o), rtpPort(a)];
    assert.notEqual(po, pa);
    // RTP and RTCP of both sides, on the interface address, with the call id.
    await eventually(() => sorted(iptablesRules(4)), expect(NS_V4, [po, pa], 'call-one'), 'rules after offer/answer');
    assert.deepEqual(iptablesRules(6), [], 'no IPv6 port is open');

    // A second call adds its own rules and leaves the first call's alone.
    const o2 = await offer(d, 'call-two', 4100);
    const a2 = await answer(d, 'call-two', 5100);
    await eventually(() => sorted(iptablesRules(4)),
      [...expect(NS_V4, [po, pa], 'call-one'), ...expect(NS_V4, [rtpPort(o2), rtpPort(a2)], 'call-two')].sort(),
      'rules of two calls');

    assert.equal((await d.ng.request({ command: 'delete', 'call-id': 'call-one', 'from-tag': 'caller' })).result, 'ok');
    await eventually(() => sorted(iptablesRules(4)), expect(NS_V4, [rtpPort(o2), rtpPort(a2)], 'call-two'), 'rules after delete');
  });

  it('a media section added by a re-offer gets rules for its own ports, which go when it is rejected again', async () => {
    d = await startInNs([`--iptables-chain=${CHAIN}`]);
    const po = rtpPort(await offer(d, 'reinvite'));
    const pa = rtpPort(await answer(d, 'reinvite'));
    const twoMedia = simpleAudioSdp(4000, { address: HOST_V4 }) + 'm=audio 4002 RTP/AVP 0\r\na=sendrecv\r\n';
    const re = await d.ng.request({ command: 'offer', 'call-id': 'reinvite', 'from-tag': 'caller', 'to-tag': 'callee', sdp: twoMedia });
    assert.equal(re.result, 'ok', JSON.stringify(re));
    const ports = mediaPorts(String(re.sdp));
    assert.equal(ports.length, 2);
    assert.equal(ports[0], po, 'the first media keeps its port');
    const rules = (): string[] => sorted(iptablesRules(4));
    await eventually(() => rules().filter((r) => r.includes(` ${ports[1]} `) || r.includes(` ${ports[1] + 1} `)),
      expect(NS_V4, [ports[1]], 'reinvite'), 'rules of the new media section');
    assert.ok(rules().includes(`${NS_V4} ${pa} reinvite`), 'the answer side keeps its rule');
    const dropped = simpleAudioSdp(4000, { address: HOST_V4 }) + 'm=audio 0 RTP/AVP 0\r\n';
    const re2 = await d.ng.request({ command: 'offer', 'call-id': 'reinvite', 'from-tag': 'caller', 'to-tag': 'callee', sdp: dropped });
    assert.equal(re2.result, 'ok', JSON.stringify(re2));
    // Rejecting the section again closes its ports on both sides, and their rules go.
    await eventually(rules, expect(NS_V4, [po, pa], 'reinvite'), 'rules after the section was rejected');
  });

  it('IPv6 ports get ip6tables rules, IPv4 ports iptables rules', async () => {
    d = await startInNs([`--iptables-chain=${CHAIN}`, `--interface=media/${NS_V4}`, `--interface=media/${NS_V6}`]);
    const po = rtpPort(await offer(d, 'dual'));
    const pa = rtpPort(await answer(d, 'dual'));
    // Each pair is bound on every address of the interface.
    await eventually(() => sorted(iptablesRules(4)), expect(NS_V4, [po, pa], 'dual'), 'IPv4 rules');
    await eventually(() => sorted(iptablesRules(6)), expect(NS_V6, [po, pa], 'dual'), 'IPv6 rules');
    await d.ng.request({ command: 'delete', 'call-id': 'dual', 'from-tag': 'caller' });
    await eventually(() => sorted(iptablesRules(6)), [], 'IPv6 rules after delete');
  });

  it('a chain made for IPv4 only gets its rules; the missing IPv6 chain is reported and does not hold them up', async () => {
    inNs('ip6tables', '-X', CHAIN);
    d = await startInNs([`--iptables-chain=${CHAIN}`, `--interface=media/${NS_V4}`, `--interface=media/${NS_V6}`]);
    assert.match(d.logTail(50), /Failed to flush ip6tables chain RTPE_MEDIA/);
    assert.doesNotMatch(d.logTail(50), /Failed to flush iptables chain/);
    const po = rtpPort(await offer(d, 'v4-only'));
    const pa = rtpPort(await answer(d, 'v4-only'));
    await eventually(() => sorted(iptablesRules(4)), expect(NS_V4, [po, pa], 'v4-only'), 'IPv4 rules');
    await d.ng.request({ command: 'delete', 'call-id': 'v4-only', 'from-tag': 'caller' });
    await eventually(() => sorted(iptablesRules(4)), [], 'IPv4 rules after delete');
  });

  it('a long call id with quotes is cut to 255 bytes and kept verbatim otherwise', async () => {
    d = await startInNs([`--iptables-chain=${CHAIN}`]);
    const callId = `q"uo\\te $x ${'y'.repeat(300)}`;
    const po = rtpPort(await offer(d, callId));
    const want = callId.slice(0, 255);
    await eventually(() => sorted(iptablesRules(4)).filter((r) => r.startsWith(`${NS_V4} ${po} `)),
      [`${NS_V4} ${po} ${want}`], 'comment of the rule');
  });

  it('a killed helper process is replaced and the next call still gets its rules', async () => {
    d = await startInNs([`--iptables-chain=${CHAIN}`]);
    const helpers = (): number[] => execFileSync('pgrep', ['-P', String(d!.pid), '-f', 'runner.js'], { encoding: 'utf8' })
      .trim().split('\n').filter(Boolean).map(Number);
    const [helper] = helpers();
    assert.ok(helper > 0, 'the daemon runs a helper for the firewall tools');
    process.kill(helper, 'SIGKILL');
    await sleep(200);
    const po = rtpPort(await offer(d, 'after-kill'));
    await eventually(() => sorted(iptablesRules(4)).filter((r) => r.startsWith(`${NS_V4} ${po} `)),
      [`${NS_V4} ${po} after-kill`], 'rule after the helper was replaced');
    assert.notDeepEqual(helpers(), [helper]);
    assert.ok(d.running());
  });

  it('a missing chain is an error at start-up; the daemon carries on and its calls work', async () => {
    d = await startInNs(['--iptables-chain=NO_SUCH_CHAIN']);
    assert.match(d.logTail(50), /ERR.*Failed to flush iptables chain NO_SUCH_CHAIN/);
    const o = await offer(d, 'no-chain');
    const a = await answer(d, 'no-chain');
    rtpPort(o);
    rtpPort(a);
    // The failed rule update is logged once for the burst, not per port.
    const deadline = Date.now() + 3000;
    while (!/Failed to update media port rules/.test(d.logTail(50)) && Date.now() < deadline) await sleep(50);
    assert.equal(d.logTail(100).match(/Failed to update media port rules/g)?.length, 1, d.logTail(30));
    assert.equal((await d.ng.request({ command: 'delete', 'call-id': 'no-chain', 'from-tag': 'caller' })).result, 'ok');
    assert.ok(d.running());
  });

  describe('without iptables on PATH', () => {
    let nftOnly: string;

    before(() => {
      // A PATH with nft and node's own directory, but no iptables.
      nftOnly = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-nft-only-'));
      fs.symlinkSync(findOnPath('nft', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)!, path.join(nftOnly, 'nft'));
    });

    after(() => fs.rmSync(nftOnly, { recursive: true, force: true }));

    const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${nftOnly}:${path.dirname(process.execPath)}:/usr/bin:/bin` });

    it('uses the nft chain of that name in the ip and ip6 filter tables', async () => {
      inNs('nft', 'add', 'rule', 'ip', 'filter', CHAIN, 'udp', 'dport', '9', 'accept');
      d = await startInNs([`--iptables-chain=${CHAIN}`, `--interface=media/${NS_V4}`, `--interface=media/${NS_V6}`], env());
      assert.match(d.logTail(50), /Managing media port rules in nft chain ip filter RTPE_MEDIA \(flushed\)/);
      assert.match(d.logTail(50), /Managing media port rules in nft chain ip6 filter RTPE_MEDIA \(flushed\)/);
      assert.deepEqual(nftRules('ip', 'filter', CHAIN), [], 'stale rule flushed');
      const po = rtpPort(await offer(d, 'nft "call'));
      const pa = rtpPort(await answer(d, 'nft "call'));
      // nft strings cannot hold a double quote: it becomes a single one.
      await eventually(() => sorted(nftRules('ip', 'filter', CHAIN)), expect(NS_V4, [po, pa], "nft 'call"), 'nft IPv4 rules');
      await eventually(() => sorted(nftRules('ip6', 'filter', CHAIN)), expect(NS_V6, [po, pa], "nft 'call"), 'nft IPv6 rules');
      await d.ng.request({ command: 'delete', 'call-id': 'nft "call', 'from-tag': 'caller' });
      await eventually(() => sorted(nftRules('ip', 'filter', CHAIN)), [], 'nft rules after delete');
      await eventually(() => sorted(nftRules('ip6', 'filter', CHAIN)), [], 'nft IPv6 rules after delete');
    });

    it('with neither iptables nor nft the daemon says so and runs without rules', async () => {
      const bare = `${path.dirname(process.execPath)}:/usr/bin:/bin`;
      assert.equal(findOnPath('nft', bare) ?? findOnPath('iptables', bare), null, `a firewall tool is on ${bare}`);
      d = await startInNs([`--iptables-chain=${CHAIN}`], { ...process.env, PATH: bare });
      assert.match(d.logTail(50), /ERR.*--iptables-chain=RTPE_MEDIA: neither iptables .* nor nft is installed.*no media port rules are managed/);
      rtpPort(await offer(d, 'no-tools'));
      rtpPort(await answer(d, 'no-tools'));
      assert.ok(d.running());
    });

    it('refuses to start with a malformed nft chain', async () => {
      await assert.rejects(startInNs(['--iptables-chain=bridge/fw/media'], env()), /exited.*code 1[\s\S]*invalid nft chain 'bridge\/fw\/media'/);
    });

    it('takes an inet TABLE/CHAIN and empties it at exit', async () => {
      inNs('nft', 'add', 'table', 'inet', 'rtpe_fw');
      inNs('nft', 'add', 'chain', 'inet', 'rtpe_fw', 'media');
      try {
        d = await startInNs(['--iptables-chain=rtpe_fw/media', `--interface=media/${NS_V4}`, `--interface=media/${NS_V6}`], env());
        const po = rtpPort(await offer(d, 'inet-call'));
        await eventually(() => sorted(nftRules('inet', 'rtpe_fw', 'media')).filter((r) => r.includes(` ${po} `)),
          [`${NS_V4} ${po} inet-call`, `${NS_V6} ${po} inet-call`].sort(), 'both families in the inet chain');
        await d.stop();
        assert.deepEqual(nftRules('inet', 'rtpe_fw', 'media'), [], 'rules left after exit');
      } finally {
        inNs('nft', 'delete', 'table', 'inet', 'rtpe_fw');
      }
    });
  });
});
