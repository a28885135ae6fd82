// A call bridged between two networks: the daemon runs in a network namespace
// with two veth links, each side of the call on its own link and logical
// interface (`direction`), so media crosses real interfaces and is re-sourced
// from the other network's address. The in-kernel path and firewall tests use
// the same set-up (test/helpers/netns.ts).

import { strict as assert } from 'assert';
import { startDaemon, attachDaemonLogs, type DaemonHandle } from '../helpers/daemon';
import { bridgeInterfaces, createNetns, skipUnlessNetns, type TestNetns } from '../helpers/netns';
import { startLiveCall, closeLiveCalls, type LiveCall } from '../helpers/live-call';
import { parseRtp } from '../helpers/rtp';

describe('a call bridged between two networks (network namespace)', function () {
  this.timeout(30000);
  let ns: TestNetns | undefined;
  let d: DaemonHandle | undefined;
  const calls: LiveCall[] = [];
  attachDaemonLogs(() => d);

  before(async function () {
    skipUnlessNetns(this);
    ns = createNetns({ links: 2 });
    d = await startDaemon({ netns: ns, args: [...bridgeInterfaces(ns)] });
  });

  afterEach(() => closeLiveCalls(calls));
  after(async () => {
    await d?.stop();
    ns?.remove();
  });

  for (const family of [4, 6] as const) {
    it(`relays IPv${family} RTP both ways, each side seeing the daemon's address on its own network`, async () => {
      const [a, b] = ns!.links;
      const callerHost = family === 4 ? a.hostAddr4 : a.hostAddr6;
      const calleeHost = family === 4 ? b.hostAddr4 : b.hostAddr6;
      const call = await startLiveCall(d!, {
        name: `bridge${family}`, codecs: [[8, 'PCMA/8000']], callerHost, calleeHost,
        offer: { direction: ['left', 'right'] },
      });
      calls.push(call);
      // Each side is told to send to the daemon's address on its own link.
      assert.equal(call.fromCaller.address, family === 4 ? a.nsAddr4 : a.nsAddr6);
      assert.equal(call.fromCallee.address, family === 4 ? b.nsAddr4 : b.nsAddr6);

      const payload = Buffer.alloc(160, 0xd5);
      const there = call.caller.startStream(call.fromCaller, { count: 20, payload });
      const back = call.callee.startStream(call.fromCallee, { count: 20, payload });
      const atCallee = await call.callee.waitFor(20, 5000, (r) => parseRtp(r.data) !== null);
      const atCaller = await call.caller.waitFor(20, 5000, (r) => parseRtp(r.data) !== null);
      await Promise.all([there.done, back.done]);
      // Forwarded out of the other network's address, from the port that side was given.
      assert.deepEqual(
        [...new Set(atCallee.map((r) => `${r.from.address} ${r.from.port}`))],
        [`${call.fromCallee.address} ${call.fromCallee.port}`],
      );
      assert.deepEqual(
        [...new Set(atCaller.map((r) => `${r.from.address} ${r.from.port}`))],
        [`${call.fromCaller.address} ${call.fromCaller.port}`],
      );
      assert.deepEqual(atCallee.map((r) => parseRtp(r.data)!.ssrc).filter((s, i, all) => all.indexOf(s) === i), [there.ssrc]);

      const q = await d!.ng.request({ command: 'query', 'call-id': call.callId });
      assert.equal(q.result, 'ok');
    });
  }
});
