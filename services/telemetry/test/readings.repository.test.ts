import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, queryDatabase, type TestDatabase } from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryMigrations } from '../src/migrations/index.js';
import { ReadingsRepository } from '../src/telemetry/readings.repository.js';
import type { TelemetryReading } from '@rampart/contracts';

const DAY = 86_400_000;
const device = (n: number) => n.toString(16).padStart(64, '0');
const now = Date.now();

function reading(deviceNo: number, seq: number, ts = now, metrics: Record<string, number> = { temp: seq, hum: 50 }): TelemetryReading {
  return { deviceId: device(deviceNo), tenantId: 'acme', seq, ts, receivedAt: ts + 5, metrics };
}

describe(ReadingsRepository.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let repository: ReadingsRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase(
      { url: db.url, schema: 'telemetry', migrations: telemetryMigrations, applicationName: 'test' },
      createLogger('test', 'silent'),
    );
    repository = new ReadingsRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('stores a batch in one statement and counts readings and rows', async () => {
    const result = await repository.insertBatch([reading(1, 1), reading(1, 2), reading(2, 1)]);
    expect(result).toEqual({ readings: 3, rows: 6 });
  });

  it('is idempotent: a redelivered batch stores and counts nothing twice', async () => {
    const batch = [reading(3, 1), reading(3, 2)];
    await repository.insertBatch(batch);
    expect(await repository.insertBatch([...batch, reading(3, 3)])).toEqual({ readings: 1, rows: 2 });
    const rows = await queryDatabase<{ n: string }>(db.url, `SELECT count(*) AS n FROM telemetry.readings WHERE device_id = $1`, [
      device(3),
    ]);
    expect(Number(rows[0]?.n)).toBe(6);
    expect((await repository.storedForDevices([device(3)])).readingsStored).toBe(3);
  });

  it('answers latest, range, last-seen and fleet aggregates', async () => {
    await repository.insertBatch([reading(4, 1, now - 2000, { temp: 10 }), reading(4, 2, now - 1000, { temp: 20, hum: 1 })]);
    const latest = await repository.latest(device(4));
    expect(latest.metrics).toEqual([
      { metric: 'hum', value: 1, ts: now - 1000 },
      { metric: 'temp', value: 20, ts: now - 1000 },
    ]);
    expect(await repository.range(device(4), 'temp', now - 5000, now + 1, 10)).toEqual([
      { metric: 'temp', value: 10, ts: now - 2000 },
      { metric: 'temp', value: 20, ts: now - 1000 },
    ]);
    const seen = await repository.lastSeen('acme', 100, 0);
    expect(seen.find((d) => d.deviceId === device(4))).toMatchObject({ lastSeq: 2, readings: 2 });
    const buckets = await repository.aggregate('acme', 'temp', now - 60_000, now + 1, 3600);
    expect(buckets.reduce((n, b) => n + b.count, 0)).toBeGreaterThanOrEqual(2);
    expect(await repository.latest(device(999))).toEqual({ lastSeen: null, metrics: [] });
  });

  it("keeps each device's tenant from its readings, and a batch without one keeps the tenant known", async () => {
    await repository.insertBatch([{ ...reading(60, 1), tenantId: 'globex' }]);
    const { tenantId: _dropped, ...withoutTenant } = reading(60, 2);
    await repository.insertBatch([withoutTenant]);
    expect(await repository.isTenantDevice('globex', device(60))).toBe(true);
    expect(await repository.isTenantDevice('acme', device(60))).toBe(false);
    expect((await repository.lastSeen('acme', 100, 0)).map((d) => d.deviceId)).not.toContain(device(60));
    expect((await repository.lastSeen('globex', 100, 0)).map((d) => d.deviceId)).toEqual([device(60)]);
    expect(await repository.totals('globex')).toEqual({ readingsStored: 2, rowsStored: 4, devices: 1 });
  });

  it('creates daily partitions on demand and drops those past retention', async () => {
    const old = now - 10 * DAY;
    await repository.insertBatch([reading(5, 1, old)]);
    const before = await queryDatabase<{ n: string }>(db.url, `SELECT count(*) AS n FROM telemetry.readings WHERE device_id = $1`, [
      device(5),
    ]);
    expect(Number(before[0]?.n)).toBe(2);
    const dropped = await repository.partitions.dropExpired(now, 5);
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    const after = await queryDatabase<{ n: string }>(db.url, `SELECT count(*) AS n FROM telemetry.readings WHERE device_id = $1`, [
      device(5),
    ]);
    expect(Number(after[0]?.n)).toBe(0);
    // Recent data survives retention.
    expect((await repository.latest(device(4))).metrics.length).toBe(2);
  });

  it('fails a bad batch as a whole with a clear error and leaves stored data untouched', async () => {
    await repository.insertBatch([reading(6, 1)]);
    const before = await repository.totals();
    // A value PostgreSQL cannot take (bigint overflow) in the middle of an otherwise fine batch.
    const bad = { ...reading(6, 3), seq: 2 ** 70 };
    await expect(repository.insertBatch([reading(6, 2), bad, reading(6, 4)])).rejects.toThrow(/bigint/);
    expect(await repository.totals()).toEqual(before);
    expect((await repository.storedForDevices([device(6)])).readingsStored).toBe(1);
  });
});
