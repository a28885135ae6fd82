// Free ports for tests: single ports come from the OS; media port ranges are
// blocks picked at random inside a configurable window and checked free.

import * as dgram from 'dgram';
import * as net from 'net';

function bindUdp(port: number, host: string): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const type = net.isIPv6(host) ? 'udp6' : 'udp4';
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind(port, host, () => resolve(s));
  });
}

function bindTcp(port: number, host: string): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host, exclusive: true }, () => resolve(srv));
  });
}

function closeUdp(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

function closeTcp(s: net.Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

/** A UDP port that is free on `host` right now (chosen by the OS). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = await bindUdp(0, host);
  if (!s) throw new Error(`cannot bind a UDP socket on ${host}`);
  const port = s.address().port;
  await closeUdp(s);
  return port;
}

/** A port number free for both UDP and TCP on `host` (the ng listeners share one). */
export async function freeUdpTcpPort(host = '127.0.0.1', attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const u = await bindUdp(0, host);
    if (!u) throw new Error(`cannot bind a UDP socket on ${host}`);
    const port = u.address().port;
    const t = await bindTcp(port, host);
    await closeUdp(u);
    if (t) {
      await closeTcp(t);
      return port;
    }
  }
  throw new Error(`no port free for both UDP and TCP on ${host} after ${attempts} attempts`);
}

/** An inclusive block of ports; release() lets this process hand it out again. */
export interface PortRange {
  min: number;
  max: number;
  release(): void;
}

const reserved: Array<{ min: number; max: number }> = [];

function overlapsReserved(min: number, max: number): boolean {
  return reserved.some((r) => min <= r.max && r.min <= max);
}

export function defaultMediaWindow(): { min: number; max: number } {
  const env = process.env.RTPE_TEST_MEDIA_PORTS;
  if (env) {
    const m = /^(\d+)-(\d+)$/.exec(env.trim());
    if (!m) throw new Error(`RTPE_TEST_MEDIA_PORTS must look like 45000-47999, got '${env}'`);
    return { min: Number(m[1]), max: Number(m[2]) };
  }
  return { min: 45000, max: 47999 };
}

/**
 * `count` consecutive UDP ports, all free for UDP on each of `hosts`. Ports are
 * taken from env RTPE_TEST_MEDIA_PORTS ("lo-hi", default 45000-47999) unless
 * `window` is given. Blocks handed out by this process are not handed out again
 * until released.
 */
export async function allocatePortRange(
  count = 100,
  opts: { window?: { min: number; max: number }; hosts?: string[]; attempts?: number } = {},
): Promise<PortRange> {
  const win = opts.window ?? defaultMediaWindow();
  const hosts = opts.hosts ?? ['127.0.0.1'];
  const attempts = opts.attempts ?? 40;
  if (count < 2 || win.max - win.min + 1 < count) {
    throw new Error(`cannot fit ${count} ports in ${win.min}-${win.max}`);
  }
  for (let i = 0; i < attempts; i++) {
    // Even start: RTP on even ports, RTCP on the odd one after it.
    const span = win.max - win.min + 1 - count;
    let min = win.min + Math.floor(Math.random() * (span + 1));
    if (min % 2 === 1) min = min > win.min ? min - 1 : min + 1;
    const max = min + count - 1;
    if (max > win.max || overlapsReserved(min, max)) continue;
    if (await allFree(min, max, hosts)) {
      const entry = { min, max };
      reserved.push(entry);
      return {
        min,
        max,
        release: () => {
          const k = reserved.indexOf(entry);
          if (k >= 0) reserved.splice(k, 1);
        },
      };
    }
  }
  throw new Error(`no free block of ${count} UDP ports in ${win.min}-${win.max} after ${attempts} attempts`);
}

async function allFree(min: number, max: number, hosts: string[]): Promise<boolean> {
  const held: dgram.Socket[] = [];
  let ok = true;
  try {
    for (let p = min; p <= max && ok; p++) {
      for (const h of hosts) {
        const s = await bindUdp(p, h);
        if (!s) {
          ok = false;
          break;
        }
        held.push(s);
      }
    }
  } finally {
    await Promise.all(held.map(closeUdp));
  }
  return ok;
}
