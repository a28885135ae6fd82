// Options: the table, the command line, the config file (GKeyFile rules) and
// the validated Config. Host names and system interfaces are stubbed, so no
// test depends on DNS or on this machine's network setup.

import { strict as assert } from 'assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Config, ConfigError, LoadOptions, loadConfig, parseListenSpec } from '../../src/cli/config';
import { KeyFile, KeyFileError, parseCDouble, parseCInteger } from '../../src/cli/config-file';
import { OPTIONS, fieldName, findOption, parseCommandLine, renderHelp, renderOptionsMarkdown } from '../../src/cli/options';

const REPO = join(__dirname, '..', '..', '..');

const ENV: LoadOptions = {
  defaultConfigFile: '/nonexistent/rtpengine.conf',
  env: {},
  system: () => ({
    lo: [
      { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    ],
  }),
  resolve: (host) => (host === 'localhost' ? [{ address: '127.0.0.1', family: 4 }] : []),
};

const BASE = ['--config-file=none', '--interface=127.0.0.1', '--listen-ng=127.0.0.1:2223'];

function load(args: string[], env: LoadOptions = ENV): Config {
  return loadConfig(args, env);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

let dir: string;
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rtpengine-ts-options-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('option table', () => {
  it('has unique long names, unique short letters and a help line and status for each row', () => {
    const names = new Set<string>();
    const shorts = new Set<string>();
    for (const o of OPTIONS) {
      assert.ok(!names.has(o.name), `duplicate --${o.name}`);
      names.add(o.name);
      if (o.short) {
        assert.equal(o.short.length, 1);
        assert.ok(!shorts.has(o.short), `duplicate -${o.short}`);
        shorts.add(o.short);
      }
      assert.ok(o.help.length > 10, `--${o.name} needs a help line`);
      assert.ok(o.status === 'supported' || o.status === 'unsupported');
      if (o.type !== 'bool') assert.ok(o.arg, `--${o.name} needs a value syntax`);
    }
  });

  it('uses the short letters of the reference binary (-t table, -T tos, -n listen-ng, -N listen-tcp-ng)', () => {
    assert.equal(findOption('t')?.name, 'table');
    assert.equal(findOption('T')?.name, 'tos');
    assert.equal(findOption('n')?.name, 'listen-ng');
    assert.equal(findOption('N')?.name, 'listen-tcp-ng');
    assert.equal(findOption('G')?.name, 'graphite-interval');
    assert.equal(findOption('w')?.name, 'redis-write');
    assert.equal(findOption('F')?.name, 'no-fallback');
    assert.equal(findOption('y')?.name, 'redis-delete-async');
  });

  it('lists every option of the man page', function () {
    const manPath = '/work/shared/reference/rtpengine.8.md';
    let man: string;
    try {
      man = readFileSync(manPath, 'utf8');
    } catch {
      console.log(`      (skipped: ${manPath} not present)`);
      this.skip();
      return;
    }
    const documented = new Set<string>();
    for (const m of man.matchAll(/^- (?:\*\*-[a-zA-Z]\*\*, )?\*\*(?:--)?([a-z][a-z0-9-]*)(?:=|\*\*)/gm)) documented.add(m[1]);
    documented.delete('log-level-'); // --log-level-SUBSYSTEM, listed per subsystem
    for (const name of documented) {
      const fixed = name.replace('facilty', 'facility'); // the man page misspells it
      assert.ok(findOption(fixed), `--${fixed} is documented but missing from the table`);
    }
    assert.ok(documented.size > 130);
  });

  it('maps every option to exactly one Config field', () => {
    const c = load(BASE);
    const fields = new Set(OPTIONS.map(fieldName));
    assert.equal(fields.size, OPTIONS.length);
    for (const f of fields) assert.ok(f in c, `Config lacks ${f}`);
    const extra = Object.keys(c).filter((k) => !fields.has(k));
    assert.deepEqual(extra.sort(), ['unsupportedOptions', 'version', 'warnings']);
  });

  it('keeps docs/options.md identical to the generated text', () => {
    const doc = readFileSync(join(REPO, 'docs', 'options.md'), 'utf8');
    assert.equal(doc, renderOptionsMarkdown(),
      'docs/options.md is stale: regenerate it with the command in its header');
  });

  it('renders --help with every long option, marking the unsupported ones', () => {
    const help = renderHelp();
    for (const o of OPTIONS) assert.ok(help.includes(`--${o.name}`), o.name);
    assert.match(help, /--listen-cli=\S+\s+.*\(not supported yet\)/);
    assert.doesNotMatch(help, /--listen-ng=\S+\s+.*\(not supported yet\)/);
  });
});

describe('command line', () => {
  it('rejects an unknown option, naming it', () => {
    const e = configError(() => parseCommandLine(['--bogus']));
    assert.equal(e.code, 'ERR_UNKNOWN_OPTION');
    assert.match(e.message, /--bogus/);
    assert.equal(configError(() => parseCommandLine(['-Z'])).code, 'ERR_UNKNOWN_OPTION');
  });

  it('rejects an option that needs a value but has none', () => {
    const e = configError(() => parseCommandLine(['--interface']));
    assert.equal(e.code, 'ERR_MISSING_VALUE');
    assert.equal(e.option, 'interface');
  });

  it('reads --no-fallback as its own switch, not as a negation', () => {
    assert.equal(parseCommandLine(['--no-fallback']).values.get('no-fallback'), true);
    assert.equal(load([...BASE, '--no-fallback']).noFallback, true);
  });

  it('accepts long and short forms, separate and attached values, and grouped switches', () => {
    const c = load([...BASE, '-t', '-1', '--tos', '184', '-m', '40000', '--port-max=40100', '-fE', '-L', '7']);
    assert.equal(c.table, -1);
    assert.equal(c.tos, 184);
    assert.equal(c.portMin, 40000);
    assert.equal(c.portMax, 40100);
    assert.equal(c.foreground, true);
    assert.equal(c.logStderr, true);
    assert.equal(c.logLevel, 7);
  });

  it('collects a repeated list option and keeps the last value of a repeated scalar', () => {
    const c = load(['--config-file=none', '-i', 'a/127.0.0.1', '--interface=b/127.0.0.2', '--listen-ng=2223', '--timeout=5', '--timeout=7']);
    assert.deepEqual(c.interfaces.map((i) => i.name), ['a', 'b']);
    assert.equal(c.timeout, 7);
  });

  it('reads integers like GLib does on the command line: hex and octal prefixes work', () => {
    assert.equal(load([...BASE, '--timeout=0x10']).timeout, 16);
    assert.equal(load([...BASE, '--timeout=010']).timeout, 8);
    assert.equal(load([...BASE, '--table=-1']).table, -1);
  });

  it('ignores stray positional arguments with a warning', () => {
    const c = load([...BASE, 'stray']);
    assert.ok(c.warnings.some((w) => w.includes("'stray'")));
  });
});

describe('defaults', () => {
  it('match the reference daemon', () => {
    const c = load(BASE);
    assert.equal(c.portMin, 30000);
    assert.equal(c.portMax, 40000);
    assert.equal(c.timeout, 60);
    assert.equal(c.silentTimeout, 3600);
    assert.equal(c.finalTimeout, 0);
    assert.equal(c.offerTimeout, 3600);
    assert.equal(c.deleteDelay, 30);
    assert.equal(c.maxSessions, -1);
    assert.equal(c.table, -1);
    assert.equal(c.tos, 0);
    assert.equal(c.logLevel, 6);
    assert.equal(c.logFacility, 'daemon');
    assert.equal(c.logName, 'rtpengine');
    assert.equal(c.endpointLearning, 'delayed');
    assert.equal(c.foreground, false);
    assert.equal(c.logStderr, false);
    assert.equal(c.sipSource, false);
    assert.equal(c.noFallback, false);
    assert.equal(c.pidfile, null);
    assert.ok(c.numThreads >= 4);
    assert.equal(c.mediaNumThreads, c.numThreads);
    assert.deepEqual(c.cnPayload, [32]);
    assert.equal(c.dtlsMtu, 1200);
    assert.equal(c.homerId, 2001);
    assert.equal(c.redisExpires, 86400);
    assert.equal(c.recordingMethod, 'pcap');
    assert.equal(c.configSection, 'rtpengine');
    assert.equal(c.configFile, null);
    assert.deepEqual(c.listenTcpNg, []);
    assert.deepEqual(c.unsupportedOptions, []);
    assert.match(c.softwareId, /^rtpengine-ts-[0-9A-Za-z-]+$/);
  });

  it('turns zero or negative timeouts into their defaults', () => {
    const c = load([...BASE, '--timeout=0', '--silent-timeout=-1', '--offer-timeout=0', '--final-timeout=-5']);
    assert.equal(c.timeout, 60);
    assert.equal(c.silentTimeout, 3600);
    assert.equal(c.offerTimeout, 3600);
    assert.equal(c.finalTimeout, 0);
  });
});

describe('validation', () => {
  const cases: [string, RegExp][] = [
    ['--port-min=abc', /'abc' for --port-min: not an integer/],
    ['--port-min=70000', /--port-min: must be between 1 and 65535/],
    ['--tos=256', /--tos: must be between 0 and 255/],
    ['--timeout=', /'' for --timeout/],
    ['--timeout=99999999999', /--timeout: out of range/],
    ['--max-load=abc', /--max-load: not a number/],
    ['--endpoint-learning=sometimes', /--endpoint-learning: must be one of delayed, immediate, off, heuristic/],
    ['--log-format=PARSABLE', /--log-format/],
    ['--log-facility=bogus', /--log-facility/],
    ['--xmlrpc-format=3', /--xmlrpc-format/],
    ['--dtls-mtu=100', /--dtls-mtu: must be at least 576/],
    ['--cn-payload=200', /--cn-payload/],
    ['--dtx-cn-params=128', /'128' for --dtx-cn-params: the noise level must be between 0 and 127/],
    ['--dtx-cn-params=-1', /--dtx-cn-params/],
    ['--dtx-cn-params=loud', /'loud' for --dtx-cn-params: not an integer/],
    ['--amr-dtx=comfort', /--amr-dtx: must be one of native, CN/],
    ['--dtx-buffer=many', /--dtx-buffer: not an integer/],
    ['--redis=127.0.0.1:6379', /--redis: expected/],
    ['--redis=127.0.0.1:6379/-1', /--redis: database number/],
    ['--graphite=2003', /--graphite: an address is needed/],
    ['--mysql-query=select 1', /--mysql-query/],
    ['--listen-ng=*:2223', /--listen-ng/],
    ['--listen-ng=127.0.0.1', /--listen-ng/],
    ['--listen-ng=:2223', /--listen-ng/],
    ['--listen-ng=70000', /--listen-ng/],
  ];
  for (const [arg, re] of cases) {
    it(`rejects ${arg} with a message naming the option and value`, () => {
      const e = configError(() => load([...BASE, arg]));
      assert.equal(e.code, 'ERR_INVALID_VALUE');
      assert.match(e.message, re);
    });
  }

  it('rejects a port range whose minimum is above its maximum', () => {
    const e = configError(() => load([...BASE, '--port-min=40000', '--port-max=30000']));
    assert.match(e.message, /--port-min \(40000\) is above --port-max \(30000\)/);
  });

  it('requires an interface and a listener, with the reference wording', () => {
    let e = configError(() => load(['--config-file=none', '--listen-ng=2223']));
    assert.equal(e.code, 'ERR_MISSING_OPTION');
    assert.equal(e.message, 'Missing option --interface');
    e = configError(() => load(['--config-file=none', '--interface=127.0.0.1']));
    assert.equal(e.message, 'Missing option --listen-tcp, --listen-udp, --listen-ng, --listen-tcp-ng, --listen-http, or --listen-https');
    assert.ok(load(['--config-file=none', '--interface=127.0.0.1', '--listen-tcp-ng=2223']));
  });

  it('reports an invalid interface as ERR_INVALID_INTERFACE', () => {
    const e = configError(() => load(['--config-file=none', '--interface=nosuch', '--listen-ng=2223']));
    assert.equal(e.code, 'ERR_INVALID_INTERFACE');
    assert.match(e.message, /'nosuch'/);
  });

  it('reads the DTX options: buffer limits, comfort noise parameters in C notation, AMR mode', () => {
    const d = load(BASE);
    assert.deepEqual([d.dtxDelay, d.dtxBuffer, d.dtxLag, d.dtxShift, d.maxDtx, d.amrDtx], [0, 10, 100, 5, 30, 'native']);
    assert.deepEqual(d.dtxCnParams, []);
    const c = load([...BASE, '--dtx-delay=50', '--dtx-buffer=4', '--dtx-lag=60', '--dtx-shift=0', '--dtx-cn-params=40',
      '--dtx-cn-params=0x7f', '--cn-payload=60', '--cn-payload=254', '--amr-dtx=CN']);
    assert.deepEqual([c.dtxDelay, c.dtxBuffer, c.dtxLag, c.dtxShift, c.amrDtx], [50, 4, 60, 0, 'CN']);
    assert.deepEqual(c.dtxCnParams, [40, 127]);
    assert.deepEqual(c.cnPayload, [60, 254]);
  });

  it('accepts case-insensitive choices where the reference does, normalised', () => {
    const c = load([...BASE, '--endpoint-learning=IMMEDIATE', '--mos=lq', '--dtls-signature=sha1', '--amr-dtx=cn', '--audio-player=force']);
    assert.equal(c.endpointLearning, 'immediate');
    assert.equal(c.mos, 'LQ');
    assert.equal(c.dtlsSignature, 'SHA-1');
    assert.equal(c.amrDtx, 'CN');
    assert.equal(c.audioPlayer, 'always');
  });

  it('lists options that are accepted but not supported yet', () => {
    const c = load([...BASE, '--listen-cli=9900', '--recording-dir=/tmp', '--listen-http=127.0.0.1:9902', '--timeout=5']);
    assert.deepEqual(c.unsupportedOptions, ['listen-cli', 'listen-http']);
  });

  it('parses Redis endpoints with an optional password, also from the environment', () => {
    let c = load([...BASE, '--redis=secret@127.0.0.1:6379/12', '--redis-write=localhost:6380/3']);
    assert.deepEqual(c.redis, { address: '127.0.0.1', port: 6379, family: 4, host: '127.0.0.1', db: 12, password: 'secret' });
    assert.deepEqual(c.redisWrite, { address: '127.0.0.1', port: 6380, family: 4, host: 'localhost', db: 3, password: null });
    c = load([...BASE, '--redis-write=127.0.0.1:6380/3'], { ...ENV, env: { RTPENGINE_REDIS_WRITE_AUTH_PW: 'pw' } });
    assert.equal(c.redisWrite?.password, 'pw');
  });
});

describe('listen addresses', () => {
  const resolve = ENV.resolve;
  it('takes a bare port as every address of both families', () => {
    assert.deepEqual(parseListenSpec('2223', resolve), [
      { address: '0.0.0.0', port: 2223, family: 4 },
      { address: '::', port: 2223, family: 6 },
    ]);
  });

  it('accepts IPv4, bracketed and bare IPv6, and host names', () => {
    assert.deepEqual(parseListenSpec('127.0.0.1:2223', resolve), [{ address: '127.0.0.1', port: 2223, family: 4 }]);
    assert.deepEqual(parseListenSpec('[::1]:2223', resolve), [{ address: '::1', port: 2223, family: 6 }]);
    assert.deepEqual(parseListenSpec('::1:2223', resolve), [{ address: '::1', port: 2223, family: 6 }]);
    assert.deepEqual(parseListenSpec('localhost:2223', resolve), [{ address: '127.0.0.1', port: 2223, family: 4 }]);
  });

  it('yields no address for an empty value, which still counts as a given listener', () => {
    assert.deepEqual(parseListenSpec('', resolve), []);
    const path = file('empty-listen.conf', '[rtpengine]\ninterface = 127.0.0.1\nlisten-ng =\n');
    const c = load([`--config-file=${path}`]);
    assert.deepEqual(c.listenNg, []);
  });

  it('keeps several listeners of one kind', () => {
    const c = load(['--config-file=none', '--interface=127.0.0.1', '--listen-ng=127.0.0.1:2223', '--listen-ng=[::1]:2223']);
    assert.deepEqual(c.listenNg.map((a) => `${a.address}/${a.port}`), ['127.0.0.1/2223', '::1/2223']);
  });
});

describe('config file', () => {
  it('is read from the default location only when it exists', () => {
    const path = file('default.conf', '[rtpengine]\ninterface = 127.0.0.1\nlisten-ng = 2223\ntimeout = 33\n');
    const c = load([], { ...ENV, defaultConfigFile: path });
    assert.equal(c.timeout, 33);
    assert.equal(c.configFile, path);
    const missing = load(['--interface=127.0.0.1', '--listen-ng=2223']);
    assert.equal(missing.configFile, null);
  });

  it("is skipped entirely with --config-file=none", () => {
    const path = file('skipped.conf', '[rtpengine]\ntimeout = 33\n');
    const c = load(['--config-file=none', '--interface=127.0.0.1', '--listen-ng=2223'], { ...ENV, defaultConfigFile: path });
    assert.equal(c.timeout, 60);
  });

  it('must exist when named explicitly', () => {
    const e = configError(() => load(['--config-file=/nonexistent/x.conf', '--interface=127.0.0.1', '--listen-ng=2223']));
    assert.equal(e.code, 'ERR_CONFIG_FILE');
    assert.match(e.message, /\/nonexistent\/x.conf/);
  });

  it('gives way to the command line, whole lists included', () => {
    const path = file('prec.conf', [
      '[rtpengine]',
      'interface = a/127.0.0.1;b/127.0.0.2',
      'listen-ng = 127.0.0.1:2223',
      'timeout = 33',
      'port-min = 31000',
    ].join('\n'));
    const c = load([`--config-file=${path}`, '--timeout=44', '--interface=c/127.0.0.3']);
    assert.equal(c.timeout, 44);
    assert.equal(c.portMin, 31000);
    assert.deepEqual(c.interfaces.map((i) => i.name), ['c']);
  });

  it('reads the section given by --config-section, and fails when it is missing', () => {
    const path = file('sections.conf', [
      '[rtpengine]', 'interface = 127.0.0.1', 'listen-ng = 2223', 'timeout = 10',
      '[rtpengine-testing]', 'interface = 127.0.0.2', 'listen-ng = 2224', 'timeout = 20', 'foreground = true',
    ].join('\n'));
    assert.equal(load([`--config-file=${path}`]).timeout, 10);
    const t = load([`--config-file=${path}`, '--config-section=rtpengine-testing']);
    assert.equal(t.timeout, 20);
    assert.equal(t.foreground, true);
    assert.equal(t.configSection, 'rtpengine-testing');
    const e = configError(() => load([`--config-file=${path}`, '--config-section=nope']));
    assert.equal(e.code, 'ERR_CONFIG_FILE');
    assert.match(e.message, /no section \[nope\]/);
  });

  it('splits ; lists, keeps a #-free value intact and treats only leading # as a comment', () => {
    const path = file('lists.conf', [
      '# a comment',
      '   # an indented comment',
      '[rtpengine]',
      'interface = pub/127.0.0.1!192.0.2.1 ; priv/127.0.0.2;',
      'listen-ng = 127.0.0.1:2223;[::1]:2223',
      'b2b-url = http://example.com/#fragment',
      'cn-payload = 20;40;60',
      'timeout = 61 # seconds',
    ].join('\n'));
    const c = load([`--config-file=${path}`]);
    assert.deepEqual(c.interfaces.map((i) => [i.name, i.addresses[0].address, i.addresses[0].advertised]),
      [['pub', '127.0.0.1', '192.0.2.1'], ['priv', '127.0.0.2', '127.0.0.2']]);
    assert.equal(c.listenNg.length, 2);
    assert.equal(c.b2bUrl, 'http://example.com/#fragment');
    assert.deepEqual(c.cnPayload, [20, 40, 60]);
    assert.equal(c.timeout, 61); // GKeyFile reads the integer and ignores what follows a space
  });

  it('takes true/false (and 1/0) for switches and rejects other words', () => {
    const ok = file('bool.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\nforeground = true\nlog-stderr = 1\nsip-source = false\n');
    const c = load([`--config-file=${ok}`]);
    assert.equal(c.foreground, true);
    assert.equal(c.logStderr, true);
    assert.equal(c.sipSource, false);
    const bad = file('badbool.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\nforeground = yes\n');
    const e = configError(() => load([`--config-file=${bad}`]));
    assert.equal(e.code, 'ERR_CONFIG_FILE');
    assert.equal(e.option, 'foreground');
    assert.match(e.message, /line 4: foreground: 'yes' is not true or false/);
  });

  it('lets the command line switch on what the file switched off', () => {
    const path = file('off.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\nforeground = false\n');
    assert.equal(load([`--config-file=${path}`, '--foreground']).foreground, true);
  });

  it('ignores unknown keys and short names with a warning, and command-line-only keys too', () => {
    const path = file('unknown.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\nbogus-key = 1\nt = 5\nconfig-section = x\n');
    const c = load([`--config-file=${path}`]);
    assert.equal(c.table, -1);
    assert.equal(c.configSection, 'rtpengine');
    assert.equal(c.warnings.length, 3);
    assert.match(c.warnings[0], /unknown option 'bogus-key'/);
  });

  it('reports a bad value with file, line and key', () => {
    const path = file('badint.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\n\ntimeout = abc\n');
    const e = configError(() => load([`--config-file=${path}`]));
    assert.equal(e.option, 'timeout');
    assert.match(e.message, /badint.conf line 5: timeout: 'abc' is not an integer/);
  });

  it('names the config file when a value from it fails validation', () => {
    const path = file('range.conf', '[rtpengine]\ninterface=127.0.0.1\nlisten-ng=2223\ntos = 300\n');
    const e = configError(() => load([`--config-file=${path}`]));
    assert.match(e.message, /'300' for --tos \(config file .*range.conf\): must be between 0 and 255/);
  });

  it('parses the Debian example config', () => {
    const path = file('debian.conf', [
      '[rtpengine]',
      'table = 0',
      'interface = 127.0.0.1',
      'listen-ng = localhost:2223',
      'listen-cli = localhost:2224',
      'timeout = 60',
      'silent-timeout = 3600',
      'tos = 184',
      'port-min = 30000',
      'port-max = 40000',
      'recording-dir = /var/spool/rtpengine',
      'recording-method = proc',
      '',
      '[rtpengine-testing]',
      'table = -1',
      'interface = 127.0.0.1',
      'listen-ng = 2223',
      'foreground = true',
      'log-stderr = true',
      'log-level = 7',
    ].join('\n'));
    const c = load([`--config-file=${path}`]);
    assert.equal(c.table, 0);
    assert.equal(c.tos, 184);
    assert.deepEqual(c.listenNg, [{ address: '127.0.0.1', port: 2223, family: 4 }]);
    // Recording is supported; its proc method falls back to pcap (a warning at start-up).
    assert.equal(c.recordingMethod, 'proc');
    assert.deepEqual(c.unsupportedOptions, ['listen-cli']);
  });
});

describe('GKeyFile rules', () => {
  it('trims space around = but keeps it inside and at the end of a raw value', () => {
    const kf = KeyFile.parse('[g]\n  a  =  hello world  \r\nkey with space = v\n');
    assert.equal(kf.getRaw('g', 'a'), 'hello world  ');
    assert.equal(kf.getString('g', 'key with space'), 'v');
  });

  it('resolves escapes in strings and lists; \\; only inside lists', () => {
    const kf = KeyFile.parse('[g]\ns = \\s lead\\ttab\\\\back\nl = a\\;b;c;\ne = x\\;y\n');
    assert.equal(kf.getString('g', 's'), '  lead\ttab\\back');
    assert.deepEqual(kf.getStringList('g', 'l'), ['a;b', 'c']);
    assert.throws(() => kf.getString('g', 'e'), KeyFileError);
  });

  it('splits lists like GLib: empty items kept, one trailing separator dropped', () => {
    const kf = KeyFile.parse('[g]\na = x;;y\nb = ;\nc =\nd = p ; q\n');
    assert.deepEqual(kf.getStringList('g', 'a'), ['x', '', 'y']);
    assert.deepEqual(kf.getStringList('g', 'b'), ['']);
    assert.deepEqual(kf.getStringList('g', 'c'), []);
    assert.deepEqual(kf.getStringList('g', 'd'), ['p ', ' q']);
  });

  it('merges a repeated section and keeps the last value of a repeated key', () => {
    const kf = KeyFile.parse('[g]\na = 1\n[h]\nb = 2\n[g]\na = 3\nc = 4\n');
    assert.equal(kf.getRaw('g', 'a'), '3');
    assert.equal(kf.getRaw('g', 'c'), '4');
    assert.deepEqual(kf.groups(), ['g', 'h']);
  });

  it('rejects lines that are not comments, sections or key = value, including ; comments', () => {
    for (const text of ['[g]\n; comment\n', '[g]\njunk\n', '[g]\n= value\n', 'a = 1\n[g]\n', '[g\n', '[]\n']) {
      assert.throws(() => KeyFile.parse(text), (e: unknown) => e instanceof KeyFileError && e.code === 'ERR_KEYFILE_PARSE', text);
    }
  });

  it('reads booleans, integers and doubles as GKeyFile does', () => {
    const kf = KeyFile.parse('[g]\nt = true \nu = TRUE\ni = +5\nj = 5x\nk = 2147483648\nd = 1.5e3\nh = 0x10\n');
    assert.equal(kf.getBoolean('g', 't'), true);
    assert.throws(() => kf.getBoolean('g', 'u'), KeyFileError);
    assert.equal(kf.getInteger('g', 'i'), 5);
    assert.throws(() => kf.getInteger('g', 'j'), KeyFileError);
    assert.throws(() => kf.getInteger('g', 'k'), KeyFileError);
    assert.throws(() => kf.getInteger('g', 'h'), KeyFileError); // base 10 only in the file
    assert.equal(kf.getDouble('g', 'd'), 1500);
  });

  it('parses C-style numbers for command-line values', () => {
    assert.equal(parseCInteger('0x1F'), 31);
    assert.equal(parseCInteger('017'), 15);
    assert.equal(parseCInteger('-12'), -12);
    assert.equal(parseCInteger('0'), 0);
    assert.equal(parseCInteger('12a'), undefined);
    assert.equal(parseCInteger(''), undefined);
    assert.equal(parseCDouble('1.5'), 1.5);
    assert.equal(parseCDouble('.5e1'), 5);
    assert.equal(parseCDouble('inf'), Infinity);
    assert.equal(parseCDouble('1,5'), undefined);
  });
});
