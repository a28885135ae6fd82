// Builds the typed daemon configuration from the command line and the config
// file, following the reference daemon: the file is read first, then every
// option given on the command line replaces the file's value; values are then
// validated the same way whatever their source.

import { readFileSync } from 'fs';
import { availableParallelism, cpus } from 'os';
import { join } from 'path';
import {
  ConfigError, OPTIONS, OptionSpec, ParsedCommandLine, fieldName, findOption, parseCommandLine,
} from './options';
import { KeyFile, KeyFileError, parseCDouble, parseCInteger } from './config-file';
import {
  InterfaceEnvironment, InterfaceError, LogicalInterface, ResolvedAddress, parseInterfaces, parseIpLiteral, resolveHostSync,
} from '../media/interfaces';

export { ConfigError } from './options';
export type { ConfigErrorCode } from './options';

/** A socket address to listen on or to send to. */
export interface ListenAddr {
  address: string;
  port: number;
  family: 4 | 6;
}

/** `[PASSWORD@]HOST:PORT/DB` of a Redis server. */
export interface RedisEndpoint extends ListenAddr {
  /** Host as written (name or address), for re-resolution. */
  host: string;
  db: number;
  password: string | null;
}

export type EndpointLearning = 'delayed' | 'immediate' | 'off' | 'heuristic';
export type SchedulingPolicy = 'default' | 'none' | 'fifo' | 'rr' | 'other' | 'batch' | 'idle';

/**
 * The validated configuration: one field per long option (camelCase), with the
 * reference's defaults. Address-like options are already parsed and resolved.
 */
export interface Config {
  // Start-up and configuration.
  printHelp: boolean;
  printVersion: boolean;
  printCodecs: boolean;
  /** The config file actually read, or null when none was. */
  configFile: string | null;
  configSection: string;
  foreground: boolean;
  pidfile: string | null;

  // Media interfaces and ports.
  interfaces: LogicalInterface[];
  saveInterfacePorts: boolean;
  portMin: number;
  portMax: number;
  /** TOS byte for media; 0 leaves it untouched. */
  tos: number;
  socketCpuAffinity: number;

  // Control listeners. A bare PORT yields two addresses: 0.0.0.0 and ::.
  listenNg: ListenAddr[];
  listenTcpNg: ListenAddr[];
  listenUdp: ListenAddr[];
  listenTcp: ListenAddr[];
  listenCli: ListenAddr[];
  listenHttp: ListenAddr[];
  listenHttps: ListenAddr[];
  httpsCert: string | null;
  httpsKey: string | null;
  httpThreads: number;
  controlTos: number;
  controlPmtu: 'want' | 'dont' | null;
  janusSecret: string | null;

  // Call handling (seconds unless noted).
  timeout: number;
  silentTimeout: number;
  /** 0: no limit. */
  finalTimeout: number;
  offerTimeout: number;
  deleteDelay: number;
  /** -1: no limit. */
  maxSessions: number;
  maxLoad: number;
  maxCpu: number;
  maxBandwidth: number;
  sipSource: boolean;
  endpointLearning: EndpointLearning;
  rejectInvalidSdp: boolean;
  b2bUrl: string | null;
  xmlrpcFormat: number;
  softwareId: string;

  // In-kernel forwarding and firewall.
  /** Negative: no kernel forwarding. */
  table: number;
  noFallback: boolean;
  iptablesChain: string | null;

  // Logging.
  logLevel: number;
  /** Per-subsystem levels; null inherits logLevel (internals: off). */
  logLevelCore: number | null;
  logLevelSpandsp: number | null;
  logLevelFfmpeg: number | null;
  logLevelTranscoding: number | null;
  logLevelCodec: number | null;
  logLevelRtcp: number | null;
  logLevelIce: number | null;
  logLevelCrypto: number | null;
  logLevelSrtp: number | null;
  logLevelInternals: number | null;
  logLevelHttp: number | null;
  logLevelControl: number | null;
  logLevelDtx: number | null;
  logStderr: boolean;
  logFacility: string;
  logFacilityCdr: string | null;
  logFacilityRtcp: string | null;
  logFacilityDtmf: string | null;
  logFormat: 'default' | 'parsable';
  logName: string;
  logMarkPrefix: string;
  logMarkSuffix: string;
  splitLogs: boolean;
  /** 0: default (unlimited on stderr, 500 for syslog); negative: unlimited. */
  maxLogLineLength: number;
  noLogTimestamps: boolean;
  logSrtpKeys: boolean;
  debugSrtp: boolean;

  // DTMF events.
  dtmfLogDest: ListenAddr | null;
  dtmfLogNgTcp: boolean;
  dtmfNoLogInjects: boolean;
  dtmfNoSuppress: boolean;
  dtmfDigitDelay: number;

  // Threads and scheduling.
  numThreads: number;
  mediaNumThreads: number;
  /** kB; -1: system default. */
  threadStack: number;
  pollerPerThread: boolean;
  scheduling: SchedulingPolicy | null;
  priority: number | null;
  idleScheduling: SchedulingPolicy | null;
  idlePriority: number | null;
  evsLibPath: string | null;

  // Redis persistence.
  redis: RedisEndpoint | null;
  redisWrite: RedisEndpoint | null;
  redisNumThreads: number;
  redisExpires: number;
  noRedisRequired: boolean;
  redisAllowedErrors: number;
  redisDisableTime: number;
  redisCmdTimeout: number;
  redisConnectTimeout: number;
  redisDeleteAsync: number;
  redisDeleteAsyncInterval: number;
  activeSwitchover: boolean;
  subscribeKeyspace: number[];

  // Statistics and monitoring.
  graphite: ListenAddr | null;
  graphiteInterval: number;
  graphitePrefix: string | null;
  graphiteTimeout: number;
  homer: ListenAddr | null;
  homerProtocol: 'udp' | 'tcp';
  homerId: number;
  mqttHost: string | null;
  mqttPort: number;
  mqttId: string | null;
  mqttKeepalive: number;
  mqttUser: string | null;
  mqttPass: string | null;
  mqttCafile: string | null;
  mqttCapath: string | null;
  mqttCertfile: string | null;
  mqttKeyfile: string | null;
  mqttTlsAlpn: string | null;
  mqttPublishQos: number;
  mqttPublishTopic: string | null;
  mqttPublishInterval: number;
  mqttPublishScope: 'global' | 'summary' | 'call' | 'media' | null;
  mos: 'CQ' | 'LQ';
  measureRtp: boolean;

  // Recording.
  recordingDir: string | null;
  recordingMethod: 'pcap' | 'proc' | 'all';
  recordingFormat: 'raw' | 'eth';
  recordEgress: boolean;

  // Media processing and transcoding.
  jitterBuffer: number;
  jbClockDrift: boolean;
  dtxDelay: number;
  maxDtx: number;
  dtxBuffer: number;
  dtxLag: number;
  dtxShift: number;
  dtxCnParams: number[];
  amrDtx: 'native' | 'CN';
  silenceDetect: number;
  cnPayload: number[];
  playerCache: boolean;
  audioBufferLength: number;
  audioBufferDelay: number;
  audioPlayer: 'on-demand' | 'play-media' | 'transcoding' | 'always';

  // Media files from a database.
  mysqlHost: string | null;
  mysqlPort: number | null;
  mysqlUser: string | null;
  mysqlPass: string | null;
  mysqlQuery: string | null;

  // DTLS.
  dtlsPassive: boolean;
  dtlsCertCipher: 'prime256v1' | 'RSA';
  dtlsSignature: 'SHA-256' | 'SHA-1';
  dtlsRsaKeySize: number;
  dtlsCiphers: string;
  dtlsMtu: number;

  // Not options.
  /** Version of rtpengine-ts. */
  version: string;
  /** Long names of options that were given but are not supported yet. */
  unsupportedOptions: string[];
  /** Non-fatal findings to log at start-up (ignored keys, extra arguments). */
  warnings: string[];
}

export interface LoadOptions extends InterfaceEnvironment {
  /** Config file read when --config-file is not given (only if it exists). */
  defaultConfigFile?: string;
  /** Environment for the Redis password variables. */
  env?: NodeJS.ProcessEnv;
}

let cachedVersion: string | undefined;

/** Version of this package, from package.json. */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    cachedVersion = '0.0.0';
    for (const rel of ['../../../package.json', '../../package.json']) {
      try {
        cachedVersion = (JSON.parse(readFileSync(join(__dirname, rel), 'utf8')) as { version: string }).version;
        break;
      } catch {
        // Try the next location (dist/src/cli or src/cli).
      }
    }
  }
  return cachedVersion;
}

type RawValue = string | number | boolean | string[];

interface Given {
  value: RawValue;
  from: 'cli' | 'file';
}

/** Parses the command line and the config file into a validated Config. Throws ConfigError. */
export function loadConfig(argv: readonly string[], opts: LoadOptions = {}): Config {
  return buildConfig(parseCommandLine(argv), opts);
}

/** As loadConfig, for a command line that has already been parsed. */
export function buildConfig(cli: ParsedCommandLine, opts: LoadOptions = {}): Config {
  const warnings: string[] = [];
  for (const p of cli.positional) warnings.push(`Ignoring extra command-line argument '${p}'`);

  const given = new Map<string, Given>();
  const cliString = (name: string): string | undefined => {
    const v = cli.values.get(name);
    return typeof v === 'string' ? trimTrailingSpaces(v) : undefined;
  };
  const section = cliString('config-section') ?? 'rtpengine';
  let fileName: string | null = null;
  const explicitFile = cliString('config-file');
  const candidate = explicitFile ?? opts.defaultConfigFile ?? '/etc/rtpengine/rtpengine.conf';
  if (candidate !== 'none') {
    const kf = loadKeyFile(candidate, explicitFile !== undefined);
    if (kf) {
      fileName = candidate;
      readFileOptions(kf, candidate, section, given, warnings);
    }
  }
  for (const [name, value] of cli.values) given.set(name, { value, from: 'cli' });
  return convert(given, { ...opts, fileName, section, warnings });
}

function trimTrailingSpaces(s: string): string {
  return s.replace(/ +$/, '');
}

function loadKeyFile(path: string, explicit: boolean): KeyFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!explicit && err.code === 'ENOENT') return null;
    throw new ConfigError('ERR_CONFIG_FILE', `Cannot read config file ${path}: ${err.code ?? err.message}`, 'config-file');
  }
  try {
    return KeyFile.parse(text, `Config file ${path}`);
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_FILE', (e as Error).message, 'config-file');
  }
}

function readFileOptions(kf: KeyFile, path: string, section: string, given: Map<string, Given>, warnings: string[]): void {
  if (!kf.hasGroup(section)) {
    throw new ConfigError('ERR_CONFIG_FILE', `Config file ${path} has no section [${section}]`, 'config-section');
  }
  for (const key of kf.keys(section)) {
    const spec = findOption(key);
    if (!spec || spec.name !== key) {
      warnings.push(`Ignoring unknown option '${key}' in config file ${path}`);
      continue;
    }
    if (spec.cliOnly) {
      warnings.push(`Ignoring '${key}' in config file ${path}: it only works on the command line`);
      continue;
    }
    let value: RawValue | undefined;
    try {
      switch (spec.type) {
        case 'bool': value = kf.getBoolean(section, key); break;
        case 'int': value = kf.getInteger(section, key); break;
        case 'int64': value = kf.getInt64(section, key); break;
        case 'float': value = kf.getDouble(section, key); break;
        case 'string': value = trimTrailingSpaces(kf.getString(section, key) ?? ''); break;
        case 'list': value = (kf.getStringList(section, key) ?? []).map(trimTrailingSpaces); break;
      }
    } catch (e) {
      if (e instanceof KeyFileError) throw new ConfigError('ERR_CONFIG_FILE', e.message, spec.name);
      throw e;
    }
    if (value !== undefined) given.set(spec.name, { value, from: 'file' });
  }
}

interface ConvertContext extends LoadOptions {
  fileName: string | null;
  section: string;
  warnings: string[];
}

class Converter {
  constructor(private readonly given: Map<string, Given>, private readonly ctx: ConvertContext) {}

  has(name: string): boolean {
    return this.given.has(name);
  }

  fail(spec: OptionSpec, value: unknown, why: string): ConfigError {
    const g = this.given.get(spec.name);
    const where = g?.from === 'file' ? ` (config file ${this.ctx.fileName})` : '';
    return new ConfigError('ERR_INVALID_VALUE', `Invalid value '${String(value)}' for --${spec.name}${where}: ${why}`, spec.name);
  }

  raw(spec: OptionSpec): RawValue | null {
    const g = this.given.get(spec.name);
    if (g) return g.value;
    const d = spec.default;
    return d === null ? null : Array.isArray(d) ? [...d] : (d as RawValue);
  }

  /** Generic conversion by type, with table-driven bounds and choices. */
  value(spec: OptionSpec): unknown {
    const v = this.raw(spec);
    if (v === null) return null;
    switch (spec.type) {
      case 'bool':
        return Boolean(v);
      case 'int':
      case 'int64': {
        const n = typeof v === 'number' ? v : parseCInteger(String(v));
        if (n === undefined || !Number.isFinite(n)) throw this.fail(spec, v, 'not an integer');
        if (spec.type === 'int' && (n < -2147483648 || n > 2147483647)) throw this.fail(spec, v, 'out of range');
        if (spec.type === 'int64' && !Number.isSafeInteger(n)) throw this.fail(spec, v, 'out of range');
        this.checkBounds(spec, n, v);
        return n;
      }
      case 'float': {
        const n = typeof v === 'number' ? v : parseCDouble(String(v));
        if (n === undefined) throw this.fail(spec, v, 'not a number');
        this.checkBounds(spec, n, v);
        return n;
      }
      case 'string': {
        const s = trimTrailingSpaces(String(v));
        return spec.choices ? this.choice(spec, s) : s;
      }
      case 'list':
        return (Array.isArray(v) ? v : [String(v)]).map((s) => s.trim());
    }
  }

  private checkBounds(spec: OptionSpec, n: number, v: unknown): void {
    if (spec.min !== undefined && spec.max !== undefined && (n < spec.min || n > spec.max)) {
      throw this.fail(spec, v, `must be between ${spec.min} and ${spec.max}`);
    }
    if (spec.min !== undefined && n < spec.min) throw this.fail(spec, v, `must be at least ${spec.min}`);
    if (spec.max !== undefined && n > spec.max) throw this.fail(spec, v, `must be at most ${spec.max}`);
  }

  private choice(spec: OptionSpec, s: string): string {
    const norm = (x: string): string => (spec.caseSensitive ? x : x.toLowerCase());
    const hit = spec.choices?.find((c) => norm(c) === norm(s));
    if (hit) return hit;
    const alias = Object.entries(spec.aliases ?? {}).find(([a]) => norm(a) === norm(s));
    if (alias) return alias[1];
    throw this.fail(spec, s, `must be one of ${(spec.choices ?? []).join(', ')}`);
  }

  resolver(): (host: string) => ResolvedAddress[] {
    return this.ctx.resolve ?? resolveHostSync;
  }
}

function spec(name: string): OptionSpec {
  const s = findOption(name);
  if (!s) throw new Error(`option table has no '${name}'`);
  return s;
}

/**
 * Parses `[IP46|HOSTNAME:]PORT`. A bare port means every address of both
 * families (two entries, as the reference binds); an empty value means none.
 * With `requireHost`, the value must name a host (a destination, not a listener).
 */
export function parseListenSpec(value: string, resolve: (host: string) => ResolvedAddress[] = resolveHostSync,
  requireHost = false): ListenAddr[] | string {
  const s = value.trim();
  if (s === '') return requireHost ? 'no address given' : [];
  const portOf = (p: string): number | null => {
    if (!/^\d+$/.test(p)) return null;
    const n = Number(p);
    return n >= 1 && n <= 65535 ? n : null;
  };
  if (/^\d+$/.test(s)) {
    if (requireHost) return 'an address is needed, not just a port';
    const port = portOf(s);
    if (port === null) return 'port must be between 1 and 65535';
    return [{ address: '0.0.0.0', port, family: 4 }, { address: '::', port, family: 6 }];
  }
  let host: string;
  let portStr: string;
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(s);
  if (bracketed) {
    host = bracketed[1];
    portStr = bracketed[2];
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return 'expected [ADDRESS:]PORT';
    host = s.slice(0, colon);
    portStr = s.slice(colon + 1);
  }
  const port = portOf(portStr);
  if (port === null) return `port '${portStr}' must be between 1 and 65535`;
  if (host === '') return 'empty address';
  const literal = parseIpLiteral(host);
  const addr = literal ?? resolve(host)[0];
  if (!addr) return `cannot resolve '${host}'`;
  if (requireHost && (addr.address === '0.0.0.0' || addr.address === '::')) return 'unspecified address';
  return [{ address: addr.address, port, family: addr.family }];
}

function convert(given: Map<string, Given>, ctx: ConvertContext): Config {
  const c = new Converter(given, ctx);
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS) out[fieldName(o)] = c.value(o);

  // Presence checks come first, with the reference's wording.
  const ifSpecs = out.interfaces as string[];
  if (ifSpecs.length === 0) throw new ConfigError('ERR_MISSING_OPTION', 'Missing option --interface', 'interface');
  const listeners = ['listen-tcp', 'listen-udp', 'listen-ng', 'listen-tcp-ng', 'listen-http', 'listen-https'];
  if (!listeners.some((l) => c.has(l))) {
    throw new ConfigError('ERR_MISSING_OPTION',
      'Missing option --listen-tcp, --listen-udp, --listen-ng, --listen-tcp-ng, --listen-http, or --listen-https', 'listen-ng');
  }

  try {
    out.interfaces = parseInterfaces(ifSpecs, ctx);
  } catch (e) {
    if (e instanceof InterfaceError) throw new ConfigError('ERR_INVALID_INTERFACE', e.message, 'interface');
    throw e;
  }

  const resolve = c.resolver();
  for (const name of [...listeners, 'listen-cli']) {
    const s = spec(name);
    const list: ListenAddr[] = [];
    for (const item of out[fieldName(s)] as string[]) {
      const r = parseListenSpec(item, resolve);
      if (typeof r === 'string') throw c.fail(s, item, r);
      list.push(...r);
    }
    out[fieldName(s)] = list;
  }
  for (const name of ['graphite', 'homer', 'dtmf-log-dest']) {
    const s = spec(name);
    const v = out[fieldName(s)] as string | null;
    if (v === null) continue;
    const r = parseListenSpec(v, resolve, true);
    if (typeof r === 'string') throw c.fail(s, v, r);
    out[fieldName(s)] = r[0];
  }
  const env = ctx.env ?? process.env;
  out.redis = redisEndpoint(c, spec('redis'), out.redis as string | null, env.RTPENGINE_REDIS_AUTH_PW, resolve);
  out.redisWrite = redisEndpoint(c, spec('redis-write'), out.redisWrite as string | null, env.RTPENGINE_REDIS_WRITE_AUTH_PW, resolve);

  out.subscribeKeyspace = (out.subscribeKeyspace as string[]).map((k) => {
    if (!/^\d+$/.test(k)) throw c.fail(spec('subscribe-keyspace'), k, 'not a database number');
    return Number(k);
  });
  out.cnPayload = cnParams(c, spec('cn-payload'), out.cnPayload as string[]);
  out.dtxCnParams = cnParams(c, spec('dtx-cn-params'), out.dtxCnParams as string[]);

  // Values that mean "use the default" when zero or less, as in the reference.
  if ((out.timeout as number) <= 0) out.timeout = 60;
  if ((out.silentTimeout as number) <= 0) out.silentTimeout = 3600;
  if ((out.offerTimeout as number) <= 0) out.offerTimeout = 3600;
  if ((out.finalTimeout as number) <= 0) out.finalTimeout = 0;
  if ((out.maxSessions as number) < -1) out.maxSessions = -1;
  if ((out.threadStack as number) === 0) out.threadStack = 2048;
  if ((out.redisNumThreads as number) < 1) out.redisNumThreads = 4;
  if ((out.numThreads as number) < 1) out.numThreads = defaultThreads();
  if ((out.mediaNumThreads as number) < 0) out.mediaNumThreads = out.numThreads;
  if ((out.httpThreads as number) <= 0) out.httpThreads = out.numThreads;
  out.logLevel = Math.max(0, Math.min(7, out.logLevel as number));

  if ((out.portMin as number) > (out.portMax as number)) {
    throw new ConfigError('ERR_INVALID_VALUE',
      `Invalid port range: --port-min (${String(out.portMin)}) is above --port-max (${String(out.portMax)})`, 'port-min');
  }
  const q = out.mysqlQuery as string | null;
  if (q !== null) {
    if (!q.includes('%llu')) throw c.fail(spec('mysql-query'), q, "needs a '%llu' placeholder");
    if ((q.match(/%/g) ?? []).length !== 1) throw c.fail(spec('mysql-query'), q, "must contain no '%' besides '%llu'");
  }
  const version = packageVersion();
  const sw = (out.softwareId as string | null) ?? `rtpengine-ts-${version}`;
  out.softwareId = sw.replace(/[^A-Za-z0-9-]/g, '-');

  out.configFile = ctx.fileName;
  out.configSection = ctx.section;
  out.version = version;
  out.unsupportedOptions = OPTIONS.filter((o) => o.status === 'unsupported' && given.has(o.name)).map((o) => o.name);
  out.warnings = ctx.warnings;
  return out as unknown as Config;
}

function defaultThreads(): number {
  const n = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(4, n);
}

function redisEndpoint(c: Converter, s: OptionSpec, value: string | null, envPassword: string | undefined,
  resolve: (host: string) => ResolvedAddress[]): RedisEndpoint | null {
  if (value === null) return null;
  let rest = value;
  let password: string | null = envPassword ?? null;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    password = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) throw c.fail(s, value, 'expected [PASSWORD@]HOST:PORT/DB');
  const db = rest.slice(slash + 1);
  if (!/^\d+$/.test(db)) throw c.fail(s, value, 'database number missing or invalid');
  const hostPort = rest.slice(0, slash);
  const ep = parseListenSpec(hostPort, resolve, true);
  if (typeof ep === 'string') throw c.fail(s, value, ep);
  const host = hostPort.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return { ...ep[0], host, db: Number(db), password };
}

function cnParams(c: Converter, s: OptionSpec, items: string[]): number[] {
  return items.map((item, i) => {
    const n = parseCInteger(item);
    if (n === undefined) throw c.fail(s, item, 'not an integer');
    if (n < 0 || n > 254 || (i === 0 && n > 127)) {
      throw c.fail(s, item, i === 0 ? 'the noise level must be between 0 and 127' : 'coefficients must be between 0 and 254');
    }
    return n;
  });
}
