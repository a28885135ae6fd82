// Network namespaces for tests that must not touch the host's network: the
// in-kernel path (a tc program on the namespace's interfaces) and firewall
// management (the namespace's own iptables/nftables rules).
//
// A TestNetns is a fresh namespace with lo up and `links` veth pairs towards
// the test process's namespace. Link i has a /24 and a /64 of its own: the
// host end (in the test process's namespace) is .2 / ::2, the namespace end .1
// / ::1. A daemon run inside the namespace (startDaemon({ netns })) listens on
// the namespace end of link 0, and test peers bind to the host ends, so every
// packet between a peer and the daemon crosses a veth and the namespace's
// ingress:
//
//   test process  10.X.i.2 ──veth i── 10.X.i.1  namespace (daemon)
//
// Needs root and iproute2; netnsUnavailable() says why not, for a printed skip.
// Every namespace created here is deleted by remove(), and, should a test forget,
// when the test process exits.

import { execFileSync } from 'child_process';

export interface NetnsLink {
  /** Interface names: the end in the test process's namespace and the one inside. */
  hostIf: string;
  nsIf: string;
  hostAddr4: string;
  nsAddr4: string;
  hostAddr6: string;
  nsAddr6: string;
}

export interface TestNetns {
  name: string;
  links: NetnsLink[];
  /** Runs a command inside the namespace, returns its stdout; throws with its stderr on failure. */
  exec(command: string, args: string[]): string;
  /** Deletes the namespace and its veth pairs. Idempotent. */
  remove(): void;
}

const live = new Set<TestNetns>();
let exitHookInstalled = false;
let counter = 0;

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** Null when namespaces can be made here, otherwise the reason (for a printed skip). */
export function netnsUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root to create network namespaces';
  const name = `rtpe-probe-${process.pid}`;
  try {
    run('ip', ['netns', 'add', name]);
  } catch (e) {
    return `cannot create a network namespace: ${(e as Error).message}`;
  }
  try {
    run('ip', ['netns', 'del', name]);
  } catch {
    /* deleted or never made: nothing to undo */
  }
  return null;
}

/**
 * For a mocha suite: skips it with a printed reason when namespaces cannot be
 * made. Call as `skipUnlessNetns(this)` from a mocha function.
 */
export function skipUnlessNetns(ctx: Mocha.Context): void {
  const why = netnsUnavailable();
  if (why) {
    console.log(`      (skipped: ${why})`);
    ctx.skip();
  }
}

/** Creates a namespace with lo up and `links` veth pairs (default 1) towards this process's namespace. */
export function createNetns(opts: { links?: number } = {}): TestNetns {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const ns of live) ns.remove();
    });
  }
  const n = counter++;
  // Unique per test process and namespace: the pid picks the second octet and
  // the interface names, the counter the namespace.
  const tag = `${process.pid % 10000}x${n}`;
  const name = `rtpe-test-${tag}`;
  const octet = 100 + (process.pid % 100);
  const links: NetnsLink[] = [];
  let removed = false;
  const ns: TestNetns = {
    name,
    links,
    exec: (command, args) => run('ip', ['netns', 'exec', name, command, ...args]),
    remove: () => {
      if (removed) return;
      removed = true;
      live.delete(ns);
      // Deleting the namespace destroys the inner veth ends and with them the pairs.
      for (const l of links) {
        try {
          run('ip', ['link', 'del', l.hostIf]);
        } catch {
          /* already gone with the namespace */
        }
      }
      try {
        run('ip', ['netns', 'del', name]);
      } catch {
        /* never made */
      }
    },
  };
  live.add(ns);
  try {
    run('ip', ['netns', 'add', name]);
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    const count = opts.links ?? 1;
    for (let i = 0; i < count; i++) {
      const subnet = (n * 8 + i) % 250;
      const link: NetnsLink = {
        hostIf: `rth${tag}l${i}`.slice(0, 15),
        nsIf: `rtn${tag}l${i}`.slice(0, 15),
        hostAddr4: `10.${octet}.${subnet}.2`,
        nsAddr4: `10.${octet}.${subnet}.1`,
        hostAddr6: `fd00:${octet}:${subnet + 1}::2`,
        nsAddr6: `fd00:${octet}:${subnet + 1}::1`,
      };
      links.push(link);
      run('ip', ['link', 'add', link.hostIf, 'type', 'veth', 'peer', 'name', link.nsIf, 'netns', name]);
      run('ip', ['addr', 'add', `${link.hostAddr4}/24`, 'dev', link.hostIf]);
      run('ip', ['-6', 'addr', 'add', `${link.hostAddr6}/64`, 'dev', link.hostIf, 'nodad']);
      run('ip', ['link', 'set', link.hostIf, 'up']);
      ns.exec('ip', ['addr', 'add', `${link.nsAddr4}/24`, 'dev', link.nsIf]);
      ns.exec('ip', ['-6', 'addr', 'add', `${link.nsAddr6}/64`, 'dev', link.nsIf, 'nodad']);
      ns.exec('ip', ['link', 'set', link.nsIf, 'up']);
    }
  } catch (e) {
    ns.remove();
    throw e;
  }
  return ns;
}

/**
 * The --interface options of a daemon bridging links 0 and 1 of a namespace:
 * logical interface `left` on link 0 and `right` on link 1, IPv4 and IPv6 each
 * (select them with the offer's `direction: ['left', 'right']`).
 */
export function bridgeInterfaces(ns: TestNetns): string[] {
  const [a, b] = ns.links;
  return [
    `--interface=left/${a.nsAddr4}`, `--interface=left/${a.nsAddr6}`,
    `--interface=right/${b.nsAddr4}`, `--interface=right/${b.nsAddr6}`,
  ];
}
