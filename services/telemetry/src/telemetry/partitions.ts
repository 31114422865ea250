import type { DataSource } from 'typeorm';

const DAY_MS = 24 * 60 * 60 * 1000;
const PARTITION_NAME = /^readings_p(\d{4})(\d{2})(\d{2})$/;

/** UTC day (midnight, ms) that holds `ts`. */
export function dayOf(ts: number): number {
  return Math.floor(ts / DAY_MS) * DAY_MS;
}

export function partitionName(day: number): string {
  return `readings_p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Daily partitions of `telemetry.readings`: created on demand before a batch
 * that needs them (and a few days ahead by maintenance), dropped whole once
 * older than the retention period.
 */
export class Partitions {
  private readonly known = new Set<number>();

  constructor(private readonly dataSource: DataSource) {}

  async ensure(days: Iterable<number>): Promise<void> {
    for (const day of days) {
      if (this.known.has(day)) continue;
      const from = new Date(day).toISOString();
      const to = new Date(day + DAY_MS).toISOString();
      try {
        await this.dataSource.query(
          `CREATE TABLE IF NOT EXISTS telemetry.${partitionName(day)} PARTITION OF telemetry.readings FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
      } catch (error) {
        // Another replica may have created it between our check and create.
        const exists = await this.dataSource.query<Array<{ oid: string | null }>>(`SELECT to_regclass($1) AS oid`, [
          `telemetry.${partitionName(day)}`,
        ]);
        if (exists[0]?.oid === null) throw error;
      }
      this.known.add(day);
    }
  }

  /** Drops partitions wholly older than `retentionDays`; returns their names. */
  async dropExpired(now: number, retentionDays: number): Promise<string[]> {
    const cutoff = dayOf(now) - retentionDays * DAY_MS;
    const rows = await this.dataSource.query<Array<{ name: string }>>(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = 'telemetry' AND p.relname = 'readings'`,
    );
    const dropped: string[] = [];
    for (const { name } of rows) {
      const match = PARTITION_NAME.exec(name);
      if (match === null) continue;
      const day = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
      if (day + DAY_MS > cutoff) continue;
      await this.dataSource.query(`DROP TABLE IF EXISTS telemetry.${name}`);
      this.known.delete(day);
      dropped.push(name);
    }
    return dropped;
  }
}
