import { readFileSync, readdirSync } from 'node:fs';

/** Linux reports process times in clock ticks; 100 per second on every mainstream kernel config. */
const TICKS_PER_SECOND = 100;

function processTimes() {
  /** @type {Map<number, { name: string; seconds: number }>} */
  const times = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(Number(entry), { name, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND });
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
 * machine's CPU went, not only how fast the whole was.
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
      for (const key of Object.keys(seconds)) seconds[key] = Math.round(seconds[key] * 100) / 100;
      return seconds;
    },
  };
}
