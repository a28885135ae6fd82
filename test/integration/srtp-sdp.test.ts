// SDES signalling compared with the reference rtpengine 10.5: the same offers
// and answers go to both daemons and the rewritten SDPs (a=crypto lines, their
// order, tags, suites, key lengths, session parameters, the m= protocol) and
// query's crypto fields must match once what legitimately differs is
// normalised:
//  - keys are random: each key becomes a symbol by first appearance (a key the
//    test sent keeps its own name), so "the same key again" and "the offerer's
//    key passed on" are still compared;
//  - media ports become P1, P2, … by first appearance;
//  - the reference also offers the F8_128_HMAC_SHA1_80/_32 suites, which
//    libsrtp2 does not implement: they are taken out of its offers and the tags
//    after them renumbered;
//  - the reference offers DTLS-SRTP alongside (a=setup, a=fingerprint); DTLS is
//    not terminated here yet: those lines are taken out of its output.
// Skipped, with the reason printed, when the reference is not installed.

import { strict as assert } from 'assert';
import { DaemonHandle, referenceAvailable, skipUnlessReference, startDaemon } from '../helpers/daemon';
import { BDict } from '../helpers/ng-client';

const KA = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd'; // 30 bytes: the caller's key
const KB = 'ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB'; // 30 bytes: the callee's key
const KG = 'ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7'; // 24 bytes: no suite has this length
const KGCM = 'ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+'; // 27 bytes: wrong for AEAD_AES_128_GCM (28)
const KGCM28 = 'ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+fw'; // 28 bytes
const LITERAL_KEYS: Record<string, string> = { [KA]: 'KEY-A', [KB]: 'KEY-B', [KGCM28]: 'KEY-GCM' };

function sdp(port: number, proto: string, extra: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} ${proto} 0`,
    'a=rtpmap:0 PCMU/8000', ...extra.map((e) => `a=${e}`), 'a=sendrecv', ''].join('\r\n');
}

type Req = Record<string, unknown>;
/** A step: a request, or one built from the replies so far on the same daemon. */
type Step = Req | ((replies: BDict[]) => Req);

interface Scenario {
  name: string;
  steps: Step[];
}

const OFFER = { command: 'offer', 'from-tag': 'caller' };
const ANSWER = { command: 'answer', 'from-tag': 'caller', 'to-tag': 'callee' };
const QUERY = { command: 'query' };
const SAVP_OFFER = sdp(30000, 'RTP/SAVP', [`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KA}`, `crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KA}`]);
const PLAIN_OFFER = sdp(30000, 'RTP/AVP');
const PLAIN_ANSWER = sdp(40000, 'RTP/AVP');

/** The callee's answer choosing the line of `suite` from the SDP it was offered, with key `key`. */
function answerChoosing(suite: string, key: string): (replies: BDict[]) => Req {
  return (replies) => {
    const offered = String(replies[0].sdp);
    const m = new RegExp(`^a=crypto:(\\d+) ${suite} `, 'm').exec(offered);
    const tag = m ? m[1] : '99';
    return { ...ANSWER, sdp: sdp(40000, 'RTP/SAVP', [`crypto:${tag} ${suite} inline:${key}`]) };
  };
}

const SCENARIOS: Scenario[] = [
  {
    name: '(a) SRTP caller, transport-protocol RTP/AVP: plain offer to the callee, one a=crypto of our own in the answer; a re-INVITE keeps the key',
    steps: [
      { ...OFFER, sdp: SAVP_OFFER, 'transport-protocol': 'RTP/AVP' },
      { ...ANSWER, sdp: PLAIN_ANSWER },
      { ...OFFER, sdp: SAVP_OFFER, 'transport-protocol': 'RTP/AVP' },
      { ...ANSWER, sdp: PLAIN_ANSWER },
      QUERY,
    ],
  },
  {
    name: '(b) plain caller, transport-protocol RTP/SAVP: every suite offered to the callee, its chosen key used; a re-INVITE keeps the keys',
    steps: [
      { ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP' },
      answerChoosing('AES_CM_128_HMAC_SHA1_32', KB),
      { ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP' },
      answerChoosing('AES_CM_128_HMAC_SHA1_32', KB),
      QUERY,
    ],
  },
  {
    name: '(b) with RTP/SAVPF',
    steps: [{ ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVPF' }, answerChoosing('AES_CM_128_HMAC_SHA1_80', KB)],
  },
  {
    name: '(c) SRTP on both sides, the callee picks a suite the caller offered: the offerer\'s keys go on, the answerer\'s come back',
    steps: [{ ...OFFER, sdp: SAVP_OFFER }, answerChoosing('AES_CM_128_HMAC_SHA1_32', KB), { ...OFFER, sdp: SAVP_OFFER }, answerChoosing('AES_CM_128_HMAC_SHA1_32', KB), QUERY],
  },
  {
    name: '(c) SRTP on both sides, the callee picks a suite only the daemon offered: the caller gets its first suite with a key of the daemon\'s',
    steps: [{ ...OFFER, sdp: SAVP_OFFER }, answerChoosing('AEAD_AES_128_GCM', KGCM28), QUERY],
  },
  { name: '(d) SDES-off', steps: [{ ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP', flags: ['SDES-off'] }] },
  {
    name: '(d) SDES-no-<suite> (flags and SDES list)',
    steps: [{ ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP', flags: ['SDES-no-AEAD_AES_256_GCM'], SDES: ['no-NULL_HMAC_SHA1_32', 'no-AES_192_CM_HMAC_SHA1_80'] }],
  },
  { name: '(d) SDES-no-<suite> on the offerer\'s suites', steps: [{ ...OFFER, sdp: SAVP_OFFER, flags: ['SDES-no-AES_CM_128_HMAC_SHA1_80'] }] },
  { name: '(d) SDES-only-<suite> (10.5 does not know it)', steps: [{ ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP', flags: ['SDES-only-AES_CM_128_HMAC_SHA1_32'] }] },
  ...['unencrypted_srtp', 'unencrypted_srtcp', 'unauthenticated_srtp', 'UNENCRYPTED_SRTCP', 'lifetime', 'pad', 'static', 'nonew'].map((f) => ({
    name: `(d) SDES-${f}`,
    steps: [{ ...OFFER, sdp: PLAIN_OFFER, 'transport-protocol': 'RTP/SAVP', flags: [`SDES-${f}`] }] as Step[],
  })),
  { name: '(d) SDES-nonew with an SRTP offerer', steps: [{ ...OFFER, sdp: SAVP_OFFER, flags: ['SDES-nonew'] }] },
  {
    name: '(d) session parameters of the offerer are copied; SDES-encrypted_srtp takes one away',
    steps: [{ ...OFFER, sdp: sdp(30000, 'RTP/SAVP', [`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KA} UNENCRYPTED_SRTP UNENCRYPTED_SRTCP`]), flags: ['SDES-encrypted_srtp'] }],
  },
  {
    name: '(a) SDES-pad and SDES-lifetime given with the answer shape the line answered to the SRTP caller',
    steps: [{ ...OFFER, sdp: SAVP_OFFER, 'transport-protocol': 'RTP/AVP' }, { ...ANSWER, sdp: PLAIN_ANSWER, flags: ['SDES-pad', 'SDES-lifetime'] }],
  },
  {
    name: '(c) the callee answers plain RTP/AVP to the SRTP offer: the caller still gets SRTP',
    steps: [{ ...OFFER, sdp: SAVP_OFFER }, { ...ANSWER, sdp: PLAIN_ANSWER }, QUERY],
  },
  {
    name: 'an RTP/SAVP offer whose a=crypto lines are all unusable',
    steps: [
      { ...OFFER, sdp: sdp(30000, 'RTP/SAVP', [`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KG}`]), 'transport-protocol': 'RTP/AVP' },
      { ...ANSWER, sdp: PLAIN_ANSWER },
      QUERY,
    ],
  },
  {
    name: 'malformed a=crypto lines are ignored: wrong key lengths, unknown suite, no inline key, no tag',
    steps: [
      {
        ...OFFER,
        sdp: sdp(30000, 'RTP/SAVP', [
          `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KG}`, `crypto:2 AEAD_AES_128_GCM inline:${KGCM}`, `crypto:3 FOO_BAR inline:${KA}`,
          'crypto:4 AES_CM_128_HMAC_SHA1_80', `crypto:x AES_CM_128_HMAC_SHA1_80 inline:${KA}`, `crypto:6 AES_CM_128_HMAC_SHA1_32 inline:${KA}`,
        ]),
        'transport-protocol': 'RTP/AVP',
      },
      { ...ANSWER, sdp: PLAIN_ANSWER },
    ],
  },
];

/** Normalises one daemon's SDP (see the top of the file); `keys` and `ports` carry symbols across a scenario's steps. */
function normalizeSdp(text: string, keys: Map<string, string>, ports: Map<string, string>, reference: boolean): string[] {
  const port = (p: string): string => {
    if (!ports.has(p)) ports.set(p, `P${ports.size + 1}`);
    return ports.get(p) as string;
  };
  const key = (k: string): string => {
    const bare = k.replace(/=+$/, '');
    const pad = k.slice(bare.length);
    const lit = LITERAL_KEYS[bare];
    if (lit) return lit + pad;
    if (!keys.has(bare)) keys.set(bare, `KEY${keys.size + 1}(${Buffer.from(bare, 'base64').length} bytes)`);
    return (keys.get(bare) as string) + pad;
  };
  const out: string[] = [];
  let f8 = 0;
  for (const line of text.split(/\r?\n/)) {
    if (reference && /^a=(setup|fingerprint):/.test(line)) continue;
    const cm = /^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)(.*)$/.exec(line);
    if (cm) {
      if (reference && cm[2].startsWith('F8_')) {
        f8++;
        continue;
      }
      out.push(`a=crypto:${Number(cm[1]) - f8} ${cm[2]} inline:${key(cm[3])}${cm[4]}`);
      continue;
    }
    const mm = /^m=(\S+) (\d+) (.*)$/.exec(line);
    if (mm) {
      out.push(`m=${mm[1]} ${port(mm[2])} ${mm[3]}`);
      continue;
    }
    const rm = /^a=rtcp:(\d+)(.*)$/.exec(line);
    if (rm) {
      out.push(`a=rtcp:${port(rm[1])}${rm[2]}`);
      continue;
    }
    if (line) out.push(line);
  }
  return out;
}

/** The crypto parts of a query: per tag, the media flags and each stream's crypto suite. */
function queryCrypto(q: BDict): string[] {
  const out: string[] = [];
  const tags = q.tags as Record<string, { medias: Array<{ protocol: string; flags: string[]; streams: Array<Record<string, unknown>> }> }>;
  for (const tag of Object.keys(tags).sort()) {
    for (const m of tags[tag].medias) {
      out.push(`${tag} ${m.protocol} SDES=${m.flags.includes('SDES')}`);
      for (const s of m.streams) out.push(`  ${String((s.flags as string[])[0])} crypto suite: ${String(s['crypto suite'] ?? '-')}`);
    }
  }
  return out;
}

async function run(d: DaemonHandle, sc: Scenario, callId: string, reference: boolean): Promise<string[]> {
  const replies: BDict[] = [];
  const keys = new Map<string, string>();
  const ports = new Map<string, string>();
  const rendered: string[] = [];
  for (const step of sc.steps) {
    const req = typeof step === 'function' ? step(replies) : step;
    const reply = await d.ng.request({ ...req, 'call-id': callId });
    replies.push(reply);
    rendered.push(`--- ${String(req.command)}: ${String(reply.result)}${reply['error-reason'] ? ` (${String(reply['error-reason'])})` : ''}`);
    if (req.command === 'query') rendered.push(...queryCrypto(reply));
    else if (typeof reply.sdp === 'string') rendered.push(...normalizeSdp(reply.sdp, keys, ports, reference));
  }
  await d.ng.request({ command: 'delete', 'call-id': callId });
  return rendered;
}

describe('SDES signalling compared with the reference', function () {
  this.timeout(60000);
  let ours: DaemonHandle;
  let ref: DaemonHandle;

  before(async function () {
    skipUnlessReference(this);
    [ours, ref] = await Promise.all([startDaemon({ bin: 'ours' }), startDaemon({ bin: 'reference' })]);
  });

  after(async function () {
    await Promise.all([ours?.stop(), ref?.stop()]);
  });

  let n = 0;
  for (const sc of SCENARIOS) {
    it(sc.name, async function () {
      if (!referenceAvailable()) this.skip();
      n++;
      const [r, o] = await Promise.all([run(ref, sc, `sdes-ref-${process.pid}-${n}`, true), run(ours, sc, `sdes-ours-${process.pid}-${n}`, false)]);
      assert.deepEqual(o, r, `ours:\n${o.join('\n')}\n\nreference:\n${r.join('\n')}`);
    });
  }
});
