import * as assert from 'assert';
import {
  BDict, BValue, BencodeError, MAX_DEPTH, decode, decodePrefix, encode, encodeToString, fromBuffer, scanPrefix,
  toBuffer,
} from '../../src/control/bencode';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function expectError(input: string | Buffer, code: string): BencodeError {
  const buf = typeof input === 'string' ? b(input) : input;
  try {
    decode(buf);
  } catch (e) {
    assert.ok(e instanceof BencodeError, `expected BencodeError, got ${String(e)}`);
    assert.strictEqual(e.code, code, `${JSON.stringify(buf.toString('latin1'))}: ${e.message}`);
    assert.ok(e.offset >= 0 && e.offset <= buf.length);
    return e;
  }
  assert.fail(`decoding ${JSON.stringify(buf.toString('latin1'))} should fail with ${code}`);
}

// A small deterministic PRNG (mulberry32) so fuzz failures are reproducible.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(rnd: () => number, depth: number): BValue {
  const pick = Math.floor(rnd() * (depth > 4 ? 2 : 4));
  if (pick === 0) {
    let s = '';
    const n = Math.floor(rnd() * 12);
    for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rnd() * 256));
    return s;
  }
  if (pick === 1) return Math.floor((rnd() - 0.5) * 1e12);
  if (pick === 2) {
    const l: BValue[] = [];
    const n = Math.floor(rnd() * 5);
    for (let i = 0; i < n; i++) l.push(randomValue(rnd, depth + 1));
    return l;
  }
  const d: BDict = {};
  const n = Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) d[`k${Math.floor(rnd() * 100)}`] = randomValue(rnd, depth + 1);
  return d;
}

describe('bencode codec', () => {
  describe('round trips', () => {
    it('decodes what it encodes for every value type', () => {
      const value: BDict = {
        command: 'offer',
        'call-id': 'abc@host',
        sdp: 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n',
        flags: ['trust-address', 'symmetric'],
        ints: [0, 1, -1, 42, -987654321, 2 ** 53 - 1],
        nested: { empty: {}, list: [], deep: [[['x']]] },
      };
      assert.deepStrictEqual(decode(encode(value)), value);
    });

    it('keeps every byte value of a string unchanged', () => {
      let all = '';
      for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
      const wire = encode({ bytes: all });
      assert.strictEqual(wire.length, 'd5:bytes256:e'.length + 256);
      assert.strictEqual((decode(wire) as BDict).bytes, all);
      assert.deepStrictEqual(toBuffer(all), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
      assert.strictEqual(fromBuffer(toBuffer(all)), all);
    });

    it('writes dictionary keys in insertion order, not sorted', () => {
      assert.strictEqual(encodeToString({ sdp: 'x', result: 'ok' }), 'd3:sdp1:x6:result2:oke');
      assert.deepStrictEqual(Object.keys(decode(b('d1:zi1e1:ai2e1:mi3ee')) as BDict), ['z', 'a', 'm']);
    });

    it('encodes the reference examples byte for byte', () => {
      assert.strictEqual(encodeToString({ command: 'ping' }), 'd7:command4:pinge');
      assert.strictEqual(encodeToString({ result: 'pong' }), 'd6:result4:ponge');
      assert.strictEqual(encodeToString([]), 'le');
      assert.strictEqual(encodeToString({}), 'de');
      assert.strictEqual(encodeToString(''), '0:');
      assert.strictEqual(encodeToString(-0), 'i0e');
    });

    it('leaves out dictionary entries whose value is undefined', () => {
      const d = { a: 1, b: undefined, c: 'x' } as unknown as BDict;
      assert.strictEqual(encodeToString(d), 'd1:ai1e1:c1:xe');
    });

    it('writes text beyond latin1 as UTF-8 and Buffers as bytes', () => {
      assert.strictEqual(encode('☃').toString('hex'), Buffer.from('3:☃', 'utf8').toString('hex'));
      assert.strictEqual(encode(Buffer.from([0, 255]) as unknown as BValue).toString('hex'), '323a00ff');
    });

    it('refuses to encode fractions, NaN, booleans and null', () => {
      for (const v of [1.5, NaN, Infinity, true, null, () => 1]) {
        assert.throws(() => encode(v as unknown as BValue), (e: unknown) => e instanceof BencodeError && e.code === 'ERR_BENCODE_TYPE');
      }
    });

    it('encodes integers beyond 2^53 without exponent notation', () => {
      assert.strictEqual(encodeToString(1e21), 'i1000000000000000000000e');
    });
  });

  describe('decoding', () => {
    it('accepts negative zero and a plus sign like the reference', () => {
      assert.strictEqual(decode(b('i-0e')), 0);
      assert.ok(Object.is(decode(b('i-0e')), 0));
      assert.strictEqual(decode(b('i+5e')), 5);
      assert.strictEqual(decode(b('i-17e')), -17);
    });

    it('keeps the first of duplicate dictionary keys, as the reference looks keys up', () => {
      assert.deepStrictEqual(decode(b('d7:command4:ping7:command3:fooe')), { command: 'ping' });
    });

    it('treats a __proto__ key as data, not as a prototype', () => {
      const d = decode(b('d9:__proto__d1:xi1eee')) as BDict;
      assert.deepStrictEqual(Object.keys(d), ['__proto__']);
      assert.strictEqual(Object.getPrototypeOf(d), Object.prototype);
      assert.strictEqual((d as Record<string, unknown>).x, undefined);
    });

    it('decodes a prefix and reports where it ends', () => {
      const buf = b('xxd1:ai1eeTRAILING');
      assert.deepStrictEqual(decodePrefix(buf, 2), { value: { a: 1 }, end: 10 });
    });

    it('accepts nesting up to the depth limit', () => {
      const ok = 'l'.repeat(MAX_DEPTH) + 'e'.repeat(MAX_DEPTH);
      assert.doesNotThrow(() => decode(b(ok)));
    });
  });

  describe('malformed input', () => {
    const truncatedCases = ['', 'i', 'i-', 'i12', '5:abc', '3', 'l', 'li1e', 'd', 'd3:abc', 'd3:abci1e', 'l5:ab'];
    for (const input of truncatedCases) {
      it(`reports ${JSON.stringify(input)} as truncated`, () => {
        const e = expectError(input, 'ERR_BENCODE_TRUNCATED');
        assert.ok(e.truncated);
      });
    }

    const syntaxCases: Array<[string, string]> = [
      ['x', 'an unknown type byte'],
      ['ie', 'an empty integer'],
      ['i-e', 'a sign without digits'],
      ['i--1e', 'a double sign'],
      ['i03e', 'a leading zero in an integer'],
      ['i-03e', 'a leading zero in a negative integer'],
      ['i1.5e', 'a fraction'],
      ['i12x', 'a stray byte in an integer'],
      ['03:abc', 'a leading zero in a string length'],
      ['-1:a', 'a negative string length'],
      ['3x:abc', 'a stray byte in a string length'],
      ['i123456789012345678901e', 'an integer of 21 digits'],
      ['123456789012345678901:', 'a string length of 21 digits'],
      ['di1ei2ee', 'an integer dictionary key'],
      ['dli1eei2ee', 'a list dictionary key'],
      ['d3:abcxe', 'a bad dictionary value'],
      [' d3:abci1ee', 'leading whitespace'],
    ];
    for (const [input, what] of syntaxCases) {
      it(`rejects ${what} (${JSON.stringify(input)}) as a syntax error`, () => {
        expectError(input, 'ERR_BENCODE_SYNTAX');
      });
    }

    it('rejects trailing garbage after a complete value', () => {
      const e = expectError('d7:command4:pinge trailing', 'ERR_BENCODE_TRAILING');
      assert.strictEqual(e.offset, 17);
      expectError('i1ei2e', 'ERR_BENCODE_TRAILING');
    });

    it('rejects nesting beyond the depth limit', () => {
      expectError('l'.repeat(MAX_DEPTH + 1) + 'e'.repeat(MAX_DEPTH + 1), 'ERR_BENCODE_DEPTH');
      expectError('d1:a'.repeat(MAX_DEPTH + 1) + 'i1e' + 'e'.repeat(MAX_DEPTH + 1), 'ERR_BENCODE_DEPTH');
    });

    it('does not overflow the stack on a very deep input', () => {
      expectError('l'.repeat(100000), 'ERR_BENCODE_DEPTH');
    });

    it('refuses to encode values nested beyond the depth limit', () => {
      let v: BValue = [];
      for (let i = 0; i < MAX_DEPTH + 1; i++) v = [v];
      assert.throws(() => encode(v), (e: unknown) => e instanceof BencodeError && e.code === 'ERR_BENCODE_DEPTH');
    });
  });

  describe('stream scanning', () => {
    it('finds the end of a complete value without decoding it', () => {
      assert.strictEqual(scanPrefix(b('abc d7:command4:pinge rest'), 4), 21);
    });

    it('answers -1 for every proper prefix of a message', () => {
      const msg = encode({ command: 'offer', sdp: 'v=0\r\n', flags: ['a', 'b'], n: -12 });
      for (let i = 0; i < msg.length; i++) assert.strictEqual(scanPrefix(msg.subarray(0, i), 0), -1, `prefix ${i}`);
      assert.strictEqual(scanPrefix(msg, 0), msg.length);
    });

    it('throws for bytes that can never become bencode', () => {
      assert.throws(() => scanPrefix(b('d3:abcxe'), 0), (e: unknown) => e instanceof BencodeError && !e.truncated);
    });
  });

  describe('fuzzing', () => {
    it('only ever throws BencodeError for thousands of mutated messages', () => {
      const rnd = prng(0x5eed);
      let decoded = 0;
      let rejected = 0;
      for (let i = 0; i < 5000; i++) {
        const original = encode(randomValue(rnd, 0));
        const bytes = Array.from(original);
        const mutations = 1 + Math.floor(rnd() * 4);
        for (let m = 0; m < mutations; m++) {
          const at = Math.floor(rnd() * (bytes.length + 1));
          switch (Math.floor(rnd() * 5)) {
            case 0: bytes[at] = Math.floor(rnd() * 256); break;
            case 1: bytes.splice(at, 1); break;
            case 2: bytes.splice(at, 0, 'deil:0123456789-'.charCodeAt(Math.floor(rnd() * 16))); break;
            case 3: bytes.length = at; break;
            default: bytes.splice(at, 0, ...bytes.slice(0, Math.floor(rnd() * 8))); break;
          }
        }
        const buf = Buffer.from(bytes.filter((x) => x !== undefined));
        try {
          const v = decode(buf);
          // Whatever decodes must encode again.
          encode(v);
          decoded++;
        } catch (e) {
          if (!(e instanceof BencodeError)) throw new Error(`non-BencodeError for ${buf.toString('hex')}: ${String(e)}`);
          rejected++;
        }
        try {
          const end = scanPrefix(buf, 0);
          assert.ok(end === -1 || (end > 0 && end <= buf.length));
        } catch (e) {
          if (!(e instanceof BencodeError)) throw e;
        }
      }
      assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
    });
  });
});
