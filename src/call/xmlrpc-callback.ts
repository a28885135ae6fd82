// The XMLRPC callback made when a call is torn down by a media timeout (--b2b-url,
// --xmlrpc-format), as the reference makes it (daemon/call.c, kill_calls_timer and
// xmlrpc_kill_calls):
// - format 0 (SEMS): one call per tagged monologue, method "di" with the params
//   "sbc", "postControlCmd", <tag>, "teardown";
// - format 1: one call per call, method "teardown" with the Call-ID;
// - format 2 (Kamailio): one call per pair of a monologue and the monologue it
//   talks to (each pair once), method "dlg.terminate_dlg" with Call-ID, from-tag,
//   to-tag.
// "%%" in the URL stands for the address the call's first offer came from, or the
// one the `xmlrpc-callback` key gave. Requests are made one after the other, each
// tried up to four times (5 s each); a fault saying "dialog not found" counts as
// done. Runs on the control thread with Node's HTTP client; never blocks.

import * as http from 'http';
import * as https from 'https';
import { getLogger } from '../log';
import type { Call } from './model';

const log = getLogger('xmlrpc');

const ATTEMPTS = 4;
const ATTEMPT_TIMEOUT_MS = 5000;

export interface XmlrpcRequest {
  url: string;
  method: string;
  params: string[];
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The request body, laid out as the reference's XML-RPC client writes it. */
export function xmlrpcBody(method: string, params: string[]): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<methodCall>',
    `<methodName>${escapeXml(method)}</methodName>`,
    '<params>',
    ...params.map((p) => `<param><value><string>${escapeXml(p)}</string></value></param>`),
    '</params>',
    '</methodCall>',
  ];
  return lines.map((l) => l + '\r\n').join('');
}

function visibleTag(tag: string): string {
  return tag.startsWith('\u0000') ? '' : tag;
}

/** The requests for one timed-out call. */
export function teardownRequests(call: Call, format: number, url: string, callbackAddress: string | null): XmlrpcRequest[] {
  const i = url.indexOf('%%');
  const target = i < 0 ? url : url.slice(0, i) + (callbackAddress ?? '') + url.slice(i + 2);
  const out: XmlrpcRequest[] = [];
  switch (format) {
    case 1:
      out.push({ url: target, method: 'teardown', params: [call.callId] });
      break;
    case 2: {
      const done = new Map<string, string>();
      for (const ml of call.monologues.values()) {
        const from = visibleTag(ml.tag);
        if (!from) continue;
        const peer = ml.peer;
        const to = peer ? visibleTag(peer.tag) : '';
        if (!to) continue;
        if (done.get(to) === from) continue;
        done.set(from, to);
        out.push({ url: target, method: 'dlg.terminate_dlg', params: [call.callId, from, to] });
      }
      break;
    }
    default:
      for (const ml of call.monologues.values()) {
        const tag = visibleTag(ml.tag);
        if (tag) out.push({ url: target, method: 'di', params: ['sbc', 'postControlCmd', tag, 'teardown'] });
      }
      break;
  }
  return out;
}

/** Posts one request; resolves true when it succeeded (or the peer no longer knows the dialog). */
function post(req: XmlrpcRequest, userAgent: string): Promise<boolean> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      log.warn(`XMLRPC fault occurred: invalid URL '${req.url}'`);
      resolve(false);
      return;
    }
    const body = Buffer.from(xmlrpcBody(req.method, req.params), 'utf8');
    const client = url.protocol === 'https:' ? https : http;
    const r = client.request(url, {
      method: 'POST',
      timeout: ATTEMPT_TIMEOUT_MS,
      headers: { 'Content-Type': 'text/xml', Accept: '*/*', 'User-Agent': userAgent, 'Content-Length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length < 64) chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) !== 200) {
          log.warn(`XMLRPC fault occurred: HTTP ${res.statusCode}`);
          resolve(false);
          return;
        }
        if (/<fault>/i.test(text)) {
          const reason = /<name>\s*faultString\s*<\/name>\s*<value>\s*(?:<string>)?([^<]*)/i.exec(text)?.[1] ?? 'fault';
          if (/dialog not found/i.test(reason)) {
            resolve(true);
            return;
          }
          log.warn(`XMLRPC fault occurred: ${reason}`);
          resolve(false);
          return;
        }
        resolve(true);
      });
      res.on('error', () => resolve(false));
    });
    r.on('timeout', () => r.destroy(new Error('timed out')));
    r.on('error', (err) => {
      log.warn(`XMLRPC fault occurred: ${err.message}`);
      resolve(false);
    });
    r.end(body);
  });
}

/** Sends teardown requests one after the other, in the background. */
export class XmlrpcCallbacks {
  private readonly queue: XmlrpcRequest[] = [];
  private running = false;
  private idle: Array<() => void> = [];

  constructor(private readonly userAgent: string) {}

  send(requests: XmlrpcRequest[]): void {
    if (requests.length === 0) return;
    this.queue.push(...requests);
    if (!this.running) void this.run();
  }

  /** Resolves when every queued request has been made (for shutdown and tests). */
  drained(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let req = this.queue.shift(); req; req = this.queue.shift()) {
        log.info(`Closing call with tag '${req.params[req.method === 'di' ? 2 : 0]}' via XMLRPC call to ${req.url}`);
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
          await new Promise((r) => setTimeout(r, 10));
          if (await post(req, this.userAgent)) break;
        }
      }
    } catch (err) {
      log.error(`XMLRPC callback failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
      const idle = this.idle;
      this.idle = [];
      for (const f of idle) f();
    }
  }
}
