import { createLogger } from '@rampart/service-kit';
import { startEmbeddedPlatform, type EmbeddedPlatform } from '../../src/embedded-platform.js';

/** The embedded platform on free ports with silent logs, its data in `dataDir`: what the CLI tests run against. */
export function startTestPlatform(dataDir: string): Promise<EmbeddedPlatform> {
  return startEmbeddedPlatform(
    {
      dataDir,
      databaseUrl: undefined,
      natsUrl: undefined,
      busPrefix: '',
      mqttPort: 0,
      apiPort: 0,
      attestationApiPort: 0,
      gatewayHttpPort: 0,
      devListenerPort: undefined,
      deviceRatePerSec: 50,
    },
    (service) => createLogger(service, 'silent'),
  );
}
