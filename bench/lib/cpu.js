import { readFileSync, readdirSync } from 'node:fs';

/** Linux reports process times in clock ticks; 100 per second on every mainstream kernel config. */
const TICKS_PER_SECOND = 100;

function processTimes() {
  /** @type {Map<number, { name: string; ppid: number; seconds: number; childSeconds: number }>} */
  const times = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(Number(entry), {
        name,
        ppid: Number(fields[1]),
        seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
        // cutime + cstime: children that ended and were waited for.
        childSeconds: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return times;
}

/**
 * CPU seconds spent by chosen processes between `start()` and `stop()`:
 * given pids (our services) and every process of given names (the
 * PostgreSQL backends, nats-server). Lets a benchmark say where the
 * machine's CPU went, not only how fast the whole was. The benchmark's
 * own process is `loadGenerator`; the processes it started (a device's
 * swtpm, the tpm2-tools it runs) are `loadGeneratorChildren`: those still
 * running by pid (but not the labelled ones: the services it started are
 * its children too), those that ended through the kernel's children times
 * (a service stopped before `stop()` would land there; none is).
 * Neither is ever a platform figure.
 * @param {Record<string, number>} pids label → pid
 * @param {Record<string, string>} names label → process name
 */
export function cpuAccount(pids, names) {
  const before = processTimes();
  return {
    stop() {
      const after = processTimes();
      /** @type {Record<string, number>} */
      const seconds = {};
      const spent = (pid) => (after.get(pid)?.seconds ?? 0) - (before.get(pid)?.seconds ?? 0);
      for (const [label, pid] of Object.entries(pids)) seconds[label] = spent(pid);
      for (const [label, name] of Object.entries(names)) {
        seconds[label] = [...after].filter(([, p]) => p.name === name).reduce((sum, [pid]) => sum + spent(pid), 0);
      }
      seconds.loadGenerator = spent(process.pid);
      const ended = (after.get(process.pid)?.childSeconds ?? 0) - (before.get(process.pid)?.childSeconds ?? 0);
      // The services under measurement are its children too: counted under their own labels only.
      const labelled = new Set(Object.values(pids));
      seconds.loadGeneratorChildren = [...after]
        .filter(([pid, p]) => p.ppid === process.pid && !labelled.has(pid))
        .reduce((sum, [pid]) => sum + spent(pid), ended);
      for (const key of Object.keys(seconds)) seconds[key] = Math.round(seconds[key] * 100) / 100;
      return seconds;
    },
  };
}
