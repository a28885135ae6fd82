// Limits on new calls (--max-sessions, --max-load, --max-cpu, --max-bandwidth), media
// timeouts (--timeout, --silent-timeout, --offer-timeout, --final-timeout) and the
// XMLRPC teardown callback (--b2b-url, --xmlrpc-format). Each case runs against
// our daemon and, when it is installed, the reference, so both are held to the
// same expectations.

import { strict as assert } from 'assert';
import * as http from 'http';
import * as os from 'os';
import { attachDaemonLogs, daemonKinds, startDaemon, type DaemonHandle } from '../helpers/daemon';
import type { BDict } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { RtpPeer } from '../helpers/rtp';
import { simpleAudioSdp } from '../helpers/sdp';

interface Posted {
  at: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A tiny XML-RPC server that records what it gets and answers with `reply(n)`. */
async function xmlrpcServer(reply: (n: number) => string | null = () => null): Promise<{ port: number; posts: Posted[]; close(): Promise<void> }> {
  const posts: Posted[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      posts.push({ at: Date.now(), url: req.url ?? '', headers: req.headers, body });
      const fault = reply(posts.length);
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(fault === null
        ? '<?xml version="1.0"?><methodResponse><params><param><value><string>ok</string></value></param></params></methodResponse>'
        : '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member>'
          + `<member><name>faultString</name><value><string>${fault}</string></value></member></struct></value></fault></methodResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, posts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function methodCall(method: string, params: string[]): string {
  return ['<?xml version="1.0" encoding="UTF-8"?>', '<methodCall>', `<methodName>${method}</methodName>`, '<params>',
    ...params.map((p) => `<param><value><string>${p}</string></value></param>`), '</params>', '</methodCall>', '']
    .join('\r\n');
}

async function waitUntil(what: string, timeoutMs: number, cond: () => Promise<boolean> | boolean): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await cond()) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

async function exists(d: DaemonHandle, callId: string): Promise<boolean> {
  return (await d.ng.request({ command: 'query', 'call-id': callId })).result === 'ok';
}

async function offer(d: DaemonHandle, callId: string, extra: Record<string, unknown> = {}, port = 4000, dir = 'sendrecv'): Promise<BDict> {
  return d.ng.request({
    command: 'offer', 'call-id': callId, 'from-tag': 'caller',
    sdp: simpleAudioSdp(port, { formats: [8] }).replace('a=sendrecv', `a=${dir}`), ...extra,
  });
}

async function answer(d: DaemonHandle, callId: string, port = 5000, dir = 'sendrecv'): Promise<BDict> {
  return d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee',
    sdp: simpleAudioSdp(port, { formats: [8] }).replace('a=sendrecv', `a=${dir}`),
  });
}

async function totals(d: DaemonHandle): Promise<BDict> {
  const r = await d.ng.request({ command: 'statistics' });
  return (r['statistics'] as BDict)['totalstatistics'] as BDict;
}

/** Keeps a CPU busy for `ms` (so that a CPU limit is certainly exceeded meanwhile). */
function burn(ms: number): void {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
}

for (const kind of daemonKinds()) {
  describe(`limits on new calls (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle | undefined;
    afterEach(async () => {
      await d?.stop();
      d = undefined;
    });
    attachDaemonLogs(() => d);

    it('--max-sessions refuses the call over the limit with "Parallel session limit reached"', async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--max-sessions=1'] });
      assert.equal((await offer(d, 'ms-1')).result, 'ok');
      // An existing call is not a new one.
      assert.equal((await offer(d, 'ms-1')).result, 'ok');
      const r = await offer(d, 'ms-2');
      assert.deepEqual(r, { result: 'error', 'error-reason': 'Parallel session limit reached' });
      const r2 = await offer(d, 'ms-3', { supports: ['load limit'] });
      assert.deepEqual(r2, { result: 'load limit', message: 'Parallel session limit reached' });
      assert.equal((await totals(d))['rejectedsessions'], 2);
      // Room again once the first call is gone.
      await d.ng.request({ command: 'delete', 'call-id': 'ms-1', 'delete delay': 0 });
      await waitUntil('call deleted', 5000, async () => !(await exists(d as DaemonHandle, 'ms-1')));
      assert.equal((await offer(d, 'ms-4')).result, 'ok');
    });

    it('--max-load refuses new calls while the 1-minute load average is above it', async function () {
      if (os.loadavg()[0] < 0.05) {
        console.log(`      (skipped: the load average is ${os.loadavg()[0].toFixed(2)}, too low to exceed any limit)`);
        this.skip();
      }
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--max-load=0.01'] });
      await sleep(1200);
      assert.deepEqual(await offer(d, 'ml-1'), { result: 'error', 'error-reason': 'Parallel session limit reached' });
      assert.deepEqual(await offer(d, 'ml-2', { supports: ['load limit'] }), { result: 'load limit', message: 'Load limit exceeded' });
    });

    it('--max-load above the load average admits new calls', async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--max-load=10000'] });
      await sleep(700);
      assert.equal((await offer(d, 'ml-3', { supports: ['load limit'] })).result, 'ok');
    });

    it('--max-cpu refuses new calls while the CPU usage is above it', async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--max-cpu=0.01'] });
      burn(1300);
      assert.deepEqual(await offer(d, 'mc-1', { supports: ['load limit'] }), { result: 'load limit', message: 'CPU usage limit exceeded' });
      assert.deepEqual(await offer(d, 'mc-2'), { result: 'error', 'error-reason': 'Parallel session limit reached' });
    });

    it('--max-bandwidth refuses new calls while more media than it arrives per second, and not after', async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--max-bandwidth=2000'] });
      const a = await RtpPeer.open();
      const b = await RtpPeer.open();
      try {
        const o = await offer(d, 'bw-1', {}, a.port);
        await answer(d, 'bw-1', b.port);
        const port = Number(/m=audio (\d+)/.exec(String(o.sdp))?.[1]);
        // 50 packets/s of 172 bytes: 8600 bytes/s.
        const stream = b.startStream({ address: '127.0.0.1', port }, { intervalMs: 20 });
        await sleep(2200);
        const refused = await offer(d, 'bw-2', { supports: ['load limit'] });
        stream.stop();
        assert.deepEqual(refused, { result: 'load limit', message: 'Bandwidth limit exceeded' });
        await sleep(2600);
        assert.equal((await offer(d, 'bw-3', { supports: ['load limit'] })).result, 'ok');
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  describe(`media timeouts (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle;
    let n = 0;
    const id = (): string => `to-${process.pid}-${++n}`;
    before(async () => {
      d = await startDaemon({ bin: kind, mediaPorts: 40, args: ['--timeout=2', '--silent-timeout=5', '--offer-timeout=4', '--delete-delay=0'] });
    });
    after(async () => {
      await d?.stop();
    });
    attachDaemonLogs(() => d);

    it('a call without media goes after --timeout; one with media stays until it stops', async () => {
      const quiet = id();
      const busy = id();
      const a = await RtpPeer.open();
      try {
        await offer(d, quiet);
        await answer(d, quiet);
        const o = await offer(d, busy, {}, a.port);
        await answer(d, busy, 5002);
        const port = Number(/m=audio (\d+)/.exec(String(o.sdp))?.[1]);
        const stream = a.startStream({ address: '127.0.0.1', port }, { intervalMs: 100 });
        const gone = await waitUntil('quiet call timed out', 6000, async () => !(await exists(d, quiet)));
        assert.ok(gone >= 1000, `quiet call went after ${gone} ms`);
        await sleep(2000);
        assert.ok(await exists(d, busy), 'a call with media timed out');
        stream.stop();
        await waitUntil('busy call timed out after its media stopped', 6000, async () => !(await exists(d, busy)));
      } finally {
        await a.close();
      }
    });

    it('a held call (sendonly, recvonly) lasts until --silent-timeout', async () => {
      const c = id();
      await offer(d, c, {}, 4004, 'sendonly');
      await answer(d, c, 5004, 'recvonly');
      await sleep(3300);
      assert.ok(await exists(d, c), 'held call went after --timeout');
      await waitUntil('held call timed out', 5000, async () => !(await exists(d, c)));
    });

    it('an unanswered offer lasts until --offer-timeout and is counted as a timeout', async () => {
      const before = Number((await totals(d))['timeoutsessions']);
      const c = id();
      await offer(d, c);
      await sleep(3300);
      assert.ok(await exists(d, c), 'unanswered call went after --timeout');
      await waitUntil('unanswered call timed out', 4000, async () => !(await exists(d, c)));
      assert.equal(Number((await totals(d))['timeoutsessions']), before + 1);
    });

    it('an inactive call is counted as a silent timeout', async () => {
      const before = Number((await totals(d))['silenttimeoutsessions']);
      const c = id();
      await offer(d, c, {}, 4006, 'inactive');
      await answer(d, c, 5006, 'inactive');
      await waitUntil('inactive call timed out', 8000, async () => !(await exists(d, c)));
      assert.equal(Number((await totals(d))['silenttimeoutsessions']), before + 1);
    });

    it('re-offers restart the clock of the side that sends them', async () => {
      const c = id();
      await offer(d, c);
      await answer(d, c);
      // Without media, re-offers every 0.8 s keep the call for over twice --timeout.
      for (let i = 0; i < 6; i++) {
        await sleep(800);
        assert.ok(await exists(d, c), `call went ${(i + 1) * 0.8} s in although its caller kept signalling`);
        await offer(d, c);
      }
      await waitUntil('call timed out', 5000, async () => !(await exists(d, c)));
    });
  });

  describe(`XMLRPC teardown callback (${kind})`, function () {
    this.timeout(60000);
    let d: DaemonHandle | undefined;
    afterEach(async () => {
      await d?.stop();
      d = undefined;
    });
    attachDaemonLogs(() => d);

    const cases: Array<[number, string, Array<[string, string[]]>]> = [
      [0, 'SEMS: "di" per tag', [['di', ['sbc', 'postControlCmd', 'caller', 'teardown']], ['di', ['sbc', 'postControlCmd', 'callee', 'teardown']]]],
      [1, 'the Call-ID only: "teardown"', [['teardown', ['CALLID']]]],
      [2, 'Kamailio: "dlg.terminate_dlg" with Call-ID, from-tag and to-tag', [['dlg.terminate_dlg', ['CALLID', 'caller', 'callee']]]],
    ];
    for (const [format, what, expected] of cases) {
      it(`--xmlrpc-format=${format} posts ${what} when a call times out`, async () => {
        const srv = await xmlrpcServer();
        try {
          // %% stands for the address the offer came from.
          d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--timeout=2', `--b2b-url=http://%%:${srv.port}/RPC2`, `--xmlrpc-format=${format}`] });
          const callId = `xr-${format}-${process.pid}`;
          await offer(d, callId);
          await answer(d, callId);
          await waitUntil('callbacks', 8000, () => srv.posts.length >= expected.length);
          await sleep(500);
          assert.equal(srv.posts.length, expected.length, srv.posts.map((p) => p.body).join('\n'));
          expected.forEach(([method, params], i) => {
            const p = srv.posts[i];
            assert.equal(p.url, '/RPC2');
            assert.equal(p.headers['content-type'], 'text/xml');
            assert.equal(p.body, methodCall(method, params.map((x) => (x === 'CALLID' ? callId : x))));
          });
          assert.equal(await exists(d, callId), false);
        } finally {
          await srv.close();
        }
      });
    }

    it('a fault is retried up to four times, "dialog not found" is not retried', async () => {
      let fault = 'boom';
      const srv = await xmlrpcServer(() => fault);
      try {
        d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--timeout=2', `--b2b-url=http://127.0.0.1:${srv.port}/`, '--xmlrpc-format=1'] });
        await offer(d, 'xr-fault-1');
        await answer(d, 'xr-fault-1');
        await waitUntil('four attempts', 8000, () => srv.posts.length >= 4);
        await sleep(1000);
        assert.equal(srv.posts.length, 4);
        fault = 'Dialog not found';
        await offer(d, 'xr-fault-2');
        await answer(d, 'xr-fault-2');
        await waitUntil('one more attempt', 8000, () => srv.posts.length >= 5);
        await sleep(1000);
        assert.equal(srv.posts.length, 5);
      } finally {
        await srv.close();
      }
    });

    it('the xmlrpc-callback key names the address that %% stands for', async () => {
      const srv = await xmlrpcServer();
      try {
        d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--timeout=2', `--b2b-url=http://%%:${srv.port}/cb`, '--xmlrpc-format=1'] });
        // The request comes from 127.0.0.1; the server only listens there, so the
        // callback arrives only if the key's address (also 127.0.0.1) is used.
        await offer(d, 'xr-cb', { 'xmlrpc-callback': '127.0.0.1' });
        await answer(d, 'xr-cb');
        await waitUntil('callback', 8000, () => srv.posts.length >= 1);
        assert.equal(srv.posts[0].url, '/cb');
      } finally {
        await srv.close();
      }
    });

    it('--final-timeout ends a call without a callback', async () => {
      const srv = await xmlrpcServer();
      try {
        d = await startDaemon({ bin: kind, mediaPorts: 24, args: ['--timeout=60', '--final-timeout=2', `--b2b-url=http://127.0.0.1:${srv.port}/`] });
        await offer(d, 'xr-final');
        await answer(d, 'xr-final');
        await waitUntil('final timeout', 6000, async () => !(await exists(d as DaemonHandle, 'xr-final')));
        await sleep(1000);
        assert.equal(srv.posts.length, 0);
        assert.equal((await totals(d))['finaltimeoutsessions'], 1);
      } finally {
        await srv.close();
      }
    });
  });
}
