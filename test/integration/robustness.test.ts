// Robustness: with a live call relaying RTP both ways, the ng port is fed a few
// thousand malformed, oversized, mistyped and fuzzed requests (seeded, so that a
// failure can be replayed with RTPE_FUZZ_SEED). Afterwards the daemon must still
// answer, the live call must still relay and look the same apart from its
// counters, and every request that carried a cookie must have had a reply.
// Runs against ours by default (RTPE_TEST_DAEMON=reference for the reference).

import { strict as assert } from 'assert';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { attachDaemonLogs, DaemonHandle, REPO_ROOT, startDaemon } from '../helpers/daemon';
import { bdecode, bencode, BDict, NgClient, NgTimeoutError, Transport } from '../helpers/ng-client';
import { sleep } from '../helpers/process';
import { Endpoint, Received, RtpPeer } from '../helpers/rtp';
import { buildSdp, mediaEndpoint } from '../helpers/sdp';

// ---------------------------------------------------------------- seeded randomness

class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** mulberry32: a float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ---------------------------------------------------------------- request generators

/** One thing to throw at the ng port. */
interface Shot {
  kind: string;
  /** The whole message; for `request` shots built from `dict`. */
  raw: Buffer;
  cookie: string;
  /** A reply carrying `cookie` is required. */
  expectReply: boolean;
  transport: Transport;
  /** The `result` the reply must carry, when it is known. */
  expectResult?: string;
}

const FIXTURES = join(REPO_ROOT, 'fixtures', 'sdp');
const fixtures: string[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.sdp'))
  .sort()
  .map((f) => readFileSync(join(FIXTURES, f), 'latin1'));

const HUGE_NUMBERS = ['99999999999999999999', '-1', '65536', '4294967296', '0', '1e400', '000000000000000000012', '-0', '18446744073709551616'];

/** A seeded mutation of a fixture SDP. */
function fuzzSdp(rng: Rng): Buffer {
  const base = rng.pick(fixtures);
  switch (rng.int(7)) {
    case 0: // truncated anywhere
      return Buffer.from(base.slice(0, rng.int(base.length)), 'latin1');
    case 1: { // bytes flipped
      const b = Buffer.from(base, 'latin1');
      const n = rng.range(1, 12);
      for (let i = 0; i < n; i++) b[rng.int(b.length)] = rng.int(256);
      return b;
    }
    case 2: // numbers replaced by huge, negative or odd ones
      return Buffer.from(base.replace(/\d+/g, (m) => (rng.chance(0.3) ? rng.pick(HUGE_NUMBERS) : m)), 'latin1');
    case 3: { // thousands of m= lines (each with its first two lines, to stay well under 1 MB)
      const at = base.indexOf('\nm=');
      const head = at >= 0 ? base.slice(0, at + 1) : base;
      const lines = at >= 0 ? base.slice(at + 1).split(/\r?\n/).slice(0, 3) : ['m=audio 4000 RTP/AVP 0'];
      return Buffer.from(head + `${lines.join('\r\n')}\r\n`.repeat(rng.range(300, 3000)), 'latin1');
    }
    case 4: { // lines dropped, duplicated or reordered
      const lines = base.split(/\r?\n/);
      for (let i = rng.range(1, 6); i > 0; i--) {
        const k = rng.int(lines.length);
        const op = rng.int(3);
        if (op === 0) lines.splice(k, 1);
        else if (op === 1) lines.splice(k, 0, lines[rng.int(lines.length)] ?? '');
        else [lines[k], lines[0]] = [lines[0], lines[k]];
      }
      return Buffer.from(lines.join(rng.pick(['\r\n', '\n', '\r'])), 'latin1');
    }
    case 5: { // junk lines inserted
      const lines = base.split('\r\n');
      for (let i = rng.range(1, 5); i > 0; i--) {
        const junk = rng.pick(['a=', 'm=', 'c=IN IP4', 'c=IN IP6 ::ffff:1.2.3.4', 'a=rtcp:', 'm=audio', 'x', '=', 'a=rtpmap:', 'a=candidate:1 1 UDP']) +
          rng.bytes(rng.int(20)).toString('latin1');
        lines.splice(rng.int(lines.length + 1), 0, junk);
      }
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    default: // NULs and high bytes sprinkled over a valid body
      return Buffer.from(base.replace(/ /g, (s) => (rng.chance(0.05) ? rng.pick(['\0', '\xff', '\t', '  ']) : s)), 'latin1');
  }
}

/** A value of some type a key does not expect. */
function wrongValue(rng: Rng): unknown {
  switch (rng.int(9)) {
    case 0: return rng.range(-1e9, 1e9);
    case 1: return -1;
    case 2: return [];
    case 3: return [rng.int(100), 'x', [], {}];
    case 4: return {};
    case 5: return { a: 1, b: ['c'] };
    case 6: return '';
    case 7: return rng.bytes(rng.int(40));
    default: return 'x'.repeat(rng.range(100, 3000));
  }
}

const COMMANDS = ['offer', 'answer', 'delete', 'query', 'list', 'ping', 'statistics'];
const KEYS = [
  'command', 'call-id', 'from-tag', 'to-tag', 'sdp', 'flags', 'replace', 'direction', 'rtcp-mux', 'ICE',
  'transport protocol', 'transport-protocol', 'address family', 'delete delay', 'limit', 'via-branch', 'label',
  'media address', 'received from', 'TOS', 'codec', 'ptime', 'record call', 'metadata', 'interface',
  'from-tags', 'all', 'SDES', 'DTLS', 'endpoint-learning', 'T.38', 'supports', 'set-label',
];

interface FuzzContext {
  rng: Rng;
  seq: number;
  /** The live call, which only ever receives requests that must fail. */
  liveCallId: string;
}

function cookieOf(ctx: FuzzContext): string {
  ctx.seq++;
  return `fz${ctx.seq}`;
}

function requestShot(ctx: FuzzContext, kind: string, dict: Record<string, unknown>, transport: Transport = 'udp'): Shot {
  const cookie = cookieOf(ctx);
  const raw = Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]);
  // Big datagrams go over TCP, where the socket buffers cannot drop them.
  return { kind, raw, cookie, expectReply: true, transport: raw.length > 8000 ? 'tcp' : transport };
}

function plausibleRequest(ctx: FuzzContext): Record<string, unknown> {
  const { rng } = ctx;
  const command = rng.pick(COMMANDS);
  const d: Record<string, unknown> = { command, 'call-id': `fz-call-${rng.int(400)}`, 'from-tag': rng.pick(['a', 'b', 'c']) };
  if (command === 'answer' || rng.chance(0.2)) d['to-tag'] = rng.pick(['a', 'b', 'x']);
  if (command === 'offer' || command === 'answer') d.sdp = buildSdp({ media: [{ port: rng.range(1024, 65000), formats: [0, 8] }] });
  return d;
}

/** The next shot of the barrage. */
function nextShot(ctx: FuzzContext): Shot {
  const { rng } = ctx;
  const r = rng.int(100);
  if (r < 10) {
    // Random garbage datagrams: they may or may not look like "<cookie> <body>".
    const raw = rng.bytes(rng.int(300));
    return { kind: 'garbage', raw, cookie: '', expectReply: false, transport: 'udp' };
  }
  if (r < 16) {
    // A cookie followed by garbage.
    const cookie = cookieOf(ctx);
    const raw = Buffer.concat([Buffer.from(`${cookie} `), rng.bytes(rng.range(1, 300))]);
    return { kind: 'cookie+garbage', raw, cookie, expectReply: true, transport: 'udp' };
  }
  if (r < 30) {
    // A valid request cut short.
    const cookie = cookieOf(ctx);
    const body = bencode(plausibleRequest(ctx));
    const raw = Buffer.concat([Buffer.from(`${cookie} `), body.subarray(0, rng.range(1, body.length - 1))]);
    return { kind: 'truncated', raw, cookie, expectReply: true, transport: 'udp' };
  }
  if (r < 34) {
    // Huge but well-formed bencode.
    const dict = plausibleRequest(ctx);
    switch (rng.int(4)) {
      case 0: dict.junk = 'j'.repeat(rng.range(20000, 200000)); break;
      case 1: dict.junk = Array.from({ length: rng.range(2000, 20000) }, (_, i) => i); break;
      case 2: dict.flags = Array.from({ length: rng.range(1000, 8000) }, (_, i) => `flag-${i}`); break;
      default: {
        let v: unknown = 'deep';
        for (let i = rng.range(50, 1500); i > 0; i--) v = [v];
        dict.junk = v;
      }
    }
    return requestShot(ctx, 'huge', dict);
  }
  if (r < 54) {
    // Keys of the wrong type.
    const dict = plausibleRequest(ctx);
    for (let i = rng.range(1, 4); i > 0; i--) dict[rng.pick(KEYS)] = wrongValue(rng);
    return requestShot(ctx, 'wrong-types', dict);
  }
  if (r < 84) {
    // Offers (sometimes answers) of fuzzed SDP, each its own call.
    const dict: Record<string, unknown> = {
      command: rng.chance(0.8) ? 'offer' : 'answer',
      'call-id': `fz-sdp-${ctx.seq}`,
      'from-tag': 'fz-a',
      'to-tag': 'fz-b',
      sdp: fuzzSdp(rng),
    };
    if (rng.chance(0.3)) dict.flags = rng.pick([['trust address'], ['asymmetric', 'strict source'], ['loop protect'], ['SIP source address']]);
    if (rng.chance(0.2)) dict.ICE = rng.pick(['force', 'remove', 'force-relay']);
    if (rng.chance(0.2)) dict['rtcp-mux'] = [rng.pick(['offer', 'demux', 'require', 'reject'])];
    return requestShot(ctx, 'fuzzed-sdp', dict);
  }
  if (r < 94) {
    // Answers, deletes and queries for calls that do not exist.
    const command = rng.pick(['answer', 'delete', 'query', 'delete']);
    const dict: Record<string, unknown> = { command, 'call-id': `fz-unknown-${ctx.seq}`, 'from-tag': 'x', 'to-tag': 'y' };
    if (command === 'answer') dict.sdp = buildSdp({ media: [{ port: 4000 }] });
    if (rng.chance(0.3)) dict.flags = ['fatal'];
    return requestShot(ctx, 'unknown-call', dict);
  }
  // Requests aimed at the live call that must fail and change nothing (the
  // reference refuses each of them too).
  const live = ctx.liveCallId;
  const sdp = (body: string): string => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\n${body}`;
  const [dict, result] = rng.pick<[Record<string, unknown>, string]>([
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: 'this is not SDP' }, 'error'],
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: rng.range(1, 1e6) }, 'error'],
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: ['v=0'] }, 'error'],
    [{ command: 'offer', 'call-id': live, sdp: buildSdp({ media: [{ port: 4000 }] }) }, 'error'],
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: sdp('t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n') }, 'error'],
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: sdp('c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio xyz RTP/AVP 0\r\n') }, 'error'],
    [{ command: 'offer', 'call-id': live, 'from-tag': 'caller', sdp: sdp('c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 99999999999 RTP/AVP 0\r\n') }, 'error'],
    [{ command: 'answer', 'call-id': live, 'from-tag': 'caller', sdp: 'this is not SDP' }, 'error'],
    [{ command: 'answer', 'call-id': live, 'from-tag': 'caller', 'to-tag': 'callee', sdp: 'this is not SDP' }, 'error'],
    [{ command: 'answer', 'call-id': live, 'from-tag': 'caller', 'to-tag': 'callee', sdp: rng.range(1, 1e6) }, 'error'],
    [{ command: 'delete', 'call-id': live, 'from-tag': 'nobody', 'to-tag': 'nobody-either' }, 'ok'],
    [{ command: 'query', 'call-id': live, flags: wrongValue(rng) }, 'ok'],
    [{ command: 'list', limit: rng.range(0, 1000) }, 'ok'],
  ]);
  return { ...requestShot(ctx, 'live-call', dict), expectResult: result };
}

// ---------------------------------------------------------------- the test

/** The live call's query without what traffic changes: counters, packet times, confirmation. */
function withoutCounters(q: BDict): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip).filter((x) => x !== 'confirmed');
    if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'stats' || k === 'last packet' || k === 'totals' || k === 'SSRC' || k === 'endpoint') continue;
        out[k] = strip(x);
      }
      return out;
    }
    return v;
  };
  return strip(q);
}

function parseReply(body: Buffer): BDict | null {
  try {
    const v = body[0] === 0x7b ? JSON.parse(body.toString('utf8')) : bdecode(body);
    return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as BDict) : null;
  } catch {
    return null;
  }
}

describe('robustness: a live call survives a barrage of bad ng requests', function () {
  this.timeout(90000);
  let d: DaemonHandle | undefined;
  let ng: NgClient | undefined;
  const peers: RtpPeer[] = [];
  attachDaemonLogs(() => d, 40);

  after(async () => {
    ng?.close();
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await d?.stop();
    d = undefined;
  });

  it('every request gets a reply, the daemon keeps answering, and the live call keeps relaying unchanged', async () => {
    const seed = Number(process.env.RTPE_FUZZ_SEED ?? 20260611);
    const total = Number(process.env.RTPE_FUZZ_COUNT ?? 3000);
    d = await startDaemon({ args: ['--delete-delay=0'] });
    ng = new NgClient({ host: d.ngHost, port: d.ngPort, defaultTimeoutMs: 5000 });

    // The live call, relaying both ways for the whole test.
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    peers.push(a, b);
    const liveCallId = `robust-live-${process.pid}`;
    const o = await ng.request({ command: 'offer', 'call-id': liveCallId, 'from-tag': 'caller', sdp: buildSdp({ media: [{ port: a.port, formats: [8] }] }) });
    const an = await ng.request({
      command: 'answer', 'call-id': liveCallId, 'from-tag': 'caller', 'to-tag': 'callee',
      sdp: buildSdp({ media: [{ port: b.port, formats: [8] }] }),
    });
    assert.equal(o.result, 'ok');
    assert.equal(an.result, 'ok');
    const toA: Endpoint = mediaEndpoint(String(an.sdp));
    const toB: Endpoint = mediaEndpoint(String(o.sdp));
    const sa = a.startStream(toA, { ssrc: 0x5eed0001 });
    const sb = b.startStream(toB, { ssrc: 0x5eed0002 });
    const fromA = (r: Received): boolean => r.rtp?.ssrc === 0x5eed0001;
    const fromB = (r: Received): boolean => r.rtp?.ssrc === 0x5eed0002;
    await b.waitFor(5, 3000, fromA);
    await a.waitFor(5, 3000, fromB);
    const before = await ng.request({ command: 'query', 'call-id': liveCallId });
    assert.equal(before.result, 'ok');

    // The barrage: a pool of concurrent senders over one client.
    const ctx: FuzzContext = { rng: new Rng(seed), seq: 0, liveCallId };
    const missing: string[] = [];
    const badReplies: string[] = [];
    const internalErrors: string[] = [];
    const failed: string[] = [];
    const kinds = new Map<string, number>();
    let sent = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (sent < total) {
        sent++;
        if (sent % 250 === 0) {
          assert.ok(await ng!.ping({ timeoutMs: 5000 }), `no pong after ${sent} requests`);
        }
        const shot = nextShot(ctx);
        kinds.set(shot.kind, (kinds.get(shot.kind) ?? 0) + 1);
        if (!shot.expectReply) {
          await ng!.fire(shot.raw, shot.transport);
          continue;
        }
        try {
          const reply = await ng!.sendRaw(shot.raw, { transport: shot.transport, expectCookie: shot.cookie, timeoutMs: 5000 });
          const dict = reply ? parseReply(reply.body) : null;
          const what = `${shot.kind} ${shot.raw.subarray(0, 120).toString('latin1')}`;
          if (!dict || typeof dict.result !== 'string') badReplies.push(`${what} => ${reply?.body.subarray(0, 200).toString('latin1')}`);
          else if (dict['error-reason'] === 'Internal error') internalErrors.push(what);
          else if (shot.expectResult && dict.result !== shot.expectResult) {
            badReplies.push(`${what} => ${reply?.body.subarray(0, 200).toString('latin1')} (expected result ${shot.expectResult})`);
          }
        } catch (e) {
          if (e instanceof NgTimeoutError) missing.push(`${shot.kind} (cookie ${shot.cookie}, ${shot.raw.length} bytes): ${shot.raw.subarray(0, 120).toString('latin1')}`);
          else failed.push(`${shot.kind} over ${shot.transport} (cookie ${shot.cookie}, ${shot.raw.length} bytes): ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Number(process.env.RTPE_FUZZ_WORKERS ?? 8) }, worker));
    const elapsed = Date.now() - started;

    const summary = `seed ${seed}, ${total} requests in ${elapsed} ms: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`;
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} requests got no reply (${summary})`);
    assert.deepEqual(failed.slice(0, 10), [], `${failed.length} requests failed (${summary})`);
    assert.deepEqual(badReplies.slice(0, 10), [], `${badReplies.length} replies were not ng dictionaries (${summary})`);
    assert.deepEqual(internalErrors.slice(0, 10), [], `${internalErrors.length} requests hit an internal error (${summary})`);

    // The daemon is alive and answers.
    assert.ok(d.running(), 'the daemon exited');
    assert.ok(await ng.ping(), 'no pong after the barrage');

    // The live call still relays both ways.
    a.clear();
    b.clear();
    await b.waitFor(10, 3000, fromA);
    await a.waitFor(10, 3000, fromB);
    assert.ok(b.packets().every((r) => r.from.port === toB.port), 'B got media from an unexpected port');
    assert.ok(a.packets().every((r) => r.from.port === toA.port), 'A got media from an unexpected port');

    // And looks as before, apart from its counters, which kept counting.
    const after = await ng.request({ command: 'query', 'call-id': liveCallId });
    assert.equal(after.result, 'ok');
    assert.deepEqual(withoutCounters(after), withoutCounters(before), 'the live call changed');
    const packets = (q: BDict): number => Number(((q.totals as BDict).RTP as BDict).packets);
    assert.ok(packets(after) > packets(before), 'the live call stopped counting');
    sa.stop();
    sb.stop();

    // Ending every call the barrage created frees all their ports: nothing leaked.
    const calls = ((await ng.request({ command: 'list', limit: 100000 })).calls as string[]).map(String);
    for (const id of calls) {
      if (id === liveCallId) continue;
      const del = await ng.request({ command: 'delete', 'call-id': id });
      assert.equal(del.result, 'ok', `delete ${id}: ${JSON.stringify(del).slice(0, 200)}`);
    }
    await sleep(100);
    const st = (await ng.request({ command: 'statistics' })).statistics as BDict;
    const ports = ((st.interfaces as BDict[])[0].ports as BDict).used;
    assert.equal(Number(ports), 4, 'ports are still held after deleting every call but the live one');
    assert.deepEqual(((await ng.request({ command: 'list', limit: 100000 })).calls as string[]).map(String), [liveCallId]);
  });
});
