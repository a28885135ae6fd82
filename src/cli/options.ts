// The option table: every rtpengine option, defined once. The same rows drive
// the command-line parser (yargs), the config-file reader, `--help` and
// docs/options.md. Names, short letters and value syntax follow the reference
// daemon (rtpengine 10.5 as shipped by Debian, plus the options its newer man
// page documents); the help lines are our own.

import yargs from 'yargs';

/** How a value is read. `list` options may be repeated (config file: `a;b`). */
export type OptionType = 'bool' | 'int' | 'int64' | 'float' | 'string' | 'list';

/** Whether rtpengine-ts honours the option yet; unsupported ones are accepted and reported at start-up. */
export type OptionStatus = 'supported' | 'unsupported';

export type OptionGroup =
  | 'startup' | 'interfaces' | 'control' | 'calls' | 'kernel' | 'logging' | 'dtmf'
  | 'threads' | 'redis' | 'monitoring' | 'recording' | 'media' | 'database' | 'dtls';

export type DefaultValue = boolean | number | string | null | readonly string[];

export interface OptionSpec {
  /** Long name, used as `--name` and as the config-file key. */
  readonly name: string;
  /** Single-letter alias, as the reference binary assigns it. */
  readonly short?: string;
  readonly type: OptionType;
  /** Value syntax shown in help, e.g. `INT` or `[IP46|HOSTNAME:]PORT`. */
  readonly arg?: string;
  /** Value used when the option is given nowhere (before any conversion). */
  readonly default: DefaultValue;
  /** Human description of a default that is computed at start-up. */
  readonly defaultText?: string;
  readonly help: string;
  readonly status: OptionStatus;
  readonly group: OptionGroup;
  /** Config field name when it is not the camelCase long name. */
  readonly field?: string;
  /** Accepted values of an enumerated string option (canonical spelling). */
  readonly choices?: readonly string[];
  /** Further accepted spellings, mapped to a canonical choice. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Choices are matched case-insensitively unless this is set (as the reference does per option). */
  readonly caseSensitive?: boolean;
  /** Inclusive bounds of an integer or float option. */
  readonly min?: number;
  readonly max?: number;
  /** Only meaningful on the command line; ignored (with a warning) in the config file. */
  readonly cliOnly?: boolean;
  /** Documented by the newer man page but rejected by rtpengine 10.5. */
  readonly newerThan105?: boolean;
}

/** Errors from reading options, the config file or validating values. */
export type ConfigErrorCode =
  | 'ERR_UNKNOWN_OPTION'
  | 'ERR_MISSING_VALUE'
  | 'ERR_INVALID_VALUE'
  | 'ERR_MISSING_OPTION'
  | 'ERR_CONFIG_FILE'
  | 'ERR_INVALID_INTERFACE';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** Long name of the option concerned, when there is one. */
  readonly option: string | undefined;

  constructor(code: ConfigErrorCode, message: string, option?: string) {
    super(message);
    this.name = 'ConfigError';
    this.code = code;
    this.option = option;
  }
}

export const SYSLOG_FACILITY_NAMES = [
  'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

export const LOG_SUBSYSTEMS = [
  ['core', 'everything that belongs to no other subsystem'],
  ['spandsp', 'messages from the SpanDSP library'],
  ['ffmpeg', 'messages from the FFmpeg libraries'],
  ['transcoding', 'media decoding, encoding and RTP transcoding'],
  ['codec', 'codec negotiation'],
  ['rtcp', 'RTCP processing'],
  ['ice', 'ICE negotiation'],
  ['crypto', 'SRTP, SDES and DTLS negotiation'],
  ['srtp', 'SRTP encryption and decryption'],
  ['internals', 'noisy internal details (off unless set)'],
  ['http', 'HTTP, HTTPS and WebSocket'],
  ['control', 'control protocols, SDP exchanges and the CLI'],
  ['dtx', 'the DTX timer and buffer'],
] as const;

const SCHEDULING = ['default', 'none', 'fifo', 'rr', 'other', 'batch', 'idle'] as const;
const LISTEN_ARG = '[IP46|HOSTNAME:]PORT';
const ENDPOINT_ARG = 'IP46|HOSTNAME:PORT';
const FACILITY_ARG = 'daemon|local0|...|local7';

export const OPTIONS: readonly OptionSpec[] = [
  // Start-up and configuration.
  { name: 'help', short: 'h', type: 'bool', default: false, help: 'Print this usage summary and exit', status: 'supported', group: 'startup', field: 'printHelp', cliOnly: true },
  { name: 'version', short: 'v', type: 'bool', default: false, help: 'Print the version and exit', status: 'supported', group: 'startup', field: 'printVersion', cliOnly: true },
  { name: 'codecs', type: 'bool', default: false, help: 'List the codecs this build can handle and exit', status: 'unsupported', group: 'startup', field: 'printCodecs', cliOnly: true },
  { name: 'config-file', type: 'string', arg: 'FILE', default: '/etc/rtpengine/rtpengine.conf', help: "Read options from this ini file ('none' skips the default file)", status: 'supported', group: 'startup', cliOnly: true },
  { name: 'config-section', type: 'string', arg: 'STRING', default: 'rtpengine', help: 'Section of the config file to read', status: 'supported', group: 'startup', cliOnly: true },
  { name: 'foreground', short: 'f', type: 'bool', default: false, help: 'Stay attached to the terminal instead of detaching', status: 'supported', group: 'startup' },
  { name: 'pidfile', short: 'p', type: 'string', arg: 'FILE', default: null, help: 'Write the process ID to this file once started', status: 'supported', group: 'startup' },

  // Media interfaces and ports.
  { name: 'interface', short: 'i', type: 'list', arg: '[NAME/]IP[!IP]', default: [], help: 'Local address (or system interface, host name, any) for media, optionally named and with an advertised address', status: 'supported', group: 'interfaces', field: 'interfaces' },
  { name: 'save-interface-ports', short: 'S', type: 'bool', default: false, help: 'Allocate ports only on the first usable address of a family within a logical interface', status: 'unsupported', group: 'interfaces' },
  { name: 'port-min', short: 'm', type: 'int', arg: 'INT', default: 30000, help: 'Lowest UDP port used for media', status: 'supported', group: 'interfaces', min: 1, max: 65535 },
  { name: 'port-max', short: 'M', type: 'int', arg: 'INT', default: 40000, help: 'Highest UDP port used for media', status: 'supported', group: 'interfaces', min: 1, max: 65535 },
  { name: 'tos', short: 'T', type: 'int', arg: 'INT', default: 0, defaultText: '0 (leave untouched)', help: 'TOS/DSCP byte set on outgoing media packets', status: 'supported', group: 'interfaces', min: 0, max: 255 },
  { name: 'socket-cpu-affinity', type: 'int', arg: 'INT', default: 0, help: 'Spread media sockets over this many CPUs via SO_INCOMING_CPU (negative: all cores)', status: 'unsupported', group: 'interfaces' },

  // Control listeners.
  { name: 'listen-ng', short: 'n', type: 'list', arg: LISTEN_ARG, default: [], help: 'UDP address for the ng control protocol', status: 'supported', group: 'control' },
  { name: 'listen-tcp-ng', short: 'N', type: 'list', arg: LISTEN_ARG, default: [], help: 'TCP address for the ng control protocol', status: 'supported', group: 'control' },
  { name: 'listen-udp', short: 'u', type: 'list', arg: LISTEN_ARG, default: [], help: 'UDP address for the legacy rtpproxy protocol', status: 'unsupported', group: 'control' },
  { name: 'listen-tcp', short: 'l', type: 'list', arg: '[IP:]PORT', default: [], help: 'TCP address for the obsolete mediaproxy protocol', status: 'unsupported', group: 'control' },
  { name: 'listen-cli', short: 'c', type: 'list', arg: LISTEN_ARG, default: [], help: 'TCP address for the rtpengine-ctl command interface', status: 'unsupported', group: 'control' },
  { name: 'listen-http', type: 'list', arg: LISTEN_ARG, default: [], help: 'Address for HTTP and WebSocket control and metrics', status: 'unsupported', group: 'control' },
  { name: 'listen-https', type: 'list', arg: LISTEN_ARG, default: [], help: 'Address for HTTPS and secure WebSocket', status: 'unsupported', group: 'control' },
  { name: 'https-cert', type: 'string', arg: 'FILE', default: null, help: 'PEM certificate for the HTTPS listener', status: 'unsupported', group: 'control' },
  { name: 'https-key', type: 'string', arg: 'FILE', default: null, help: 'PEM private key for the HTTPS listener', status: 'unsupported', group: 'control' },
  { name: 'http-threads', type: 'int', arg: 'INT', default: 0, defaultText: 'same as num-threads', help: 'Worker threads serving HTTP and WebSocket', status: 'unsupported', group: 'control' },
  { name: 'control-tos', type: 'int', arg: 'INT', default: 0, defaultText: '0 (leave untouched)', help: 'TOS/DSCP byte set on ng control replies', status: 'unsupported', group: 'control', min: 0, max: 255 },
  { name: 'control-pmtu', type: 'string', arg: 'want|dont', default: null, defaultText: 'system default', help: 'Path MTU discovery on IPv4 UDP control sockets', status: 'unsupported', group: 'control', choices: ['want', 'dont'], aliases: { "don't": 'dont' }, newerThan105: true },
  { name: 'janus-secret', type: 'string', arg: 'STRING', default: null, help: 'Admin secret for the Janus-compatible WebSocket protocol', status: 'unsupported', group: 'control' },

  // Call handling.
  { name: 'timeout', short: 'o', type: 'int', arg: 'SECS', default: 60, help: 'Drop a call after this long without media (0 or less: default)', status: 'supported', group: 'calls' },
  { name: 'silent-timeout', short: 's', type: 'int', arg: 'SECS', default: 3600, help: 'Same as timeout, for muted or inactive streams', status: 'supported', group: 'calls' },
  { name: 'final-timeout', short: 'a', type: 'int', arg: 'SECS', default: 0, defaultText: '0 (no limit)', help: 'Delete every call this long after it was created', status: 'supported', group: 'calls' },
  { name: 'offer-timeout', type: 'int', arg: 'SECS', default: 3600, help: 'Delete a call that got an offer but no answer after this long', status: 'supported', group: 'calls' },
  { name: 'delete-delay', short: 'd', type: 'int', arg: 'INT', default: 30, help: 'Seconds a deleted call stays in memory (0: forget at once)', status: 'supported', group: 'calls', min: 0 },
  { name: 'max-sessions', type: 'int', arg: 'INT', default: -1, defaultText: '-1 (no limit)', help: 'Refuse new calls beyond this many concurrent sessions', status: 'supported', group: 'calls' },
  { name: 'max-load', type: 'float', arg: 'FLOAT', default: 0, defaultText: '0 (no limit)', help: 'Refuse new calls while the 1-minute load average is above this', status: 'supported', group: 'calls', min: 0 },
  { name: 'max-cpu', type: 'float', arg: 'FLOAT', default: 0, defaultText: '0 (no limit)', help: 'Refuse new calls while CPU usage (percent) is above this', status: 'supported', group: 'calls', min: 0 },
  { name: 'max-bandwidth', type: 'int64', arg: 'INT', default: 0, defaultText: '0 (no limit)', help: 'Refuse new calls while received bytes per second are above this', status: 'supported', group: 'calls', min: 0 },
  { name: 'sip-source', type: 'bool', default: false, help: 'Send media to the SIP source address instead of the one in the SDP', status: 'supported', group: 'calls' },
  { name: 'endpoint-learning', type: 'string', arg: 'delayed|immediate|off|heuristic', default: 'delayed', help: 'How the media source address of a peer is learned', status: 'supported', group: 'calls', choices: ['delayed', 'immediate', 'off', 'heuristic'] },
  { name: 'reject-invalid-sdp', type: 'bool', default: false, help: 'Answer an error for SDP bodies that do not parse cleanly', status: 'unsupported', group: 'calls' },
  { name: 'b2b-url', short: 'b', type: 'string', arg: 'STRING', default: null, help: 'XMLRPC URL called when a call times out (%% is the request source address)', status: 'supported', group: 'calls' },
  { name: 'xmlrpc-format', short: 'x', type: 'int', arg: 'INT', default: 0, help: 'Timeout callback format: 0 SEMS, 1 call-id only, 2 Kamailio', status: 'supported', group: 'calls', min: 0, max: 2 },
  { name: 'software-id', type: 'string', arg: 'STRING', default: null, defaultText: 'rtpengine-ts-VERSION', help: 'Name presented to other systems, e.g. in STUN (non-alphanumerics become dashes)', status: 'supported', group: 'calls' },

  // In-kernel forwarding and firewall.
  { name: 'table', short: 't', type: 'int', arg: 'INT', default: -1, defaultText: '-1 (no kernel forwarding)', help: 'Kernel forwarding table to use; negative keeps all media in user space', status: 'supported', group: 'kernel' },
  { name: 'no-fallback', short: 'F', type: 'bool', default: false, help: 'Fail to start when kernel forwarding is unavailable', status: 'supported', group: 'kernel' },
  { name: 'iptables-chain', type: 'string', arg: 'STRING', default: null, help: 'Manage ACCEPT rules for open media ports in this existing iptables chain', status: 'supported', group: 'kernel' },

  // Logging.
  { name: 'log-level', short: 'L', type: 'int', arg: 'INT', default: 6, help: 'Highest syslog level logged, 0 (emerg) to 7 (debug)', status: 'supported', group: 'logging' },
  ...LOG_SUBSYSTEMS.map(([sub, what]): OptionSpec => ({
    name: `log-level-${sub}`, type: 'int', arg: 'INT', default: null,
    defaultText: sub === 'internals' ? 'off' : 'log-level',
    help: `Log level for ${what}`, status: 'unsupported', group: 'logging',
  })),
  { name: 'log-stderr', short: 'E', type: 'bool', default: false, help: 'Log to standard error instead of syslog', status: 'supported', group: 'logging' },
  { name: 'log-facility', type: 'string', arg: FACILITY_ARG, default: 'daemon', help: 'Syslog facility for log lines', status: 'supported', group: 'logging', choices: SYSLOG_FACILITY_NAMES, caseSensitive: true },
  { name: 'log-facility-cdr', type: 'string', arg: FACILITY_ARG, default: null, help: 'Syslog facility for call detail records', status: 'unsupported', group: 'logging', choices: SYSLOG_FACILITY_NAMES, caseSensitive: true },
  { name: 'log-facility-rtcp', type: 'string', arg: FACILITY_ARG, default: null, help: 'Syslog facility for decoded RTCP reports', status: 'unsupported', group: 'logging', choices: SYSLOG_FACILITY_NAMES, caseSensitive: true },
  { name: 'log-facility-dtmf', type: 'string', arg: FACILITY_ARG, default: null, help: 'Syslog facility for DTMF events (JSON)', status: 'supported', group: 'logging', choices: SYSLOG_FACILITY_NAMES, caseSensitive: true },
  { name: 'log-format', type: 'string', arg: 'default|parsable', default: 'default', help: 'Prefix style of call-related log lines', status: 'unsupported', group: 'logging', choices: ['default', 'parsable'], caseSensitive: true },
  { name: 'log-name', type: 'string', arg: 'STRING', default: 'rtpengine', help: 'Program name used in syslog', status: 'supported', group: 'logging', newerThan105: true },
  { name: 'log-mark-prefix', type: 'string', arg: 'STRING', default: '', help: 'Text put before sensitive values in log lines', status: 'unsupported', group: 'logging' },
  { name: 'log-mark-suffix', type: 'string', arg: 'STRING', default: '', help: 'Text put after sensitive values in log lines', status: 'unsupported', group: 'logging' },
  { name: 'split-logs', type: 'bool', default: false, help: 'Log each line of a multi-line message with its own prefix', status: 'supported', group: 'logging' },
  { name: 'max-log-line-length', type: 'int', arg: 'INT', default: 0, defaultText: '0 (unlimited on stderr, 500 for syslog)', help: 'Break log lines longer than this (negative: never)', status: 'supported', group: 'logging' },
  { name: 'no-log-timestamps', type: 'bool', default: false, help: 'Leave timestamps out of log lines on stderr', status: 'supported', group: 'logging' },
  { name: 'log-srtp-keys', type: 'bool', default: false, help: 'Log SRTP keys at error level instead of debug', status: 'supported', group: 'logging' },
  { name: 'debug-srtp', type: 'bool', default: false, help: 'Log per-packet SRTP details (sequence, ROC, payloads) for debugging', status: 'unsupported', group: 'logging' },

  // DTMF events.
  { name: 'dtmf-log-dest', type: 'string', arg: ENDPOINT_ARG, default: null, help: 'Send detected DTMF events as JSON over UDP to this address', status: 'supported', group: 'dtmf' },
  { name: 'dtmf-log-ng-tcp', type: 'bool', default: false, help: 'Send DTMF events to connected TCP ng clients', status: 'supported', group: 'dtmf' },
  { name: 'dtmf-no-log-injects', type: 'bool', default: false, help: 'Do not report DTMF events produced by inject-DTMF', status: 'supported', group: 'dtmf', newerThan105: true },
  { name: 'dtmf-no-suppress', type: 'bool', default: false, help: 'Keep forwarding audio during DTMF events when transcoding', status: 'supported', group: 'dtmf' },
  { name: 'dtmf-digit-delay', type: 'int', arg: 'INT', default: 2500, help: 'Milliseconds between DTMF digits that still count as one trigger sequence', status: 'unsupported', group: 'dtmf' },

  // Threads and scheduling.
  { name: 'num-threads', type: 'int', arg: 'INT', default: 0, defaultText: 'number of CPU cores, at least 4', help: 'Media worker threads', status: 'supported', group: 'threads' },
  { name: 'media-num-threads', type: 'int', arg: 'INT', default: -1, defaultText: 'same as num-threads', help: 'Threads that read, fetch and encode media for play media (0 disables playback)', status: 'supported', group: 'threads' },
  { name: 'thread-stack', type: 'int', arg: 'INT', default: 2048, help: 'Thread stack size in kB (-1: system default)', status: 'unsupported', group: 'threads' },
  { name: 'poller-per-thread', type: 'bool', default: false, help: 'Give each worker thread its own poller so one socket is read by one thread (always so here: each media thread polls only its own sockets)', status: 'supported', group: 'threads' },
  { name: 'scheduling', type: 'string', arg: SCHEDULING.join('|'), default: null, defaultText: 'system default', help: 'Scheduling policy of worker threads', status: 'unsupported', group: 'threads', choices: SCHEDULING },
  { name: 'priority', type: 'int', arg: 'INT', default: null, help: 'Realtime priority (1-99) or nice value (-20-19) of worker threads', status: 'unsupported', group: 'threads' },
  { name: 'idle-scheduling', type: 'string', arg: SCHEDULING.join('|'), default: null, defaultText: 'system default', help: 'Scheduling policy of background threads', status: 'unsupported', group: 'threads', choices: SCHEDULING },
  { name: 'idle-priority', type: 'int', arg: 'INT', default: null, help: 'Realtime priority or nice value of background threads', status: 'unsupported', group: 'threads' },
  { name: 'evs-lib-path', type: 'string', arg: 'FILE', default: null, help: 'Shared object with the 3GPP EVS reference codec', status: 'unsupported', group: 'threads', newerThan105: true },

  // Redis persistence.
  { name: 'redis', short: 'r', type: 'string', arg: '[PW@]IP:PORT/INT', default: null, help: 'Redis database to restore calls from and keep them in', status: 'unsupported', group: 'redis' },
  { name: 'redis-write', short: 'w', type: 'string', arg: '[PW@]IP:PORT/INT', default: null, help: 'Separate Redis database for writes', status: 'unsupported', group: 'redis' },
  { name: 'redis-num-threads', type: 'int', arg: 'INT', default: 4, help: 'Threads restoring calls from Redis at start-up', status: 'unsupported', group: 'redis' },
  { name: 'redis-expires', type: 'int', arg: 'INT', default: 86400, help: 'Expiry in seconds of keys written to Redis', status: 'unsupported', group: 'redis' },
  { name: 'no-redis-required', short: 'q', type: 'bool', default: false, help: 'Start even when Redis cannot be reached', status: 'unsupported', group: 'redis' },
  { name: 'redis-allowed-errors', type: 'int', arg: 'INT', default: -1, defaultText: '-1 (never disable)', help: 'Consecutive Redis errors before Redis is paused', status: 'unsupported', group: 'redis' },
  { name: 'redis-disable-time', type: 'int', arg: 'INT', default: 10, help: 'Seconds Redis stays paused after too many errors', status: 'unsupported', group: 'redis' },
  { name: 'redis-cmd-timeout', type: 'int', arg: 'INT', default: 0, defaultText: '0 (wait forever)', help: 'Timeout of a Redis command in milliseconds', status: 'unsupported', group: 'redis' },
  { name: 'redis-connect-timeout', type: 'int', arg: 'INT', default: 1000, help: 'Timeout of a Redis connection attempt in milliseconds', status: 'unsupported', group: 'redis' },
  { name: 'redis-delete-async', short: 'y', type: 'int', arg: 'INT', default: 0, help: 'Delete Redis keys asynchronously (non-zero enables)', status: 'unsupported', group: 'redis' },
  { name: 'redis-delete-async-interval', type: 'int', arg: 'INT', default: 0, help: 'Seconds between asynchronous Redis delete runs', status: 'unsupported', group: 'redis' },
  { name: 'active-switchover', type: 'bool', default: false, help: 'Take over a foreign call as soon as it shows activity', status: 'unsupported', group: 'redis' },
  { name: 'subscribe-keyspace', short: 'k', type: 'list', arg: 'INT INT ...', default: [], help: 'Redis keyspaces (database numbers) to follow through notifications', status: 'unsupported', group: 'redis' },

  // Statistics and monitoring.
  { name: 'graphite', short: 'g', type: 'string', arg: ENDPOINT_ARG, default: null, help: 'Graphite server receiving statistics', status: 'unsupported', group: 'monitoring' },
  { name: 'graphite-interval', short: 'G', type: 'int', arg: 'INT', default: 0, help: 'Seconds between Graphite reports', status: 'unsupported', group: 'monitoring' },
  { name: 'graphite-prefix', type: 'string', arg: 'STRING', default: null, help: 'Prefix put before every Graphite metric', status: 'unsupported', group: 'monitoring' },
  { name: 'graphite-timeout', type: 'int', arg: 'INT', default: 0, defaultText: '0 (system default)', help: 'Seconds before a Graphite connection attempt is abandoned', status: 'unsupported', group: 'monitoring' },
  { name: 'homer', type: 'string', arg: ENDPOINT_ARG, default: null, help: 'Homer (HEPv3) capture server receiving decoded RTCP', status: 'unsupported', group: 'monitoring' },
  { name: 'homer-protocol', type: 'string', arg: 'udp|tcp', default: 'udp', help: 'Transport towards the Homer server', status: 'unsupported', group: 'monitoring', choices: ['udp', 'tcp'], caseSensitive: true },
  { name: 'homer-id', type: 'int', arg: 'INT', default: 2001, help: 'HEP capture ID', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-host', type: 'string', arg: 'HOST|IP', default: null, help: 'Mosquitto broker receiving statistics', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-port', type: 'int', arg: 'INT', default: 1883, help: 'Mosquitto broker port', status: 'unsupported', group: 'monitoring', min: 1, max: 65535 },
  { name: 'mqtt-id', type: 'string', arg: 'STRING', default: null, defaultText: 'random', help: 'Mosquitto client ID', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-keepalive', type: 'int', arg: 'INT', default: 30, help: 'Seconds between Mosquitto keepalives', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-user', type: 'string', arg: 'USERNAME', default: null, help: 'Mosquitto user name (enables authentication)', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-pass', type: 'string', arg: 'PASSWORD', default: null, help: 'Mosquitto password', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-cafile', type: 'string', arg: 'FILE', default: null, help: 'CA file for TLS to Mosquitto', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-capath', type: 'string', arg: 'PATH', default: null, help: 'CA directory for TLS to Mosquitto', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-certfile', type: 'string', arg: 'FILE', default: null, help: 'Client certificate for TLS to Mosquitto', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-keyfile', type: 'string', arg: 'FILE', default: null, help: 'Client key for TLS to Mosquitto', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-tls-alpn', type: 'string', arg: 'STRING', default: null, help: 'ALPN protocol name for TLS to Mosquitto', status: 'unsupported', group: 'monitoring', newerThan105: true },
  { name: 'mqtt-publish-qos', type: 'int', arg: '0|1|2', default: 0, help: 'QoS of published Mosquitto messages', status: 'unsupported', group: 'monitoring', min: 0, max: 2 },
  { name: 'mqtt-publish-topic', type: 'string', arg: 'STRING', default: null, help: 'Topic of published Mosquitto messages', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-publish-interval', type: 'int', arg: 'MILLISECONDS', default: 5000, help: 'Milliseconds between Mosquitto publications', status: 'unsupported', group: 'monitoring' },
  { name: 'mqtt-publish-scope', type: 'string', arg: 'global|summary|call|media', default: null, help: 'What each Mosquitto message covers', status: 'unsupported', group: 'monitoring', choices: ['global', 'summary', 'call', 'media'], caseSensitive: true },
  { name: 'mos', type: 'string', arg: 'CQ|LQ', default: 'CQ', help: 'MOS formula: conversational (uses RTT) or listening quality', status: 'supported', group: 'monitoring', choices: ['CQ', 'LQ'] },
  { name: 'measure-rtp', type: 'bool', default: false, help: 'Measure RTP metrics for plain forwarded streams too', status: 'unsupported', group: 'monitoring', newerThan105: true },

  // Recording.
  { name: 'recording-dir', type: 'string', arg: 'FILE', default: null, help: 'Directory for recordings and their metadata (enables recording)', status: 'supported', group: 'recording' },
  { name: 'recording-method', type: 'string', arg: 'pcap|proc|all', default: 'pcap', help: 'Record to pcap files; proc and all (the kernel /proc interface) record to pcap only', status: 'supported', group: 'recording', choices: ['pcap', 'proc', 'all'], caseSensitive: true },
  { name: 'recording-format', type: 'string', arg: 'raw|eth', default: 'raw', help: 'Packet framing in pcap recordings', status: 'supported', group: 'recording', choices: ['raw', 'eth'], caseSensitive: true },
  { name: 'record-egress', type: 'bool', default: false, help: 'Record media as sent instead of as received', status: 'supported', group: 'recording', newerThan105: true },

  // Media processing and transcoding.
  { name: 'jitter-buffer', type: 'int', arg: 'INT', default: 0, defaultText: '0 (off)', help: 'Packets held in the receive jitter buffer', status: 'unsupported', group: 'media', min: 0 },
  { name: 'jb-clock-drift', type: 'bool', default: false, help: 'Compensate sender clock drift in the jitter buffer', status: 'unsupported', group: 'media' },
  { name: 'dtx-delay', type: 'int', arg: 'INT', default: 0, defaultText: '0 (off)', help: 'Milliseconds packets are held to detect transmission gaps when transcoding', status: 'supported', group: 'media' },
  { name: 'max-dtx', type: 'int', arg: 'INT', default: 30, help: 'Seconds of gap filling before DTX handling stops (0 or less: forever)', status: 'supported', group: 'media' },
  { name: 'dtx-buffer', type: 'int', arg: 'INT', default: 10, help: 'Packets the DTX buffer may hold', status: 'supported', group: 'media' },
  { name: 'dtx-lag', type: 'int', arg: 'INT', default: 100, help: 'Milliseconds of audio the DTX buffer may hold', status: 'supported', group: 'media' },
  { name: 'dtx-shift', type: 'int', arg: 'INT', default: 5, help: 'Milliseconds the DTX timer moves after an over- or underflow', status: 'supported', group: 'media' },
  { name: 'dtx-cn-params', type: 'list', arg: 'INT INT ...', default: [], defaultText: 'none (silence)', help: 'Comfort noise parameters (RFC 3389) used to fill DTX gaps', status: 'supported', group: 'media' },
  { name: 'amr-dtx', type: 'string', arg: 'native|CN', default: 'native', help: 'DTX handling for AMR and AMR-WB', status: 'supported', group: 'media', choices: ['native', 'CN'] },
  { name: 'silence-detect', type: 'float', arg: 'FLOAT', default: 0, defaultText: '0 (off)', help: 'Level in percent below which transcoded audio counts as silence', status: 'supported', group: 'media', min: 0, max: 100 },
  { name: 'cn-payload', type: 'list', arg: 'INT INT ...', default: ['32'], help: 'Comfort noise payload (RFC 3389 level, then coefficients) replacing silence', status: 'supported', group: 'media' },
  { name: 'player-cache', type: 'bool', default: false, help: 'Encode played media files once and keep the RTP in memory', status: 'supported', group: 'media', newerThan105: true },
  { name: 'audio-buffer-length', type: 'int', arg: 'INT', default: 500, help: 'Milliseconds of audio the mixing audio player buffers', status: 'supported', group: 'media', newerThan105: true },
  { name: 'audio-buffer-delay', type: 'int', arg: 'INT', default: 5, help: 'Initial delay in milliseconds for a new source in the audio player', status: 'supported', group: 'media', newerThan105: true },
  { name: 'audio-player', type: 'string', arg: 'on-demand|play-media|transcoding|always', default: 'on-demand', help: 'When calls get the mixing audio player without being asked', status: 'supported', group: 'media', newerThan105: true,
    choices: ['on-demand', 'play-media', 'transcoding', 'always'],
    aliases: { 'on demand': 'on-demand', off: 'on-demand', no: 'on-demand', never: 'on-demand', 'play media': 'play-media', 'media player': 'play-media', 'media-player': 'play-media', transcode: 'transcoding', everything: 'always', force: 'always', forced: 'always' } },

  // Media playback from a database.
  { name: 'mysql-host', type: 'string', arg: 'HOST|IP', default: null, help: 'MySQL/MariaDB server holding media files (localhost: its Unix socket)', status: 'supported', group: 'database' },
  { name: 'mysql-port', type: 'int', arg: 'INT', default: null, defaultText: 'client library default', help: 'Port of the MySQL server', status: 'supported', group: 'database' },
  { name: 'mysql-user', type: 'string', arg: 'USERNAME', default: null, help: 'User name for the MySQL server', status: 'supported', group: 'database' },
  { name: 'mysql-pass', type: 'string', arg: 'PASSWORD', default: null, help: 'Password for the MySQL server', status: 'supported', group: 'database' },
  { name: 'mysql-query', type: 'string', arg: 'STRING', default: null, help: 'Query returning a media file, with one %llu placeholder for its ID', status: 'supported', group: 'database' },

  // DTLS.
  { name: 'dtls-passive', type: 'bool', default: false, help: 'Prefer the passive DTLS role in every call', status: 'unsupported', group: 'dtls' },
  { name: 'dtls-cert-cipher', type: 'string', arg: 'prime256v1|RSA', default: 'prime256v1', help: 'Key type of the self-signed DTLS certificate', status: 'unsupported', group: 'dtls', choices: ['prime256v1', 'RSA'], aliases: { 'ec-prime256v1': 'prime256v1', ec_prime256v1: 'prime256v1' } },
  { name: 'dtls-signature', type: 'string', arg: 'SHA-256|SHA-1', default: 'SHA-256', help: 'Hash signing the DTLS certificate', status: 'unsupported', group: 'dtls', choices: ['SHA-256', 'SHA-1'], aliases: { sha256: 'SHA-256', sha1: 'SHA-1' } },
  { name: 'dtls-rsa-key-size', type: 'int', arg: 'INT', default: 2048, help: 'RSA key size in bits for the DTLS certificate', status: 'unsupported', group: 'dtls', min: 0 },
  { name: 'dtls-ciphers', type: 'string', arg: 'STRING', default: 'DEFAULT:!NULL:!aNULL:!SHA256:!SHA384:!aECDH:!AESGCM+AES256:!aPSK', help: 'OpenSSL cipher list for the DTLS handshake', status: 'unsupported', group: 'dtls' },
  { name: 'dtls-mtu', type: 'int', arg: 'INT', default: 1200, help: 'Largest DTLS packet before fragmenting (at least 576)', status: 'unsupported', group: 'dtls', min: 576 },
];

export const GROUP_TITLES: Readonly<Record<OptionGroup, string>> = {
  startup: 'Start-up and configuration',
  interfaces: 'Media interfaces and ports',
  control: 'Control listeners',
  calls: 'Call handling',
  kernel: 'In-kernel forwarding and firewall',
  logging: 'Logging',
  dtmf: 'DTMF events',
  threads: 'Threads and scheduling',
  redis: 'Redis persistence',
  monitoring: 'Statistics and monitoring',
  recording: 'Recording',
  media: 'Media processing and transcoding',
  database: 'Media files from a database',
  dtls: 'DTLS',
};

const BY_NAME = new Map(OPTIONS.map((o) => [o.name, o]));
const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short as string, o]));

export function findOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name) ?? (name.length === 1 ? BY_SHORT.get(name) : undefined);
}

/** Config field of an option: camelCase of the long name unless the table says otherwise. */
export function fieldName(spec: OptionSpec): string {
  return spec.field ?? spec.name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** A value as read from the command line: strings stay raw until validated. */
export type CliValue = string | string[] | boolean;

export interface ParsedCommandLine {
  /** Options given on the command line, by long name. */
  values: Map<string, CliValue>;
  /** Arguments that are not options; the reference ignores them. */
  positional: string[];
}

/**
 * Parses the command line against the option table. Unknown options and
 * options missing their value are a ConfigError; values are not validated here.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const defs: Record<string, yargs.Options> = {};
  for (const o of OPTIONS) {
    defs[o.name] = {
      alias: o.short,
      type: o.type === 'bool' ? 'boolean' : 'string',
      array: o.type === 'list' ? true : undefined,
      requiresArg: o.type !== 'bool' ? true : undefined,
    };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = yargs([...argv])
      .parserConfiguration({
        'boolean-negation': false, // --no-fallback is an option of its own, not "fallback = false"
        'camel-case-expansion': false,
        'dot-notation': false,
        'parse-numbers': false,
        'parse-positional-numbers': false,
        'duplicate-arguments-array': true,
        'flatten-duplicate-arrays': true,
        'greedy-arrays': false,
        'short-option-groups': true,
        'strip-aliased': true,
        'populate--': false,
        'halt-at-non-option': false,
        'unknown-options-as-args': false,
      })
      // Built-in --help/--version handling off first: both are table options here.
      .help(false)
      .version(false)
      .options(defs)
      .strictOptions()
      .exitProcess(false)
      .fail((msg: string | undefined, err: Error | undefined) => {
        throw commandLineError(msg ?? err?.message ?? 'invalid command line');
      })
      .parseSync() as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw commandLineError(e instanceof Error ? e.message : String(e));
  }
  const values = new Map<string, CliValue>();
  for (const o of OPTIONS) {
    const v = parsed[o.name];
    if (v === undefined) continue;
    if (o.type === 'list') {
      values.set(o.name, (Array.isArray(v) ? v : [v]).map(String));
    } else if (o.type === 'bool') {
      values.set(o.name, Array.isArray(v) ? Boolean(v[v.length - 1]) : Boolean(v));
    } else {
      // Given more than once: the last one counts, as with the reference.
      values.set(o.name, String(Array.isArray(v) ? v[v.length - 1] : v));
    }
  }
  const positional = Array.isArray(parsed['_']) ? (parsed['_'] as unknown[]).map(String) : [];
  return { values, positional };
}

function dashed(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Rewords yargs' messages so that they name options the way a user typed them. */
function commandLineError(msg: string): ConfigError {
  const unknown = /^Unknown arguments?: (.*)$/.exec(msg);
  if (unknown) {
    const names = unknown[1].split(', ').map((n) => dashed(n.trim()));
    return new ConfigError('ERR_UNKNOWN_OPTION', `Unknown option ${names.join(', ')}`, names[0].replace(/^-+/, ''));
  }
  const missing = /^Not enough arguments following: (.*)$/.exec(msg);
  if (missing) {
    const spec = findOption(missing[1].trim());
    const name = spec ? spec.name : missing[1].trim();
    return new ConfigError('ERR_MISSING_VALUE', `Missing value for --${name}`, name);
  }
  return new ConfigError('ERR_INVALID_VALUE', `Bad command line: ${msg}`);
}

function leftColumn(o: OptionSpec): string {
  const names = o.short ? `-${o.short}, --${o.name}` : `--${o.name}`;
  return o.arg ? `${names}=${o.arg}` : names;
}

/** The `--help` text, generated from the table. */
export function renderHelp(program = 'rtpengine-ts'): string {
  const lines: string[] = [
    'Usage:',
    `  ${program} [OPTION…]  - media proxy for SIP, compatible with rtpengine`,
    '',
  ];
  const width = Math.min(44, Math.max(...OPTIONS.map((o) => leftColumn(o).length))) + 2;
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    const rows = OPTIONS.filter((o) => o.group === group);
    if (rows.length === 0) continue;
    lines.push(`${GROUP_TITLES[group]}:`);
    for (const o of rows) {
      const left = leftColumn(o);
      const mark = o.status === 'unsupported' ? ' (not supported yet)' : '';
      const pad = left.length + 2 >= width ? '\n' + ' '.repeat(width + 2) : ' '.repeat(width - left.length);
      lines.push(`  ${left}${pad}${o.help}${mark}`);
    }
    lines.push('');
  }
  lines.push('Every option except the start-up ones may also be set in the config file,');
  lines.push('under its long name; the command line takes precedence.');
  return lines.join('\n') + '\n';
}

function formatDefault(o: OptionSpec): string {
  if (o.defaultText !== undefined) return o.defaultText;
  const d = o.default;
  if (d === null) return '—';
  if (Array.isArray(d)) return d.length ? d.join(';') : '—';
  if (typeof d === 'boolean') return d ? 'true' : 'false';
  if (d === '') return 'empty';
  return String(d);
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** docs/options.md, generated from the table (a unit test keeps the file in step). */
export function renderOptionsMarkdown(): string {
  const out: string[] = [
    '# Options',
    '',
    '<!-- Generated from src/cli/options.ts by renderOptionsMarkdown(); do not edit by hand.',
    '     Regenerate: node -e "process.stdout.write(require(\'./dist/src/cli/options.js\').renderOptionsMarkdown())" > docs/options.md -->',
    '',
    'rtpengine-ts accepts every option of rtpengine, with the same long and short names and',
    'the same value syntax, so an existing command line or config file keeps working. Options',
    'marked *not yet* are accepted and listed once in a warning at start-up, but have no effect.',
    '',
    '## Config file',
    '',
    '`--config-file` names an ini file (default `/etc/rtpengine/rtpengine.conf`, read only when',
    'it exists; `none` reads no file). Options are read from the section given by',
    '`--config-section` (default `rtpengine`), under their long names:',
    '',
    '```ini',
    '[rtpengine]',
    'interface = internal/10.0.0.5;external/10.0.0.5!192.0.2.10',
    'listen-ng = 127.0.0.1:2223',
    'port-min = 30000',
    'foreground = false',
    '```',
    '',
    '- A value given on the command line replaces the one from the file; for options that can',
    '  be repeated, the command-line list replaces the whole list from the file.',
    '- Options that can be repeated on the command line are given once in the file, with the',
    '  values separated by `;` (write `\\;` for a literal semicolon).',
    '- Switches take `true` or `false` (`1` and `0` work too).',
    '- Lines starting with `#` are comments; `#` later in a line is part of the value.',
    '  `;` does not start a comment.',
    '- Space around `=` is ignored, and so is space at the end of a value.',
    '  Strings understand the escapes `\\s` (space), `\\t`, `\\n`, `\\r` and `\\\\`.',
    '- Keys that are not rtpengine options are ignored with a warning.',
    '',
    '## Interfaces',
    '',
    '`--interface=[NAME/]ADDRESS[!ADVERTISED]` adds local media addresses to the logical',
    'interface NAME (default `default`). ADDRESS is an IPv4 or IPv6 address, a system',
    'interface name such as `eth0` (all its addresses except IPv6 link-local ones), a host',
    'name (resolved once at start-up), or `any` (every address of every interface except',
    'loopback and IPv6 link-local). ADVERTISED is the address put into SDP instead of the',
    'local one. Giving the same NAME again adds addresses to that interface; names of the',
    'form `BASE:SUFFIX` can be selected by BASE alone, in turn.',
    '',
    '## Listen addresses',
    '',
    'Listener options take `[ADDRESS:]PORT`, where ADDRESS is an IPv4 address, an IPv6',
    'address (`[::1]:2223`, or `::1:2223`) or a host name. A bare PORT listens on every',
    'address of both families. All listener options can be repeated.',
    '',
    '## Differences from rtpengine 10.5',
    '',
    '- Errors in options are printed on stderr and end the program with exit code 1',
    '  (rtpengine exits with 255, and reports some of them only to syslog).',
    '- Values rtpengine silently accepts are rejected with a message naming the option:',
    '  ports outside 1-65535 or `--port-min` above `--port-max`, listener values without a',
    '  port, unknown words for enumerated options, malformed `--subscribe-keyspace` items.',
    '- The listener options can be repeated (rtpengine 10.5 keeps only the last one).',
    '- Spaces around `;`-separated items in the config file are ignored.',
    '- Options from the newer rtpengine manual that 10.5 does not know are accepted.',
    '- `--log-level` values outside 0-7 are clamped.',
    '',
  ];
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    const rows = OPTIONS.filter((o) => o.group === group);
    if (rows.length === 0) continue;
    out.push(`## ${GROUP_TITLES[group]}`, '');
    out.push('| Option | Value | Default | Status | Description |');
    out.push('|---|---|---|---|---|');
    for (const o of rows) {
      const names = (o.short ? `\`-${o.short}\`, ` : '') + `\`--${o.name}\``;
      const value = o.type === 'bool' ? 'switch' : `\`${mdCell(o.arg ?? 'VALUE')}\``;
      const status = o.status === 'supported' ? 'yes' : 'not yet';
      let help = o.help;
      if (o.type === 'list') help += ' (repeatable)';
      if (o.cliOnly) help += ' (command line only)';
      if (o.newerThan105) help += ' (newer than rtpengine 10.5)';
      out.push(`| ${names} | ${value} | ${mdCell(formatDefault(o))} | ${status} | ${mdCell(help)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
