// Logical media interfaces, as configured by `--interface=[NAME/]ADDRESS[!ADVERTISED]`.
// A logical interface (default name `default`) owns one or more local addresses;
// ADDRESS may be an IP literal, a system interface name (all of its addresses),
// `any` (all non-loopback addresses) or a host name resolved once at start-up.
// Names of the form BASE:SUFFIX can be selected by BASE alone, round robin.
//
// Everything here runs once at start-up or at signalling time on the main thread.

import { spawnSync } from 'child_process';
import { isIP, isIPv4 } from 'net';
import { networkInterfaces, NetworkInterfaceInfo } from 'os';

export interface LocalAddress {
  /** Address to bind, normalised (IPv6 compressed). */
  address: string;
  family: 4 | 6;
  /** Address to put into SDP; the local address unless `!ADVERTISED` was given. */
  advertised: string;
}

export interface LogicalInterface {
  /** Full name, `default` when the spec had none. */
  name: string;
  /** BASE of a BASE:SUFFIX name, else null. */
  base: string | null;
  /** SUFFIX of a BASE:SUFFIX name, else null. */
  suffix: string | null;
  /** Addresses in configuration order; the first of each family is the primary one. */
  addresses: LocalAddress[];
}

export type InterfaceErrorCode = 'ERR_INVALID_INTERFACE' | 'ERR_UNKNOWN_INTERFACE';

export class InterfaceError extends Error {
  readonly code: InterfaceErrorCode;

  constructor(code: InterfaceErrorCode, message: string) {
    super(message);
    this.name = 'InterfaceError';
    this.code = code;
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Sources of system information, replaceable in tests. */
export interface InterfaceEnvironment {
  /** System interfaces and their addresses (os.networkInterfaces() by default). */
  system?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Host name resolution (resolveHostSync by default). */
  resolve?: (host: string) => ResolvedAddress[];
}

export const DEFAULT_INTERFACE_NAME = 'default';

/** Parses an IPv4 or IPv6 literal (brackets allowed around IPv6); null if it is not one. */
export function parseIpLiteral(s: string): ResolvedAddress | null {
  let t = s;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (t.includes('%')) return null; // zone IDs cannot be configured
  const v = isIP(t);
  if (v === 4) return { address: t, family: 4 };
  if (v === 6) return { address: normalizeIPv6(t), family: 6 };
  return null;
}

/** Compresses an IPv6 address the way inet_ntop prints it (RFC 5952). */
export function normalizeIPv6(addr: string): string {
  let s = addr.toLowerCase();
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4 && isIPv4(v4[1])) {
    const b = v4[1].split('.').map(Number);
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    s = s.slice(0, -v4[1].length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  const parse = (p: string): number[] => (p === '' ? [] : p.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]);
  const rest = halves.length > 1 ? parse(halves[1]) : [];
  const fill = 8 - head.length - rest.length - tail.length;
  const groups = [...head, ...new Array<number>(halves.length > 1 ? fill : 0).fill(0), ...rest, ...tail];
  // IPv4-mapped addresses keep their dotted tail, as inet_ntop prints them.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

function isUnspecified(a: ResolvedAddress): boolean {
  return a.address === '0.0.0.0' || a.address === '::';
}

/**
 * Resolves a host name synchronously through the system resolver (getaddrinfo,
 * so /etc/hosts counts). Start-up only: it runs a short helper process.
 */
export function resolveHostSync(host: string): ResolvedAddress[] {
  const literal = parseIpLiteral(host);
  if (literal) return [literal];
  const script =
    "require('dns').lookup(process.argv[1], { all: true, verbatim: true }, (e, a) => {" +
    " process.stdout.write(JSON.stringify(e ? [] : a)); });";
  const r = spawnSync(process.execPath, ['-e', script, host], { encoding: 'utf8', timeout: 15000 });
  if (r.status !== 0 || !r.stdout) return [];
  try {
    const list = JSON.parse(r.stdout) as { address: string; family: number }[];
    return list
      .filter((a) => a.family === 4 || a.family === 6)
      .map((a) => ({ address: a.family === 6 ? normalizeIPv6(a.address) : a.address, family: a.family as 4 | 6 }));
  } catch {
    return [];
  }
}

function systemAddresses(infos: NetworkInterfaceInfo[] | undefined): ResolvedAddress[] {
  const out: ResolvedAddress[] = [];
  for (const i of infos ?? []) {
    // Node 18.0-18.3 reported the family as a number.
    const f = i.family as string | number;
    const fam = f === 'IPv4' || f === 4 ? 4 : f === 'IPv6' || f === 6 ? 6 : 0;
    if (fam === 0) continue;
    // IPv6 addresses with a scope (link-local) cannot serve media to other hosts.
    if (fam === 6 && (i as { scopeid?: number }).scopeid) continue;
    out.push({ address: fam === 6 ? normalizeIPv6(i.address) : i.address, family: fam });
  }
  return out;
}

function localAddressesFor(what: string, env: Required<InterfaceEnvironment>): ResolvedAddress[] {
  const literal = parseIpLiteral(what);
  if (literal) return isUnspecified(literal) ? [] : [literal];
  const sys = env.system();
  if (what === 'any') {
    const all: ResolvedAddress[] = [];
    for (const infos of Object.values(sys)) {
      all.push(...systemAddresses((infos ?? []).filter((i) => !i.internal)));
    }
    return all;
  }
  const byName = systemAddresses(sys[what]);
  if (byName.length) return byName;
  return env.resolve(what).filter((a) => !isUnspecified(a));
}

/** Splits a logical name into BASE and SUFFIX at its first colon. */
function splitName(name: string): { base: string | null; suffix: string | null } {
  const i = name.indexOf(':');
  return i < 0 ? { base: null, suffix: null } : { base: name.slice(0, i), suffix: name.slice(i + 1) };
}

/**
 * Turns `--interface` values into logical interfaces, in order of first
 * appearance; a name given again adds its addresses to the same interface.
 * Throws InterfaceError naming the offending spec.
 */
export function parseInterfaces(specs: readonly string[], envIn: InterfaceEnvironment = {}): LogicalInterface[] {
  const env: Required<InterfaceEnvironment> = {
    system: envIn.system ?? networkInterfaces,
    resolve: envIn.resolve ?? resolveHostSync,
  };
  const byName = new Map<string, LogicalInterface>();
  for (const rawSpec of specs) {
    const spec = rawSpec.trim();
    const bad = (why: string): InterfaceError =>
      new InterfaceError('ERR_INVALID_INTERFACE', `Invalid interface specification '${rawSpec}': ${why}`);
    let name = DEFAULT_INTERFACE_NAME;
    let rest = spec;
    const slash = spec.indexOf('/');
    if (slash >= 0) {
      name = spec.slice(0, slash).trim();
      rest = spec.slice(slash + 1).trim();
      if (name === '') throw bad('empty interface name');
    }
    let advertisedSpec: string | null = null;
    const bang = rest.indexOf('!');
    if (bang >= 0) {
      advertisedSpec = rest.slice(bang + 1).trim();
      rest = rest.slice(0, bang).trim();
    }
    if (rest === '') throw bad('no address given');
    const locals = localAddressesFor(rest, env);
    if (locals.length === 0) {
      throw bad(`'${rest}' is not a usable address, system interface or resolvable host name`);
    }
    let advertised: string | null = null;
    if (advertisedSpec !== null) {
      const adv = parseIpLiteral(advertisedSpec) ?? env.resolve(advertisedSpec)[0] ?? null;
      if (!adv) throw bad(`advertised address '${advertisedSpec}' is not an address or resolvable host name`);
      if (isUnspecified(adv)) throw bad(`advertised address '${advertisedSpec}' is unspecified`);
      advertised = adv.address;
    }
    let iface = byName.get(name);
    if (!iface) {
      iface = { name, ...splitName(name), addresses: [] };
      byName.set(name, iface);
    }
    for (const l of locals) {
      if (iface.addresses.some((a) => a.address === l.address)) continue;
      iface.addresses.push({ address: l.address, family: l.family, advertised: advertised ?? l.address });
    }
  }
  return [...byName.values()];
}

export interface SelectOptions {
  /** Only consider interfaces with an address of this family (for round robin). */
  family?: 4 | 6;
  /** Only consider interfaces this returns true for, e.g. those with free ports. */
  usable?: (iface: LogicalInterface) => boolean;
}

const rrCounters = new WeakMap<readonly LogicalInterface[], Map<string, number>>();

/**
 * Picks the logical interface for a call direction. No name: the first
 * configured one, or round robin among its BASE if it has a BASE:SUFFIX name.
 * A full name selects that interface; a BASE selects among BASE:* in turn.
 * Throws InterfaceError (ERR_UNKNOWN_INTERFACE) when nothing matches.
 */
export function selectInterface(ifaces: readonly LogicalInterface[], name?: string, opts: SelectOptions = {}): LogicalInterface {
  if (ifaces.length === 0) throw new InterfaceError('ERR_UNKNOWN_INTERFACE', 'No interfaces configured');
  let base: string;
  if (name === undefined || name === '') {
    const first = ifaces[0];
    if (first.base === null) return first;
    base = first.base;
  } else {
    const exact = ifaces.find((i) => i.name === name);
    if (exact) return exact;
    base = name;
  }
  const members = ifaces.filter((i) => i.base === base);
  if (members.length === 0) throw new InterfaceError('ERR_UNKNOWN_INTERFACE', `Unknown interface '${name}'`);
  const eligible = members.filter((i) =>
    (opts.family === undefined || i.addresses.some((a) => a.family === opts.family)) &&
    (opts.usable === undefined || opts.usable(i)));
  if (eligible.length === 0) {
    throw new InterfaceError('ERR_UNKNOWN_INTERFACE', `No usable interface for '${base}'`);
  }
  let counters = rrCounters.get(ifaces);
  if (!counters) {
    counters = new Map();
    rrCounters.set(ifaces, counters);
  }
  const n = counters.get(base) ?? 0;
  counters.set(base, n + 1);
  return eligible[n % eligible.length];
}

/**
 * The system interfaces that carry the local addresses of `ifaces`: where the
 * in-kernel forwarder is attached. A wildcard address (0.0.0.0, ::) stands for
 * every interface.
 */
export function systemInterfacesOf(
  ifaces: LogicalInterface[],
  system: () => NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces,
): string[] {
  const wanted = new Set(ifaces.flatMap((i) => i.addresses.map((a) => a.address)));
  const wildcard = wanted.has('0.0.0.0') || wanted.has('::');
  const names: string[] = [];
  for (const [name, infos] of Object.entries(system())) {
    if (!infos) continue;
    if (wildcard || infos.some((info) => wanted.has(info.family === 'IPv6' ? normalizeIPv6(info.address) : info.address))) {
      names.push(name);
    }
  }
  return names;
}
