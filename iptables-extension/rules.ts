// The text of one firewall rule per open media port, for iptables-restore and
// for nft, and the parsing of the chain name given with --iptables-chain.
//
// A rule accepts UDP to exactly one local address and port and carries the
// call id as its comment, as the reference's rules do:
//   iptables: -d 192.0.2.1/32 -p udp -m udp --dport 30000 -m comment --comment "CALLID" -j ACCEPT
//   nft:      ip daddr 192.0.2.1 udp dport 30000 accept comment "CALLID"
//
// Pure functions; no I/O.

export type Family = 4 | 6;

/** One ACCEPT rule: a local media socket and the call id it belongs to. */
export interface PortRule {
  family: Family;
  address: string;
  port: number;
  comment: string;
}

/** Identifies the socket a rule opens; two rules with one key are never both wanted. */
export function ruleKey(family: Family, address: string, port: number): string {
  return `${family}/${address}/${port}`;
}

/** The longest comment iptables stores (its 256-byte field holds a terminating NUL). */
export const IPTABLES_COMMENT_MAX = 255;
/** The longest comment nft accepts. */
export const NFT_COMMENT_MAX = 128;

/**
 * Makes a call id fit a quoted rule comment of at most maxBytes UTF-8 bytes.
 * Control characters (newlines would end the batch line) become '?'; with
 * noQuotes (nft, whose strings cannot escape a double quote) '"' becomes "'".
 * The cut never splits a multi-byte character.
 */
export function commentText(callId: string, maxBytes: number, noQuotes = false): string {
  let out = '';
  let bytes = 0;
  for (const ch of callId) {
    const code = ch.codePointAt(0)!;
    let c = code < 0x20 || code === 0x7f ? '?' : ch;
    if (noQuotes && c === '"') c = "'";
    const n = Buffer.byteLength(c);
    if (bytes + n > maxBytes) break;
    out += c;
    bytes += n;
  }
  return out;
}

/** A rule's match and target as iptables-restore reads it after `-A CHAIN` or `-D CHAIN`. */
export function iptablesRuleSpec(r: PortRule): string {
  const mask = r.family === 4 ? 32 : 128;
  const comment = commentText(r.comment, IPTABLES_COMMENT_MAX).replace(/["\\]/g, (c) => `\\${c}`);
  return `-d ${r.address}/${mask} -p udp -m udp --dport ${r.port} -m comment --comment "${comment}" -j ACCEPT`;
}

/** The lines of one iptables-restore transaction on the filter table. */
export function iptablesBatch(chain: string, flush: boolean, dels: readonly PortRule[], adds: readonly PortRule[]): string {
  const lines = ['*filter'];
  if (flush) lines.push(`-F ${chain}`);
  for (const r of dels) lines.push(`-D ${chain} ${iptablesRuleSpec(r)}`);
  for (const r of adds) lines.push(`-A ${chain} ${iptablesRuleSpec(r)}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** An nft chain: `family table chain` as nft commands name it. */
export interface NftChain {
  family: 'ip' | 'ip6' | 'inet';
  table: string;
  chain: string;
}

/** Where nft rules of each address family go. */
export interface NftTargets {
  v4: NftChain;
  v6: NftChain;
}

const NFT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Reads --iptables-chain for nft. `CHAIN` is the chain of that name in the
 * `filter` tables of families ip (IPv4) and ip6 (IPv6), which is where
 * iptables-nft keeps an iptables chain, so one setting serves both tools.
 * `TABLE/CHAIN` is a chain of an inet table, for both families.
 * `FAMILY/TABLE/CHAIN` names the family: inet for both; ip or ip6 for its own
 * addresses, the other family's going to the same table and chain names of
 * the other family. Throws on anything else.
 */
export function parseNftChain(spec: string): NftTargets {
  const parts = spec.split('/');
  let family: NftChain['family'];
  let table: string;
  let chain: string;
  if (parts.length === 1) [family, table, chain] = ['ip', 'filter', parts[0]];
  else if (parts.length === 2) [family, table, chain] = ['inet', parts[0], parts[1]];
  else if (parts.length === 3 && (parts[0] === 'ip' || parts[0] === 'ip6' || parts[0] === 'inet')) {
    [family, table, chain] = [parts[0], parts[1], parts[2]];
  } else {
    throw new Error(`invalid nft chain '${spec}': expected CHAIN, TABLE/CHAIN or ip|ip6|inet/TABLE/CHAIN`);
  }
  for (const name of [table, chain]) {
    if (!NFT_NAME.test(name)) throw new Error(`invalid nft chain '${spec}': '${name}' is not a table or chain name`);
  }
  if (family === 'inet') return { v4: { family, table, chain }, v6: { family, table, chain } };
  return { v4: { family: 'ip', table, chain }, v6: { family: 'ip6', table, chain } };
}

/** `ip filter RTPE` */
export function nftChainName(c: NftChain): string {
  return `${c.family} ${c.table} ${c.chain}`;
}

/** An `add rule` command; nft echoes it back with the new rule's handle. */
export function nftAddRule(t: NftTargets, r: PortRule): string {
  const c = r.family === 4 ? t.v4 : t.v6;
  const comment = commentText(r.comment, NFT_COMMENT_MAX, true);
  return `add rule ${nftChainName(c)} ${r.family === 4 ? 'ip' : 'ip6'} daddr ${r.address} udp dport ${r.port} accept comment "${comment}"`;
}

/** A `delete rule` command for a rule added earlier. */
export function nftDeleteRule(t: NftTargets, family: Family, handle: number): string {
  return `delete rule ${nftChainName(family === 4 ? t.v4 : t.v6)} handle ${handle}`;
}

/**
 * The handles in `nft --echo --handle` output, in the order the rules were
 * added: one per echoed `add rule` line (`... # handle 7`).
 */
export function nftEchoedHandles(output: string): number[] {
  const out: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('add rule ')) continue;
    const m = /# handle (\d+)\s*$/.exec(line);
    if (m) out.push(parseInt(m[1], 10));
  }
  return out;
}
