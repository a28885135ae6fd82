// A call between two UDP peers on 127.0.0.1 through a daemon: offer from the
// caller (from-tag 'caller-tag', label 'caller'), answer from the callee
// (to-tag 'callee-tag', label 'callee'), both with one audio m= line. Tests of
// in-call commands send media with the peers and look at what arrives.

import { strict as assert } from 'assert';
import type { DaemonHandle } from './daemon';
import { buildSdp, mediaEndpoint } from './sdp';
import { RtpPeer, type Endpoint } from './rtp';

export interface LiveCall {
  callId: string;
  caller: RtpPeer;
  callee: RtpPeer;
  /** Where each peer sends: the daemon's port in the SDP that peer received. */
  fromCaller: Endpoint;
  fromCallee: Endpoint;
  /** The SDPs the daemon returned for the offer and the answer. */
  offerSdp: string;
  answerSdp: string;
  /** The next RTP sequence number the test uses. */
  seq: number;
}

export interface LiveCallOptions {
  /** Payload types and their rtpmap values (e.g. [8, 'PCMA/8000']), the same on both sides unless answerCodecs. */
  codecs: Array<[number, string]>;
  /** What the callee answers with, when it differs. */
  answerCodecs?: Array<[number, string]>;
  /** Prefix of the call-id. */
  name: string;
  offer?: Record<string, unknown>;
  answer?: Record<string, unknown>;
  /** Where the peers bind and what their SDPs say (default 127.0.0.1 for both). */
  callerHost?: string;
  calleeHost?: string;
}

let serial = 0;

export async function startLiveCall(d: DaemonHandle, o: LiveCallOptions): Promise<LiveCall> {
  const callerHost = o.callerHost ?? '127.0.0.1';
  const calleeHost = o.calleeHost ?? callerHost;
  const caller = await RtpPeer.open(callerHost);
  const callee = await RtpPeer.open(calleeHost);
  const callId = `${o.name}-${process.pid}-${++serial}`;
  const sdp = (port: number, codecs = o.codecs, address = callerHost): string => buildSdp({
    address,
    media: [{ port, formats: codecs.map(([pt]) => pt), attributes: codecs.map(([pt, map]) => `rtpmap:${pt} ${map}`), extraAttributes: ['sendrecv'] }],
  });
  const offer = await d.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller-tag', label: 'caller', sdp: sdp(caller.port), ...o.offer });
  assert.equal(offer.result, 'ok', JSON.stringify(offer));
  const answer = await d.ng.request({
    command: 'answer', 'call-id': callId, 'from-tag': 'caller-tag', 'to-tag': 'callee-tag', label: 'callee', sdp: sdp(callee.port, o.answerCodecs, calleeHost), ...o.answer,
  });
  assert.equal(answer.result, 'ok', JSON.stringify(answer));
  return {
    callId, caller, callee, seq: 1,
    fromCaller: mediaEndpoint(String(answer.sdp)), fromCallee: mediaEndpoint(String(offer.sdp)),
    offerSdp: String(offer.sdp), answerSdp: String(answer.sdp),
  };
}

/** Closes the peers of the calls. */
export async function closeLiveCalls(calls: LiveCall[]): Promise<void> {
  for (const c of calls.splice(0)) {
    await c.caller.close();
    await c.callee.close();
  }
}
