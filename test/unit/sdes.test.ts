// SDES keying rules (src/crypto/sdes.ts): which a=crypto lines are usable, the
// offer's order and tags, the answer's choice, and garbage that must not throw.

import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import { answerCrypto, emptySdes, formatCryptoLine, offerCrypto, readCryptoLines, sdesFlags, SDES_SUITES } from '../../src/crypto/sdes';
import type { SdpLine } from '../../src/sdp/sdp';

const KEY30 = crypto.randomBytes(30).toString('base64');
const lines = (...values: string[]): SdpLine[] => values.map((value) => ({ type: 'a', value }));
const noFlags = sdesFlags(new Set(), []);

describe('SDES keying (src/crypto/sdes.ts)', () => {
  it('reads usable a=crypto lines and ignores the rest', () => {
    const got = readCryptoLines(lines(
      `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`,
      `crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}|2^31 UNENCRYPTED_SRTCP`,
      `crypto:3 AES_256_CM_HMAC_SHA1_80 inline:${KEY30}`, // key too short for AES-256
      `crypto:4 F8_128_HMAC_SHA1_80 inline:${KEY30}`, // no F8 in libsrtp2
      `crypto:5 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^31|1:4`, // MKI
      `crypto:6 AES_CM_128_HMAC_SHA1_80 foo:${KEY30}`,
      `crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}`, // tag already used
      'crypto:7 AES_CM_128_HMAC_SHA1_80 inline:!!!!',
      'rtpmap:0 PCMU/8000',
    ));
    assert.deepEqual(got.map((c) => [c.tag, c.suite.name, c.params]), [
      [1, 'AES_CM_128_HMAC_SHA1_80', []],
      [2, 'AES_CM_128_HMAC_SHA1_32', ['UNENCRYPTED_SRTCP']],
    ]);
  });

  it('offers every suite in order with fresh keys of the right lengths, after the offerer\'s own lines', () => {
    const offerer = readCryptoLines(lines(`crypto:5 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}`));
    const out = offerCrypto(offerer, null, noFlags);
    assert.deepEqual(out.map((c) => c.tag), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.equal(out[0].key.toString('base64'), KEY30);
    assert.deepEqual(out.slice(1).map((c) => c.suite.name), SDES_SUITES.filter((s) => s.name !== 'AES_CM_128_HMAC_SHA1_32').map((s) => s.name));
    for (const c of out) assert.equal(c.key.length, c.suite.keyLength);
    assert.equal(new Set(out.map((c) => c.key.toString('hex'))).size, out.length, 'distinct keys');
  });

  it('puts the agreed line first in a re-offer, and honours no-<suite> and off', () => {
    const first = offerCrypto([], null, noFlags);
    const agreed = first[7];
    const again = offerCrypto([], agreed, sdesFlags(new Set(), ['aead_aes_256_gcm']));
    assert.equal(again[0], agreed);
    assert.deepEqual(again.slice(1, 3).map((c) => [c.tag, c.suite.name]), [[9, 'AEAD_AES_128_GCM'], [10, 'AES_256_CM_HMAC_SHA1_80']]);
    assert.deepEqual(offerCrypto([], null, sdesFlags(new Set(['off']), [])), []);
  });

  it('answers an SRTP offerer with the suite the other side chose, else its first, keeping the key on a repeat', () => {
    const side = emptySdes();
    side.offered = readCryptoLines(lines(`crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`, `crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}`));
    const a1 = answerCrypto(side, null, noFlags);
    assert.ok(a1);
    assert.equal(a1.tag, 1);
    assert.notEqual(a1.key.toString('base64'), KEY30);
    const a2 = answerCrypto(side, null, noFlags);
    assert.ok(a2);
    assert.ok(a2.key.equals(a1.key));
    const other = emptySdes();
    other.recv = readCryptoLines(lines(`crypto:9 AES_CM_128_HMAC_SHA1_32 inline:${crypto.randomBytes(30).toString('base64')}`))[0];
    const a3 = answerCrypto(side, other, noFlags);
    assert.ok(a3);
    assert.equal(a3.tag, 2);
    assert.ok(a3.key.equals(other.recv.key));
  });

  it('writes lifetime, padding and session parameters as asked', () => {
    const [c] = readCryptoLines(lines(`crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY30} UNENCRYPTED_SRTP`));
    const short = { ...c, key: crypto.randomBytes(28) };
    assert.match(formatCryptoLine(short, { lifetime: true, pad: true }), /^crypto:3 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{38}==\|2\^31 UNENCRYPTED_SRTP$/);
    assert.doesNotMatch(formatCryptoLine(short, { lifetime: false, pad: false }), /=/);
  });

  it('never throws on garbage a=crypto values', () => {
    const alphabet = 'AES_CM_128HMACSHA180 :|^=+/inline0123456789abcXYZ\t';
    for (let i = 0; i < 2000; i++) {
      let v = 'crypto:';
      const n = Math.floor(Math.random() * 80);
      for (let k = 0; k < n; k++) v += alphabet[Math.floor(Math.random() * alphabet.length)];
      for (const c of readCryptoLines(lines(v))) assert.equal(c.key.length, c.suite.keyLength);
    }
  });
});
