// How much of the machine something other than the benchmark used while it measured (Linux /proc), so a
// round slowed by a neighbour (a test run, a build) shows as such instead of as a regression.
// "Ours": this process and its descendants, plus PostgreSQL's postmaster, its auxiliary processes and the
// backends of `database`; everything else, including backends of other databases, is foreign.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

interface Proc {
  pid: number;
  ppid: number;
  ticks: number;
  cmdline: string;
}

function processes(): Map<number, Proc> {
  const list = new Map<number, Proc>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() || `[${comm}]`;
      list.set(Number(entry), {
        pid: Number(entry),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        cmdline,
      });
    } catch {
      // exited meanwhile
    }
  }
  return list;
}

/** Busy ticks of all cores (user, nice, system, irq, softirq, steal), in USER_HZ. */
function busyTicks(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** PostgreSQL's own processes: the postmaster, its backends and auxiliary processes. */
const isPostgres = (proc: Proc) => proc.cmdline.includes('/bin/postgres ') || proc.cmdline.startsWith('postgres: ');

function isOurs(all: Map<number, Proc>, database: string): (proc: Proc) => boolean {
  const ours = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const proc of all.values()) {
      if (ours.has(proc.pid) || !ours.has(proc.ppid)) continue;
      ours.add(proc.pid);
      grew = true;
    }
  }
  return (proc) => {
    if (ours.has(proc.pid) || proc.cmdline.includes('/bin/postgres ')) return true; // the postmaster
    const backend = /^postgres: \S+: \S+ (\S+) (\S+\(\d+\)|\[local\])/.exec(proc.cmdline);
    return isPostgres(proc) && (!backend || backend[1] === database);
  };
}

export interface ForeignCpu {
  /** Share (0–1) of all cores busy with anything but the benchmark. */
  share: number;
  /** CPU time used meanwhile, in ms: by process `serverPid` (when given), and by PostgreSQL for `database` (its
   * backends, the postmaster and its auxiliary processes). Divided by the work done, a cost that does not depend
   * on how the machine scheduled it (throughput on 2 noisy cores does). */
  serverMs: number;
  databaseMs: number;
  /** The foreign process that used the most CPU, with its share, when it used more than 2 %. */
  top?: string;
}

/** Starts a measurement; the returned function tells how busy the machine was with other work since. */
export function foreignCpu(database: string, serverPid?: number): () => ForeignCpu {
  const startedAt = performance.now();
  const busy = busyTicks();
  const before = processes();
  return () => {
    const seconds = (performance.now() - startedAt) / 1000;
    const after = processes();
    const ours = isOurs(after, database);
    const delta = (proc: Proc) => proc.ticks - (before.get(proc.pid)?.ticks ?? 0);
    let ourTicks = 0;
    let serverTicks = 0;
    let databaseTicks = 0;
    let top: { proc: Proc; ticks: number } | undefined;
    for (const proc of after.values()) {
      if (ours(proc)) {
        ourTicks += delta(proc);
        if (proc.pid === serverPid) serverTicks += delta(proc);
        else if (isPostgres(proc)) databaseTicks += delta(proc);
      } else if (!top || delta(proc) > top.ticks) top = { proc, ticks: delta(proc) };
    }
    const capacity = seconds * 100 * availableParallelism(); // ticks are USER_HZ (100 on Linux)
    const share = Math.max(0, (busyTicks() - busy - ourTicks) / capacity);
    return {
      share,
      serverMs: serverTicks * 10,
      databaseMs: databaseTicks * 10,
      ...(top && top.ticks / capacity > 0.02
        ? { top: `${top.proc.cmdline.slice(0, 80)} (${Math.round((100 * top.ticks) / capacity)} %)` }
        : {}),
    };
  };
}
