// --interface parsing and logical interface selection. System interfaces and
// host names are stubbed except in the test that uses the real loopback `lo`.

import { strict as assert } from 'assert';
import { networkInterfaces } from 'os';
import {
  InterfaceEnvironment, InterfaceError, LogicalInterface, normalizeIPv6, parseInterfaces, parseIpLiteral, selectInterface,
} from '../../src/media/interfaces';

const STUB: InterfaceEnvironment = {
  system: () => ({
    lo: [
      { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
      { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
    ],
    eth0: [
      { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
      { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    ],
    eth1: [
      { address: '198.51.100.7', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:02', internal: false, cidr: '198.51.100.7/24' },
    ],
  }),
  resolve: (host) => {
    if (host === 'media.example.com') return [{ address: '203.0.113.5', family: 4 }, { address: '2001:db8::5', family: 6 }];
    if (host === 'public.example.com') return [{ address: '192.0.2.99', family: 4 }];
    return [];
  },
};

function parse(...specs: string[]): LogicalInterface[] {
  return parseInterfaces(specs, STUB);
}

function summary(ifaces: LogicalInterface[]): string[] {
  return ifaces.flatMap((i) => i.addresses.map((a) => `${i.name} ${a.address}${a.advertised !== a.address ? `!${a.advertised}` : ''}`));
}

function invalid(...specs: string[]): InterfaceError {
  try {
    parse(...specs);
  } catch (e) {
    assert.ok(e instanceof InterfaceError);
    assert.equal(e.code, 'ERR_INVALID_INTERFACE');
    return e;
  }
  assert.fail(`expected ${specs.join(' ')} to be rejected`);
}

describe('--interface parsing', () => {
  it('puts a bare address into the logical interface "default"', () => {
    const [i] = parse('203.0.113.1');
    assert.deepEqual(i, {
      name: 'default', base: null, suffix: null,
      addresses: [{ address: '203.0.113.1', family: 4, advertised: '203.0.113.1' }],
    });
  });

  it('takes NAME/ADDRESS and ADDRESS!ADVERTISED, alone and together', () => {
    assert.deepEqual(summary(parse('int/10.0.0.1', '10.0.0.2!192.0.2.4', 'ext/10.0.0.3!192.0.2.5')), [
      'int 10.0.0.1', 'default 10.0.0.2!192.0.2.4', 'ext 10.0.0.3!192.0.2.5',
    ]);
  });

  it('accepts IPv6 addresses, bracketed or not, and compresses them', () => {
    const ifaces = parse('v6/2001:db8:0:0::1', 'v6/[2001:db8::2]!2001:0db8::99');
    assert.deepEqual(ifaces[0].addresses, [
      { address: '2001:db8::1', family: 6, advertised: '2001:db8::1' },
      { address: '2001:db8::2', family: 6, advertised: '2001:db8::99' },
    ]);
  });

  it('adds the addresses of a repeated name to the same interface, in order, without duplicates', () => {
    const ifaces = parse('192.168.63.1', 'pub/192.0.2.67', 'fd00::63', 'pub/192.0.2.68', '192.168.63.1');
    assert.deepEqual(ifaces.map((i) => i.name), ['default', 'pub']);
    assert.deepEqual(ifaces[0].addresses.map((a) => `${a.family}:${a.address}`), ['4:192.168.63.1', '6:fd00::63']);
    assert.deepEqual(ifaces[1].addresses.map((a) => a.address), ['192.0.2.67', '192.0.2.68']);
  });

  it('expands a system interface name to all its addresses except IPv6 link-local', () => {
    assert.deepEqual(summary(parse('ext/eth0!192.0.2.200')), ['ext 192.0.2.2!192.0.2.200', 'ext fd00::2!192.0.2.200']);
  });

  it('expands the real loopback interface lo', function () {
    if (!networkInterfaces().lo) {
      console.log('      (skipped: this system has no interface named lo)');
      this.skip();
    }
    const [i] = parseInterfaces(['loop/lo']);
    assert.equal(i.name, 'loop');
    assert.ok(i.addresses.some((a) => a.address === '127.0.0.1' && a.family === 4));
  });

  it("expands 'any' to every address except loopback and IPv6 link-local", () => {
    assert.deepEqual(summary(parse('any')), ['default 192.0.2.2', 'default fd00::2', 'default 198.51.100.7']);
  });

  it('resolves a host name once, to all its addresses, and an advertised host name to its first', () => {
    assert.deepEqual(summary(parse('media.example.com!public.example.com')),
      ['default 203.0.113.5!192.0.2.99', 'default 2001:db8::5!192.0.2.99']);
  });

  it('splits BASE:SUFFIX names', () => {
    const [a, b] = parse('pub:1/192.0.2.67', 'pub:2/10.35.2.75');
    assert.deepEqual([a.name, a.base, a.suffix], ['pub:1', 'pub', '1']);
    assert.deepEqual([b.name, b.base, b.suffix], ['pub:2', 'pub', '2']);
  });

  it('rejects unspecified, unknown and empty addresses, and interface names as advertised address', () => {
    assert.match(invalid('0.0.0.0').message, /'0.0.0.0'/);
    invalid('::');
    invalid('nosuch');
    invalid('name/');
    invalid('/192.0.2.1');
    assert.match(invalid('192.0.2.1!0.0.0.0').message, /unspecified/);
    assert.match(invalid('192.0.2.1!eth0').message, /advertised address 'eth0'/);
  });
});

describe('interface selection', () => {
  const ifaces = parse('pub/192.0.2.1', 'priv/10.0.0.1', 'rr:a/192.0.2.10', 'rr:b/192.0.2.11', 'rr:c/fd00::12');

  it('picks the first configured interface when no name is given', () => {
    assert.equal(selectInterface(ifaces).name, 'pub');
  });

  it('picks an interface by its full name', () => {
    assert.equal(selectInterface(ifaces, 'priv').name, 'priv');
    assert.equal(selectInterface(ifaces, 'rr:b').name, 'rr:b');
  });

  it('rotates through BASE:* interfaces when the BASE is asked for', () => {
    const picks = [1, 2, 3, 4].map(() => selectInterface(ifaces, 'rr').name);
    assert.deepEqual(picks, ['rr:a', 'rr:b', 'rr:c', 'rr:a']);
  });

  it('only rotates through interfaces with an address of the wanted family or that are usable', () => {
    const v6 = [1, 2].map(() => selectInterface(ifaces, 'rr', { family: 6 }).name);
    assert.deepEqual(v6, ['rr:c', 'rr:c']);
    const usable = [1, 2].map(() => selectInterface(ifaces, 'rr', { usable: (i) => i.name !== 'rr:a' }).name);
    assert.ok(usable.every((n) => n !== 'rr:a'));
  });

  it('rotates from the start when the first interface has a BASE:SUFFIX name', () => {
    const list = parse('x:1/192.0.2.1', 'x:2/192.0.2.2', 'other/192.0.2.3');
    assert.deepEqual([1, 2, 3].map(() => selectInterface(list).name), ['x:1', 'x:2', 'x:1']);
  });

  it('throws ERR_UNKNOWN_INTERFACE for a name that matches nothing', () => {
    assert.throws(() => selectInterface(ifaces, 'nope'),
      (e: unknown) => e instanceof InterfaceError && e.code === 'ERR_UNKNOWN_INTERFACE' && /'nope'/.test(e.message));
  });
});

describe('address literals', () => {
  it('compresses IPv6 like inet_ntop', () => {
    assert.equal(normalizeIPv6('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(normalizeIPv6('0:0:0:0:0:0:0:0'), '::');
    assert.equal(normalizeIPv6('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
    assert.equal(normalizeIPv6('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7');
    assert.equal(normalizeIPv6('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
    assert.equal(normalizeIPv6('fe80::1'), 'fe80::1');
  });

  it('refuses zone IDs and non-addresses', () => {
    assert.equal(parseIpLiteral('fe80::1%eth0'), null);
    assert.equal(parseIpLiteral('eth0'), null);
    assert.deepEqual(parseIpLiteral('[::1]'), { address: '::1', family: 6 });
  });
});
