// A bare media engine (the addon, no daemon) running inside a network
// namespace, driven from the test process: for the tests of the in-kernel
// forwarder, which attaches to the interfaces of the namespace it runs in.
//
// The test process starts this file as a child (`nsenter --net=/run/netns/NS
// node netns-engine.js`, optionally under capsh; not `ip netns exec`, whose
// private mount namespace would give the child a bpf filesystem of its own,
// where a daemon shares the host's /sys/fs/bpf) and sends it one JSON request per
// line on stdin; each reply is one line on stdout starting with "@@". Besides
// the engine calls, the child can hold UDP peers of its own (for tests where
// everything is local to the namespace, on lo) that send numbered RTP and
// record what they receive.
//
// Namespaces come from test/helpers/netns.ts.

import * as dgram from 'dgram';
import * as readline from 'readline';
import type { TestNetns } from './netns';
import { ManagedProcess } from './process';

/** What a peer received: RTP sequence number, source, and whether the payload is the one sent. */
export interface Arrival {
  seq: number;
  pt: number;
  address: string;
  port: number;
  intact: boolean;
}

/** The payload of numbered test packet seq: 160 bytes derived from it. */
export function testPayload(seq: number): Buffer {
  const p = Buffer.alloc(160);
  for (let i = 0; i < p.length; i++) p[i] = (seq * 7 + i) & 0xff;
  return p;
}

/** Numbered RTP test packet (PCMU, SSRC 0x4b45524e). */
export function testRtp(seq: number, pt = 0): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = pt & 0x7f;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE((seq * 160) >>> 0, 4);
  h.writeUInt32BE(0x4b45524e, 8);
  return Buffer.concat([h, testPayload(seq)]);
}

/** Where a received datagram came from and whether it is an intact test packet. */
export function arrival(msg: Buffer, rinfo: dgram.RemoteInfo): Arrival {
  const seq = msg.length >= 12 ? msg.readUInt16BE(2) : -1;
  const intact = msg.length === 172 && msg.subarray(12).equals(testPayload(seq));
  return { seq, pt: msg.length >= 2 ? msg[1] & 0x7f : -1, address: rinfo.address, port: rinfo.port, intact };
}

/** The tc filters on an interface's ingress in a namespace, as `tc` prints them. */
export function ingressFilters(ns: TestNetns, dev: string): string {
  return ns.exec('tc', ['filter', 'show', 'dev', dev, 'ingress']);
}

/** The engine child process, seen from the test. */
export class NetnsEngine {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly proc: ManagedProcess;

  /** ns: the namespace's name; prefix: a command the child runs under (e.g. capsh dropping capabilities). */
  constructor(readonly ns: string, prefix: string[] = []) {
    const script = __filename;
    const cmd = [...prefix, process.execPath, script];
    this.proc = new ManagedProcess('nsenter', [`--net=/run/netns/${ns}`, ...cmd], {
      stdin: true,
      onLine: (line) => this.onLine(line),
    });
    void this.proc.exited.then(() => {
      for (const p of this.pending.values()) p.reject(new Error(`engine child exited: ${this.proc.output.tail(10).join('\n')}`));
      this.pending.clear();
    });
  }

  private onLine(line: string): void {
    if (!line.startsWith('@@')) return;
    const m = JSON.parse(line.slice(2)) as { seq: number; ok: boolean; value?: unknown; error?: string };
    const p = this.pending.get(m.seq);
    if (!p) return;
    this.pending.delete(m.seq);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error));
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      if (!this.proc.running) {
        reject(new Error(`engine child is not running: ${this.proc.output.tail(10).join('\n')}`));
        return;
      }
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.child.stdin?.write(JSON.stringify({ seq, op, args }) + '\n');
    });
  }

  /** Closes the engine (detaching the forwarder) and waits for the child to exit. */
  async stop(): Promise<void> {
    if (this.proc.running) {
      try {
        await Promise.race([this.call('exit'), this.proc.exited]);
      } catch {
        /* exiting */
      }
    }
    await Promise.race([this.proc.exited, new Promise((r) => setTimeout(r, 3000))]);
    await this.proc.stop();
  }
}

// ------------------------------------------------------------ the child side

async function childMain(): Promise<void> {
  // Loaded here only: the test process itself never loads the addon for this.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { MediaEngine, prepareDtmf } = require('../../src/media/engine') as typeof import('../../src/media/engine');
  const engine = new MediaEngine({ threads: 1, learningDelayMs: 100, onEvents: () => undefined });
  const peers: Array<{ sock: dgram.Socket; got: Arrival[] }> = [];
  const ops: Record<string, (...a: never[]) => unknown> = {
    kernelOpen: (table: number, ifnames: string[]) => engine.kernelOpen(table, ifnames),
    open: (family: 4 | 6, address: string, port: number) => engine.openStream([{ family, address, port }]),
    configure: (id: number, cfg: Parameters<typeof engine.configure>[1]) => engine.configure(id, cfg),
    setKernel: (id: number, allowed: boolean) => engine.setKernel(id, allowed),
    setControl: (id: number, c: Parameters<typeof engine.setControl>[1]) => engine.setControl(id, c),
    stats: (id: number) => engine.stats(id),
    // Plays one RFC 4733 event (payload type 101, 8 kHz) in place of what the stream forwards.
    playDtmf: (id: number, event: number, durationMs: number) =>
      engine.play(id, prepareDtmf({ event, durationMs, volume: 10, pauseMs: 0, eventPt: 101, clockRate: 8000, ptime: 20 }).list),
    totals: () => engine.totals(),
    closeStreams: (ids: number[]) => engine.closeStreams(ids),
    peer: (address: string) =>
      new Promise<number>((resolve, reject) => {
        const sock = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', ipv6Only: address.includes(':') });
        const p = { sock, got: [] as Arrival[] };
        sock.on('message', (msg, rinfo) => p.got.push(arrival(msg, rinfo)));
        sock.once('error', reject);
        sock.bind(0, address, () => {
          peers.push(p);
          resolve(sock.address().port);
        });
      }),
    // Sends count numbered packets from seq `from`, a few per millisecond.
    send: async (peer: number, address: string, port: number, from: number, count: number) => {
      for (let i = 0; i < count; i++) {
        await new Promise<void>((resolve, reject) =>
          peers[peer].sock.send(testRtp(from + i), port, address, (err) => (err ? reject(err) : resolve())),
        );
        if (i % 4 === 3) await new Promise((r) => setTimeout(r, 1));
      }
    },
    sendRaw: (peer: number, address: string, port: number, hex: string) =>
      new Promise<void>((resolve, reject) =>
        peers[peer].sock.send(Buffer.from(hex, 'hex'), port, address, (err) => (err ? reject(err) : resolve())),
      ),
    received: (peer: number) => peers[peer].got,
    exit: () => {
      engine.close();
      for (const p of peers) p.sock.close();
      setImmediate(() => process.exit(0));
    },
  };
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const req = JSON.parse(line) as { seq: number; op: string; args: unknown[] };
    const reply = (ok: boolean, value?: unknown, error?: string): void => {
      process.stdout.write('@@' + JSON.stringify({ seq: req.seq, ok, value: value ?? null, error }) + '\n');
    };
    Promise.resolve()
      .then(() => {
        const fn = ops[req.op];
        if (!fn) throw new Error(`unknown op ${req.op}`);
        return (fn as (...a: unknown[]) => unknown)(...req.args);
      })
      .then((v) => reply(true, v), (e: Error) => reply(false, undefined, e.message));
  });
  // The test process gone (stdin closed) or stopping us: close the engine,
  // which detaches the forwarder and removes its pins (bpffs is shared by
  // every namespace).
  const quit = (): void => {
    engine.close();
    process.exit(0);
  };
  rl.on('close', quit);
  process.on('SIGTERM', quit);
}

if (require.main === module) void childMain();
