import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { TEST_NATS_URL } from './environment.js';

/** Deletes the JetStream streams a test run created under `prefix`. */
export async function removeBusPrefix(prefix: string, url = TEST_NATS_URL): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const tag = `${prefix.replaceAll('.', '_').toUpperCase()}_`;
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(tag)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}
