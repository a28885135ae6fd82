// The test-side SRTP implementation (test/helpers/srtp.ts) against the test
// vectors of RFC 3711 appendix B, and round trips through it: the integration
// tests trust it to judge the daemon's SRTP.

import * as assert from 'assert';
import { cmIv, deriveKey, SrtpSession, SrtpError, TEST_SUITES } from '../helpers/srtp';
import * as crypto from 'crypto';
import { buildRtp } from '../helpers/rtp';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('test SRTP implementation (RFC 3711)', () => {
  it('derives the session keys of appendix B.3', () => {
    const mk = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
    const ms = hex('0EC675AD498AFEEBB6960B3AABE6');
    assert.strictEqual(deriveKey(mk, ms, 0, 16).toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.strictEqual(deriveKey(mk, ms, 2, 14).toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.strictEqual(deriveKey(mk, ms, 1, 20).toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('produces the AES-CM keystream of appendix B.2', () => {
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    const iv = cmIv(hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0n);
    assert.strictEqual(iv.toString('hex').toUpperCase(), 'F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const c = crypto.createCipheriv('aes-128-ctr', key, iv);
    const ks = c.update(Buffer.alloc(0xff02 * 16));
    const block = (n: number): string => ks.subarray(n * 16, n * 16 + 16).toString('hex').toUpperCase();
    assert.strictEqual(block(0), 'E03EAD0935C95E80E166B16DD92B4EB4');
    assert.strictEqual(block(1), 'D23513162B02D0F72A43A2FE4A5F97AB');
    assert.strictEqual(block(2), '41E95B3BB0A2E8DD477901E4FCA894C0');
    assert.strictEqual(block(0xfeff), 'EC8CDF7398607CB0F2D21675EA9EA1E4');
    assert.strictEqual(block(0xff00), '362B7C3C6773516318A077D7FC5073AE');
    assert.strictEqual(block(0xff01), '6A2CC3787889374FBEB4C81B17BA6C44');
  });

  for (const name of Object.keys(TEST_SUITES)) {
    it(`round-trips RTP and RTCP with ${name}, across a sequence number wrap`, () => {
      const s = TEST_SUITES[name];
      const master = crypto.randomBytes(s.keyBytes + (s.aead ? 12 : 14));
      const tx = new SrtpSession(s, master);
      const rx = new SrtpSession(s, master);
      for (let i = 0; i < 6; i++) {
        const plain = buildRtp({ pt: 8, seq: (0xfffd + i) & 0xffff, ts: 160 * i, ssrc: 0x1234, payload: crypto.randomBytes(160) });
        const p = tx.protectRtp(plain);
        assert.strictEqual(p.length, plain.length + s.tagBytes);
        if (s.encrypts) assert.notDeepStrictEqual(p.subarray(12, 172), plain.subarray(12));
        const broken = Buffer.from(p);
        broken[20] ^= 1;
        assert.throws(() => new SrtpSession(s, master).unprotectRtp(broken), SrtpError);
        assert.deepStrictEqual(rx.unprotectRtp(p), plain);
      }
      const rr = Buffer.from('81c90007000012340000567800000000000000000000000000000000000000000000000000000000', 'hex');
      assert.deepStrictEqual(rx.unprotectRtcp(tx.protectRtcp(rr)), rr);
    });
  }

  it('refuses a packet whose payload was changed', () => {
    const s = TEST_SUITES.AES_CM_128_HMAC_SHA1_80;
    const master = crypto.randomBytes(30);
    const p = new SrtpSession(s, master).protectRtp(buildRtp({ pt: 0, seq: 1, ts: 0, ssrc: 7 }));
    p[20] ^= 1;
    assert.throws(() => new SrtpSession(s, master).unprotectRtp(p), SrtpError);
  });

  it('authenticates with the rollover counter: a packet of the next ROC does not verify under the previous one', () => {
    const s = TEST_SUITES.AES_CM_128_HMAC_SHA1_80;
    const master = crypto.randomBytes(30);
    const tx = new SrtpSession(s, master);
    const plain = buildRtp({ pt: 0, seq: 5, ts: 0, ssrc: 9 });
    assert.notDeepStrictEqual(tx.transformRtp(plain, 1, 10), tx.transformRtp(plain, 0, 10));
    assert.throws(() => new SrtpSession(s, master).unprotectRtp(tx.transformRtp(plain, 1, 10)), SrtpError);
  });
});
