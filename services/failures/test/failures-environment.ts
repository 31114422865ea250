import { NatsBus, TypedBus, createLogger } from '@rampart/service-kit';
import { TEST_NATS_URL, createTestDatabase, removeBusPrefix, uniqueBusPrefix, type TestDatabase } from '@rampart/testing';
import { loadFailuresConfig, type FailuresConfig } from '../src/failures/failures.config.js';
import { startFailures, type RunningFailures } from '../src/start-failures.js';

export interface FailuresEnvironment {
  readonly db: TestDatabase;
  readonly service: RunningFailures;
  readonly bus: NatsBus;
  readonly typed: TypedBus;
  readonly close: () => Promise<void>;
}

/** The failures service on its own database and bus prefix, quick to flush, with a client on the same bus. */
/** The failures service's configuration in the tests: real NATS under `prefix`, any free port, quick flushes. */
export function failuresTestConfig(databaseUrl: string, prefix: string): FailuresConfig {
  return loadFailuresConfig({
    DATABASE_URL: databaseUrl,
    NATS_URL: TEST_NATS_URL,
    BUS_PREFIX: prefix,
    HTTP_PORT: '0',
    INGEST_FLUSH_MS: '20',
    DEVICE_REPORT_BURST: '1000',
  });
}

export async function startFailuresEnvironment(name: string): Promise<FailuresEnvironment> {
  const db = await createTestDatabase();
  const prefix = uniqueBusPrefix(name);
  const service = await startFailures(failuresTestConfig(db.url, prefix), createLogger('failures', 'silent'));
  const bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: `${name}-test`, onError: () => undefined });
  return {
    db,
    service,
    bus,
    typed: new TypedBus(bus),
    close: async () => {
      await service.close();
      await bus.drain();
      await removeBusPrefix(prefix);
      await db.drop();
    },
  };
}
