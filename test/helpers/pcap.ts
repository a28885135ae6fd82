// Reads classic libpcap files (what call recording writes) and, when tshark is
// installed, asks it to dissect them: an independent check that a file opens.

import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface PcapPacket {
  /** Unix time in microseconds. */
  us: number;
  /** The captured bytes (from the link-layer header on). */
  frame: Buffer;
  /** The IP version and the UDP datagram inside, when the frame holds one. */
  ipVersion: 4 | 6 | null;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface PcapFile {
  /** 1 Ethernet, 101 raw IP. */
  linkType: number;
  snapLen: number;
  packets: PcapPacket[];
}

function ipText(b: Buffer, v6: boolean): string {
  if (!v6) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

/** Parses a pcap file (microsecond, little-endian magic as written on x86). Throws on a malformed file. */
export function readPcap(path: string): PcapFile {
  const b = fs.readFileSync(path);
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${path}: not a little-endian pcap file`);
  const snapLen = b.readUInt32LE(16);
  const linkType = b.readUInt32LE(20);
  const packets: PcapPacket[] = [];
  let at = 24;
  while (at < b.length) {
    if (at + 16 > b.length) throw new Error(`${path}: truncated record header at ${at}`);
    const us = b.readUInt32LE(at) * 1e6 + b.readUInt32LE(at + 4);
    const incl = b.readUInt32LE(at + 8);
    const frame = b.subarray(at + 16, at + 16 + incl);
    if (frame.length !== incl) throw new Error(`${path}: truncated packet at ${at}`);
    at += 16 + incl;
    const ip = linkType === 1 ? frame.subarray(14) : frame;
    const version = ip[0] >> 4;
    const pkt: PcapPacket = { us, frame, ipVersion: null, src: '', dst: '', srcPort: 0, dstPort: 0, payload: Buffer.alloc(0) };
    if (version === 4 && ip[9] === 17) {
      const ihl = (ip[0] & 15) * 4;
      Object.assign(pkt, { ipVersion: 4, src: ipText(ip.subarray(12, 16), false), dst: ipText(ip.subarray(16, 20), false) });
      const udp = ip.subarray(ihl);
      Object.assign(pkt, { srcPort: udp.readUInt16BE(0), dstPort: udp.readUInt16BE(2), payload: udp.subarray(8, udp.readUInt16BE(4)) });
    } else if (version === 6 && ip[6] === 17) {
      Object.assign(pkt, { ipVersion: 6, src: ipText(ip.subarray(8, 24), true), dst: ipText(ip.subarray(24, 40), true) });
      const udp = ip.subarray(40);
      Object.assign(pkt, { srcPort: udp.readUInt16BE(0), dstPort: udp.readUInt16BE(2), payload: udp.subarray(8, udp.readUInt16BE(4)) });
    }
    packets.push(pkt);
  }
  return { linkType, snapLen, packets };
}

/** Whether tshark is installed. */
export function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * tshark's view of a capture: per frame "src srcport dst dstport length ipchecksum-status".
 * Throws (with tshark's message) when it cannot read the file.
 */
export function tsharkFrames(path: string): string[][] {
  const out = execFileSync('tshark', ['-r', path, '-o', 'ip.check_checksum:TRUE', '-T', 'fields',
    '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'frame.len', '-e', 'ip.checksum.status'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));
}
