// The rtpengine-ts executable: version, help, option errors, start-up in the
// foreground and detached, PID file, signals, and a differential check that
// the reference rtpengine (when installed) accepts and rejects the same option
// lines. Uses ng ports 23040-23050 and media ports 43000-43999.

import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as dgram from 'dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ManagedProcess, sleep } from '../helpers/process';
import { OPTIONS } from '../../src/cli/options';

const REPO = join(__dirname, '..', '..', '..');
const BIN = join(REPO, 'bin', 'rtpengine-ts.js');
const REFERENCE = '/usr/bin/rtpengine';
const NG_OURS = 23040;
const NG_BUSY = 23041;
const NG_DETACHED = 23042;
const NG_DIFF_REF = 23045;
const NG_DIFF_OURS = 23046;
const SAFE = ['--config-file=none', '--foreground', '--log-stderr'];

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command that must end by itself (options that exit at once). */
function run(args: string[]): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function daemonArgs(ng: number, mediaBase: number, extra: string[] = []): string[] {
  return [...SAFE, '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ng}`, '--table=-1',
    `--port-min=${mediaBase}`, `--port-max=${mediaBase + 99}`, ...extra];
}

/** Waits until a line matching re has been printed, or the process exits. */
async function waitFor(p: ManagedProcess, re: RegExp, timeoutMs = 15000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.output.tail().some((l) => re.test(l))) return true;
    if (!p.running) return p.output.tail().some((l) => re.test(l));
    await sleep(25);
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string;
const started: ManagedProcess[] = [];
const strayPids: number[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rtpengine-ts-cli-'));
});
after(async () => {
  await Promise.all(started.map((p) => p.stop()));
  for (const pid of strayPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): ManagedProcess {
  const p = new ManagedProcess(process.execPath, [BIN, ...args]);
  started.push(p);
  return p;
}

describe('rtpengine-ts command line', function () {
  this.timeout(30000);

  it('-v prints "Version: <version>" on stderr and exits 0', () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['-v', '--version']) {
      const r = run([flag, '--config-file=none']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, `Version: ${version}\n`);
    }
  });

  it('--help prints the usage generated from the option table and exits 0', () => {
    const r = run(['--help', '--config-file=none']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage:/);
    for (const o of OPTIONS) assert.ok(r.stdout.includes(`--${o.name}`), o.name);
    assert.match(r.stdout, /-n, --listen-ng=\[IP46\|HOSTNAME:\]PORT/);
  });

  it('an unknown option is an error naming it, exit code 1', () => {
    const r = run(['--bogus', '--config-file=none']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CRIT: \[core\] Fatal error: Unknown option --bogus/);
  });

  it('an invalid value is an error naming the option and the value, exit code 1', () => {
    const r = run([...daemonArgs(NG_OURS, 43000), '--port-min=abc']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Invalid value 'abc' for --port-min/);
  });

  it('a missing --interface or listener is reported with the reference wording', () => {
    let r = run([...SAFE, `--listen-ng=127.0.0.1:${NG_OURS}`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Fatal error: Missing option --interface/);
    r = run([...SAFE, '--interface=127.0.0.1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Missing option --listen-tcp, --listen-udp, --listen-ng, --listen-tcp-ng, --listen-http, or --listen-https/);
  });

  it('a broken config file is an error naming file and line', () => {
    const conf = join(dir, 'broken.conf');
    writeFileSync(conf, '[rtpengine]\ninterface = 127.0.0.1\nlisten-ng = 2223\nforeground = yes\n');
    const r = run([`--config-file=${conf}`, '--log-stderr']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /broken.conf line 4: foreground/);
  });

  it('--codecs lists each codec and its support in the reference format', () => {
    const r = run(['--codecs', '--config-file=none']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^ {16}PCMA: fully supported$/m);
    assert.match(r.stdout, /^ {16}iLBC: supported for decoding only$/m);
  });
});

describe('rtpengine-ts daemon process', function () {
  this.timeout(60000);

  it('runs in the foreground, writes and removes its PID file, follows SIGUSR1/2 and stops on SIGTERM', async () => {
    const pidfile = join(dir, 'fg.pid');
    const p = start(daemonArgs(NG_OURS, 43100, [`--pidfile=${pidfile}`, '--listen-cli=127.0.0.1:23049']));
    assert.ok(await waitFor(p, /Startup complete/), p.tail());
    assert.ok(p.output.tail().some((l) => /WARNING: \[core\] not supported yet: --listen-cli/.test(l)), p.tail());
    for (let i = 0; i < 50 && !existsSync(pidfile); i++) await sleep(20);
    assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
    process.kill(p.pid as number, 'SIGUSR2');
    assert.ok(await waitFor(p, /Increased log level to 7/), p.tail());
    process.kill(p.pid as number, 'SIGUSR1');
    assert.ok(await waitFor(p, /Decreased log level to 6/), p.tail());
    process.kill(p.pid as number, 'SIGUSR1');
    assert.ok(await waitFor(p, /Decreased log level to 5/), p.tail());
    process.kill(p.pid as number, 'SIGUSR2');
    assert.ok(await waitFor(p, /Increased log level to 6/), p.tail());
    process.kill(p.pid as number, 'SIGTERM');
    const r = await p.wait(10000);
    assert.equal(r.code, 0, p.tail());
    assert.ok(!existsSync(pidfile), 'PID file left behind');
    assert.ok(p.output.tail().some((l) => /shutting down/.test(l)));
  });

  it('fails with exit code 1 and a message when its control port is taken', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(NG_BUSY, '127.0.0.1', () => resolve()));
    try {
      const p = start(daemonArgs(NG_BUSY, 43200));
      const r = await p.wait(15000);
      assert.equal(r.code, 1, p.tail());
      assert.match(p.tail(), /Fatal error: .*/);
    } finally {
      blocker.close();
    }
  });

  it('detaches without --foreground: the parent exits 0 once the daemon is up', async () => {
    const pidfile = join(dir, 'bg.pid');
    const args = ['--config-file=none', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_DETACHED}`, '--table=-1',
      '--port-min=43300', '--port-max=43399', `--pidfile=${pidfile}`, '--log-stderr'];
    const parent = start(args);
    const r = await parent.wait(20000);
    assert.equal(r.code, 0, parent.tail());
    assert.ok(existsSync(pidfile), 'no PID file after the parent returned');
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    strayPids.push(pid);
    assert.notEqual(pid, parent.pid);
    assert.ok(isAlive(pid), 'the detached daemon is not running');
    // Start-up output was relayed by the parent before it returned.
    assert.ok(parent.output.tail().some((l) => /Startup complete/.test(l)), parent.tail());
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(25);
    assert.ok(!isAlive(pid), 'the detached daemon ignored SIGTERM');
    assert.ok(!existsSync(pidfile), 'PID file left behind');
  });

  it('detached start-up failures reach the caller with exit code 1', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(NG_BUSY, '127.0.0.1', () => resolve()));
    try {
      const parent = start(['--config-file=none', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_BUSY}`,
        '--table=-1', '--port-min=43400', '--port-max=43499', '--log-stderr']);
      const r = await parent.wait(20000);
      assert.equal(r.code, 1, parent.tail());
      assert.match(parent.tail(), /Fatal error/);
    } finally {
      blocker.close();
    }
  });
});

describe('option lines compared with the reference rtpengine', function () {
  this.timeout(240000);
  let conf: string;
  let badConf: string;

  before(function () {
    if (!existsSync(REFERENCE)) {
      console.log(`      (skipped: ${REFERENCE} is not installed)`);
      this.skip();
    }
    conf = join(dir, 'diff.conf');
    writeFileSync(conf, '[rtpengine]\ntimeout = 30\nbogus-key = 1\n[other]\ntimeout = 40\n');
    badConf = join(dir, 'diff-bad.conf');
    writeFileSync(badConf, '[rtpengine]\ntimeout = abc\n');
  });

  /** Starts one binary with the option line; true if it came up, false if it exited. */
  async function accepts(cmd: string, ng: number, media: number, extra: string[]): Promise<{ ok: boolean; out: string }> {
    const base = ['--config-file=none', '--foreground', '--log-stderr', '--table=-1', '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${ng}`, `--port-min=${media}`, `--port-max=${media + 99}`];
    const args = cmd === REFERENCE ? [...base, ...extra] : [BIN, ...base, ...extra];
    const p = new ManagedProcess(cmd === REFERENCE ? REFERENCE : process.execPath, args);
    started.push(p);
    const up = await waitFor(p, /Startup complete/, 15000);
    await p.stop(3000);
    return { ok: up, out: p.tail(8) };
  }

  const bothAccept: string[][] = [
    ['--tos=184'], ['-T', '184'], ['--timeout=0x10'], ['-o', '45'], ['--delete-delay=0'], ['--final-timeout=3600'],
    ['--endpoint-learning=heuristic'], ['--endpoint-learning=IMMEDIATE'], ['--interface=pub/127.0.0.1!192.0.2.1'],
    ['--interface=lo'], ['--max-load=1.5'], ['-fE'], ['--sip-source'], ['--no-log-timestamps'], ['--mos=lq'],
    ['--dtls-signature=sha1'], ['--log-facility=local3'], ['--cn-payload=0x20'], ['stray-positional'],
    ['--listen-ng=localhost:23047'], ['--listen-ng=[::1]:23047'], ['--max-sessions=100'],
    ['--amr-dtx=cn'], ['--dtx-cn-params=40', '--dtx-cn-params=0x7f'], ['--dtx-delay=50', '--dtx-buffer=20', '--dtx-lag=200', '--dtx-shift=0'],
  ];
  const bothReject: string[][] = [
    ['--bogus'], ['-Z'], ['--tos=256'], ['--tos=-1'], ['--timeout=abc'], ['--timeout=5x'], ['--timeout=99999999999'],
    ['--max-load=1,5'], ['--endpoint-learning=foo'], ['--log-format=PARSABLE'], ['--homer-protocol=TCP'],
    ['--log-facility=foo'], ['--interface=nosuch.invalid'], ['--interface=0.0.0.0'], ['--interface=127.0.0.1!0.0.0.0'],
    ['--listen-ng=*:2223'], ['--listen-ng=127.0.0.1'], ['--xmlrpc-format=3'], ['--dtls-mtu=100'], ['--cn-payload=200'],
    ['--redis=127.0.0.1:6379'], ['--jitter-buffer=-1'], ['--dtls-rsa-key-size=-1'], ['--mysql-query=select'],
    ['--graphite=127.0.0.1'], ['--interface'], ['--config-file=/nonexistent/rtpengine.conf'],
    ['--amr-dtx=bogus'], ['--dtx-cn-params=128'], ['--cn-payload=10', '--cn-payload=255'], ['--dtx-buffer=x'],
  ];

  it('every option of the reference --help is in our table', () => {
    const help = spawnSync(REFERENCE, ['--help'], { encoding: 'utf8' }).stdout;
    const names = [...help.matchAll(/^\s+(?:-[a-zA-Z], )?--([a-z0-9-]+)/gm)].map((m) => m[1]);
    assert.ok(names.length > 100);
    const ours = new Set(OPTIONS.map((o) => o.name));
    assert.deepEqual(names.filter((n) => !ours.has(n)), []);
  });

  it('both accept or both reject each option line', async () => {
    const cases: [string[], boolean][] = [
      ...bothAccept.map((l): [string[], boolean] => [l, true]),
      ...bothReject.map((l): [string[], boolean] => [l, false]),
      // Config-file handling: unknown keys are ignored, a missing section or a bad value is fatal.
      [[`--config-file=${conf}`], true],
      [[`--config-file=${conf}`, '--config-section=other'], true],
      [[`--config-file=${conf}`, '--config-section=nope'], false],
      [[`--config-file=${badConf}`], false],
    ];
    const wrong: string[] = [];
    for (const [extra, expected] of cases) {
      const ref = await accepts(REFERENCE, NG_DIFF_REF, 43500, extra);
      const ours = await accepts(BIN, NG_DIFF_OURS, 43600, extra);
      const verdict = (ok: boolean): string => (ok ? 'accepts' : 'rejects');
      if (ref.ok !== expected) wrong.push(`${extra.join(' ')}: reference ${verdict(ref.ok)}\n${ref.out}`);
      if (ours.ok !== expected) wrong.push(`${extra.join(' ')}: rtpengine-ts ${verdict(ours.ok)}\n${ours.out}`);
    }
    assert.deepEqual(wrong, []);
  });
});
