// The rule text of --iptables-chain (iptables-restore and nft forms, comment
// escaping and truncation, the nft chain syntax) and the batching of
// PortFirewall over a recording backend: one transaction per event-loop turn,
// opens and closes of one port cancelling out, and a failed transaction
// logged once and followed by a rewrite of the chain.

import { strict as assert } from 'assert';
import {
  commentText, iptablesBatch, nftAddRule, nftEchoedHandles, parseNftChain, type PortRule,
} from '../../iptables-extension/rules';
import { FirewallToolMissingError, selectBackend, type AppliedRule, type ChainRef, type FirewallBackend } from '../../iptables-extension/backend';
import { PortFirewall } from '../../iptables-extension/firewall';
import { setLogSink } from '../../src/log';

const r4: PortRule = { family: 4, address: '192.0.2.1', port: 30000, comment: 'abc@host' };

describe('iptables-extension rules', () => {
  it('writes one ACCEPT rule per address and port with the call id as comment, as the reference does', () => {
    assert.equal(iptablesBatch('RTPE', false, [], [r4]),
      '*filter\n-A RTPE -d 192.0.2.1/32 -p udp -m udp --dport 30000 -m comment --comment "abc@host" -j ACCEPT\nCOMMIT\n');
    assert.equal(iptablesBatch('RTPE', true, [{ ...r4, family: 6, address: '2001:db8::1' }], []),
      '*filter\n-F RTPE\n-D RTPE -d 2001:db8::1/128 -p udp -m udp --dport 30000 -m comment --comment "abc@host" -j ACCEPT\nCOMMIT\n');
  });

  it('escapes quotes and backslashes for iptables-restore and turns control characters into ?', () => {
    const line = iptablesBatch('C', false, [], [{ ...r4, comment: 'a"b\\c\nd' }]).split('\n')[1];
    assert.match(line, /--comment "a\\"b\\\\c\?d" -j ACCEPT$/);
  });

  it('cuts comments to 255 bytes for iptables and 128 for nft, never inside a character', () => {
    assert.equal(commentText('x'.repeat(300), 255).length, 255);
    assert.equal(Buffer.byteLength(commentText('é'.repeat(200), 255)), 254);
    const nft = nftAddRule(parseNftChain('RTPE'), { ...r4, comment: 'z'.repeat(200) });
    assert.match(nft, new RegExp(`comment "z{128}"$`));
  });

  it('writes nft rules with the double quote replaced, as nft strings cannot hold one', () => {
    assert.equal(nftAddRule(parseNftChain('fw/media'), { ...r4, comment: 'a"b' }),
      `add rule inet fw media ip daddr 192.0.2.1 udp dport 30000 accept comment "a'b"`);
    assert.equal(nftAddRule(parseNftChain('RTPE'), { ...r4, family: 6, address: '::1' }),
      'add rule ip6 filter RTPE ip6 daddr ::1 udp dport 30000 accept comment "abc@host"');
  });

  it('reads CHAIN, TABLE/CHAIN and FAMILY/TABLE/CHAIN and rejects other shapes', () => {
    assert.deepEqual(parseNftChain('RTPE'), {
      v4: { family: 'ip', table: 'filter', chain: 'RTPE' }, v6: { family: 'ip6', table: 'filter', chain: 'RTPE' },
    });
    assert.deepEqual(parseNftChain('inet/fw/media').v6, { family: 'inet', table: 'fw', chain: 'media' });
    assert.deepEqual(parseNftChain('ip6/fw/media').v4, { family: 'ip', table: 'fw', chain: 'media' });
    assert.throws(() => parseNftChain('bridge/fw/media'), /expected CHAIN, TABLE\/CHAIN/);
    assert.throws(() => parseNftChain('a/b/c/d'), /invalid nft chain/);
    assert.throws(() => parseNftChain('fw/me dia'), /not a table or chain name/);
  });

  it('takes the handles nft echoes for added rules, in order', () => {
    const out = 'add rule ip filter R ip daddr 1.2.3.4 udp dport 1 accept comment "a" # handle 12\n'
      + 'add rule ip filter R ip daddr 1.2.3.4 udp dport 2 accept comment "a" # handle 13\n# new generation 7 by process 1 (nft)\n';
    assert.deepEqual(nftEchoedHandles(out), [12, 13]);
  });

  it('refuses a chain name with spaces or quotes and reports when no tool is installed', () => {
    assert.throws(() => selectBackend('RT PE'), /invalid firewall chain name/);
    assert.throws(() => selectBackend('RTPE', '/nonexistent'), (e: Error) => e instanceof FirewallToolMissingError && /neither iptables .* nor nft is installed/.test(e.message));
    assert.throws(() => selectBackend('fw/media', '/nonexistent'), (e: Error) => e instanceof FirewallToolMissingError && /nft is not installed/.test(e.message));
    assert.throws(() => selectBackend('fw/me dia'), /invalid firewall chain name/);
    assert.throws(() => selectBackend('x/fw/media', '/usr/sbin:/sbin'), /invalid nft chain/);
  });
});

/** A backend that records transactions, IPv4 and IPv6 in chains of their own, failing on the chains in `failing`. */
class RecordingBackend implements FirewallBackend {
  readonly tool = 'test';
  failing = new Set<string>();
  batches: { chain: string; flush: boolean; dels: string[]; adds: string[] }[] = [];
  private handle = 0;
  private readonly chains: Record<4 | 6, ChainRef> = { 4: { id: 'v4', where: 'test chain v4' }, 6: { id: 'v6', where: 'test chain v6' } };

  chainFor(family: 4 | 6): ChainRef {
    return this.chains[family];
  }

  prepare(): void {}
  flushSync(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }

  async apply(chain: ChainRef, flush: boolean, dels: readonly AppliedRule[], adds: readonly PortRule[]): Promise<AppliedRule[]> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing.has(chain.id)) throw new Error('chain is gone');
    this.batches.push({
      chain: chain.id, flush, dels: dels.map((d) => `${d.rule.address}:${d.rule.port}`), adds: adds.map((a) => `${a.address}:${a.port}/${a.comment}`),
    });
    return adds.map((rule) => ({ rule, handle: ++this.handle }));
  }
}

const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
  for (let waited = 0; !cond() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
};

describe('PortFirewall', () => {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    setLogSink((line) => lines.push(line));
  });
  afterEach(() => setLogSink((line) => process.stderr.write(line + '\n')));

  const v4 = [{ family: 4 as const, address: '192.0.2.1' }];
  const both = [...v4, { family: 6 as const, address: '2001:db8::1' }];

  it('sends the changes of one turn as one transaction per chain: RTP and RTCP on every address', async () => {
    const b = new RecordingBackend();
    const fw = new PortFirewall(b);
    fw.openPair(both, 30000, 'c1');
    fw.openPair(v4, 30010, 'c2');
    await fw.settled();
    assert.equal(b.batches.length, 2);
    const byChain = Object.fromEntries(b.batches.map((x) => [x.chain, x.adds.sort()]));
    assert.deepEqual(byChain, {
      v4: ['192.0.2.1:30000/c1', '192.0.2.1:30001/c1', '192.0.2.1:30010/c2', '192.0.2.1:30011/c2'],
      v6: ['2001:db8::1:30000/c1', '2001:db8::1:30001/c1'],
    });
    assert.equal(fw.stats().rules, 6);
    fw.closePair(v4, 30010);
    await fw.settled();
    assert.deepEqual(b.batches[2], { chain: 'v4', flush: false, dels: ['192.0.2.1:30010', '192.0.2.1:30011'], adds: [] });
    await fw.stop();
  });

  it('a port opened and closed within one turn causes no transaction; one reused by another call changes its comment', async () => {
    const b = new RecordingBackend();
    const fw = new PortFirewall(b);
    fw.openPair(v4, 30000, 'c1');
    fw.closePair(v4, 30000);
    await fw.settled();
    assert.equal(b.batches.length, 0);
    fw.openPair(v4, 30000, 'c1');
    await fw.settled();
    fw.closePair(v4, 30000);
    fw.openPair(v4, 30000, 'c2');
    await fw.settled();
    assert.deepEqual(b.batches[1].dels.sort(), ['192.0.2.1:30000', '192.0.2.1:30001']);
    assert.deepEqual(b.batches[1].adds.sort(), ['192.0.2.1:30000/c2', '192.0.2.1:30001/c2']);
    await fw.stop();
  });

  it('logs a run of failures once, then rewrites the chain with every wanted rule', async () => {
    const b = new RecordingBackend();
    const fw = new PortFirewall(b);
    b.failing.add('v4');
    fw.openPair(v4, 30000, 'c1');
    await fw.settled();
    fw.openPair(v4, 30002, 'c2');
    await waitFor(() => fw.stats().failedBatches >= 2, 4000); // the retry one second later fails too
    assert.equal(lines.filter((l) => /Failed to update media port rules in test chain v4/.test(l)).length, 1, lines.join('\n'));
    assert.equal(fw.stats().failedBatches, 2, JSON.stringify(fw.stats()));
    b.failing.clear();
    await waitFor(() => b.batches.length > 0, 6000); // the next retry, two seconds later, succeeds
    assert.equal(b.batches.length, 1, JSON.stringify(b.batches));
    assert.equal(b.batches[0].flush, true);
    assert.deepEqual(b.batches[0].adds.sort(), ['192.0.2.1:30000/c1', '192.0.2.1:30001/c1', '192.0.2.1:30002/c2', '192.0.2.1:30003/c2']);
    assert.ok(lines.some((l) => /test chain v4 are up to date again after 2 failed update/.test(l)), lines.join('\n'));
    await fw.stop();
  });

  it('a failing IPv6 chain does not hold up the IPv4 rules', async () => {
    const b = new RecordingBackend();
    const fw = new PortFirewall(b);
    b.failing.add('v6');
    fw.openPair(both, 30000, 'c1');
    await fw.settled();
    fw.openPair(v4, 30002, 'c2');
    await fw.settled();
    assert.deepEqual(b.batches.map((x) => [x.chain, x.flush, x.adds.length]), [['v4', false, 2], ['v4', false, 2]]);
    assert.equal(lines.filter((l) => /Failed to update media port rules in test chain v6/.test(l)).length, 1, lines.join('\n'));
    await fw.stop();
  });

  it('takes no changes after stop', async () => {
    const b = new RecordingBackend();
    const fw = new PortFirewall(b);
    await fw.stop();
    fw.openPair(both, 30000, 'late');
    await fw.settled();
    assert.equal(b.batches.length, 0);
  });
});
