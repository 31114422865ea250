import { readFile } from 'node:fs/promises';
import type { Meter } from '@opentelemetry/api';
import { Subject } from '@rampart/contracts';
import type { Logger, TypedBus } from '@rampart/service-kit';
import { certificatesInPemBundle } from '@rampart/trust';
import type { DirectorService } from '../fleet/director.service.js';
import type { ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import type { UpdatesConfig } from '../updates.config.js';
import { DeviceServer } from './device-server.js';
import { RecoveryService } from './recovery.js';

/** How long the update server waits for the attestation service's word on a recovery. */
const RECOVERY_GRANT_TIMEOUT_MS = 5_000;

/** Every certificate in a PEM bundle. */
function pemCertificates(bundle: string): string[] {
  const certificates = certificatesInPemBundle(bundle);
  if (certificates.length === 0) throw new Error('MANUFACTURER_CA_FILE holds no PEM certificate');
  return certificates;
}

/** What the device endpoint is made of besides its configuration. */
export interface DeviceEndpointParts {
  readonly metadata: TenantMetadata;
  readonly director: DirectorService;
  readonly imageRows: ImagesRepository;
  readonly revocations: { isRevoked(deviceId: string): boolean };
  readonly typed: TypedBus;
  readonly logger: Logger;
  readonly meter: Meter;
}

/**
 * Where devices fetch metadata and images (HTTPS, mutual TLS): the server,
 * and the recovery path when manufacturer roots are configured. Started
 * before the tenant REST API listens; the port is known once started.
 */
export class DeviceEndpoint {
  private listeningOn: number | undefined;

  private constructor(
    private readonly server: DeviceServer,
    private readonly recovers: boolean,
    private readonly logger: Logger,
  ) {}

  /** Reads the endpoint's TLS files (and the manufacturer roots, when given) and makes its server. */
  static async create(config: UpdatesConfig, parts: DeviceEndpointParts): Promise<DeviceEndpoint> {
    const [certificatePem, keyPem, platformCaPem] = await Promise.all(
      [config.device.tlsCertFile, config.device.tlsKeyFile, config.device.platformCaFile].map((f) => readFile(f, 'utf8')),
    );
    const manufacturerRootsPem =
      config.device.manufacturerCaFile === undefined
        ? undefined
        : pemCertificates(await readFile(config.device.manufacturerCaFile, 'utf8'));
    const recovery =
      manufacturerRootsPem === undefined
        ? undefined
        : new RecoveryService(
            (deviceId) => parts.typed.request(Subject.attestationRecoveryGrant, { deviceId }, RECOVERY_GRANT_TIMEOUT_MS),
            parts.imageRows,
            parts.metadata,
          );
    const server = new DeviceServer(
      {
        host: config.device.host,
        port: config.device.port,
        certificatePem: certificatePem!,
        keyPem: keyPem!,
        platformCaPem: platformCaPem!,
        ...(manufacturerRootsPem === undefined ? {} : { manufacturerRootsPem }),
        freshAttestationMs: config.device.freshAttestationMs,
        imageStreams: config.device.imageStreams,
      },
      parts.metadata,
      parts.director,
      parts.imageRows,
      parts.revocations,
      parts.logger,
      parts.meter,
      recovery,
    );
    return new DeviceEndpoint(server, recovery !== undefined, parts.logger);
  }

  async start(): Promise<void> {
    this.listeningOn = await this.server.start();
    this.logger.info(
      { port: this.listeningOn, recovery: this.recovers },
      this.recovers
        ? 'device update endpoint listening (HTTPS, operational certificates; IDevIDs on the recovery path only)'
        : 'device update endpoint listening (HTTPS, operational certificates required; no recovery path: MANUFACTURER_CA_FILE unset)',
    );
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get port(): number {
    if (this.listeningOn === undefined) throw new Error('the device update endpoint is not listening');
    return this.listeningOn;
  }
}
