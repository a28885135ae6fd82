// Runs SIPp (Debian package sip-tester) with a scenario from fixtures/sipp/ and
// reads back the SIP messages it traced.

import * as fs from 'fs';
import * as path from 'path';
import { ManagedProcess, sleep } from './process';
import { REPO_ROOT } from './daemon';
import { sipBody } from './sdp';

export const SIPP_BIN = '/usr/bin/sipp';
export const SIPP_SCENARIOS = path.join(REPO_ROOT, 'fixtures', 'sipp');
/** The audio SIPp plays with play_pcap_audio (shipped with sip-tester). */
export const SIPP_PCAP = '/usr/share/sip-tester/g711a.pcap';

export function sippAvailable(): boolean {
  try {
    fs.accessSync(SIPP_BIN, fs.constants.X_OK);
    fs.accessSync(SIPP_PCAP, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export interface SippOptions {
  /** Scenario file name in fixtures/sipp/ (or an absolute path). */
  scenario: string;
  /** host:port to send the first request to (UAC only). */
  remote?: string;
  /** Local SIP port (-p); SIPp picks a free one when left out. */
  sipPort?: number;
  /** Local media port (-mp); SIPp binds it and the port two above. */
  mediaPort: number;
  /** -key NAME VALUE pairs (scenario keywords). */
  keys?: Record<string, string | number>;
  /** -set NAME VALUE pairs (scenario global variables). */
  sets?: Record<string, string | number>;
  /** Echo RTP received on the media port back to its sender (-rtp_echo). */
  rtpEcho?: boolean;
  /** Pause length in ms for <pause/> (-d). */
  durationMs?: number;
  /** Call-ID pattern (-cid_str), e.g. "e2e-%u@%s". */
  callIdPattern?: string;
  /** Directory for the message and error traces. */
  traceDir: string;
  /** Name prefix of the trace files (default: the scenario's base name). */
  traceName?: string;
  /** Global timeout in seconds after which SIPp fails (default 30). */
  timeoutSec?: number;
}

export interface SippHandle {
  proc: ManagedProcess;
  argv: string[];
  messageFile: string;
  errorFile: string;
  /** Resolves when SIPp exits (killed after `timeoutMs`). */
  wait(timeoutMs: number): Promise<{ code: number | null; timedOut: boolean }>;
  /** SIP messages SIPp received so far, parsed from its message trace. */
  received(): SipMessage[];
  /** SIP messages SIPp sent so far. */
  sent(): SipMessage[];
  /** Polls the trace until a received message matches, or rejects after `timeoutMs`. */
  waitForReceived(match: (m: SipMessage) => boolean, timeoutMs: number, what: string): Promise<SipMessage>;
  /** Output, message trace and error trace, trimmed, for failure reports. */
  report(lines?: number): string;
  stop(): Promise<void>;
}

export interface SipMessage {
  direction: 'sent' | 'received';
  /** First line, e.g. "INVITE sip:..." or "SIP/2.0 200 OK". */
  startLine: string;
  text: string;
  body: string;
  /** Request method, or null for responses. */
  method: string | null;
  /** Response status code, or null for requests. */
  status: number | null;
  /** CSeq method (for responses: the request they answer). */
  cseqMethod: string | null;
}

export function startSipp(o: SippOptions): SippHandle {
  const base = o.traceName ?? path.basename(o.scenario, '.xml');
  const messageFile = path.join(o.traceDir, `${base}.messages.log`);
  const errorFile = path.join(o.traceDir, `${base}.errors.log`);
  const scenario = path.isAbsolute(o.scenario) ? o.scenario : path.join(SIPP_SCENARIOS, o.scenario);
  const argv: string[] = [];
  if (o.remote) argv.push(o.remote);
  argv.push(
    '-sf', scenario,
    '-i', '127.0.0.1',
    ...(o.sipPort ? ['-p', String(o.sipPort)] : []),
    '-mi', '127.0.0.1',
    '-mp', String(o.mediaPort),
    '-m', '1', // one call, then exit
    '-nostdin',
    '-timeout', `${o.timeoutSec ?? 30}s`,
    '-timeout_error',
    '-trace_msg', '-message_file', messageFile,
    '-trace_err', '-error_file', errorFile,
  );
  for (const [k, v] of Object.entries(o.keys ?? {})) argv.push('-key', k, String(v));
  for (const [k, v] of Object.entries(o.sets ?? {})) argv.push('-set', k, String(v));
  if (o.rtpEcho) argv.push('-rtp_echo');
  if (o.durationMs !== undefined) argv.push('-d', String(o.durationMs));
  if (o.callIdPattern) argv.push('-cid_str', o.callIdPattern);

  // SIPp draws its statistics screen on stdout; the last lines hold the summary.
  const proc = new ManagedProcess(SIPP_BIN, argv, { cwd: o.traceDir, keepLines: 200 });
  const read = (): SipMessage[] => parseSippMessageLog(readIfExists(messageFile));
  const handle: SippHandle = {
    proc,
    argv,
    messageFile,
    errorFile,
    wait: async (timeoutMs) => {
      const r = await proc.wait(timeoutMs);
      return { code: r.code, timedOut: r.timedOut };
    },
    received: () => read().filter((m) => m.direction === 'received'),
    sent: () => read().filter((m) => m.direction === 'sent'),
    waitForReceived: async (match, timeoutMs, what) => {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const m = handle.received().find(match);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`SIPp ${base} did not receive ${what} within ${timeoutMs} ms`);
        if (!proc.running) {
          // One last look: the trace may have been written just before exit.
          const last = handle.received().find(match);
          if (last) return last;
          throw new Error(`SIPp ${base} exited (code ${proc.exitCode}) without receiving ${what}`);
        }
        await sleep(50);
      }
    },
    report: (lines = 25) => {
      const msgs = readIfExists(messageFile).split('\n').slice(-120).join('\n');
      const errs = readIfExists(errorFile).split('\n').slice(-30).join('\n');
      return (
        `--- SIPp ${base}: ${SIPP_BIN} ${argv.join(' ')} (exit ${proc.exitCode}) ---\n` +
        `${proc.tail(lines)}\n--- ${base} errors ---\n${errs}\n--- ${base} messages (tail) ---\n${msgs}`
      );
    },
    stop: () => proc.stop(2000),
  };
  return handle;
}

function readIfExists(f: string): string {
  try {
    return fs.readFileSync(f, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Splits SIPp's -trace_msg log into messages. Each entry starts with a line of
 * dashes and a timestamp, then "UDP message sent (N bytes):" or "UDP message
 * received [N] bytes :", an empty line, and the message.
 */
export function parseSippMessageLog(log: string): SipMessage[] {
  const out: SipMessage[] = [];
  const entries = log.split(/^-{10,}[^\n]*\n/m);
  for (const e of entries) {
    const m = /^(\w+) message (sent|received)[^\n]*\n\n?([\s\S]*)$/.exec(e);
    if (!m) continue;
    const text = m[3].replace(/\n+$/, '\n');
    const startLine = text.split(/\r?\n/, 1)[0].trim();
    if (!startLine) continue;
    const resp = /^SIP\/2\.0 (\d{3})/.exec(startLine);
    const cseq = /^CSeq:\s*\d+\s+(\S+)/im.exec(text);
    out.push({
      direction: m[2] === 'sent' ? 'sent' : 'received',
      startLine,
      text,
      body: sipBody(text),
      method: resp ? null : startLine.split(' ')[0],
      status: resp ? Number(resp[1]) : null,
      cseqMethod: cseq ? cseq[1] : null,
    });
  }
  return out;
}

/** Whether some socket holds UDP `port` (any address), from /proc/net/udp{,6}. */
export function udpPortInUse(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    const lines = readIfExists(f).split('\n').slice(1);
    for (const l of lines) {
      const local = l.trim().split(/\s+/)[1];
      if (local && local.endsWith(`:${hex}`)) return true;
    }
  }
  return false;
}

/**
 * Resolves once something holds UDP `port` (e.g. a SIPp that is ready to
 * receive). Reads /proc instead of probing with bind(), which could steal the
 * port from the process starting up.
 */
export async function waitUntilBound(port: number, timeoutMs: number, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (udpPortInUse(port)) return;
    if (proc && !proc.running) throw new Error(`process exited (code ${proc.exitCode}) before binding port ${port}`);
    await sleep(50);
  }
  throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
}
