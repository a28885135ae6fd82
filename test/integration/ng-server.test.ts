import * as assert from 'assert';
import * as dgram from 'dgram';
import * as net from 'net';
import { BDict, decode, encode } from '../../src/control/bencode';
import { NgError } from '../../src/control/errors';
import { NgContext, NgHandler, NgServer, NgServerOptions } from '../../src/control/ng-server';
import { getLogLevel, setLogLevel } from '../../src/log';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
import { sleep } from '../helpers/process';

interface Calls {
  count: number;
  requests: Array<{ req: BDict; ctx: NgContext }>;
}

// A stub handler: 'ping' pongs, 'echo' returns the request, 'slow' waits, 'fail' throws.
function stub(calls: Calls): NgHandler {
  return async (req, ctx): Promise<BDict> => {
    calls.count++;
    calls.requests.push({ req, ctx });
    switch (req.command) {
      case 'ping': return { result: 'pong' };
      case 'echo': return { echo: req };
      case 'slow': await sleep(150); return { slow: 'done' };
      case 'fail': throw new NgError('Unknown call-id');
      case 'crash': throw new Error('something broke');
      case 'sync-crash': (() => { throw new Error('thrown synchronously'); })(); return {};
      default: throw new NgError('Unrecognized command');
    }
  };
}

class UdpClient {
  readonly sock: dgram.Socket;
  private readonly inbox: Buffer[] = [];
  private waiter: (() => void) | null = null;

  constructor(readonly host: string) {
    this.sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    this.sock.on('message', (m) => {
      this.inbox.push(m);
      this.waiter?.();
    });
  }

  bind(): Promise<void> {
    return new Promise((r) => this.sock.bind(0, this.host, () => r()));
  }

  send(port: number, data: Buffer): void {
    this.sock.send(data, port, this.host);
  }

  async recv(timeoutMs = 1000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
    return this.inbox.shift() ?? null;
  }

  async request(port: number, data: Buffer, timeoutMs = 1000): Promise<Buffer | null> {
    this.send(port, data);
    return this.recv(timeoutMs);
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

class TcpClient {
  private data = Buffer.alloc(0);
  ended = false;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.data = Buffer.concat([this.data, d]);
    });
    sock.on('close', () => {
      this.ended = true;
    });
    sock.on('error', () => undefined);
  }

  static connect(port: number, host: string): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }

  async write(chunk: Buffer): Promise<void> {
    await new Promise<void>((r) => this.sock.write(chunk, () => r()));
  }

  /** Waits until `n` bytes (or the end of the stream) arrived, then takes them. */
  async read(n: number, timeoutMs = 1000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.data.length < n && !this.ended && Date.now() < deadline) await sleep(5);
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(out.length);
    return out.toString('latin1');
  }

  async waitClosed(timeoutMs = 1000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await sleep(5);
    return this.ended;
  }

  close(): void {
    this.sock.destroy();
  }
}

async function ipv6Available(): Promise<boolean> {
  const s = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

describe('ng server', () => {
  let level: number;
  let servers: NgServer[] = [];
  let clients: Array<UdpClient | TcpClient> = [];
  let hasV6 = false;

  before(async () => {
    level = getLogLevel();
    setLogLevel(2);
    hasV6 = await ipv6Available();
  });
  after(() => setLogLevel(level));

  afterEach(async () => {
    for (const c of clients) {
      if (c instanceof UdpClient) await c.close();
      else c.close();
    }
    clients = [];
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  async function server(host: string, calls: Calls, extra: Partial<NgServerOptions> = {}): Promise<{ srv: NgServer; udp: number; tcp: number }> {
    const srv = new NgServer({ udp: { address: host, port: 0 }, tcp: { address: host, port: 0 }, handler: stub(calls), ...extra });
    servers.push(srv);
    await srv.start();
    const a = srv.addresses();
    return { srv, udp: a.udp[0].port, tcp: a.tcp[0].port };
  }

  async function udpClient(host: string): Promise<UdpClient> {
    const c = new UdpClient(host);
    clients.push(c);
    await c.bind();
    return c;
  }

  async function tcpClient(port: number, host: string): Promise<TcpClient> {
    const c = await TcpClient.connect(port, host);
    clients.push(c);
    return c;
  }

  const newCalls = (): Calls => ({ count: 0, requests: [] });

  for (const host of ['127.0.0.1', '::1']) {
    describe(`over UDP on ${host}`, () => {
      beforeEach(function () {
        if (host === '::1' && !hasV6) {
          console.log('      (skipped: this machine has no IPv6 loopback)');
          this.skip();
        }
      });

      it('answers ping with pong and echoes the cookie byte for byte', async () => {
        const { udp } = await server(host, newCalls());
        const c = await udpClient(host);
        const cookie = b('\x01\xff_k\x80\x00!');
        const reply = await c.request(udp, Buffer.concat([cookie, b(' d7:command4:pinge')]));
        assert.ok(reply);
        assert.strictEqual(reply.toString('latin1'), cookie.toString('latin1') + ' d6:result4:ponge');
      });

      it('appends result ok after the keys of the handler reply', async () => {
        const calls = newCalls();
        const { udp } = await server(host, calls);
        const c = await udpClient(host);
        const reply = await c.request(udp, b('k1 d7:command4:echo1:xi-5ee'));
        assert.strictEqual(reply?.toString('latin1'), 'k1 d4:echod7:command4:echo1:xi-5ee6:result2:oke');
        const ctx = calls.requests[0].ctx;
        assert.strictEqual(ctx.transport, 'udp');
        assert.strictEqual(ctx.json, false);
        assert.strictEqual(ctx.cookie, 'k1');
        assert.strictEqual(ctx.remote.address, host);
        assert.strictEqual(ctx.remote.family, host === '::1' ? 6 : 4);
        assert.strictEqual(ctx.remote.port, c.sock.address().port);
      });

      it('answers a retransmission from the cache without running the handler again', async () => {
        const calls = newCalls();
        const { udp, srv } = await server(host, calls);
        const c = await udpClient(host);
        const first = await c.request(udp, b('rtx1 d7:command4:echoe'));
        const again = await c.request(udp, b('rtx1 d7:command4:echoe'));
        assert.ok(first);
        assert.deepStrictEqual(again, first);
        assert.strictEqual(calls.count, 1);
        assert.strictEqual(srv.stats.duplicates, 1);
      });

      it('holds retransmissions that arrive while the first copy is processed, and answers all', async () => {
        const calls = newCalls();
        const { udp } = await server(host, calls);
        const c = await udpClient(host);
        for (let i = 0; i < 3; i++) c.send(udp, b('slow1 d7:command4:slowe'));
        const replies = [await c.recv(), await c.recv(), await c.recv()];
        for (const r of replies) assert.strictEqual(r?.toString('latin1'), 'slow1 d4:slow4:done6:result2:oke');
        assert.strictEqual(calls.count, 1);
      });

      it('runs the handler again once the cached reply has aged out', async () => {
        const calls = newCalls();
        const { udp } = await server(host, calls, { cacheTtlMs: 30 });
        const c = await udpClient(host);
        await c.request(udp, b('age1 d7:command4:pinge'));
        await sleep(80);
        await c.request(udp, b('age1 d7:command4:pinge'));
        assert.strictEqual(calls.count, 2);
      });

      it('answers JSON with JSON, passing strings to the handler as UTF-8 bytes', async () => {
        const calls = newCalls();
        const { udp } = await server(host, calls);
        const c = await udpClient(host);
        const pong = await c.request(udp, b('j1 {"command":"ping"}'));
        assert.strictEqual(pong?.toString('latin1'), 'j1 {"result":"pong"}');
        const req = Buffer.from('j2 {"command":"echo","label":"café ☃","n":7,"t":true,"l":["a",{"b":"c"}]}', 'utf8');
        const reply = await c.request(udp, req);
        assert.ok(reply);
        const text = reply.toString('utf8');
        assert.ok(text.startsWith('j2 {'));
        assert.deepStrictEqual(JSON.parse(text.slice(3)), {
          echo: { command: 'echo', label: 'café ☃', n: 7, t: 1, l: ['a', { b: 'c' }] }, result: 'ok',
        });
        const seen = calls.requests[1];
        assert.strictEqual(seen.ctx.json, true);
        assert.strictEqual(seen.req.label, Buffer.from('café ☃', 'utf8').toString('latin1'));
      });

      it("answers garbage with the reference's error reasons and keeps serving", async () => {
        const calls = newCalls();
        const { udp, srv } = await server(host, calls);
        const c = await udpClient(host);
        const cases: Array<[string, string]> = [
          ['g1 ', 'd6:result5:error12:error-reason25:Invalid data (no payload)e'],
          ['g2 garbage', 'd6:result5:error12:error-reason22:Invalid NG data formate'],
          ['g3 l4:pinge', 'd6:result5:error12:error-reason22:Invalid NG data formate'],
          ['g4  d7:command4:pinge', 'd6:result5:error12:error-reason22:Invalid NG data formate'],
          ['g5 d7:command4:ping3:abci03ee', 'd6:result5:error12:error-reason35:Could not decode bencode dictionarye'],
          ['g6 d7:command', 'd6:result5:error12:error-reason35:Could not decode bencode dictionarye'],
          ['g7 d4:call3:abce', 'd6:result5:error12:error-reason36:Dictionary contains no key "command"e'],
          ['g8 d7:commandi5ee', 'd6:result5:error12:error-reason36:Dictionary contains no key "command"e'],
          ['g9 {"command":"ping"', '{"result":"error","error-reason":"Failed to parse JSON document"}'],
          ['g10 {"command":5}', '{"result":"error","error-reason":"Dictionary contains no key \\"command\\""}'],
          ['g11 {"command":"ping","x":null}', '{"result":"error","error-reason":"Could not decode bencode dictionary"}'],
          ['g12 {"command":"ping","y":1.5}', '{"result":"error","error-reason":"Could not decode bencode dictionary"}'],
          ['g13 [1]', 'd6:result5:error12:error-reason22:Invalid NG data formate'],
        ];
        for (const [req, expected] of cases) {
          const reply = await c.request(udp, b(req));
          const cookie = req.slice(0, req.indexOf(' '));
          assert.strictEqual(reply?.toString('latin1'), `${cookie} ${expected}`, req);
        }
        // Invalid UTF-8 in JSON is a parse failure, as with the reference.
        const badUtf8 = await c.request(udp, Buffer.concat([b('g14 {"command":"'), Buffer.from([0xe9]), b('"}')]));
        assert.strictEqual(badUtf8?.toString('latin1'), 'g14 {"result":"error","error-reason":"Failed to parse JSON document"}');
        assert.strictEqual(calls.count, 0);
        assert.strictEqual(srv.stats.errors, cases.length + 1);
        assert.strictEqual((await c.request(udp, b('after d7:command4:pinge')))?.toString('latin1'), 'after d6:result4:ponge');
      });

      it('accepts trailing bytes after a complete bencoded dictionary, as the reference does', async () => {
        const { udp } = await server(host, newCalls());
        const c = await udpClient(host);
        const reply = await c.request(udp, b('t1 d7:command4:pinge trailing'));
        assert.strictEqual(reply?.toString('latin1'), 't1 d6:result4:ponge');
      });

      it('drops a datagram without a cookie and answers the next one', async () => {
        const { udp, srv } = await server(host, newCalls());
        const c = await udpClient(host);
        assert.strictEqual(await c.request(udp, b('d7:command4:pinge'), 150), null);
        assert.strictEqual(await c.request(udp, b(' d7:command4:pinge'), 150), null);
        assert.strictEqual(srv.stats.dropped, 2);
        assert.strictEqual((await c.request(udp, b('ok d7:command4:pinge')))?.toString('latin1'), 'ok d6:result4:ponge');
      });

      it('turns handler exceptions into error replies', async () => {
        const { udp } = await server(host, newCalls());
        const c = await udpClient(host);
        const reason = async (cmd: string): Promise<unknown> => {
          const r = await c.request(udp, Buffer.concat([b(`e-${cmd} `), encode({ command: cmd })]));
          assert.ok(r);
          return decode(r.subarray(r.indexOf(0x20) + 1));
        };
        assert.deepStrictEqual(await reason('fail'), { result: 'error', 'error-reason': 'Unknown call-id' });
        assert.deepStrictEqual(await reason('crash'), { result: 'error', 'error-reason': 'something broke' });
        assert.deepStrictEqual(await reason('sync-crash'), { result: 'error', 'error-reason': 'thrown synchronously' });
        assert.deepStrictEqual(await reason('bogus'), { result: 'error', 'error-reason': 'Unrecognized command' });
      });
    });

    describe(`over TCP on ${host}`, () => {
      beforeEach(function () {
        if (host === '::1' && !hasV6) {
          console.log('      (skipped: this machine has no IPv6 loopback)');
          this.skip();
        }
      });

      it('answers a message split into single bytes', async () => {
        const calls = newCalls();
        const { tcp } = await server(host, calls);
        const c = await tcpClient(tcp, host);
        for (const byte of b('s1 d7:command4:echo3:sdp8:v=0\r\no=-e')) await c.write(Buffer.from([byte]));
        const expected = 's1 d4:echod7:command4:echo3:sdp8:v=0\r\no=-e6:result2:oke';
        assert.strictEqual(await c.read(expected.length), expected);
        assert.strictEqual(calls.requests[0].ctx.transport, 'tcp');
        assert.strictEqual(calls.requests[0].ctx.remote.address, host);
      });

      it('answers every message of a coalesced write, in order of completion', async () => {
        const calls = newCalls();
        const { tcp } = await server(host, calls);
        const c = await tcpClient(tcp, host);
        await c.write(b('c1 d7:command4:pingec2 {"command":"ping"}\r\nc3 d7:command4:pinge'));
        const expected = 'c1 d6:result4:pongec2 {"result":"pong"}c3 d6:result4:ponge';
        assert.strictEqual(await c.read(expected.length), expected);
        assert.strictEqual(calls.count, 3);
      });

      it('reassembles a large message arriving in pieces', async () => {
        const { tcp } = await server(host, newCalls());
        const c = await tcpClient(tcp, host);
        const sdp = 'a=x\r\n'.repeat(20000);
        const msg = Buffer.concat([b('big '), encode({ command: 'echo', sdp })]);
        for (let i = 0; i < msg.length; i += 7777) await c.write(msg.subarray(i, i + 7777));
        const expected = 'big ' + encode({ echo: { command: 'echo', sdp }, result: 'ok' }).toString('latin1');
        assert.strictEqual(await c.read(expected.length, 3000), expected);
      });

      it('answers a retransmission on a new connection from the cache', async () => {
        const calls = newCalls();
        const { tcp } = await server(host, calls);
        const c1 = await tcpClient(tcp, host);
        await c1.write(b('r1 d7:command4:echoe'));
        const first = await c1.read(31);
        const c2 = await tcpClient(tcp, host);
        await c2.write(b('r1 d7:command4:echoe'));
        assert.strictEqual(await c2.read(31), first);
        assert.strictEqual(calls.count, 1);
      });

      it('answers garbage with an error, closes that connection only, and keeps serving', async () => {
        const { tcp } = await server(host, newCalls());
        const good = await tcpClient(tcp, host);
        const bad = await tcpClient(tcp, host);
        await bad.write(b('x1 garbage'));
        const expected = 'x1 d6:result5:error12:error-reason22:Invalid NG data formate';
        assert.strictEqual(await bad.read(expected.length), expected);
        assert.ok(await bad.waitClosed());
        const bad2 = await tcpClient(tcp, host);
        await bad2.write(b('x2 d3:abcxe'));
        const expected2 = 'x2 d6:result5:error12:error-reason35:Could not decode bencode dictionarye';
        assert.strictEqual(await bad2.read(expected2.length), expected2);
        assert.ok(await bad2.waitClosed());
        await good.write(b('g1 d7:command4:pinge'));
        assert.strictEqual(await good.read(19), 'g1 d6:result4:ponge');
      });

      it('closes a connection that buffers more than the cap without completing a message', async () => {
        const { tcp, srv } = await server(host, newCalls(), { maxTcpBuffer: 1000 });
        const c = await tcpClient(tcp, host);
        await c.write(b('cap d3:sdp100000:' + 'x'.repeat(2000)));
        assert.ok(await c.waitClosed());
        assert.strictEqual(srv.stats.dropped, 1);
      });

      it('pushes notifications to every connected client with a random cookie', async () => {
        const { tcp, srv } = await server(host, newCalls());
        const c1 = await tcpClient(tcp, host);
        const c2 = await tcpClient(tcp, host);
        // A round trip on each makes sure the server has registered both connections.
        for (const c of [c1, c2]) {
          await c.write(b('n d7:command4:pinge'));
          await c.read(18);
        }
        assert.strictEqual(srv.tcpConnections, 2);
        const event = { callid: 'c1', event: 5, duration: 100 };
        assert.strictEqual(srv.notify(event), 2);
        const body = encode(event).toString('latin1');
        for (const c of [c1, c2]) {
          const msg = await c.read(17 + body.length);
          assert.match(msg, /^[0-9a-f]{16} /);
          assert.strictEqual(msg.slice(17), body);
        }
      });
    });
  }

  describe('listening', () => {
    it('keys the retransmission cache by the sender address as well as the cookie', async function () {
      if (!hasV6) {
        console.log('      (skipped: this machine has no IPv6 loopback)');
        this.skip();
      }
      const calls = newCalls();
      const { udp } = await server('', calls);
      const v4 = await udpClient('127.0.0.1');
      const v6 = await udpClient('::1');
      assert.strictEqual((await v4.request(udp, b('same d7:command4:pinge')))?.toString('latin1'), 'same d6:result4:ponge');
      assert.strictEqual((await v6.request(udp, b('same d7:command4:pinge')))?.toString('latin1'), 'same d6:result4:ponge');
      assert.strictEqual(calls.count, 2);
      // The dual-stack listener reports the IPv4 peer as plain IPv4.
      assert.deepStrictEqual(calls.requests.map((r) => r.ctx.remote.family).sort(), [4, 6]);
      assert.strictEqual(calls.requests.find((r) => r.ctx.remote.family === 4)?.ctx.remote.address, '127.0.0.1');
    });

    it('listens on several addresses at once', async () => {
      const calls = newCalls();
      const srv = new NgServer({
        udp: [{ address: '127.0.0.1', port: 0 }, { address: '127.0.0.1', port: 0 }], tcp: [], handler: stub(calls),
      });
      servers.push(srv);
      await srv.start();
      const ports = srv.addresses().udp.map((a) => a.port);
      assert.strictEqual(ports.length, 2);
      const c = await udpClient('127.0.0.1');
      for (const [i, p] of ports.entries()) {
        assert.strictEqual((await c.request(p, b(`m${i} d7:command4:pinge`)))?.toString('latin1'), `m${i} d6:result4:ponge`);
      }
    });

    it('fails to start on a busy port and leaves nothing open', async () => {
      const { udp } = await server('127.0.0.1', newCalls());
      const srv = new NgServer({
        tcp: { address: '127.0.0.1', port: 0 }, udp: { address: '127.0.0.1', port: udp }, handler: stub(newCalls()),
      });
      await assert.rejects(srv.start(), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
      assert.deepStrictEqual(srv.addresses(), { udp: [], tcp: [] });
    });

    it('frees its ports on close, and close can be called twice', async () => {
      const { srv, udp, tcp } = await server('127.0.0.1', newCalls());
      await srv.close();
      await srv.close();
      const again = new NgServer({ udp: { address: '127.0.0.1', port: udp }, tcp: { address: '127.0.0.1', port: tcp }, handler: stub(newCalls()) });
      servers.push(again);
      await again.start();
      assert.deepStrictEqual(again.addresses().udp.map((a) => a.port), [udp]);
    });
  });
});
