// What --iptables-chain costs: ng offer/answer latency with and without it, and
// how long the firewall tools take per call set-up (4 ports: RTP and RTCP of
// both sides) when run once per rule, as a naive implementation would, versus
// one batched transaction.
//
//   node dist/bench/iptables-chain.js [--cycles=300]
//
// Needs root: it makes a network namespace with an empty chain, re-runs itself
// inside it, and deletes the namespace at the end; the host's firewall is not
// touched. Calls run one at a time (offer, answer, delete), so the figures are
// latencies, not throughput. The reference, when installed, is measured the
// same way (its rules go to the legacy tables, where the chain is made too).

import { execFileSync, spawnSync } from 'child_process';
import { performance } from 'perf_hooks';
import { referenceAvailable, startDaemon, type DaemonKind } from '../test/helpers/daemon';
import { simpleAudioSdp } from '../test/helpers/sdp';
import { parseArg } from './args';

const CHAIN = 'RTPE_BENCH';

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(2)}  p50 ${at(0.5).toFixed(2)}  p95 ${at(0.95).toFixed(2)}  p99 ${at(0.99).toFixed(2)} ms`;
}

async function ngLatency(bin: DaemonKind, cycles: number, args: string[]): Promise<{ offer: number[]; answer: number[] }> {
  const d = await startDaemon({ bin, args: ['--delete-delay=0', '--log-level=4', ...args], mediaPorts: 2000 });
  const offer: number[] = [];
  const answer: number[] = [];
  try {
    for (let i = 0; i < cycles + 20; i++) {
      const id = `bench-${i}`;
      let t = performance.now();
      const o = await d.ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: simpleAudioSdp(4000) });
      const to = performance.now() - t;
      t = performance.now();
      const a = await d.ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: simpleAudioSdp(5000) });
      const ta = performance.now() - t;
      if (o.result !== 'ok' || a.result !== 'ok') throw new Error(`call ${id}: ${String(o['error-reason'] ?? a['error-reason'])}`);
      await d.ng.request({ command: 'delete', 'call-id': id, 'from-tag': 'a' });
      if (i >= 20) {
        offer.push(to);
        answer.push(ta);
      }
    }
  } finally {
    await d.stop();
  }
  return { offer, answer };
}

/** Milliseconds per call set-up and tear-down (4 rules added, 4 removed) with one tool run per rule, and batched. */
function toolCost(rounds: number): { perRule: number; batched: number } {
  const spec = (p: number): string[] => ['-d', '127.0.0.1/32', '-p', 'udp', '-m', 'udp', '--dport', String(p), '-m', 'comment', '--comment', 'bench', '-j', 'ACCEPT'];
  const ports = [30000, 30001, 30002, 30003];
  let t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const p of ports) execFileSync('iptables', ['-w', '-A', CHAIN, ...spec(p)]);
    for (const p of ports) execFileSync('iptables', ['-w', '-D', CHAIN, ...spec(p)]);
  }
  const perRule = (performance.now() - t) / rounds;
  const batch = (op: string): string => `*filter\n${ports.map((p) => `${op} ${CHAIN} ${spec(p).join(' ')}`).join('\n')}\nCOMMIT\n`;
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const op of ['-A', '-D']) {
      const res = spawnSync('iptables-restore', ['-w', '--noflush'], { input: batch(op) });
      if (res.status !== 0) throw new Error(`iptables-restore: ${res.stderr}`);
    }
  }
  return { perRule, batched: (performance.now() - t) / rounds };
}

async function inside(cycles: number): Promise<void> {
  const tools = toolCost(30);
  console.log(`iptables tool runs per call (4 rules added + 4 removed): one run per rule ${tools.perRule.toFixed(1)} ms, two batched runs ${tools.batched.toFixed(1)} ms`);
  for (const bin of referenceAvailable() ? ['ours', 'reference'] as const : ['ours'] as const) {
    for (const [label, args] of [['without --iptables-chain', []], [`with --iptables-chain=${CHAIN}`, [`--iptables-chain=${CHAIN}`]]] as const) {
      const r = await ngLatency(bin, cycles, [...args]);
      console.log(`${bin}, ${label}:\n  offer   ${stats(r.offer)}\n  answer  ${stats(r.answer)}`);
    }
  }
}

async function main(): Promise<void> {
  let cycles = 300;
  for (const a of process.argv.slice(2)) {
    const p = parseArg(a);
    if (p.key === '--cycles') cycles = Math.floor(p.num(100000));
    else throw new Error(`unknown argument '${a}' (usage: --cycles=N)`);
  }
  if (process.env.RTPE_BENCH_NS) return inside(cycles);
  const ns = `rtpe-bench-ipt-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const run = (...cmd: string[]): void => void execFileSync('ip', ['netns', 'exec', ns, ...cmd]);
    run('ip', 'link', 'set', 'lo', 'up');
    run('iptables', '-N', CHAIN);
    run('ip6tables', '-N', CHAIN);
    // The reference programs the legacy tables (libiptc), whichever flavour iptables is.
    if (referenceAvailable()) {
      run('iptables-legacy', '-N', CHAIN);
      run('ip6tables-legacy', '-N', CHAIN);
    }
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, __filename, ...process.argv.slice(2)], {
      stdio: 'inherit', env: { ...process.env, RTPE_BENCH_NS: ns },
    });
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
