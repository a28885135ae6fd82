// play media with `db-id`: the media file is the first column of the first row
// that --mysql-query returns for the id. The tests run their own MariaDB server
// (a child process on a free port of 127.0.0.1 with a temporary data
// directory), store WAV files in a table, and play them into a live call
// between two UDP peers through a real daemon; the caller decodes what arrives.
// Also: the reference's error replies (no such row, an empty or undecodable
// value, the database unreachable, no configuration), caching by id with
// --player-cache, a reconnection after the server restarted, the control
// thread answering while a slow query runs, and --media-num-threads=0.

import { strict as assert } from 'assert';
import * as os from 'os';
import { DaemonHandle, skipUnlessReference, startDaemon } from '../helpers/daemon';
import { closeLiveCalls, startLiveCall, type LiveCall } from '../helpers/live-call';
import { assertTone, decode, rebuild, sleep, spec } from '../helpers/codec-audio';
import { wavTone } from '../helpers/audio';
import { MariaDb, mariadbMissing } from '../helpers/mariadb';
import { freeUdpTcpPort } from '../helpers/ports';
import type { RtpPacket } from '../helpers/rtp';

const QUERY = 'select data from voip.files where id = %llu';
const PCMA: Array<[number, string]> = [[8, 'PCMA/8000']];
const err = (reason: string): Record<string, string> => ({ result: 'error', 'error-reason': reason });
const FROM_DB = 'Failed to start media playback from database';

const hex = (b: Buffer): string => `X'${b.toString('hex')}'`;

/** The --mysql-* options of a daemon that reads the test server as user 'rtpe'. */
function mysqlArgs(db: MariaDb, o: { port?: number; query?: string } = {}): string[] {
  return [`--mysql-host=127.0.0.1`, `--mysql-port=${o.port ?? db.port}`, '--mysql-user=rtpe', '--mysql-pass=s3cret', `--mysql-query=${o.query ?? QUERY}`];
}

/** The caller's RTP packets carrying audio (the callee sends nothing). */
function rtpAt(c: LiveCall): RtpPacket[] {
  return c.caller.received.flatMap((r) => (r.rtp ? [r.rtp] : []));
}

describe('play media from a database (db-id, --mysql-*)', function () {
  this.timeout(120000);
  let db: MariaDb;
  let d: DaemonHandle;
  const calls: LiveCall[] = [];

  before(async function () {
    const missing = mariadbMissing();
    if (missing) {
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    db = await MariaDb.start();
    await db.sql([
      'CREATE DATABASE voip;',
      'CREATE TABLE voip.files (id BIGINT UNSIGNED PRIMARY KEY, data LONGBLOB);',
      `INSERT INTO voip.files VALUES (1, ${hex(wavTone(8000, 1000, 1000))}), (2, ''), (3, NULL), (4, ${hex(Buffer.from('not audio at all'))}),`,
      `  (5, ${hex(wavTone(16000, 500, 600))});`,
      "CREATE USER 'rtpe'@'127.0.0.1' IDENTIFIED BY 's3cret';",
      "GRANT SELECT ON voip.* TO 'rtpe'@'127.0.0.1';",
    ].join('\n'));
    // One preparation thread: every query goes over the same connection.
    d = await startDaemon({ args: [...mysqlArgs(db), '--player-cache', '--media-num-threads=1'] });
  });

  afterEach(() => closeLiveCalls(calls));

  after(async () => {
    await d?.stop();
    await db?.stop();
  });

  async function call(dd: DaemonHandle = d): Promise<LiveCall> {
    const c = await startLiveCall(dd, { name: 'play-db', codecs: PCMA });
    calls.push(c);
    return c;
  }

  /** Plays db-id `id` to the caller and checks the tone it hears (`ms` long at `freq`). */
  async function playsTone(c: LiveCall, id: number, freq: number, ms: number): Promise<void> {
    const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': id });
    assert.deepEqual(r, { duration: ms, result: 'ok' });
    await sleep(ms + 400);
    const got = rtpAt(c);
    assert.ok(Math.abs(got.length - ms / 20) <= 1, `${got.length} packets for ${ms} ms`);
    assert.ok(got.every((p) => p.pt === 8), 'PCMA, the codec the caller negotiated');
    assert.equal(got[0].marker, true, 'the marker bit on the first packet');
    for (let i = 1; i < got.length; i++) assert.equal((got[i].ts - got[i - 1].ts) >>> 0, 160, `timestamp step at packet ${i}`);
    assertTone(decode(spec('PCMA', 8), got.map(rebuild)), 8000, { freq, from: 0.05, seconds: ms / 1000 - 0.1, tolDb: 1.5 });
  }

  it('plays the WAV file stored under the db-id to the caller, in the codec it negotiated', async () => {
    await playsTone(await call(), 1, 1000, 1000);
  });

  it('takes the db-id as a string of digits too, and resamples a 16 kHz file', async () => {
    const c = await call();
    const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': '5', 'start-pos': 100 });
    assert.deepEqual(r, { duration: 600, result: 'ok' });
    await sleep(900);
    const got = rtpAt(c);
    assert.ok(Math.abs(got.length - 25) <= 1, `${got.length} packets for 500 ms`);
    assertTone(decode(spec('PCMA', 8), got.map(rebuild)), 8000, { freq: 500, from: 0.05, seconds: 0.4, tolDb: 1.5 });
  });

  it('answers as the reference: no row, an empty, NULL or undecodable value; db-id 0 or not a number', async () => {
    const c = await call();
    const play = (id: unknown) => d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': id });
    for (const id of [99, 2, 3, 4]) assert.deepEqual(await play(id), err(FROM_DB), `db-id ${id}`);
    for (const id of [0, -1, 'abc']) assert.deepEqual(await play(id), err('No media file specified'), `db-id ${String(id)}`);
    // A file or a blob in the same request wins over db-id, as in the reference.
    assert.deepEqual(await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': 1, file: '/nonexistent.wav' }),
      err('Failed to start media playback from file'));
    await sleep(300);
    assert.equal(rtpAt(c).length, 0, 'nothing was played');
    assert.equal(d.running(), true);
  });

  it('with --player-cache, plays what it encoded for the id before, even after the row changed', async () => {
    // Row 1 was played (and cached) by the first test; now it holds a 500 Hz tone.
    await db.sql(`UPDATE voip.files SET data = ${hex(wavTone(8000, 500, 400))} WHERE id = 1;`);
    await playsTone(await call(), 1, 1000, 1000);
  });

  it('reconnects when the database server was restarted since the last query', async () => {
    // A query that is not cached (no such row) opens the connection of the one preparation thread.
    const c0 = await call();
    assert.deepEqual(await d.ng.request({ command: 'play media', 'call-id': c0.callId, 'from-tag': 'caller-tag', 'db-id': 99 }), err(FROM_DB));
    await db.stopServer();
    await db.startServer();
    await db.sql(`INSERT INTO voip.files VALUES (6, ${hex(wavTone(8000, 1000, 400))});`);
    await playsTone(await call(), 6, 1000, 400);
  });

  it('replies to the same db-id requests as rtpengine 10.5 (differential)', async function () {
    skipUnlessReference(this);
    const ref = await startDaemon({ bin: 'reference', args: [...mysqlArgs(db), '--delete-delay=0'] });
    try {
      const ids: unknown[] = [6, 99, 2, 3, 4, 0, 'abc'];
      const replies = async (dd: DaemonHandle): Promise<unknown[]> => {
        const c = await call(dd);
        const out: unknown[] = [];
        for (const id of ids) out.push(await dd.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': id }));
        return out;
      };
      const [ours, theirs] = [await replies(d), await replies(ref)];
      ids.forEach((id, i) => assert.deepEqual(ours[i], theirs[i], `db-id ${String(id)}: ours ${JSON.stringify(ours[i])}, reference ${JSON.stringify(theirs[i])}`));
    } finally {
      await closeLiveCalls(calls);
      await ref.stop();
    }
  });

  it('keeps answering other requests while a slow query runs', async () => {
    const slow = await startDaemon({ args: mysqlArgs(db, { query: 'select data from voip.files where id = %llu and sleep(1) = 0' }) });
    try {
      const c = await call(slow);
      const started = Date.now();
      const playing = slow.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': 6 });
      await sleep(100);
      const pinged = Date.now();
      assert.deepEqual(await slow.ng.request({ command: 'ping' }), { result: 'pong' });
      assert.ok(Date.now() - pinged < 300, `ping answered after ${Date.now() - pinged} ms`);
      assert.deepEqual(await playing, { duration: 400, result: 'ok' });
      assert.ok(Date.now() - started >= 1000, 'the reply waited for the query');
    } finally {
      await closeLiveCalls(calls);
      await slow.stop();
    }
  });

  it('with only --mysql-host=localhost and --mysql-query, connects over the Unix socket as the login user (the library\'s defaults)', async () => {
    // The client library reads the default socket path from MYSQL_UNIX_PORT; the login name is the default user.
    const login = os.userInfo().username;
    await db.sql(`CREATE USER IF NOT EXISTS '${login}'@'localhost'; GRANT SELECT ON voip.* TO '${login}'@'localhost';`);
    const local = await startDaemon({ args: ['--mysql-host=localhost', `--mysql-query=${QUERY}`], env: { ...process.env, MYSQL_UNIX_PORT: db.socket } });
    try {
      const c = await call(local);
      assert.deepEqual(await local.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': 6 }), { duration: 400, result: 'ok' });
    } finally {
      await closeLiveCalls(calls);
      await local.stop();
    }
  });

  it('answers "Failed to start media playback from database" when the server is unreachable or not configured', async () => {
    const closedPort = await freeUdpTcpPort();
    const unreachable = await startDaemon({ args: mysqlArgs(db, { port: closedPort }) });
    const unconfigured = await startDaemon({ args: [] });
    try {
      for (const dd of [unreachable, unconfigured]) {
        const c = await call(dd);
        assert.deepEqual(await dd.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', 'db-id': 1 }), err(FROM_DB));
        assert.equal(dd.running(), true);
      }
      assert.ok(unreachable.logLines().some((l) => l.includes("Can't connect")), 'the log names the connection failure');
    } finally {
      await closeLiveCalls(calls);
      await unreachable.stop();
      await unconfigured.stop();
    }
  });
});

describe('--media-num-threads=0', function () {
  this.timeout(30000);

  it('turns media playback off: play media fails with the source\'s error, play DTMF still works', async () => {
    const d = await startDaemon({ args: ['--media-num-threads=0'] });
    const calls: LiveCall[] = [];
    try {
      const c = await startLiveCall(d, { name: 'no-media-threads', codecs: [[8, 'PCMA/8000'], [101, 'telephone-event/8000']] });
      calls.push(c);
      const r = await d.ng.request({ command: 'play media', 'call-id': c.callId, 'from-tag': 'caller-tag', blob: wavTone(8000, 1000, 200) });
      assert.deepEqual(r, err('Failed to start media playback from blob'));
      assert.ok(d.logLines().some((l) => l.includes('--media-num-threads=0')), 'the log says why');
      assert.deepEqual(await d.ng.request({ command: 'play DTMF', 'call-id': c.callId, 'from-tag': 'caller-tag', code: '5' }), { result: 'ok' });
      await sleep(600);
      const events = rtpAt(c).filter((p) => p.pt === 101);
      assert.ok(events.length >= 5, `${events.length} telephone-event packets`);
      assert.ok(events.every((p) => p.payload[0] === 5), 'event 5');
    } finally {
      await closeLiveCalls(calls);
      await d.stop();
    }
  });
});
