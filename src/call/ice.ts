// ICE credentials and host candidates this daemon advertises (RFC 8445 syntax).

import { createHash, randomBytes } from 'crypto';
import type { LocalAddress } from '../media/interfaces';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Random string from the ICE character set, for ufrag and pwd. */
export function randomIceString(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[bytes[i] % ALNUM.length];
  return out;
}

export function newIceCredentials(): { ufrag: string; pwd: string } {
  return { ufrag: randomIceString(8), pwd: randomIceString(26) };
}

/** A stable foundation per local address: the same address always yields the same one. */
export function candidateFoundation(address: string): string {
  const digest = createHash('sha1').update(address).digest();
  let out = '';
  for (let i = 0; i < 16; i++) out += ALNUM[digest[i] % ALNUM.length];
  return out;
}

/** RFC 8445 priority: type preference, local preference and component. */
export function candidatePriority(typePref: number, localPref: number, component: number): number {
  return typePref * 0x1000000 + localPref * 0x100 + (256 - component);
}

export type CandidateType = 'host' | 'relay';

/**
 * Candidate lines for every address of the logical interface, highest priority first,
 * for the RTP component and, unless RTCP is multiplexed, the RTCP component.
 */
export function candidateLines(
  addresses: LocalAddress[],
  rtpPort: number,
  rtcpPort: number | null,
  type: CandidateType = 'host',
  firstLocalPref = 65535,
): string[] {
  const typePref = type === 'host' ? 126 : 0;
  const out: string[] = [];
  // All RTP candidates first, then all RTCP ones, each in interface order.
  const components: [number, number][] = rtcpPort === null ? [[1, rtpPort]] : [[1, rtpPort], [2, rtcpPort]];
  for (const [component, port] of components) {
    addresses.forEach((addr, i) => {
      const foundation = candidateFoundation(addr.address);
      const priority = candidatePriority(typePref, firstLocalPref - i, component);
      // A relay candidate names the address it relays for (RFC 8445 raddr/rport).
      const rel = type === 'relay' ? ` raddr ${addr.advertised} rport ${port}` : '';
      out.push(`candidate:${foundation} ${component} UDP ${priority} ${addr.advertised} ${port} typ ${type}${rel}`);
    });
  }
  return out;
}
