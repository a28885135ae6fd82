// What the benches read about processes and the machine: CPU pinning, the
// ksoftirqd threads of some CPUs, a process's memory and thread CPU time,
// and the system's UDP drop counter. Linux only (/proc, taskset).

import { execFileSync } from 'child_process';
import * as fs from 'fs';

/** Pins every thread of a process (-a; threads started later inherit the mask) to a CPU list. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

/** The CPU numbers of a list like "1" or "0-1,3". */
export function cpuNumbers(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/**
 * The ksoftirqd threads of the given CPUs. Softirq work (here: delivering the
 * packets a daemon sends over loopback) normally runs in the context of the
 * thread that raised it and is charged to it; under load the kernel defers
 * it to these threads, so their time is reported beside the daemon's.
 */
export function ksoftirqdPids(cpus: number[]): number[] {
  const want = new Set(cpus.map((c) => `ksoftirqd/${c}`));
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (want.has(fs.readFileSync(`/proc/${d}/comm`, 'latin1').trim())) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The system's count of UDP datagrams dropped for a full receive buffer. */
export function udpRcvbufErrors(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'latin1').split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  const i = names.indexOf('RcvbufErrors');
  return i > 0 ? Number(values[i]) : 0;
}

/** VmRSS of a process in kB (NaN when unknown). */
export function rssKb(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(s);
  return m ? Number(m[1]) : NaN;
}

/**
 * Time on CPU of all the threads of a process, in seconds, from the
 * scheduler's accounting (/proc/PID/task/TID/schedstat, first field; exact,
 * unlike the tick-sampled utime + stime). Threads that exited are not counted.
 */
export function threadsRunSeconds(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      /* the thread has exited */
    }
  }
  return ns / 1e9;
}
