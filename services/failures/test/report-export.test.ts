import { createLogger, openDatabase } from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailuresRepository, type FailureRow } from '../src/ingest/failures.repository.js';
import { failuresMigrations } from '../src/migrations/index.js';
import { ReportExport } from '../src/reports/report-export.js';

const device = (n: number) => n.toString(16).padStart(64, '0');

function report(n: number, tenantId: string): FailureRow {
  const at = Date.parse('2026-02-01T00:00:00Z') + n * 60_000;
  return {
    reportKey: `${device(n)}:${n}`,
    deviceId: device(n),
    tenantId,
    kind: 'app-crash',
    component: 'app:sensor',
    version: '1.1.0',
    exitCode: 1,
    signal: null,
    message: n === 3 ? 'line one\nline "two", with a comma' : `crash ${n}`,
    frames: [{ function: 'tick', file: 'app:sensor@1.1.0', line: n, column: 1 }],
    uptimeMs: null,
    detail: null,
    occurredAt: at,
    receivedAt: at,
    bucket: 'b'.repeat(64),
    title: 'tick',
  };
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
}

describe(ReportExport.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let repository: FailuresRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDatabase(
      { url: db.url, schema: 'failures', migrations: failuresMigrations, poolSize: 2, applicationName: 'report-export-test' },
      createLogger('failures', 'silent'),
    );
    repository = new FailuresRepository(dataSource);
    await repository.storeBatch([...Array.from({ length: 7 }, (_, i) => report(i + 1, 'acme')), report(50, 'globex')], new Map());
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it("writes every one of the tenant's reports once, newest first, across pages, as CSV quoted where needed", async () => {
    const opened = await new ReportExport(repository, 3).open('acme', {}, 'csv');
    expect(opened.contentType).toBe('text/csv; charset=utf-8');
    const csv = await text(opened.chunks);
    expect(csv.startsWith('occurredAt,deviceId,kind,component,version,exitCode,signal,message,bucket,frames\n')).toBe(true);
    expect(csv).toContain('"line one\nline ""two"", with a comma"');
    const devices = [...csv.matchAll(/,([0-9a-f]{64}),app-crash,/g)].map((m) => m[1]);
    expect(devices).toEqual([7, 6, 5, 4, 3, 2, 1].map(device));
  });

  it('writes a JSON array equal to the reports read page by page, and an empty one for a filter nothing matches', async () => {
    const opened = await new ReportExport(repository, 2).open('acme', {}, 'json');
    expect(opened.contentType).toBe('application/json');
    const all = await repository.reports('acme', {}, 100);
    expect(JSON.parse(await text(opened.chunks))).toEqual(all.rows);
    const none = await new ReportExport(repository, 2).open('acme', { version: '9.9.9' }, 'json');
    expect(JSON.parse(await text(none.chunks))).toEqual([]);
  });

  it('fails before it gives a byte when the first page cannot be read', async () => {
    await expect(new ReportExport(repository).open('acme', { from: new Date(-8.64e15) }, 'csv')).rejects.toThrow();
  });
});
