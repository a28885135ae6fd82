// Runs Kamailio in the foreground as a stateful proxy in front of a daemon
// (fixtures/kamailio/kamailio.cfg), with its addresses passed as -A defines
// and a private runtime directory, so that no root-owned /run path is needed.

import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ManagedProcess, sleep } from './process';
import { freeUdpPort } from './ports';
import { REPO_ROOT } from './daemon';

export const KAMAILIO_BIN = '/usr/sbin/kamailio';
export const KAMAILIO_CFG = path.join(REPO_ROOT, 'fixtures', 'kamailio', 'kamailio.cfg');

export function kamailioAvailable(): boolean {
  try {
    fs.accessSync(KAMAILIO_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface KamailioOptions {
  /** The daemon's ng port (UDP, on 127.0.0.1). */
  ngPort: number;
  /** Where new INVITEs go, e.g. "sip:127.0.0.1:5070". */
  calleeUri: string;
  /** SIP port to listen on (default: a free one). */
  sipPort?: number;
  startTimeoutMs?: number;
}

export interface KamailioHandle {
  sipPort: number;
  argv: string[];
  logTail(n?: number): string;
  stop(): Promise<void>;
}

export async function startKamailio(opts: KamailioOptions): Promise<KamailioHandle> {
  const sipPort = opts.sipPort ?? (await freeUdpPort());
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtpe-kamailio-'));
  const argv = [
    '-DD', // stay in the foreground, no daemonizing
    '-E', // log to stderr
    '-m', '32', // MB of shared memory
    '-M', '8', // MB of private memory per process
    '-Y', runDir, // runtime dir (instead of /run/kamailio)
    '-w', runDir, // working dir
    '-f', KAMAILIO_CFG,
    '-A', `SIP_LISTEN=udp:127.0.0.1:${sipPort}`,
    '-A', `NG_SOCK="udp:127.0.0.1:${opts.ngPort}"`,
    '-A', `CALLEE_URI="${opts.calleeUri}"`,
  ];
  const proc = new ManagedProcess(KAMAILIO_BIN, argv, { keepLines: 400 });
  const handle: KamailioHandle = {
    sipPort,
    argv,
    logTail: (n = 40) => proc.tail(n),
    stop: async () => {
      await proc.stop(3000);
      fs.rmSync(runDir, { recursive: true, force: true });
    },
  };
  try {
    await waitForSip(proc, sipPort, opts.startTimeoutMs ?? 10000);
  } catch (e) {
    await handle.stop();
    throw new Error(
      `Kamailio did not start: ${e instanceof Error ? e.message : String(e)}\n` +
        `command: ${KAMAILIO_BIN} ${argv.join(' ')}\n--- last Kamailio output ---\n${proc.tail(40)}`,
    );
  }
  return handle;
}

/** Sends OPTIONS until any SIP response comes back (the cfg answers 405). */
async function waitForSip(proc: ManagedProcess, port: number, timeoutMs: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  sock.on('error', () => undefined);
  const local = sock.address().port;
  let answered = false;
  sock.on('message', (m) => {
    if (m.toString('latin1').startsWith('SIP/2.0 ')) answered = true;
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (let i = 0; Date.now() < deadline; i++) {
      if (!proc.running) throw new Error(`process exited (code ${proc.exitCode}, signal ${proc.exitSignal})`);
      const branch = `z9hG4bK-probe-${process.pid}-${i}`;
      const msg =
        `OPTIONS sip:probe@127.0.0.1:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch};rport\r\n` +
        `Max-Forwards: 5\r\n` +
        `From: <sip:probe@127.0.0.1:${local}>;tag=${branch}\r\n` +
        `To: <sip:probe@127.0.0.1:${port}>\r\n` +
        `Call-ID: probe-${process.pid}-${i}@127.0.0.1\r\n` +
        `CSeq: 1 OPTIONS\r\n` +
        `Content-Length: 0\r\n\r\n`;
      sock.send(msg, port, '127.0.0.1');
      for (let k = 0; k < 4 && !answered; k++) await sleep(50);
      if (answered) return;
    }
    throw new Error(`no SIP answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
  } finally {
    sock.close();
  }
}
