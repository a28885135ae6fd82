// Call recording with --recording-method pcap: one pcap file per recording of a
// call, and the metadata file the reference writes next to it. Runs on the
// control thread; the packets themselves are written by the media engine's
// recorder thread (native/recorder.h), never here.
//
// Layout under --recording-dir, as the reference lays it out:
//   pcaps/<call-id>-<16 hex digits>.pcap              written while recording
//   tmp/                                               metadata being written
//   metadata/rtpengine-meta-<call-id>-<same hex>.txt   appears when the recording ends
//
// The metadata file: the pcap path and two empty lines; then for every offer and
// answer signalled while recording, a block ("Label: <label>" when the party that
// signalled it has one) "Timestamp started ms: <ms.µs>",
// "SDP mode: offer|answer", "SDP before RTP packet: <n>", an empty line and the SDP
// sent out, followed by an empty line; then "Timestamp terminated ms(first
// monologue): <ms.µs>" (0.000 when the call was still up), an empty line, "call
// start time: " and "call end time: " (local time, YYYY-MM-DDThh:mm:ss) and, when
// the call has `metadata`, two empty lines and that text.

import { randomBytes } from 'crypto';
import { mkdirSync, promises as fsp } from 'fs';
import * as path from 'path';
import { getLogger } from '../log';
import type { MediaEngine } from '../media/engine';
import type { MediaWiring } from '../call/wiring';
import type { Call, RecordingState } from '../call/model';

const log = getLogger('recording');

export interface RecordingOptions {
  /** --recording-dir; null disables recording. */
  dir: string | null;
  /** --recording-format: raw IP packets, or with a blank Ethernet header. */
  format: 'raw' | 'eth';
}

/** One recording of a call: its pcap file and what its metadata file will say. */
class PcapRecording implements RecordingState {
  active = true;
  /** The SDP blocks of the metadata file, in signalling order. */
  readonly sdps: string[] = [];

  constructor(readonly id: number, readonly pcapPath: string, readonly metaName: string) {}
}

/** Local time as the reference prints it in metadata files. */
function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Now in milliseconds with microseconds, as "1700000000123.456". */
function nowMs(): string {
  return (performance.timeOrigin + performance.now()).toFixed(3);
}

/** A call-id as a file name component: path separators and control characters become '_'. */
function fileSafe(callId: string): string {
  // eslint-disable-next-line no-control-regex
  return callId.replace(/[/\\\x00-\x1f]/g, '_');
}

export class Recordings {
  private nextId = 1;
  /** Metadata files being written. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly engine: MediaEngine,
    private readonly wiring: MediaWiring,
    private readonly opts: RecordingOptions,
  ) {}

  /** Creates the spool directories (at start-up); throws if they cannot be made. */
  init(): void {
    const dir = this.opts.dir;
    if (dir === null) return;
    for (const sub of ['pcaps', 'metadata', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
  }

  /**
   * Records the call from its next packet on: a new recording, or the paused one
   * resumed. Without --recording-dir, logs the error the reference logs and
   * records nothing.
   */
  start(call: Call): void {
    const dir = this.opts.dir;
    if (dir === null) {
      log.child(call.callId).error('Call recording requested, but no spool directory configured');
      return;
    }
    const current = call.recording;
    if (current) {
      if (!current.active) {
        current.active = true;
        this.wiring.refreshControl(call);
      }
      return;
    }
    const suffix = randomBytes(8).toString('hex');
    const base = `${fileSafe(call.callId)}-${suffix}`;
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const rec = new PcapRecording(id, path.join(dir, 'pcaps', `${base}.pcap`), `rtpengine-meta-${base}.txt`);
    try {
      this.engine.openRecording(id, rec.pcapPath, this.opts.format);
    } catch (e) {
      log.child(call.callId).error(`Cannot record the call: ${(e as Error).message}`);
      return;
    }
    log.child(call.callId).info(`Recording the call to ${rec.pcapPath}`);
    call.recording = rec;
    this.wiring.refreshControl(call);
  }

  /** Stops writing packets, keeping the recording: a later start continues the same file. */
  pause(call: Call): void {
    const rec = call.recording;
    if (!rec || !rec.active) return;
    rec.active = false;
    this.wiring.refreshControl(call);
  }

  /**
   * Notes an offer or answer SDP sent out while the call is recorded; `label` is
   * the label of the party that signalled it, if it has one.
   */
  onSignal(call: Call, kind: 'offer' | 'answer', sdp: string, label: string | null): void {
    const rec = call.recording;
    if (!(rec instanceof PcapRecording)) return;
    const before = this.engine.recordedPackets(rec.id) + 1;
    const head = label ? `Label: ${label}\n` : '';
    rec.sdps.push(`${head}Timestamp started ms: ${nowMs()}\nSDP mode: ${kind}\nSDP before RTP packet: ${before}\n\n${sdp}\n`);
  }

  /**
   * Ends the call's recording: its pcap file is completed and closed, and its
   * metadata file written to tmp/ and moved into metadata/. `terminated`: the
   * call itself ended (delete or timeout), else only the recording (stop
   * recording). Returns when the metadata file is in place.
   */
  async finish(call: Call, terminated: boolean): Promise<void> {
    const rec = call.recording;
    if (!(rec instanceof PcapRecording) || this.opts.dir === null) return;
    call.recording = null;
    if (!call.isClosed) this.wiring.refreshControl(call);
    this.engine.closeRecording(rec.id);
    const now = Date.now();
    let text = `${rec.pcapPath}\n\n\n${rec.sdps.join('')}`;
    text += `Timestamp terminated ms(first monologue): ${terminated ? nowMs() : '0.000'}\n\n`;
    text += `call start time: ${localTime(call.created)}\ncall end time: ${localTime(now)}\n`;
    if (call.metadata) text += `\n\n${call.metadata}\n`;
    const tmp = path.join(this.opts.dir, 'tmp', rec.metaName);
    const done = fsp.writeFile(tmp, text)
      .then(() => fsp.rename(tmp, path.join(this.opts.dir!, 'metadata', rec.metaName)))
      .catch((e: Error) => log.child(call.callId).error(`Cannot write the recording's metadata file: ${e.message}`))
      .finally(() => this.writing.delete(done));
    this.writing.add(done);
    await done;
  }

  /** Resolves when every metadata file being written is in place (daemon shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.writing]);
  }
}
